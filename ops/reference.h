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
void Axpy(float alpha, const float* x, float* y, int64_t n);
void AddScalar(const float* x, float alpha, float* y, int64_t n);
void ReluBackward(const float* x, const float* dy, float* dx, int64_t n);
void SigmoidBackward(const float* y, const float* dy, float* dx, int64_t n);
void TanhBackward(const float* y, const float* dy, float* dx, int64_t n);
// Sequential sum in double precision.
float Sum(const float* x, int64_t n);
void SumAxis(const float* x, int64_t outer, int64_t axis, int64_t inner, float* out);
void SumToShape(const float* x, const std::vector<int64_t>& x_shape, float* out,
                const std::vector<int64_t>& out_shape);

// ---- Matrix multiplication (ops/matmul.h) ----

// C[m x n] = op(A) · op(B) (+ bias) (+ C when accumulate); each element sums its k
// products in order p = 0 .. k-1 in float.
void MatMul(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
            bool trans_a, bool trans_b, const float* bias = nullptr,
            bool accumulate = false);

// ---- 2-D convolution, NHWC / HWIO (ops/conv.h): direct nested loops ----

void Conv2DForward(const float* x, const float* w, const float* bias, float* y,
                   const Conv2DShape& s);
void Conv2DBackwardData(const float* dy, const float* w, float* dx, const Conv2DShape& s);
void Conv2DBackwardWeights(const float* x, const float* dy, float* dw, float* db,
                           const Conv2DShape& s);

// ---- end of matmul and conv ----

}  // namespace reference
}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_REFERENCE_H_
