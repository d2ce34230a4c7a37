// Scalar reference kernels: plain loops, no SIMD, no threads. They define what the fast
// kernels in ops/ must compute and are what the kernels' tests and benchmarks compare
// against. Each function has the same signature and semantics as the kernel of the same
// name in the ops/ header named in its section.
#ifndef GRADWAY_OPS_REFERENCE_H_
#define GRADWAY_OPS_REFERENCE_H_

#include <cstdint>
#include <vector>

#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"

namespace gradway {
namespace ops {
namespace reference {

// ---- Elementwise and reductions (ops/elementwise.h) ----

void Binary(BinaryOp op, const float* a, const float* b, float* out, int64_t n);
void BroadcastBinary(BinaryOp op, const float* a, const std::vector<int64_t>& a_shape,
                     const float* b, const std::vector<int64_t>& b_shape, float* out,
                     const std::vector<int64_t>& out_shape);
void Unary(UnaryOp op, const float* x, float* y, int64_t n);
void Pow(const float* x, float p, float* y, int64_t n);
void Scale(const float* x, float alpha, float* y, int64_t n);
void GatherBytesAsFloat(const uint8_t* base, const int64_t* rows, int64_t count,
                        int64_t row_size, float divisor, float* out);
void Axpy(float alpha, const float* x, float* y, int64_t n);
void AddScalar(const float* x, float alpha, float* y, int64_t n);
void ReluBackward(const float* x, const float* dy, float* dx, int64_t n);
void SigmoidBackward(const float* y, const float* dy, float* dx, int64_t n);
void TanhBackward(const float* y, const float* dy, float* dx, int64_t n);
void LeakyRelu(const float* x, float alpha, float* y, int64_t n);
void Elu(const float* x, float alpha, float* y, int64_t n);
void LeakyReluBackward(const float* x, float alpha, const float* dy, float* dx, int64_t n);
void EluBackward(const float* x, float alpha, const float* dy, float* dx, int64_t n);
// In double precision, rounded once, as Unary's kGelu and kGeluTanh (the truth the kernels'
// erf and tanh approximations are measured against).
void GeluBackward(const float* x, const float* dy, float* dx, int64_t n);
void GeluTanhBackward(const float* x, const float* dy, float* dx, int64_t n);
void SiluBackward(const float* x, const float* dy, float* dx, int64_t n);
void HardSigmoidBackward(const float* x, const float* dy, float* dx, int64_t n);
// Sequential sum in double precision.
float Sum(const float* x, int64_t n);
void SumAxis(const float* x, int64_t outer, int64_t axis, int64_t inner, float* out);
void SumToShape(const float* x, const std::vector<int64_t>& x_shape, float* out,
                const std::vector<int64_t>& out_shape);

// ---- Matrix multiplication (ops/matmul.h) ----

// C[m x n] = op(A) · op(B) (+ bias) (+ C when accumulating), then the epilogue; each
// element sums its k products in order p = 0 .. k-1 in float. Shapes are not checked.
void MatMul(const Mat& a, const Mat& b, const OutMat& c, const MatMulOptions& options = {});

// ---- 2-D convolution, NHWC / HWIO (ops/conv.h): direct nested loops ----

// Calls f(x offset, w offset, y offset) for every output pixel and kernel tap that reads
// inside the image, in the order batch, output row, output column, kernel row, kernel
// column. The offsets are those of channel 0: x at (b, iy, ix, 0), w at (ky, kx, 0, 0),
// y at (b, oy, ox, 0). The loops over channels are the caller's. Also used by the float64
// references of ops/conv_reference64.h.
template <typename F>
void ForEachPixelTap(const Conv2DShape& s, F&& f) {
  for (int64_t b = 0; b < s.n; ++b) {
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        const int64_t yo = ((b * s.out_h + oy) * s.out_w + ox) * s.cout;
        for (int64_t ky = 0; ky < s.kh; ++ky) {
          const int64_t iy = oy * s.stride_h - s.pad_top + ky;
          if (iy < 0 || iy >= s.h) continue;
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const int64_t ix = ox * s.stride_w - s.pad_left + kx;
            if (ix < 0 || ix >= s.w) continue;
            f(((b * s.h + iy) * s.w + ix) * s.cin, (ky * s.kw + kx) * s.cin * s.cout, yo);
          }
        }
      }
    }
  }
}

void Conv2DForward(const float* x, const float* w, const float* bias, float* y,
                   const Conv2DShape& s);
void Conv2DBackwardData(const float* dy, const float* w, float* dx, const Conv2DShape& s);
void Conv2DBackwardWeights(const float* x, const float* dy, float* dw, float* db,
                           const Conv2DShape& s);

// ---- end of matmul and conv ----

}  // namespace reference
}  // namespace ops
}  // namespace gradway

// ---- Softmax, pooling, dropout, optimizers (ops/softmax.h, pool.h, dropout.h, adam.h) ----

#include "ops/adam.h"
#include "ops/pool.h"

namespace gradway {
namespace ops {
namespace reference {

void Softmax(const float* x, float* y, int64_t rows, int64_t cols);
void LogSoftmax(const float* x, float* y, int64_t rows, int64_t cols);
void SoftmaxBackward(const float* y, const float* dy, float* dx, int64_t rows,
                     int64_t cols);
void LogSoftmaxBackward(const float* y_log, const float* dy, float* dx, int64_t rows,
                        int64_t cols);
float SoftmaxCrossEntropy(const float* logits, const float* targets, int64_t rows,
                          int64_t cols, float* dlogits);
float SparseSoftmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t rows,
                                int64_t cols, float* dlogits);

// Direct nested loops over outputs and window cells; the backwards scatter into a zeroed
// dx in output order.
void MaxPool2DForward(const float* x, float* y, int32_t* argmax, const Pool2DShape& shape);
void MaxPool2DBackward(const float* dy, const int32_t* argmax, float* dx,
                       const Pool2DShape& shape);
void AvgPool2DForward(const float* x, float* y, const Pool2DShape& shape);
void AvgPool2DBackward(const float* dy, float* dx, const Pool2DShape& shape);
// Global pooling: a loop over positions per (sample, channel); the backwards scatter into
// a zeroed dx.
void GlobalAvgPool2DForward(const float* x, float* y, int64_t n, int64_t hw, int64_t c);
void GlobalAvgPool2DBackward(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c);
void GlobalMaxPool2DForward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t hw,
                            int64_t c);
void GlobalMaxPool2DBackward(const float* dy, const int32_t* argmax, float* dx, int64_t n,
                             int64_t hw, int64_t c);

// The dropout stream's definition: a 32-bit hash of (seed, i); element i is kept iff
// (DropoutHash(seed, i) >> 8) >= DropoutThreshold(rate).
uint32_t DropoutHash(uint64_t seed, uint64_t i);
uint32_t DropoutThreshold(float rate);
void DropoutForward(const float* x, float* y, uint8_t* mask, int64_t n, float rate,
                    uint64_t seed);
void DropoutBackward(const float* dy, const uint8_t* mask, float* dx, int64_t n,
                     float rate);

void AdamUpdate(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamParams& p);
void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n, float lr,
               float momentum, bool nesterov);
void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n,
               const SgdParams& p);
// In double, element by element.
double SumOfSquares(const float* x, int64_t n);
void ClipByValue(const float* x, float limit, float* y, int64_t n);

}  // namespace reference
}  // namespace ops
}  // namespace gradway

// ---- end of softmax, pooling, dropout, optimizers ----

// ---- Constant padding (ops/pad.h): one loop over every element by its multi-index ----

#include "ops/pad.h"

namespace gradway {
namespace ops {
namespace reference {

void PadForward(const float* x, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                float value, float* y);
void PadBackward(const float* dy, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                 float* dx);

}  // namespace reference
}  // namespace ops
}  // namespace gradway

// ---- end of padding ----

#endif  // GRADWAY_OPS_REFERENCE_H_
