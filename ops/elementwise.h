// Elementwise kernels and reductions on dense float buffers.
//
// Buffers are contiguous and row-major. Elementwise kernels take a raw pointer and an
// element count n; the shape-aware ones (BroadcastBinary, SumToShape) take each buffer's
// shape as a std::vector<int64_t> of dimensions, all of the same rank: the caller pads the
// smaller shapes with leading 1s to the output's rank (NumPy rules) and checks them.
#ifndef GRADWAY_OPS_ELEMENTWISE_H_
#define GRADWAY_OPS_ELEMENTWISE_H_

#include <cstdint>
#include <vector>

#include "ops/epilogue.h"

namespace gradway {
namespace ops {

enum class BinaryOp { kAdd, kSub, kMul, kDiv };
// The activations among the unary ops compute PyTorch's formulas:
//   kGelu         x / 2 * (1 + erf(x / sqrt(2)))     (torch's gelu, approximate='none';
//                 erf from Eigen's rational approximation, within 3.4e-7 of erf)
//   kGeluTanh     x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))  (approximate='tanh';
//                 computed as x * sigmoid(2 sqrt(2 / pi) (x + 0.044715 x^3)), the same
//                 function without 1 + tanh's cancellation for negative x)
//   kSilu         x / (1 + e^-x)                     (x * sigmoid(x))
//   kHardSigmoid  min(max(x + 3, 0), 6) / 6          (NaN stays NaN)
enum class UnaryOp {
  kNeg, kExp, kLog, kSqrt, kRelu, kSigmoid, kTanh, kGelu, kGeluTanh, kSilu, kHardSigmoid
};

// out[i] = a[i] op b[i] for i < n, then max(out[i], 0) as UnaryOp::kRelu with
// Epilogue::kRelu. out may be a or b (in place).
void Binary(BinaryOp op, const float* a, const float* b, float* out, int64_t n,
            Epilogue epilogue = Epilogue::kNone);

// out = a op b with NumPy broadcasting. a_shape, b_shape and out_shape have the same rank;
// each of a's and b's dimensions equals out's or is 1. out may be a when a_shape equals
// out_shape (a op= b in place); b must not overlap out.
void BroadcastBinary(BinaryOp op, const float* a, const std::vector<int64_t>& a_shape,
                     const float* b, const std::vector<int64_t>& b_shape, float* out,
                     const std::vector<int64_t>& out_shape);

// y[i] = f(x[i]) for i < n. x and y may be the same buffer.
void Unary(UnaryOp op, const float* x, float* y, int64_t n);

// y[i] = x[i] ^ p.
void Pow(const float* x, float p, float* y, int64_t n);

// y[i] = alpha * x[i] (y may alias x).
void Scale(const float* x, float alpha, float* y, int64_t n);

// y[i] += alpha * x[i].
void Axpy(float alpha, const float* x, float* y, int64_t n);

// y[i] = x[i] + alpha (y may alias x).
void AddScalar(const float* x, float alpha, float* y, int64_t n);

// Gathers rows of bytes as floats: out[i * row_size + k] = float(base[rows[i] * row_size + k])
// / divisor for i < count, k < row_size (the IEEE quotient: bit-identical to that scalar
// expression). For image pixels held as bytes, e.g. divisor 255 scales them to [0, 1] as a
// batch is gathered. Parallel over rows; `out` must not overlap `base`.
void GatherBytesAsFloat(const uint8_t* base, const int64_t* rows, int64_t count,
                        int64_t row_size, float divisor, float* out);

// dx[i] = x[i] > 0 ? dy[i] : 0.
void ReluBackward(const float* x, const float* dy, float* dx, int64_t n);

// dx[i] = dy[i] * y[i] * (1 - y[i])  (y = sigmoid(x)).
void SigmoidBackward(const float* y, const float* dy, float* dx, int64_t n);

// dx[i] = dy[i] * (1 - y[i]^2)  (y = tanh(x)).
void TanhBackward(const float* y, const float* dy, float* dx, int64_t n);

// Activations with a parameter (PyTorch's formulas; y may alias x):
// y[i] = x[i] > 0 ? x[i] : alpha * x[i]  (leaky_relu).
void LeakyRelu(const float* x, float alpha, float* y, int64_t n);
// y[i] = x[i] <= 0 ? alpha * (e^x[i] - 1) : x[i]  (elu; e^x - 1 computed as expm1).
void Elu(const float* x, float alpha, float* y, int64_t n);

// The activations' gradients from the input x (dx may alias dy):
// dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i]  (1 or alpha at 0, as PyTorch).
void LeakyReluBackward(const float* x, float alpha, const float* dy, float* dx, int64_t n);
// dx[i] = x[i] <= 0 ? dy[i] * alpha * e^x[i] : dy[i].
void EluBackward(const float* x, float alpha, const float* dy, float* dx, int64_t n);
// dx[i] = dy[i] * (Phi(x) + x * phi(x)): Phi, phi the normal CDF and density (kGelu).
void GeluBackward(const float* x, const float* dy, float* dx, int64_t n);
// dx[i] = dy[i] * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2)),
// t = tanh(sqrt(2 / pi) (x + 0.044715 x^3))  (kGeluTanh).
void GeluTanhBackward(const float* x, const float* dy, float* dx, int64_t n);
// dx[i] = dy[i] * s * (1 + x * (1 - s)), s = sigmoid(x[i])  (kSilu).
void SiluBackward(const float* x, const float* dy, float* dx, int64_t n);
// dx[i] = -3 < x[i] < 3 ? dy[i] * (1/6) : 0  (kHardSigmoid; 0 at the kinks, as PyTorch).
void HardSigmoidBackward(const float* x, const float* dy, float* dx, int64_t n);

// The sum of x[0..n), in a fixed order (independent of the thread count).
float Sum(const float* x, int64_t n);

// out[o, i] = sum over a < axis of x[o, a, i], x viewed as [outer, axis, inner].
void SumAxis(const float* x, int64_t outer, int64_t axis, int64_t inner, float* out);

// Sums x (shape x_shape) down to out_shape (same rank, each dim equal or 1): the gradient
// of a broadcast. out is overwritten.
void SumToShape(const float* x, const std::vector<int64_t>& x_shape, float* out,
                const std::vector<int64_t>& out_shape);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_ELEMENTWISE_H_
