// 2-D convolution on NHWC (channels-last, Keras) float buffers, with its two backward
// kernels. Implemented as im2col tiles (one image at a time) feeding the GEMM of
// ops/matmul.h; the whole patch matrix is never materialised.
//
// Layouts (all dense row-major):
//   x  [n, h, w, cin]              input
//   w  [kh, kw, cin, cout]          weights (Keras HWIO)
//   b  [cout]                       bias
//   y  [n, out_h, out_w, cout]      output
// Output pixel (oy, ox) reads input rows oy * stride_h - pad_top + [0, kh) and columns
// ox * stride_w - pad_left + [0, kw); taps outside the image read zeros.
#ifndef GRADWAY_OPS_CONV_H_
#define GRADWAY_OPS_CONV_H_

#include <cstdint>

namespace gradway {
namespace ops {

// Every size a 2-D convolution needs. Build it with MakeConv2DShape (or fill it in by
// hand for unusual padding: out_h/out_w must then match the padding and strides).
struct Conv2DShape {
  int64_t n, h, w, cin;        // input
  int64_t kh, kw, cout;        // kernel
  int64_t stride_h, stride_w;  // strides (>= 1)
  int64_t pad_top, pad_left;   // zero padding before the first row / column
  int64_t out_h, out_w;        // output spatial size
};

// Keras/TensorFlow padding rules.
//   valid: out = ceil((in - k + 1) / stride), no padding.
//   same:  out = ceil(in / stride), pad_total = max((out - 1) * stride + k - in, 0),
//          pad_top = pad_total / 2 (the extra row/column of an odd total goes at the end).
Conv2DShape MakeConv2DShape(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t kh,
                            int64_t kw, int64_t cout, int64_t stride_h, int64_t stride_w,
                            bool same_padding);

// y[n, oh, ow, co] = sum_{ky, kx, ci} x[n, oh*sh - pt + ky, ow*sw - pl + kx, ci] *
//                    w[ky, kx, ci, co] (+ bias[co]).
// y: [n, out_h, out_w, cout], overwritten. `bias` [cout] may be null.
void Conv2DForward(const float* x, const float* w, const float* bias, float* y,
                   const Conv2DShape& s);

// Gradient with respect to the input: dx = d(sum dy * y) / dx.
// dy: [n, out_h, out_w, cout]; w: [kh, kw, cin, cout]; dx: [n, h, w, cin], overwritten.
void Conv2DBackwardData(const float* dy, const float* w, float* dx, const Conv2DShape& s);

// Gradients with respect to the weights and bias.
// x: [n, h, w, cin]; dy: [n, out_h, out_w, cout];
// dw: [kh, kw, cin, cout], overwritten; db: [cout], overwritten (may be null).
// The sum over the batch uses a fixed partition: results do not depend on the thread count.
void Conv2DBackwardWeights(const float* x, const float* dy, float* dw, float* db,
                           const Conv2DShape& s);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_CONV_H_
