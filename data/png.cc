#include "data/png.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_util.h"

namespace gradway::data {
namespace {

// Encodes with libpng's simplified API into memory, then writes the file atomically.
absl::Status WritePng(const std::string& path, const uint8_t* pixels, int width, int height,
                      png_uint_32 format) {
  if (pixels == nullptr || width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: cannot write a %dx%d PNG from %s", path, width, height,
        pixels == nullptr ? "null pixels" : "these pixels"));
  }
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = format;
  png_alloc_size_t size = 0;
  // The first call measures, the second encodes.
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels, 0, nullptr)) {
    return absl::InternalError(absl::StrCat(path, ": writing PNG failed: ", image.message));
  }
  std::string encoded(size, '\0');
  if (!png_image_write_to_memory(&image, encoded.data(), &size, 0, pixels, 0, nullptr)) {
    return absl::InternalError(absl::StrCat(path, ": writing PNG failed: ", image.message));
  }
  encoded.resize(size);
  return WriteFileAtomically(path, encoded);
}

// libpng allocates an ancillary chunk's claimed length before reading its data (its 8 MB
// chunk limit only warns), so a 100-byte file claiming a 1 GiB tEXt chunk would cost
// 1 GiB. Every chunk up to IEND must therefore fit in the file. Returns "" or what is
// wrong; bytes without the PNG signature are left to libpng to report.
std::string CheckChunkLengths(const std::string& bytes) {
  static constexpr char kSignature[] = "\x89PNG\r\n\x1a\n";
  if (bytes.compare(0, 8, kSignature, 8) != 0) return "";
  size_t pos = 8;
  while (bytes.size() - pos >= 8) {
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<uint8_t>(bytes[pos + i]);
    const std::string type = bytes.substr(pos + 4, 4);
    const size_t left = bytes.size() - pos - 8;  // the chunk's data and 4-byte CRC
    if (left < 4 || length > left - 4) {
      return absl::StrFormat(
          "chunk '%s' at byte %d claims %d bytes of data but the file has only %d more "
          "(truncated or corrupt)",
          absl::CHexEscape(type), pos, length, left < 4 ? 0 : left - 4);
    }
    if (type == "IEND") break;
    pos += 12 + static_cast<size_t>(length);
  }
  return "";
}

// ---- Checking that a PNG's pixel data is all there, with libpng's low-level API (errors
// longjmp back to DecodeRows; every object in these frames is trivially destructible).

struct PngInput {
  const std::string* bytes;
  size_t pos;
  char error[200];  // libpng's message, when it fails
};

void OnPngError(png_structp png, png_const_charp message) {
  auto* input = static_cast<PngInput*>(png_get_error_ptr(png));
  std::snprintf(input->error, sizeof(input->error), "%s", message);
  png_longjmp(png, 1);
}

void OnPngWarning(png_structp, png_const_charp) {}

void ReadPngBytes(png_structp png, png_bytep out, size_t n) {
  auto* input = static_cast<PngInput*>(png_get_io_ptr(png));
  if (n > input->bytes->size() - input->pos) png_error(png, "the file ends early");
  std::memcpy(out, input->bytes->data() + input->pos, n);
  input->pos += n;
}

// Decodes every row (every pass, when interlaced) into one row buffer, `*row` (png_malloc'ed
// here, freed by the caller). False when libpng fails.
bool DecodeRows(png_structp png, png_infop info, png_bytep* row) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *row = static_cast<png_bytep>(png_malloc(png, png_get_rowbytes(png, info)));
  const png_uint_32 height = png_get_image_height(png, info);
  for (int pass = 0; pass < passes; ++pass) {
    for (png_uint_32 y = 0; y < height; ++y) png_read_row(png, *row, nullptr);
  }
  return true;
}

// Checks that the PNG in `bytes` decompresses to all its rows, keeping none: the image's
// buffer is allocated only once the data has been seen, so a header claiming 5000x5000
// pixels in a few bytes costs no 25 MB (libpng's own buffers are a row or two). Returns ""
// or libpng's message.
std::string CheckPixelData(const std::string& bytes) {
  PngInput input = {&bytes, 0, "out of memory"};
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &input, OnPngError, OnPngWarning);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return input.error;
  }
  png_set_read_fn(png, &input, ReadPngBytes);
  png_bytep row = nullptr;
  const bool ok = DecodeRows(png, info, &row);
  png_free(png, row);
  png_destroy_read_struct(&png, &info, nullptr);
  return ok ? "" : input.error;
}

}  // namespace

absl::StatusOr<Image> ReadPng(const std::string& path, int channels) {
  if (channels != 1 && channels != 3 && channels != 4) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: cannot read a PNG as %d channels (1: gray, 3: RGB, 4: RGBA)", path, channels));
  }
  if (!FileExists(path)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  // libpng's simplified API: it does the colour conversions and reports errors in
  // image.message instead of longjmp-ing.
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  auto fail = [&path, &image](const char* what) {
    std::string message = absl::StrCat(path, ": ", what, ": ", image.message);
    png_image_free(&image);
    return absl::InvalidArgumentError(message);
  };
  if (const std::string error = CheckChunkLengths(*bytes); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a readable PNG: ", error));
  }
  if (!png_image_begin_read_from_memory(&image, bytes->data(), bytes->size())) {
    return fail("not a readable PNG");
  }
  const int64_t pixels = static_cast<int64_t>(image.width) * image.height;
  if (image.width == 0 || image.height == 0 || pixels > kMaxPngPixels) {
    const std::string message = absl::StrFormat(
        "%s: a %dx%d PNG is %s (at most %d pixels are read)", path, image.width,
        image.height, pixels == 0 ? "empty" : "too large", kMaxPngPixels);
    png_image_free(&image);
    return absl::InvalidArgumentError(message);
  }
  if (const std::string error = CheckPixelData(*bytes); !error.empty()) {
    png_image_free(&image);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read the PNG's pixels: ", error));
  }
  image.format = channels == 1 ? PNG_FORMAT_GRAY
                 : channels == 3 ? PNG_FORMAT_RGB
                                 : PNG_FORMAT_RGBA;
  Image out;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.channels = channels;
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  const png_color white = {255, 255, 255};  // the background of gray and RGB output
  if (!png_image_finish_read(&image, &white, out.pixels.data(), 0, nullptr)) {
    return fail("cannot read the PNG's pixels");
  }
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * channels);
  return out;
}

absl::StatusOr<GrayImage> ReadGrayPng(const std::string& path) {
  absl::StatusOr<Image> image = ReadPng(path, 1);
  if (!image.ok()) return image.status();
  return GrayImage{image->width, image->height, std::move(image->pixels)};
}

absl::Status WriteGrayPng(const std::string& path, const uint8_t* pixels, int width,
                          int height) {
  return WritePng(path, pixels, width, height, PNG_FORMAT_GRAY);
}

absl::Status WriteRgbPng(const std::string& path, const uint8_t* pixels, int width,
                         int height) {
  return WritePng(path, pixels, width, height, PNG_FORMAT_RGB);
}

}  // namespace gradway::data
