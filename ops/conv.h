// 2-D convolution on NHWC (channels-last, Keras) float buffers, with its two backward
// kernels. Two algorithms (ConvAlgorithm), chosen per shape and pass unless forced:
//   direct:   im2col tiles (one image at a time) feeding the GEMM of ops/matmul.h, the whole
//             patch matrix never materialised; direct SIMD loops for tiny input depth.
//   Winograd: F(4x4, 3x3) or F(2x2, 3x3) minimal filtering (ops/winograd.h) for 3x3,
//             stride-1 kernels: 4x (2.25x) fewer multiplications, slightly more rounding.
// Both are deterministic: results depend on the data, the shape and the algorithm, never on
// the thread count.
//
// Fused ReLU: the forward pass can apply max(y, 0) in its epilogue, and the backward
// kernels can read dy through the ReLU's gradient mask (dy where y > 0, else 0) as they
// load it, so neither a separate pass over the output nor a masked copy of dy is needed.
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

#include "base/conv_algorithm.h"
#include "base/padding.h"
#include "ops/epilogue.h"

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

// Keras/TensorFlow padding rules (base/padding.h: WindowOutputSize, WindowPadBefore).
//   valid: out = ceil((in - k + 1) / stride), no padding.
//   same:  out = ceil(in / stride), pad_total = max((out - 1) * stride + k - in, 0),
//          pad_top = pad_total / 2 (the extra row/column of an odd total goes at the end).
Conv2DShape MakeConv2DShape(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t kh,
                            int64_t kw, int64_t cout, int64_t stride_h, int64_t stride_w,
                            Padding padding);

enum class ConvPass { kForward, kBackwardData, kBackwardWeights };

// The algorithm that computes `pass` of shape s when `requested` is asked for: kAuto is
// resolved (the process-wide choice, base/runtime.h's SetConvAlgorithm, first, then the
// shape's measured best choice), and a Winograd request on a shape Winograd cannot compute
// (not 3x3, not stride 1, or an empty dimension) falls back to kDirect. Never returns kAuto.
// The automatic choice for 3x3 stride-1 kernels: Winograd, except the forward pass with
// cin <= 4, the weight gradient with cin <= 3 and the data gradient with cin == 1 (direct
// is faster there) and outputs of a few pixels; F(4x4, 3x3) unless F(2x2, 3x3) wastes
// less on partial edge tiles, or the pass sums over more than 128 channels (forward: cin,
// data gradient: cout), where F(4x4) would round to more than 1e-5 of the output's largest
// magnitude. The weight gradient of layers wide both ways takes F(2x2) (cin * cout above
// about 241²) or direct (above about 362²), where Winograd's per-task partials would leave
// it fewer than 4 parallel tasks.
// Infinities: Winograd's transforms subtract values from each other, so an infinite input
// gives NaN in every output of the tiles that read it (direct gives +-inf), and a fused
// ReLU, like the ReLU op, turns those NaNs into 0.
ConvAlgorithm Conv2DAlgorithmFor(const Conv2DShape& s, ConvPass pass,
                                 ConvAlgorithm requested = ConvAlgorithm::kAuto);

// How Conv2DForward runs; the defaults: a plain convolution, its algorithm chosen per
// shape. Set fields directly or chain the setters:
// ConvForwardOptions().Epilogue(Epilogue::kRelu).Algorithm(ConvAlgorithm::kDirect).
struct ConvForwardOptions {
  ops::Epilogue epilogue = ops::Epilogue::kNone;  // kRelu: the fused ReLU
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;

  ConvForwardOptions& Epilogue(ops::Epilogue v) { epilogue = v; return *this; }
  ConvForwardOptions& Algorithm(ConvAlgorithm v) { algorithm = v; return *this; }
};

// How the backward kernels run; the defaults: the plain gradients, the algorithm chosen per
// shape and pass. E.g. ConvBackwardOptions().ReluY(y) after a forward with the fused ReLU.
struct ConvBackwardOptions {
  // Null, or the output y of a forward pass with Epilogue::kRelu (shaped like dy): dy[i] is
  // then read as 0 unless relu_y[i] > 0, giving the gradient through the ReLU.
  const float* relu_y = nullptr;
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;

  ConvBackwardOptions& ReluY(const float* v) { relu_y = v; return *this; }
  ConvBackwardOptions& Algorithm(ConvAlgorithm v) { algorithm = v; return *this; }
};

// y[n, oh, ow, co] = sum_{ky, kx, ci} x[n, oh*sh - pt + ky, ow*sw - pl + kx, ci] *
//                    w[ky, kx, ci, co] (+ bias[co]), then the epilogue: with
//                    Epilogue::kRelu, max(y, 0) (NaN -> 0, as the ReLU op).
// y: [n, out_h, out_w, cout], overwritten. `bias` [cout] may be null.
void Conv2DForward(const float* x, const float* w, const float* bias, float* y,
                   const Conv2DShape& s, const ConvForwardOptions& options = {});

// Gradient with respect to the input: dx = d(sum dy * y) / dx (through the fused ReLU when
// options.relu_y is set).
// dy: [n, out_h, out_w, cout]; w: [kh, kw, cin, cout]; dx: [n, h, w, cin], overwritten.
void Conv2DBackwardData(const float* dy, const float* w, float* dx, const Conv2DShape& s,
                        const ConvBackwardOptions& options = {});

// Gradients with respect to the weights and bias (through the fused ReLU when
// options.relu_y is set).
// x: [n, h, w, cin]; dy: [n, out_h, out_w, cout];
// dw: [kh, kw, cin, cout], overwritten; db: [cout], overwritten (may be null).
// The sum over the batch uses a fixed partition: results do not depend on the thread count.
void Conv2DBackwardWeights(const float* x, const float* dy, float* dw, float* db,
                           const Conv2DShape& s, const ConvBackwardOptions& options = {});

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_CONV_H_
