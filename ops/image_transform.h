// Projective warps of NHWC images, with the conventions of TensorFlow's
// ImageProjectiveTransformV3 (what Keras' RandomTranslation and RandomRotation run): the
// image-augmentation kernel behind nn/augmentation.h. No gradient (the inputs are data).
//
// Coordinates are pixel indices: pixel (y, x) has its centre at (y, x), the image covers
// [0, h - 1] x [0, w - 1]. A transform row t = (a0, a1, a2, b0, b1, b2, c0, c1) maps each
// output pixel (x, y) to the input point
//   k = c0 x + c1 y + 1,  x' = (a0 x + a1 y + a2) / k,  y' = (b0 x + b1 y + b2) / k,
// evaluated in float in that order (k = 0: the fill value). x' and y' are then mapped by the
// fill mode, one axis at a time, and sampled by the interpolation. Each output element
// depends only on its own inputs, so results are the same bits for any thread count.
// Scalar code (gathers with per-pixel branches; Highway would buy little), parallel over
// rows of output images.
#ifndef GRADWAY_OPS_IMAGE_TRANSFORM_H_
#define GRADWAY_OPS_IMAGE_TRANSFORM_H_

#include <cstdint>

namespace gradway {
namespace ops {

// kNearest reads the pixel at (round(y'), round(x')), halves rounded away from zero.
// kBilinear weighs the four pixels around (y', x'):
//   f(y', x') = (y1 - y') ((x1 - x') f(y0, x0) + (x' - x0) f(y0, x1))
//             + (y' - y0) ((x1 - x') f(y1, x0) + (x' - x0) f(y1, x1)),
// y0 = floor(y'), y1 = y0 + 1 (likewise x). After the fill mode (below) the point lies
// in the image, so a neighbour outside it is only ever y1 = h or x1 = w, with weight 0:
// it reads the fill value (0 * fill_value, as TF's kernel).
enum class ImageInterpolation { kNearest, kBilinear };

// How a coordinate c outside [0, len - 1] is brought in (Keras' fill_mode), for an axis of
// len pixels a b c d:
//   kReflect   d c b a | a b c d | d c b a  (reflected about the outer edges of the first and
//              last pixels: c -> -1 - c, c -> 2 len - 1 - c; period 2 len)
//   kWrap      a b c d | a b c d | a b c d  (c shifted by whole periods len towards the
//              image until it reaches or passes it; what is still outside is clamped)
//   kConstant  k k k k | a b c d | k k k k  (a point outside the image reads the fill value)
//   kNearest   a a a a | a b c d | d d d d  (c clamped)
// Every mode but kConstant then clamps c to [0, len - 1] (so a point half a pixel beyond
// the last pixel reads that pixel, as TF's kernel); with kConstant a point outside
// [0, len - 1] on either axis reads the fill value as a whole (no blend with the edge).
// With len 1 every coordinate maps to 0 (but kConstant).
// These are TF's formulas (tensorflow/core/kernels/image/image_ops.h, MapCoordinate) with
// one difference: TF's wrap divides by len - 1 where the period is len, so for points more
// than len - 1 pixels outside the image TF's kWrap is not periodic; here it is. Within
// that distance, and for every mode else, the arithmetic is TF's.
enum class ImageFillMode { kReflect, kWrap, kConstant, kNearest };

struct ImageTransformShape {
  int64_t n, h, w, c;    // input [n, h, w, c]
  int64_t out_h, out_w;  // output [n, out_h, out_w, c]
};

// Maps input coordinate `coord` of an axis of `len` >= 1 pixels as `mode` says (kConstant:
// unchanged). NaN stays NaN, and so does an infinite coordinate under kReflect and kWrap
// (the pixel reads the fill value); kNearest clamps infinities.
float MapImageCoordinate(float coord, int64_t len, ImageFillMode mode);

// y[b, oy, ox, ch] = the sample of image b at the input point transforms[b] maps (ox, oy)
// to (see above), for every channel ch. x: [n, h, w, c]; transforms: [n, 8], one row per
// image; y: [n, out_h, out_w, c], overwritten (must not overlap x). Throws
// std::invalid_argument for a negative size, or an empty input image (h or w 0) with a
// non-empty output.
void ImageProjectiveTransform(const float* x, const float* transforms, float* y,
                              const ImageTransformShape& shape,
                              ImageInterpolation interpolation, ImageFillMode fill_mode,
                              float fill_value);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_IMAGE_TRANSFORM_H_
