#include "data/png.h"

#include <png.h>

#include <cstring>
#include <string>

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

}  // namespace

absl::StatusOr<GrayImage> ReadGrayPng(const std::string& path) {
  if (!FileExists(path)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
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
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
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
  image.format = PNG_FORMAT_GRAY;
  GrayImage out;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  const png_color white = {255, 255, 255};
  if (!png_image_finish_read(&image, &white, out.pixels.data(), 0, nullptr)) {
    return fail("cannot read the PNG's pixels");
  }
  out.pixels.resize(static_cast<size_t>(out.width) * out.height);
  return out;
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
