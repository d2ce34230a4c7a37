// Matrix multiplication kernels on row-major float buffers (SIMD GEMM: Highway dynamic
// dispatch, parallel over tiles of C through ParallelFor).
#ifndef GRADWAY_OPS_MATMUL_H_
#define GRADWAY_OPS_MATMUL_H_

#include <cstdint>

#include "ops/epilogue.h"

namespace gradway {
namespace ops {

// A dense row-major matrix a product reads: `rows` x `cols` as stored at `data`, read as
// its transpose after Transposed() (as NumPy's .T). Mat{x, n, in} is x [n x in];
// Mat{x, n, in}.Transposed() is xᵀ [in x n].
struct Mat {
  const float* data;
  int64_t rows, cols;       // as stored
  bool transposed = false;  // read as its transpose (set by Transposed())

  Mat Transposed() const { return {data, rows, cols, !transposed}; }
  // The shape the product sees.
  int64_t op_rows() const { return transposed ? cols : rows; }
  int64_t op_cols() const { return transposed ? rows : cols; }
};

// The dense row-major matrix a product writes: `rows` x `cols` at `data`.
struct OutMat {
  float* data;
  int64_t rows, cols;
};

// What a product does besides C = op(A) · op(B); the defaults: nothing. Set fields
// directly or chain the setters: MatMulOptions().Bias(b).Epilogue(Epilogue::kRelu).
struct MatMulOptions {
  const float* bias = nullptr;              // [n], added to every row of C; null: none
  bool accumulate = false;                  // C += op(A) · op(B) (+ bias) instead of C = ...
  ops::Epilogue epilogue = ops::Epilogue::kNone;  // applied once an element is complete

  MatMulOptions& Bias(const float* v) { bias = v; return *this; }
  MatMulOptions& Accumulate(bool v = true) { accumulate = v; return *this; }
  MatMulOptions& Epilogue(ops::Epilogue v) { epilogue = v; return *this; }
};

// C = op(A) · op(B) (+ bias[n] broadcast over rows) (+ C when accumulating), then the
// epilogue. op(A) is m x k, op(B) k x n and C m x n: throws std::invalid_argument naming
// the shapes when they do not fit. For example dW = xᵀ · dY and dX = dY · Wᵀ:
//   MatMul(Mat{x, n, in}.Transposed(), Mat{dy, n, out}, OutMat{dw, in, out});
//   MatMul(Mat{dy, n, out}, Mat{w, in, out}.Transposed(), OutMat{dx, n, in});
// C must not alias A, B or bias.
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
void MatMul(const Mat& a, const Mat& b, const OutMat& c, const MatMulOptions& options = {});

// Same contract and bit-identical results as MatMul, but runs on the calling thread only:
// for callers that already parallelise over independent problems (e.g. convolution over
// images) and must not nest parallel loops.
void MatMulSerial(const Mat& a, const Mat& b, const OutMat& c,
                  const MatMulOptions& options = {});

// A batch of `count` products of one shape, C_i = op(A_i) · op(B_i): A_i is `a` with its
// data at a.data + a_offsets[i], B_i likewise, and C_i is written at c.data + i * c.rows *
// c.cols. Offsets may repeat (a broadcast operand). Each C_i equals MatMul's result bit for
// bit, whatever the thread count: small products (or more products than threads) run one
// per task, large ones one after another, each split over the threads. C must not overlap
// the inputs. Throws std::invalid_argument when the shapes do not fit.
void BatchedMatMul(const Mat& a, const int64_t* a_offsets, const Mat& b,
                   const int64_t* b_offsets, const OutMat& c, int64_t count);

// The backward of a ReLU fused into a product, Y = relu(...): its gradient mask applied to
// dY as the GEMM reads it. With G = B ⊙ (mask > 0) (0 where mask <= 0 or is NaN), B and
// mask k x n (B not transposed):
//   C[m x n] = op(A) · G
//   colsum[n] = Σ_p G[p, :]  when not null      (rows summed in order, from 0)
//   masked[k x n] = G        when not null      (for a second product, e.g. G · Wᵀ)
// The mask is applied as B is packed for the GEMM, and the column sums and the masked copy
// come out of that same read, so G itself is never a separate pass. For a dense layer
// y = relu(x · W + b) with mask = y and B = dL/dy:
//   MatMulReluMaskedB(Mat{x, n, in}.Transposed(), Mat{dy, n, out}, y, OutMat{dw, in, out},
//                     db, g)
// gives dw = dL/dW, db = dL/db, and g · Wᵀ = dL/dx. C equals MatMul(A, G) bit for bit; no
// result depends on the thread count. C, colsum and masked must not alias any input.
// Throws std::invalid_argument when the shapes do not fit or B is transposed.
void MatMulReluMaskedB(const Mat& a, const Mat& b, const float* mask, const OutMat& c,
                       float* colsum = nullptr, float* masked = nullptr);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_MATMUL_H_
