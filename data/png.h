// PNG files (libpng): writers for looking at images (e.g. an MNIST digit), and readers
// that turn any PNG into an 8-bit grayscale image (e.g. a digit to classify) or into 8-bit
// gray, RGB or RGBA samples (e.g. images to train on: data/image_directory.h).
#ifndef GRADWAY_DATA_PNG_H_
#define GRADWAY_DATA_PNG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/image.h"

namespace gradway::data {

// Writes a `width` x `height` 8-bit grayscale PNG from `pixels` (height rows of width
// bytes, top row first) to `path`, atomically (temporary file + rename).
// Errors: InvalidArgument for a null `pixels` or a non-positive size; the path and the
// system or libpng error when writing fails (e.g. missing directory).
absl::Status WriteGrayPng(const std::string& path, const uint8_t* pixels, int width,
                          int height);

// As WriteGrayPng, for an 8-bit RGB image: `pixels` holds height rows of width*3 bytes
// (R, G, B per pixel).
absl::Status WriteRgbPng(const std::string& path, const uint8_t* pixels, int width,
                         int height);

// The largest image ReadGrayPng and ReadPng accept, in pixels (a 32-megapixel photo); a header that
// claims more is rejected before anything is allocated.
inline constexpr int64_t kMaxPngPixels = int64_t{1} << 25;

// Reads the PNG at `path` as 8-bit grayscale, whatever its colour type and bit depth
// (gray, RGB, palette, 16-bit; RGB converted by luminance). Transparent pixels are
// composited onto white, as an image viewer shows them.
// Memory follows the data, not the header: every chunk must fit in the file, and the
// image's buffer is allocated only after all its rows have been decompressed once, so a
// header claiming more pixels (or a chunk claiming more bytes) than the file holds costs
// no memory beyond the file, a few rows and libpng's 8 MB cap on ancillary data.
// Errors: NotFound for a missing file; InvalidArgument naming the file for anything that
// is not a readable PNG (libpng's message: bad signature, truncated, CRC error, ...) or
// an image larger than kMaxPngPixels.
absl::StatusOr<GrayImage> ReadGrayPng(const std::string& path);

// Reads the PNG at `path` as `channels` 8-bit samples per pixel, whatever its colour type
// and bit depth: 1 as ReadGrayPng; 3 RGB (gray replicated, transparent pixels composited
// onto white); 4 RGBA (opaque images get alpha 255). Memory and errors as ReadGrayPng,
// plus InvalidArgument for `channels` other than 1, 3 or 4.
absl::StatusOr<Image> ReadPng(const std::string& path, int channels);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_PNG_H_
