// 2-D max and average pooling on NHWC tensors ([N, H, W, C], row-major), with Keras'
// "valid" / "same" padding. SIMD over channels, parallel over image rows; results are
// bit-identical whatever the thread count (backwards gather in a fixed order).
#ifndef GRADWAY_OPS_POOL_H_
#define GRADWAY_OPS_POOL_H_

#include <cstdint>

#include "base/padding.h"

namespace gradway {
namespace ops {

// Geometry of a 2-D pooling: input [n, h, w, c], output [n, out_h, out_w, c]. Window
// (oh, ow) covers input rows oh * stride_h - pad_top + [0, pool_h) and columns
// ow * stride_w - pad_left + [0, pool_w); cells outside the input are padding.
struct Pool2DShape {
  int64_t n, h, w, c;
  int64_t pool_h, pool_w, stride_h, stride_w;
  int64_t pad_top, pad_left;
  int64_t out_h, out_w;
};

// Keras' rules (base/padding.h: WindowOutputSize, WindowPadBefore). valid: out =
// floor((in - pool) / stride) + 1 (0 if in < pool), no padding. same: out = ceil(in /
// stride), pad_total = max((out - 1) * stride + pool - in, 0), pad_top/left = pad_total / 2
// (the extra cell goes to the bottom/right).
// Throws std::invalid_argument unless all sizes are >= 0 and pool, stride >= 1.
Pool2DShape MakePool2DShape(int64_t n, int64_t h, int64_t w, int64_t c, int64_t pool_h,
                            int64_t pool_w, int64_t stride_h, int64_t stride_w,
                            Padding padding);

// y[n, oh, ow, ch] = max over the window's in-bounds cells (padding never wins; ties go
// to the first cell in row-major window order). x: [n, h, w, c]; y: [n, out_h, out_w, c],
// overwritten. argmax (nullable, e.g. for inference): [n, out_h, out_w, c], overwritten
// with the flat index into x of each maximum. Precondition: n * h * w * c < 2^31.
void MaxPool2DForward(const float* x, float* y, int32_t* argmax, const Pool2DShape& shape);

// dx[i] = sum of dy[o] over the outputs o with argmax[o] == i (overlapping windows
// accumulate, in output order). dy, argmax: [n, out_h, out_w, c] (argmax from
// MaxPool2DForward with the same shape); dx: [n, h, w, c], overwritten.
void MaxPool2DBackward(const float* dy, const int32_t* argmax, float* dx,
                       const Pool2DShape& shape);

// y[n, oh, ow, ch] = mean over the window's in-bounds cells (Keras: padded cells are
// excluded from the count). x: [n, h, w, c]; y: [n, out_h, out_w, c], overwritten.
void AvgPool2DForward(const float* x, float* y, const Pool2DShape& shape);

// dx[cell] = sum over the windows containing cell of dy[window] / count[window].
// dy: [n, out_h, out_w, c]; dx: [n, h, w, c], overwritten.
void AvgPool2DBackward(const float* dy, float* dx, const Pool2DShape& shape);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_POOL_H_
