// PNG writers (libpng) for looking at images, e.g. a grid of MNIST digits.
#ifndef GRADWAY_DATA_PNG_H_
#define GRADWAY_DATA_PNG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

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

}  // namespace gradway::data

#endif  // GRADWAY_DATA_PNG_H_
