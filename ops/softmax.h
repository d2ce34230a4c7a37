// Row-wise softmax, log-softmax, their backwards, and fused softmax + cross-entropy on
// dense row-major [rows, cols] float buffers. SIMD over columns, parallel over rows;
// every result is independent of the thread count.
#ifndef GRADWAY_OPS_SOFTMAX_H_
#define GRADWAY_OPS_SOFTMAX_H_

#include <cstdint>

namespace gradway {
namespace ops {

// y[r, :] = exp(x[r, :] - max) / sum(exp(x[r, :] - max)). x, y: [rows, cols];
// y is overwritten and may alias x. cols >= 1 when rows >= 1.
void Softmax(const float* x, float* y, int64_t rows, int64_t cols);

// Softmax of each row over the entries it keeps, 0 elsewhere: entry (r, j) is kept when
// mask is null or mask[r * cols + j] != 0 (NaN keeps), and, when causal_rows > 0, when
// j <= r % causal_rows (rows being blocks of causal_rows queries: the causal attention mask,
// aligned top-left as PyTorch's is_causal and Keras' use_causal_mask). A row that keeps
// nothing is all 0 (PyTorch's softmax of an all -inf row is NaN). With every entry kept the
// result equals Softmax bit for bit; the gradient is SoftmaxBackward's (a masked entry has
// y = 0). x, y, mask: [rows, cols]; y may alias x.
void MaskedSoftmax(const float* x, const float* mask, int64_t causal_rows, float* y,
                   int64_t rows, int64_t cols);

// y[r, :] = x[r, :] - max - log(sum(exp(x[r, :] - max))) (numerically stable).
// x, y: [rows, cols]; y is overwritten and may alias x.
void LogSoftmax(const float* x, float* y, int64_t rows, int64_t cols);

// Gradient of Softmax: dx[r, :] = y[r, :] * (dy[r, :] - sum(dy[r, :] * y[r, :])), with
// y = Softmax(x). y, dy, dx: [rows, cols]; dx is overwritten (may alias dy).
void SoftmaxBackward(const float* y, const float* dy, float* dx, int64_t rows,
                     int64_t cols);

// Gradient of LogSoftmax: dx[r, :] = dy[r, :] - exp(y_log[r, :]) * sum(dy[r, :]), with
// y_log = LogSoftmax(x). y_log, dy, dx: [rows, cols]; dx is overwritten (may alias dy).
void LogSoftmaxBackward(const float* y_log, const float* dy, float* dx, int64_t rows,
                        int64_t cols);

// Fused, numerically stable softmax + categorical cross-entropy (Keras'
// categorical_crossentropy on logits). logits, targets: [rows, cols], targets holding
// probabilities per row (e.g. one-hot). Returns the mean over rows of
//   loss[r] = -sum_j targets[r, j] * log_softmax(logits)[r, j],
// summed in row order (deterministic). If dlogits ([rows, cols]) is not null it is
// overwritten with the gradient of that mean,
//   dlogits[r, :] = (softmax(logits[r, :]) * sum(targets[r, :]) - targets[r, :]) / rows,
// which is (softmax - targets) / rows when each target row sums to 1.
// dlogits may alias logits. Returns 0 when rows == 0.
float SoftmaxCrossEntropy(const float* logits, const float* targets, int64_t rows,
                          int64_t cols, float* dlogits);

// As SoftmaxCrossEntropy with one-hot targets given as class indices: labels: [rows].
// Precondition (the caller validates): 0 <= labels[r] < cols. The kernel never reads out
// of bounds: a row with an out-of-range label makes the returned loss NaN and its
// dlogits row is softmax / rows.
float SparseSoftmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t rows,
                                int64_t cols, float* dlogits);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_SOFTMAX_H_
