#include "data/jpeg.h"

// jpeglib.h needs size_t and FILE declared first.
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/alloc_probe.h"
#include "data/file_util.h"
#include "data/png.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

// A smooth test picture (JPEG keeps it nearly exactly at high quality), odd-sized.
std::vector<uint8_t> Picture(int w, int h, int channels) {
  std::vector<uint8_t> p(static_cast<size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        p[(static_cast<size_t>(y) * w + x) * channels + c] = static_cast<uint8_t>(
            128 + 100 * std::sin(0.11 * x + 0.07 * y + 1.3 * c));
      }
    }
  }
  return p;
}

double MeanAbsDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 1e9;
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::abs(a[i] - b[i]);
  return sum / a.size();
}

// Writes a JPEG with libjpeg directly, for the kinds WriteJpeg does not make: `in_space`
// JCS_GRAYSCALE, JCS_RGB or JCS_CMYK (then with libjpeg's Adobe marker), and
// `customise` applied before compressing (progressive scans, arithmetic coding, ...).
template <typename F>
void WriteJpegWithLibjpeg(const std::string& path, const std::vector<uint8_t>& pixels, int w,
                          int h, J_COLOR_SPACE in_space, int components, F customise) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = components;
  cinfo.in_color_space = in_space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  customise(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  for (int y = 0; y < h; ++y) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + static_cast<size_t>(y) * w * components);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  ASSERT_TRUE(WriteFileAtomically(path, std::string(reinterpret_cast<char*>(out), size)).ok());
  std::free(out);
}

TEST(Jpeg, GrayRoundTrip) {
  const int w = 37, h = 21;
  const std::vector<uint8_t> pixels = Picture(w, h, 1);
  const std::string path = TmpPath("gray.jpg");
  ASSERT_TRUE(WriteJpeg(path, pixels.data(), w, h, 1, 100).ok());
  absl::StatusOr<Image> image = ReadJpeg(path, 1);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, w);
  EXPECT_EQ(image->height, h);
  EXPECT_EQ(image->channels, 1);
  EXPECT_LT(MeanAbsDiff(image->pixels, pixels), 1.0);

  // As RGB: the gray replicated; as RGBA: that and alpha 255.
  absl::StatusOr<Image> rgb = ReadJpeg(path, 3);
  absl::StatusOr<Image> rgba = ReadJpeg(path, 4);
  ASSERT_TRUE(rgb.ok() && rgba.ok());
  ASSERT_EQ(rgb->pixels.size(), pixels.size() * 3);
  ASSERT_EQ(rgba->pixels.size(), pixels.size() * 4);
  for (size_t i = 0; i < pixels.size(); ++i) {
    for (int c = 0; c < 3; ++c) {
      ASSERT_EQ(rgb->pixels[3 * i + c], image->pixels[i]);
      ASSERT_EQ(rgba->pixels[4 * i + c], image->pixels[i]);
    }
    ASSERT_EQ(rgba->pixels[4 * i + 3], 255);
  }
}

TEST(Jpeg, RgbRoundTripAndConversions) {
  const int w = 33, h = 19;
  const std::vector<uint8_t> pixels = Picture(w, h, 3);
  const std::string path = TmpPath("rgb.jpg");
  ASSERT_TRUE(WriteJpeg(path, pixels.data(), w, h, 3, 100).ok());
  absl::StatusOr<Image> rgb = ReadJpeg(path, 3);
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_EQ(rgb->width, w);
  EXPECT_EQ(rgb->height, h);
  EXPECT_EQ(rgb->channels, 3);
  EXPECT_LT(MeanAbsDiff(rgb->pixels, pixels), 2.0);  // 4:2:0 chroma

  absl::StatusOr<Image> rgba = ReadJpeg(path, 4);
  ASSERT_TRUE(rgba.ok());
  for (size_t i = 0; i < static_cast<size_t>(w) * h; ++i) {
    for (int c = 0; c < 3; ++c) ASSERT_EQ(rgba->pixels[4 * i + c], rgb->pixels[3 * i + c]);
    ASSERT_EQ(rgba->pixels[4 * i + 3], 255);
  }

  // Gray: the luma, 0.299 R + 0.587 G + 0.114 B of the original, nearly.
  absl::StatusOr<Image> gray = ReadJpeg(path, 1);
  ASSERT_TRUE(gray.ok());
  std::vector<uint8_t> luma(static_cast<size_t>(w) * h);
  for (size_t i = 0; i < luma.size(); ++i) {
    luma[i] = static_cast<uint8_t>(std::lround(0.299 * pixels[3 * i] + 0.587 * pixels[3 * i + 1] +
                                               0.114 * pixels[3 * i + 2]));
  }
  EXPECT_LT(MeanAbsDiff(gray->pixels, luma), 1.0);
}

TEST(Jpeg, QualityChangesTheFile) {
  const int w = 40, h = 40;
  const std::vector<uint8_t> pixels = Picture(w, h, 3);
  const std::string low = TmpPath("q10.jpg"), high = TmpPath("q95.jpg");
  ASSERT_TRUE(WriteJpeg(low, pixels.data(), w, h, 3, 10).ok());
  ASSERT_TRUE(WriteJpeg(high, pixels.data(), w, h, 3).ok());  // default 95
  absl::StatusOr<Image> a = ReadJpeg(low, 3), b = ReadJpeg(high, 3);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(MeanAbsDiff(a->pixels, pixels), 2 * MeanAbsDiff(b->pixels, pixels));
  EXPECT_LT(ReadFileToString(low)->size(), ReadFileToString(high)->size());
}

TEST(Jpeg, ProgressiveArithmeticRestartsAndNonInterleaved) {
  const int w = 45, h = 23;
  const std::vector<uint8_t> pixels = Picture(w, h, 3);
  struct Kind {
    const char* name;
    void (*customise)(jpeg_compress_struct*);
  };
  const Kind kinds[] = {
      {"progressive", [](jpeg_compress_struct* c) { jpeg_simple_progression(c); }},
      {"arithmetic", [](jpeg_compress_struct* c) { c->arith_code = TRUE; }},
      {"restarts", [](jpeg_compress_struct* c) { c->restart_interval = 2; }},
      {"non_interleaved",
       [](jpeg_compress_struct* c) {
         static jpeg_scan_info scans[3] = {{1, {0}, 0, 63, 0, 0}, {1, {1}, 0, 63, 0, 0},
                                           {1, {2}, 0, 63, 0, 0}};
         c->scan_info = scans;
         c->num_scans = 3;
       }},
  };
  for (const Kind& kind : kinds) {
    const std::string path = TmpPath(absl::StrCat(kind.name, ".jpg"));
    WriteJpegWithLibjpeg(path, pixels, w, h, JCS_RGB, 3, kind.customise);
    absl::StatusOr<Image> image = ReadJpeg(path, 3);
    ASSERT_TRUE(image.ok()) << kind.name << ": " << image.status();
    EXPECT_EQ(image->width, w) << kind.name;
    EXPECT_EQ(image->height, h) << kind.name;
    EXPECT_LT(MeanAbsDiff(image->pixels, pixels), 2.0) << kind.name;
  }
}

TEST(Jpeg, CmykAsTensorFlowConvertsIt) {
  // libjpeg writes CMYK with an Adobe marker; the samples are then inverted inks, and
  // R = C * K / 255 (TensorFlow's decode_jpeg).
  const int w = 16, h = 16;
  std::vector<uint8_t> cmyk(static_cast<size_t>(w) * h * 4);
  for (size_t i = 0; i < cmyk.size(); i += 4) {
    cmyk[i] = 200, cmyk[i + 1] = 100, cmyk[i + 2] = 50, cmyk[i + 3] = 255;
  }
  const std::string path = TmpPath("cmyk.jpg");
  WriteJpegWithLibjpeg(path, cmyk, w, h, JCS_CMYK, 4, [](jpeg_compress_struct*) {});
  absl::StatusOr<Image> rgb = ReadJpeg(path, 3);
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  for (size_t i = 0; i < rgb->pixels.size(); i += 3) {
    ASSERT_NEAR(rgb->pixels[i], 200, 1);
    ASSERT_NEAR(rgb->pixels[i + 1], 100, 1);
    ASSERT_NEAR(rgb->pixels[i + 2], 50, 1);
  }
  absl::StatusOr<Image> rgba = ReadJpeg(path, 4);
  ASSERT_TRUE(rgba.ok()) << rgba.status();
  for (size_t i = 0; i < rgb->pixels.size() / 3; ++i) {
    for (int c = 0; c < 3; ++c) ASSERT_EQ(rgba->pixels[4 * i + c], rgb->pixels[3 * i + c]);
    ASSERT_EQ(rgba->pixels[4 * i + 3], 255);
  }
  absl::StatusOr<Image> gray = ReadJpeg(path, 1);
  ASSERT_TRUE(gray.ok()) << gray.status();
  EXPECT_NEAR(gray->pixels[0], 0.299 * 200 + 0.587 * 100 + 0.114 * 50, 1.5);
}

TEST(Jpeg, TooManyScansIsAnError) {
  // A valid progressive gray JPEG of 1 + 2 * 63 = 127 scans: the DC, then each AC
  // coefficient alone, first its high bits, then its low bit.
  const int w = 24, h = 16;
  const std::vector<uint8_t> pixels = Picture(w, h, 1);
  static std::vector<jpeg_scan_info> scans;
  scans.push_back({1, {0}, 0, 0, 0, 0});
  for (int k = 1; k < 64; ++k) scans.push_back({1, {0}, k, k, 0, 1});
  for (int k = 1; k < 64; ++k) scans.push_back({1, {0}, k, k, 1, 0});
  const std::string path = TmpPath("scans.jpg");
  WriteJpegWithLibjpeg(path, pixels, w, h, JCS_GRAYSCALE, 1, [](jpeg_compress_struct* c) {
    c->scan_info = scans.data();
    c->num_scans = static_cast<int>(scans.size());
  });
  absl::StatusOr<Image> image = ReadJpeg(path, 1);
  ASSERT_FALSE(image.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(image.status()));
  EXPECT_CONTAINS(image.status().message(), path);
  EXPECT_CONTAINS(image.status().message(), "more than 100 scans");

  // The same image in 64 scans (DC, then each AC coefficient whole) reads.
  scans.clear();
  scans.push_back({1, {0}, 0, 0, 0, 0});
  for (int k = 1; k < 64; ++k) scans.push_back({1, {0}, k, k, 0, 0});
  WriteJpegWithLibjpeg(path, pixels, w, h, JCS_GRAYSCALE, 1, [](jpeg_compress_struct* c) {
    c->scan_info = scans.data();
    c->num_scans = static_cast<int>(scans.size());
  });
  image = ReadJpeg(path, 1);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_LT(MeanAbsDiff(image->pixels, pixels), 1.0);
}

TEST(Jpeg, ReadErrorsNameTheFile) {
  const std::string missing = TmpPath("missing.jpg");
  absl::StatusOr<Image> image = ReadJpeg(missing, 3);
  EXPECT_TRUE(absl::IsNotFound(image.status())) << image.status();
  EXPECT_CONTAINS(image.status().message(), missing);

  const uint8_t gray[4] = {1, 2, 3, 4};
  const std::string png = TmpPath("really.png.jpg");
  ASSERT_TRUE(WriteGrayPng(png, gray, 2, 2).ok());
  image = ReadJpeg(png, 3);
  EXPECT_TRUE(absl::IsInvalidArgument(image.status())) << image.status();
  EXPECT_CONTAINS(image.status().message(), png + ": not a readable JPEG: Not a JPEG file");

  const std::string empty = TmpPath("empty.jpg");
  ASSERT_TRUE(WriteFileAtomically(empty, "").ok());
  image = ReadJpeg(empty, 1);
  EXPECT_CONTAINS(image.status().message(), empty + ": not a readable JPEG: Empty input file");

  const std::vector<uint8_t> pixels = Picture(41, 29, 3);
  const std::string good = TmpPath("good.jpg");
  ASSERT_TRUE(WriteJpeg(good, pixels.data(), 41, 29, 3).ok());
  const std::string bytes = *ReadFileToString(good);
  const std::string cut = TmpPath("cut.jpg");
  ASSERT_TRUE(WriteFileAtomically(cut, bytes.substr(0, bytes.size() / 2)).ok());
  image = ReadJpeg(cut, 3);
  EXPECT_TRUE(absl::IsInvalidArgument(image.status())) << image.status();
  EXPECT_CONTAINS(image.status().message(), cut + ": not a readable JPEG: Premature end");

  image = ReadJpeg(good, 2);
  EXPECT_TRUE(absl::IsInvalidArgument(image.status())) << image.status();
  EXPECT_CONTAINS(image.status().message(), good + ": cannot read a JPEG as 2 channels");
}

// The offset of the SOF0 marker's height field in a baseline JPEG written by libjpeg.
size_t SofHeightOffset(const std::string& bytes) {
  for (size_t i = 2; i + 9 < bytes.size(); ++i) {
    if (static_cast<uint8_t>(bytes[i]) == 0xFF && static_cast<uint8_t>(bytes[i + 1]) == 0xC0) {
      return i + 5;  // FF C0, length (2), precision (1), then height (2) and width (2)
    }
  }
  return 0;
}

TEST(Jpeg, HostileHeaderAllocatesOnlyWhatIsThere) {
  const std::vector<uint8_t> pixels = Picture(16, 16, 1);
  const std::string path = TmpPath("hostile.jpg");
  ASSERT_TRUE(WriteJpeg(path, pixels.data(), 16, 16, 1).ok());
  std::string bytes = *ReadFileToString(path);
  const size_t at = SofHeightOffset(bytes);
  ASSERT_GT(at, 0u);

  // 5000 x 5000 (25 MB of gray) claimed, 16 x 16 of data (then the end-of-image marker):
  // an error, and no 25 MB.
  bytes[at] = bytes[at + 2] = static_cast<char>(5000 >> 8);
  bytes[at + 1] = bytes[at + 3] = static_cast<char>(5000 & 0xFF);
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  absl::StatusOr<Image> image;
  const size_t largest = LargestAllocationDuring([&] { image = ReadJpeg(path, 1); });
  EXPECT_CONTAINS(image.status().message(),
                  path + ": not a readable JPEG: Corrupt JPEG data: premature end of data segment");
  EXPECT_LT(largest, size_t{1} << 20);

  // 65000 x 65000: refused from the header.
  bytes[at] = bytes[at + 2] = static_cast<char>(65000 >> 8);
  bytes[at + 1] = bytes[at + 3] = static_cast<char>(65000 & 0xFF);
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  image = ReadJpeg(path, 3);
  EXPECT_CONTAINS(image.status().message(),
                  path + ": not a readable JPEG: a 65000x65000 JPEG of 1 components is too large");
}

TEST(Jpeg, DamagedScanDataStillGivesTheImage) {
  // A byte of the entropy-coded data changed (not to 0xFF, which would start a marker):
  // libjpeg warns and decodes on, as viewers show such files.
  const int w = 48, h = 32;
  const std::vector<uint8_t> pixels = Picture(w, h, 3);
  const std::string path = TmpPath("damaged.jpg");
  ASSERT_TRUE(WriteJpeg(path, pixels.data(), w, h, 3).ok());
  std::string bytes = *ReadFileToString(path);
  size_t sos = bytes.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  const size_t at = sos + (bytes.size() - sos) / 2;
  bytes[at] = static_cast<char>(static_cast<uint8_t>(bytes[at]) == 0x5A ? 0xA5 : 0x5A);
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  absl::StatusOr<Image> image = ReadJpeg(path, 3);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, w);
  EXPECT_EQ(image->height, h);
}

TEST(Jpeg, WriteErrors) {
  const uint8_t pixel[3] = {0, 0, 0};
  const std::string path = TmpPath("bad.jpg");
  for (const auto& [w, h, channels, quality] :
       std::vector<std::tuple<int, int, int, int>>{{0, 1, 1, 90}, {1, 1, 2, 90}, {1, 1, 3, 0},
                                                   {1, 1, 1, 101}, {70000, 1, 1, 90}}) {
    absl::Status s = WriteJpeg(path, pixel, w, h, channels, quality);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_CONTAINS(s.message(), path);
  }
  EXPECT_FALSE(WriteJpeg(path, nullptr, 1, 1, 1).ok());
  const std::string missing = TmpPath("no/such/dir/x.jpg");
  absl::Status s = WriteJpeg(missing, pixel, 1, 1, 3);
  EXPECT_CONTAINS(s.message(), missing);
  EXPECT_CONTAINS(s.message(), "No such file or directory");
}

}  // namespace
}  // namespace gradway::data
