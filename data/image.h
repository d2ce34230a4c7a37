// 8-bit images held as bytes, and the conversions the examples and the image readers need:
// enlarging with nearest-neighbour pixels (to look at a 28x28 digit), turning any picture
// of a digit into a 28x28 MNIST-style digit (to classify it), and resizing to a model's
// input size the way Keras does (bilinear, to floats).
#ifndef GRADWAY_DATA_IMAGE_H_
#define GRADWAY_DATA_IMAGE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gradway::data {

// A `width` x `height` grayscale image: pixels[y * width + x], top row first, 0 = black.
struct GrayImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
};

// A `width` x `height` image with `channels` 8-bit samples per pixel (1: gray, 3: RGB,
// 4: RGBA), interleaved: pixels[(y * width + x) * channels + c], top row first.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;
};

// Resizes `image` to out_height x out_width as Keras' image loaders do by default
// (tf.image.resize with method "bilinear"): bilinear interpolation with half-pixel
// centres, no antialiasing (a reduction by more than 2 skips pixels), no rounding. Writes
// out_height * out_width * channels floats in [0, 255] to `out`, laid out as the image
// (HWC). An image that already has that size is copied exactly (the samples as floats).
// Errors: InvalidArgument for an empty or inconsistent image (pixels.size() !=
// width * height * channels, channels not 1 to 4) or a non-positive output size.
absl::Status ResizeBilinear(const Image& image, int out_height, int out_width, float* out);

// Enlarges `image` `factor` times in each direction, each pixel becoming a factor x
// factor block (nearest neighbour: no blur). Errors: InvalidArgument when factor < 1, the
// image is empty or inconsistent (pixels.size() != width * height), or the result would
// exceed 2^15 pixels per side.
absl::StatusOr<GrayImage> ScaleNearest(const GrayImage& image, int factor);

// Converts a picture of one digit to a 28x28 image in MNIST's convention, the way the
// MNIST digits were made (LeCun et al.): white ink on black; the ink's bounding box scaled
// (area averaging, anti-aliased) to fit a 20x20 box keeping its aspect ratio; placed in a
// 28x28 field so that its centre of mass is at the centre.
// Dark ink on a light background (the border's mean is above 127) is inverted first; the
// background level (the border's mean) is subtracted and the strongest ink scaled to 255,
// so a pencil digit on grey paper works.
// Applied to an MNIST digit, or to one enlarged with ScaleNearest, it returns nearly the
// same digit.
// Errors: InvalidArgument for an empty or inconsistent image, or one with no ink (every
// pixel within 32 of the background).
absl::StatusOr<GrayImage> ToMnistDigit(const GrayImage& image);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_IMAGE_H_
