#include "data/png.h"

#include <png.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/alloc_probe.h"
#include "data/file_util.h"
#include "zlib.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

struct Decoded {
  bool ok = false;
  int width = 0, height = 0, color_type = -1, bit_depth = 0;
  std::vector<uint8_t> pixels;
};

// Reads a PNG back with libpng's simplified API, in its own format.
Decoded ReadWithLibpng(const std::string& path, bool rgb) {
  Decoded out;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) return out;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.color_type = (image.format & PNG_FORMAT_FLAG_COLOR) ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
  image.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  out.ok = png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr) != 0;
  png_image_free(&image);
  return out;
}

TEST(Png, GrayRoundTrip) {
  const int w = 29, h = 17;  // odd sizes
  std::vector<uint8_t> pixels(w * h);
  for (int i = 0; i < w * h; ++i) pixels[i] = static_cast<uint8_t>(i * 7 + 3);
  const std::string path = TmpPath("gray.png");
  ASSERT_TRUE(WriteGrayPng(path, pixels.data(), w, h).ok());
  const Decoded d = ReadWithLibpng(path, false);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.width, w);
  EXPECT_EQ(d.height, h);
  EXPECT_EQ(d.color_type, PNG_COLOR_TYPE_GRAY);
  EXPECT_EQ(d.pixels, pixels);
}

TEST(Png, RgbRoundTrip) {
  const int w = 5, h = 3;
  std::vector<uint8_t> pixels(w * h * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 11);
  const std::string path = TmpPath("rgb.png");
  ASSERT_TRUE(WriteRgbPng(path, pixels.data(), w, h).ok());
  const Decoded d = ReadWithLibpng(path, true);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.width, w);
  EXPECT_EQ(d.height, h);
  EXPECT_EQ(d.color_type, PNG_COLOR_TYPE_RGB);
  EXPECT_EQ(d.pixels, pixels);
}

TEST(Png, Errors) {
  const uint8_t pixel = 0;
  const std::string path = TmpPath("bad.png");
  absl::Status s = WriteGrayPng(path, &pixel, 0, 1);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  EXPECT_FALSE(WriteGrayPng(path, nullptr, 1, 1).ok());

  const std::string missing = TmpPath("no/such/dir/x.png");
  s = WriteGrayPng(missing, &pixel, 1, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(missing), std::string::npos) << s;
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s;
}

TEST(Png, OverwritesAtomically) {
  const std::string path = TmpPath("over.png");
  std::vector<uint8_t> a(4, 10), b(9, 200);
  ASSERT_TRUE(WriteGrayPng(path, a.data(), 2, 2).ok());
  ASSERT_TRUE(WriteGrayPng(path, b.data(), 3, 3).ok());
  const Decoded d = ReadWithLibpng(path, false);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.width, 3);
  EXPECT_EQ(d.pixels, b);
}

TEST(ReadGrayPng, ReadsWhatWriteGrayPngWrote) {
  const int w = 31, h = 9;  // odd sizes
  std::vector<uint8_t> pixels(w * h);
  for (int i = 0; i < w * h; ++i) pixels[i] = static_cast<uint8_t>(i * 13 + 1);
  const std::string path = TmpPath("read_gray.png");
  ASSERT_TRUE(WriteGrayPng(path, pixels.data(), w, h).ok());
  absl::StatusOr<GrayImage> image = ReadGrayPng(path);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, w);
  EXPECT_EQ(image->height, h);
  EXPECT_EQ(image->pixels, pixels);
}

TEST(ReadGrayPng, ConvertsRgbToGray) {
  // Black, white, mid grey, pure red, pure green: grey stays grey; green is brighter
  // than red, as luminance weights them.
  const std::vector<uint8_t> rgb = {0, 0, 0, 255, 255, 255, 128, 128, 128,
                                    255, 0, 0, 0, 255, 0};
  const std::string path = TmpPath("read_rgb.png");
  ASSERT_TRUE(WriteRgbPng(path, rgb.data(), 5, 1).ok());
  absl::StatusOr<GrayImage> image = ReadGrayPng(path);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->pixels.size(), 5u);
  EXPECT_EQ(image->pixels[0], 0);
  EXPECT_EQ(image->pixels[1], 255);
  EXPECT_NEAR(image->pixels[2], 128, 1);
  EXPECT_GT(image->pixels[4], image->pixels[3]);
  EXPECT_GT(image->pixels[3], 0);
}

TEST(ReadGrayPng, CompositesTransparencyOntoWhite) {
  // A 2x1 gray+alpha PNG: an opaque black pixel and a fully transparent black one.
  const std::string path = TmpPath("read_alpha.png");
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = 2;
  image.height = 1;
  image.format = PNG_FORMAT_GA;
  const uint8_t ga[] = {0, 255, 0, 0};
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, ga, 0, nullptr));
  absl::StatusOr<GrayImage> read = ReadGrayPng(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->pixels, (std::vector<uint8_t>{0, 255}));
}

TEST(ReadPng, GrayRgbAndRgba) {
  // A 3x1 RGBA PNG: opaque red, half-transparent green, fully transparent blue.
  const std::string path = TmpPath("read_rgba.png");
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = 3;
  image.height = 1;
  image.format = PNG_FORMAT_RGBA;
  const uint8_t rgba[] = {255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0};
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, rgba, 0, nullptr));

  absl::StatusOr<Image> as_rgba = ReadPng(path, 4);
  ASSERT_TRUE(as_rgba.ok()) << as_rgba.status();
  EXPECT_EQ(as_rgba->width, 3);
  EXPECT_EQ(as_rgba->height, 1);
  EXPECT_EQ(as_rgba->channels, 4);
  EXPECT_EQ(as_rgba->pixels, std::vector<uint8_t>(rgba, rgba + 12));

  // RGB: composited onto white (the transparent blue is white; the green half-way).
  absl::StatusOr<Image> as_rgb = ReadPng(path, 3);
  ASSERT_TRUE(as_rgb.ok()) << as_rgb.status();
  EXPECT_EQ(as_rgb->channels, 3);
  ASSERT_EQ(as_rgb->pixels.size(), 9u);
  EXPECT_EQ(std::vector<uint8_t>(as_rgb->pixels.begin(), as_rgb->pixels.begin() + 3),
            (std::vector<uint8_t>{255, 0, 0}));
  EXPECT_EQ(as_rgb->pixels[4], 255);
  EXPECT_GT(as_rgb->pixels[3], 100);
  EXPECT_LT(as_rgb->pixels[3], 255);
  EXPECT_EQ(std::vector<uint8_t>(as_rgb->pixels.begin() + 6, as_rgb->pixels.end()),
            (std::vector<uint8_t>{255, 255, 255}));

  // Gray: as ReadGrayPng.
  absl::StatusOr<Image> as_gray = ReadPng(path, 1);
  absl::StatusOr<GrayImage> gray = ReadGrayPng(path);
  ASSERT_TRUE(as_gray.ok() && gray.ok());
  EXPECT_EQ(as_gray->channels, 1);
  EXPECT_EQ(as_gray->pixels, gray->pixels);

  // A gray PNG as RGB and RGBA: replicated, opaque.
  const std::vector<uint8_t> levels = {0, 77, 200, 255, 13};
  const std::string gray_path = TmpPath("read_gray_as_rgb.png");
  ASSERT_TRUE(WriteGrayPng(gray_path, levels.data(), 5, 1).ok());
  absl::StatusOr<Image> rgb = ReadPng(gray_path, 3);
  absl::StatusOr<Image> rgba4 = ReadPng(gray_path, 4);
  ASSERT_TRUE(rgb.ok() && rgba4.ok());
  for (size_t i = 0; i < levels.size(); ++i) {
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(rgb->pixels[3 * i + c], levels[i]);
      EXPECT_EQ(rgba4->pixels[4 * i + c], levels[i]);
    }
    EXPECT_EQ(rgba4->pixels[4 * i + 3], 255);
  }

  absl::Status s = ReadPng(gray_path, 2).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(),
            gray_path + ": cannot read a PNG as 2 channels (1: gray, 3: RGB, 4: RGBA)");
  s = ReadPng(TmpPath("missing_rgb.png"), 3).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

// The bytes of a PNG chunk: length, type, data, CRC.
std::string Chunk(const std::string& type, const std::string& data) {
  std::string out;
  const uint32_t n = static_cast<uint32_t>(data.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(n >> shift);
  const std::string body = type + data;
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size());
  out += body;
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(crc >> shift);
  return out;
}

// A PNG file whose header claims `width` x `height` 8-bit gray pixels, with no pixels.
std::string PngHeaderOnly(uint32_t width, uint32_t height) {
  std::string ihdr;
  for (uint32_t v : {width, height}) {
    for (int shift = 24; shift >= 0; shift -= 8) ihdr += static_cast<char>(v >> shift);
  }
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit gray, no interlace
  return "\x89PNG\r\n\x1a\n" + Chunk("IHDR", ihdr) + Chunk("IDAT", "") + Chunk("IEND", "");
}

TEST(ReadGrayPng, ErrorsNameTheFile) {
  const std::string missing = TmpPath("no_such.png");
  absl::Status s = ReadGrayPng(missing).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_EQ(s.message(), missing + ": no such file");

  const std::string garbage = TmpPath("garbage.png");
  ASSERT_TRUE(WriteFileAtomically(garbage, "this is not a PNG file at all").ok());
  s = ReadGrayPng(garbage).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find(garbage + ": not a readable PNG"), std::string::npos) << s;

  // A valid PNG cut in half.
  std::vector<uint8_t> pixels(64 * 64);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 37);
  const std::string whole = TmpPath("whole.png");
  ASSERT_TRUE(WriteGrayPng(whole, pixels.data(), 64, 64).ok());
  absl::StatusOr<std::string> bytes = ReadFileToString(whole);
  ASSERT_TRUE(bytes.ok());
  const std::string truncated = TmpPath("truncated.png");
  ASSERT_TRUE(WriteFileAtomically(truncated, bytes->substr(0, bytes->size() / 2)).ok());
  s = ReadGrayPng(truncated).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find(truncated + ": "), std::string::npos) << s;

  // A header claiming 100000x100000 pixels is refused before any allocation.
  const std::string huge = TmpPath("huge.png");
  ASSERT_TRUE(WriteFileAtomically(huge, PngHeaderOnly(100000, 100000)).ok());
  s = ReadGrayPng(huge).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find(huge + ": a 100000x100000 PNG is too large"), std::string::npos)
      << s;
}

// A file cut short inside its last chunk, whose length field claims 4 bytes more than the
// file still holds (the data is all there, the CRC is not), is an error naming that chunk:
// the reader must not step past the file's end looking for a next chunk.
// data/fuzz/png_corpus/bad-last-chunk-4-bytes-short.png holds these bytes.
TEST(ReadGrayPng, LastChunkClaimingMoreThanTheFileHoldsIsAnError) {
  std::string ihdr;
  for (uint32_t v : {3u, 3u}) {
    for (int shift = 24; shift >= 0; shift -= 8) ihdr += static_cast<char>(v >> shift);
  }
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit gray, no interlace
  const std::string rows("\0\x10\x20\x30\0\x40\x50\x60\0\x70\x80\x90", 12);  // filter 0
  std::string compressed(compressBound(rows.size()), '\0');
  uLongf size = compressed.size();
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(compressed.data()), &size,
                     reinterpret_cast<const Bytef*>(rows.data()), rows.size()),
            Z_OK);
  compressed.resize(size);
  const std::string whole =
      "\x89PNG\r\n\x1a\n" + Chunk("IHDR", ihdr) + Chunk("IDAT", compressed) + Chunk("IEND", "");
  const std::string path = TmpPath("last-chunk-short.png");
  ASSERT_TRUE(WriteFileAtomically(path, whole).ok());
  absl::StatusOr<GrayImage> image = ReadGrayPng(path);
  ASSERT_TRUE(image.ok()) << image.status();  // the file as written is valid

  // Without IEND, and with IDAT (at byte 33) claiming its own data and 4 more bytes.
  std::string cut = whole.substr(0, whole.size() - 12);
  const uint32_t claimed = static_cast<uint32_t>(size) + 4;
  for (int i = 0; i < 4; ++i) cut[33 + i] = static_cast<char>(claimed >> (24 - 8 * i));
  ASSERT_TRUE(WriteFileAtomically(path, cut).ok());
  const absl::Status s = ReadGrayPng(path).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(), absl::StrCat(path, ": not a readable PNG: chunk 'IDAT' at byte 33 "
                                            "claims ", claimed, " bytes of data but the file "
                                            "has only ", claimed - 4, " more (truncated or "
                                            "corrupt)"));
}

// A header within kMaxPngPixels but with no pixel data behind it is rejected before the
// image's buffer is allocated: 5000x5000 claimed by a 57-byte file costs no 25 MB. So is
// a chunk longer than the file.
TEST(ReadGrayPng, HostileHeaderAllocatesOnlyWhatIsThere) {
  const std::string path = TmpPath("5000x5000.png");
  ASSERT_TRUE(WriteFileAtomically(path, PngHeaderOnly(5000, 5000)).ok());
  absl::Status s;
  const size_t largest = LargestAllocationDuring([&] { s = ReadGrayPng(path).status(); });
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find(path + ": cannot read the PNG's pixels: "), std::string::npos)
      << s;
  EXPECT_LT(largest, size_t{1} << 16);

  // A chunk claiming more bytes than the file holds (libpng would allocate them first).
  std::string text = Chunk("tEXt", std::string("Comment\0a digit", 15));
  text[0] = '\x40';  // 1 GiB + 15 bytes
  std::string bytes = PngHeaderOnly(3, 3);
  bytes.insert(33, text);  // after the signature and IHDR
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  s = ReadGrayPng(path).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find(path + ": not a readable PNG: chunk 'tEXt' at byte 33 claims "
                                    "1073741839 bytes of data but the file has only"),
            std::string::npos)
      << s;

  // With the data there, the buffer is the image's size.
  std::vector<uint8_t> pixels(500 * 400, 7);
  ASSERT_TRUE(WriteGrayPng(path, pixels.data(), 500, 400).ok());
  absl::StatusOr<GrayImage> image;
  const size_t read_largest = LargestAllocationDuring([&] { image = ReadGrayPng(path); });
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->pixels, pixels);
  EXPECT_EQ(read_largest, pixels.size());
}

}  // namespace
}  // namespace gradway::data
