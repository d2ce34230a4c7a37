// Matrix multiplication kernels on row-major float buffers (SIMD GEMM: Highway dynamic
// dispatch, parallel over tiles of C through ParallelFor).
#ifndef GRADWAY_OPS_MATMUL_H_
#define GRADWAY_OPS_MATMUL_H_

#include <cstdint>

namespace gradway {
namespace ops {

// C[m x n] = op(A) · op(B) (+ bias[n] broadcast over rows) (+ C when `accumulate`).
//   op(A) is m x k: A is stored m x k (trans_a = false) or k x m (trans_a = true).
//   op(B) is k x n: B is stored k x n (trans_b = false) or n x k (trans_b = true).
// All buffers are dense row-major; `bias` may be null. C must not alias A, B or bias.
// Each element of C sums its k products in a fixed order, so the result does not
// depend on the thread count.
void MatMul(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
            bool trans_a, bool trans_b, const float* bias = nullptr,
            bool accumulate = false);

// Same contract and bit-identical results as MatMul, but runs on the calling thread only:
// for callers that already parallelise over independent problems (e.g. convolution over
// images) and must not nest parallel loops.
void MatMulSerial(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
                  bool trans_a, bool trans_b, const float* bias = nullptr,
                  bool accumulate = false);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_MATMUL_H_
