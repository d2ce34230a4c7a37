// Winograd minimal filtering for 3x3, stride-1 convolutions on NHWC float buffers: the
// forward pass, the data gradient and the weight gradient, as F(m x m, 3 x 3) with output
// tiles of m = 2 (4x4 input tiles) or m = 4 (6x6 input tiles). ops/conv.h decides when to
// use them (ConvAlgorithm); call these through Conv2DForward & co. unless you need a
// specific tile size.
//
// Each a x a input tile d (a = m + 2) and 3x3 filter g of one (input, output) channel pair
// become, in the transformed domain,  U = G g Gᵀ,  V = Bᵀ d B  (a x a each), and the m x m
// output tile is  Y = Aᵀ [ sum over input channels of U ⊙ V ] A.  For each of the a² points
// of the transformed domain the channel sum is a GEMM  [tiles x cin] · [cin x cout]; tiles
// are processed in blocks that keep those GEMMs' operands in L2 (Highway dynamic dispatch,
// blocks in parallel through ParallelFor). Multiplications per output: 9 cin cout for a
// direct convolution, (a/m)² cin cout here: 2.25x fewer for m = 2, 4x fewer for m = 4.
//
// Rounding differs from a direct convolution (the transforms add and subtract scaled
// values; m = 4 loses about 10x more precision than m = 2), but every result depends only
// on the data and the shape: never on the thread count. An infinite input makes NaNs in
// the outputs of every tile that reads it (the transforms subtract it from itself), where a
// direct convolution gives infinities.
#ifndef GRADWAY_OPS_WINOGRAD_H_
#define GRADWAY_OPS_WINOGRAD_H_

#include <cstdint>

#include "ops/epilogue.h"

namespace gradway {
namespace ops {

// A 3x3, stride-1 convolution (cross-correlation, as Conv2D) with zero padding:
//   x [n, h, w, cin], w [3, 3, cin, cout] (HWIO), y [n, out_h, out_w, cout];
//   y[i, oy, ox, co] = sum_{ky, kx, ci} x[i, oy - pad_top + ky, ox - pad_left + kx, ci] *
//                      w[ky, kx, ci, co], taps outside the image reading zeros.
// Any padding and output size are allowed (out_h, out_w >= 0), e.g. Keras valid
// (pad 0, out = in - 2) and same (pad 1, out = in).
struct Winograd3x3Shape {
  int64_t n, h, w, cin;
  int64_t cout;
  int64_t out_h, out_w;
  int64_t pad_top, pad_left;
};

// Output tile sides the kernels implement: F(2x2, 3x3) and F(4x4, 3x3).
constexpr int kWinogradTile2 = 2;
constexpr int kWinogradTile4 = 4;

// The weight gradient sums one partial transformed dw ((tile + 2)² · cin · cout floats) per
// group of tile blocks, and the groups are its parallel tasks; their partials take at most
// this many floats in all (32 MiB), so layers with wide inputs and outputs get few groups
// (ops/conv.h's automatic choice keeps at least 4).
constexpr int64_t kWinogradWeightPartialFloats = int64_t{8} << 20;

// y = conv(x, w) (+ bias[cout] if not null), then the epilogue: with Epilogue::kRelu,
// max(y, 0) (NaN -> 0, as the ReLU op). y: [n, out_h, out_w, cout], overwritten. `tile`:
// kWinogradTile2 or 4.
void WinogradConv3x3Forward(int tile, const Winograd3x3Shape& s, const float* x,
                            const float* w, const float* bias, Epilogue epilogue, float* y);

// dx = d(sum dy * y) / dx: a 3x3 convolution of dy with the flipped, transposed kernel.
// dy: [n, out_h, out_w, cout]; dx: [n, h, w, cin], overwritten. When `relu_y` is not null
// (the forward's output after a fused ReLU, shaped like dy), dy[i] is read as 0 wherever
// relu_y[i] > 0 does not hold: dx is the gradient through the ReLU.
void WinogradConv3x3BackwardData(int tile, const Winograd3x3Shape& s, const float* dy,
                                 const float* relu_y, const float* w, float* dx);

// dw = d(sum dy * y) / dw [3, 3, cin, cout] and db [cout] (may be null), overwritten,
// with dy masked by `relu_y` as in WinogradConv3x3BackwardData. The sum over tiles uses
// a partition fixed by the shape: results do not depend on the thread count.
void WinogradConv3x3BackwardWeights(int tile, const Winograd3x3Shape& s, const float* x,
                                    const float* dy, const float* relu_y, float* dw,
                                    float* db);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_WINOGRAD_H_
