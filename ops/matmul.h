// Matrix multiplication kernels on row-major float buffers (SIMD GEMM: Highway dynamic
// dispatch, parallel over tiles of C through ParallelFor).
#ifndef GRADWAY_OPS_MATMUL_H_
#define GRADWAY_OPS_MATMUL_H_

#include <cstdint>

namespace gradway {
namespace ops {

// What the GEMM applies to each element of C once its value is complete (the k products,
// bias and, when accumulating, the previous C), while the tile is still in registers.
enum class Epilogue {
  kNone,
  kRelu,  // C = C > 0 ? C : 0, as ops::Unary(UnaryOp::kRelu) (NaN and -0 give +0)
};

// C[m x n] = op(A) · op(B) (+ bias[n] broadcast over rows) (+ C when `accumulate`), then
// the epilogue (the overloads without one: Epilogue::kNone).
//   op(A) is m x k: A is stored m x k (trans_a = false) or k x m (trans_a = true).
//   op(B) is k x n: B is stored k x n (trans_b = false) or n x k (trans_b = true).
// All buffers are dense row-major; `bias` may be null. C must not alias A, B or bias.
// Each element of C sums its k products in a fixed order, so the result does not
// depend on the thread count; a zero result is always +0; with Epilogue::kRelu it equals
// MatMul followed by an in-place ReLU bit for bit.
// Zeros of A are skipped: where all 6 rows of one of the kernel's row panels of op(A) are
// zero at some k index (images' background, ReLU outputs), those products are not
// computed. Adding a zero product changes a sum at most in the sign of a zero, so with
// zeros stored as +0 the result is the same bit for bit; B's values there are checked
// first, since 0 times inf or NaN is NaN (then nothing is skipped). A dense layer's
// forward (A = x, rows = samples) skips the indices where 6 samples are all zero; its
// weight gradient (A = xᵀ, rows = input features) those where 6 neighbouring features
// (pixels) are.
void MatMul(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
            bool trans_a, bool trans_b, const float* bias = nullptr,
            bool accumulate = false);
void MatMul(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
            bool trans_a, bool trans_b, const float* bias, bool accumulate,
            Epilogue epilogue);

// Same contract and bit-identical results as MatMul, but runs on the calling thread only:
// for callers that already parallelise over independent problems (e.g. convolution over
// images) and must not nest parallel loops.
void MatMulSerial(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
                  bool trans_a, bool trans_b, const float* bias = nullptr,
                  bool accumulate = false);
void MatMulSerial(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
                  bool trans_a, bool trans_b, const float* bias, bool accumulate,
                  Epilogue epilogue);

// The backward of a ReLU fused into a product, Y = relu(...): its gradient mask applied to
// dY as the GEMM reads it. With G = B ⊙ (mask > 0) (0 where mask <= 0 or is NaN):
//   C[m x n] = op(A) · G                        (B, mask, G: k x n, row-major)
//   colsum[n] = Σ_p G[p, :]  when not null      (rows summed in order, from 0)
//   masked[k x n] = G        when not null      (for a second product, e.g. G · Wᵀ)
// The mask is applied as B is packed for the GEMM, and the column sums and the masked copy
// come out of that same read, so G itself is never a separate pass. For a dense layer
// y = relu(x · W + b) with mask = y and B = dL/dy: C = xᵀ · G = dL/dW (trans_a), colsum =
// dL/db and masked · Wᵀ = dL/dx. C equals MatMul(a, G, c, m, n, k, trans_a, false) bit for
// bit; no result depends on the thread count. C, colsum and masked must not alias any
// input.
void MatMulReluMaskedB(const float* a, const float* b, const float* mask, float* c,
                       int64_t m, int64_t n, int64_t k, bool trans_a,
                       float* colsum = nullptr, float* masked = nullptr);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_MATMUL_H_
