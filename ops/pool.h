// 2-D max and average pooling on NHWC tensors ([N, H, W, C], row-major), with Keras'
// "valid" / "same" padding, and global pooling over the whole image. SIMD over channels,
// parallel over image rows (global pooling: over the batch); results are bit-identical
// whatever the thread count (backwards gather in a fixed order, sums in a fixed order).
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

// ---- Global pooling over all of H x W: x is an NHWC image viewed as [n, hw, c] (hw =
// h * w positions, hw >= 1, row-major), y is [n, c]. Forwards are parallel over the batch,
// backwards over (sample, position) rows; SIMD over channels.

// y[n, ch] = (0 + x[n, 0, ch] + x[n, 1, ch] + ... + x[n, hw - 1, ch]) / hw: summed in
// float in position order (the order is fixed: each channel is one SIMD lane), then
// divided by hw. y overwritten.
void GlobalAvgPool2DForward(const float* x, float* y, int64_t n, int64_t hw, int64_t c);

// dx[n, i, ch] = dy[n, ch] / hw for every position i. dy: [n, c]; dx: [n, hw, c],
// overwritten.
void GlobalAvgPool2DBackward(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c);

// y[n, ch] = the maximum over the positions, as PyTorch's adaptive_max_pool2d(x, 1): the
// positions are scanned in order and a value replaces the running maximum when it is
// greater or NaN. So ties go to the first maximum, and any NaN gives NaN (its position
// that of the last NaN). argmax (nullable, e.g. for inference): [n, c], overwritten with
// each maximum's position in [0, hw). Precondition: hw < 2^31.
void GlobalMaxPool2DForward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t hw,
                            int64_t c);

// dx[n, i, ch] = 0 + (argmax[n, ch] == i ? dy[n, ch] : 0). dy, argmax: [n, c] (argmax from
// GlobalMaxPool2DForward); dx: [n, hw, c], overwritten.
void GlobalMaxPool2DBackward(const float* dy, const int32_t* argmax, float* dx, int64_t n,
                             int64_t hw, int64_t c);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_POOL_H_
