#include "data/png.h"

#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_util.h"

namespace gradway::data {
namespace {

// libpng reports errors through this callback; it records the message and longjmps back
// to WritePng's setjmp (libpng's documented error-handling model).
void OnPngError(png_structp png, png_const_charp message) {
  auto* error = static_cast<std::string*>(png_get_error_ptr(png));
  if (error != nullptr) *error = message;
  png_longjmp(png, 1);
}

void OnPngWarning(png_structp, png_const_charp) {}

// Writes the PNG to the already-open `file`; returns libpng's error message, if any.
// Kept free of C++ objects with destructors between setjmp and longjmp.
bool WritePngStream(std::FILE* file, const uint8_t* pixels, int width, int height,
                    int color_type, int channels, std::string* error) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, error, OnPngError, OnPngWarning);
  if (png == nullptr) {
    *error = "cannot create the libpng writer";
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    *error = "cannot create the libpng info struct";
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
               8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(width) * channels;
  for (int y = 0; y < height; ++y) {
    png_write_row(png, const_cast<png_bytep>(pixels + y * stride));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

absl::Status WritePng(const std::string& path, const uint8_t* pixels, int width, int height,
                      int color_type, int channels) {
  if (pixels == nullptr || width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: cannot write a %dx%d PNG from %s", path, width, height,
        pixels == nullptr ? "null pixels" : "these pixels"));
  }
  const std::string tmp = TempPathFor(path);
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (file == nullptr) return ErrnoStatus(errno, path, "cannot create");
  std::string error;
  const bool ok = WritePngStream(file, pixels, width, height, color_type, channels, &error);
  const bool closed = std::fclose(file) == 0;
  const int err = errno;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    if (!ok) return absl::InternalError(absl::StrCat(path, ": writing PNG failed: ", error));
    return ErrnoStatus(err, path, "write error");
  }
  return CommitTempFile(tmp, path);
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
  return WritePng(path, pixels, width, height, PNG_COLOR_TYPE_GRAY, 1);
}

absl::Status WriteRgbPng(const std::string& path, const uint8_t* pixels, int width,
                         int height) {
  return WritePng(path, pixels, width, height, PNG_COLOR_TYPE_RGB, 3);
}

}  // namespace gradway::data
