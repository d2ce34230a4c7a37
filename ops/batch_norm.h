// Batch normalisation over channels-last data seen as x [rows, channels] (row-major): NHWC
// images are rows = N * H * W, feature vectors [N, C] are rows = N; one kernel serves both.
// Highway SIMD over channels (dynamic dispatch), oneTBB-parallel over row blocks.
//
// Determinism: every reduction over rows cuts them into fixed blocks of
// BatchNormRowBlock(channels) rows (the last may be shorter), reduces each block on its own
// in a fixed order, and combines the blocks' partial results in one fixed binary tree
// (CombineMomentsTree: neighbours first, then pairs of pairs, ...). Nothing depends on the
// thread count, so the results are bit-identical with 1, 2 or 16 threads (on one SIMD
// target).
//
// The training statistics are built in reusable steps, so that synchronised batch norm can
// combine the partial statistics of several processes the same way:
//   (a) BatchNormMoments: per row block, the count, mean and M2 (sum of squared deviations
//       from the mean) of each channel, by a corrected two-pass over the block (numerically
//       safe: no sum of squares minus squared sum over the whole batch);
//   (b) CombineMoments / CombineMomentsTree: Chan et al.'s pairwise update of such moments,
//       in double precision, in a fixed order;
//   (c) BatchNormStatistics, then BatchNormNormalize: y = gamma * (x - mean) * invstd + beta.
// The backward is one fused pair: BatchNormBackwardReduce (one pass over x and dy for
// dgamma and dbeta, blocked and combined like the moments), then BatchNormBackwardData (one
// pass for dx).
//
// Fused ReLU (Epilogue::kRelu): the forward kernels can apply max(y, 0) as they store y,
// and BatchNormBackward then reads dy through the ReLU's gradient mask, recomputing the
// normalised value from x with the same multiply-add as the forward (no mask or pre-ReLU
// copy is kept): relu(batch_norm(x)) in the passes batch norm makes alone, bit-identical to
// the two ops one after the other.
#ifndef GRADWAY_OPS_BATCH_NORM_H_
#define GRADWAY_OPS_BATCH_NORM_H_

#include <cstdint>
#include <vector>

#include "ops/epilogue.h"

namespace gradway {
namespace ops {

// Per-channel moments of a set of rows: how many rows, and per channel the mean and M2 =
// sum over the rows of (x - mean)^2 (the biased variance is m2 / count, the unbiased one
// m2 / (count - 1)). count 0 (no rows) has empty or zero mean and m2.
struct BatchMoments {
  int64_t count = 0;
  std::vector<double> mean;  // [channels]
  std::vector<double> m2;    // [channels]
};

// Rows per block of the row reductions (about 16K elements, at least 1 row): a function of
// `channels` alone.
int64_t BatchNormRowBlock(int64_t channels);

// Step (a) and (b): the moments of x [rows, channels], from each row block's moments
// combined by CombineMomentsTree in block order. rows == 0 gives count 0 and zero moments.
// Throws std::invalid_argument for negative sizes.
BatchMoments BatchNormMoments(const float* x, int64_t rows, int64_t channels);

// Step (b), Chan et al.: the moments of the union of a's rows and b's (in double):
// n = na + nb, delta = mean_b - mean_a, mean = mean_a + delta * nb / n,
// m2 = m2_a + m2_b + delta^2 * na * nb / n. A part with count 0 contributes nothing.
// Throws std::invalid_argument when both have rows but different channel counts.
BatchMoments CombineMoments(const BatchMoments& a, const BatchMoments& b);

// Combines parts[0, n) in one fixed binary tree over their indices: parts 2i and 2i+1 first
// (an odd last part moves up unchanged), then neighbouring results, and so on. The result
// depends only on the parts and their order. An empty list gives count 0.
BatchMoments CombineMomentsTree(std::vector<BatchMoments> parts);

// The backward pass's sums in the same fixed tree (synchronised batch norm combines each
// shard's BatchNormBackwardReduce results with it): parts[k] holds part k's values, all
// parts one length; returns their element-wise sum, added in double along
// CombineMomentsTree's tree over the parts' indices. No parts gives an empty vector; parts
// of different lengths throw std::invalid_argument.
std::vector<double> SumPartsTree(std::vector<std::vector<double>> parts);

// Step (c)'s statistics: mean[c] = moments.mean[c] and invstd[c] = 1 / sqrt(m2[c] / count +
// epsilon) (the biased variance, what training normalises with), rounded to float.
// Throws std::invalid_argument when moments.count < 1.
void BatchNormStatistics(const BatchMoments& moments, float epsilon, float* mean,
                         float* invstd);

// Step (c): y[r, c] = (x[r, c] - mean[c]) * invstd[c] * gamma[c] + beta[c], computed as
// (x - mean) * (gamma * invstd) + beta, then max(y, 0) with Epilogue::kRelu. gamma null
// means 1 and beta null 0. x, y: [rows, channels] (y may alias x); mean, invstd, gamma,
// beta: [channels].
void BatchNormNormalize(const float* x, const float* mean, const float* invstd,
                        const float* gamma, const float* beta, int64_t rows, int64_t channels,
                        float* y, Epilogue epilogue = Epilogue::kNone);

// Training forward: moments (BatchNormMoments), statistics (BatchNormStatistics), then y
// (BatchNormNormalize). Writes y [rows, channels] and, for the backward, mean and invstd
// [channels]; returns the moments (for the running statistics: BatchNormUpdateRunning).
// Throws std::invalid_argument when rows < 1.
BatchMoments BatchNormTrainingForward(const float* x, const float* gamma, const float* beta,
                                      int64_t rows, int64_t channels, float epsilon, float* y,
                                      float* mean, float* invstd,
                                      Epilogue epilogue = Epilogue::kNone);

// Inference forward, one pass: y = (x - running_mean) / sqrt(running_var + epsilon) * gamma
// + beta per channel (gamma, beta nullable as above; max(y, 0) with Epilogue::kRelu). If
// invstd is not null, it receives [channels] 1 / sqrt(running_var + epsilon) (for the
// backward).
void BatchNormInferenceForward(const float* x, const float* running_mean,
                               const float* running_var, const float* gamma, const float* beta,
                               int64_t rows, int64_t channels, float epsilon, float* y,
                               float* invstd = nullptr, Epilogue epilogue = Epilogue::kNone);

// The running statistics' update after a training step, Keras' momentum convention:
// running = running * momentum + batch * (1 - momentum) (PyTorch's momentum is
// 1 - this one), with the batch's mean and its unbiased variance m2 / (count - 1) (Bessel's
// correction, as PyTorch and tf.keras 2's fused batch norm); a batch of one row gives the
// biased variance 0 instead (as TensorFlow). Computed in double, stored as float.
void BatchNormUpdateRunning(const BatchMoments& moments, float momentum, float* running_mean,
                            float* running_var);

// The backward's reduction pass, one pass over x and dy [rows, channels]:
// dbeta[c] = sum_r dy[r, c] and dgamma[c] = sum_r dy[r, c] * (x[r, c] - mean[c]) * invstd[c],
// blocked and combined (in double) like BatchNormMoments. mean and invstd are what the
// forward normalised with (the batch's, or the running ones in inference).
void BatchNormBackwardReduce(const float* x, const float* dy, const float* mean,
                             const float* invstd, int64_t rows, int64_t channels,
                             float* dgamma, float* dbeta);

// The backward's data pass, dx [rows, channels] (overwritten; may alias dy):
//   training form (dgamma and dbeta not null, the sums of BatchNormBackwardReduce over all
//   `count` rows that were normalised together, count = rows in one process):
//     dx = gamma * invstd * (dy - dbeta / count - xhat * dgamma / count),
//     xhat = (x - mean) * invstd;
//   inference form (dgamma and dbeta null; x and mean then unused): dx = gamma * invstd * dy.
// gamma null means 1.
void BatchNormBackwardData(const float* x, const float* dy, const float* mean,
                           const float* invstd, const float* gamma, const float* dgamma,
                           const float* dbeta, int64_t count, int64_t rows, int64_t channels,
                           float* dx);

// The fused backward: BatchNormBackwardReduce (when dgamma or dbeta is wanted, or for the
// training form's dx), then BatchNormBackwardData when dx is not null. `training` selects
// the form (batch statistics, or running ones as constants). dx, dgamma, dbeta may each be
// null when not wanted.
// Epilogue::kRelu: dy is the gradient of the ReLU's output, for a forward that ran with
// Epilogue::kRelu and `beta` (nullable as there); dy counts only where the normalised value
// was > 0. x and mean are then needed in the inference form too.
void BatchNormBackward(const float* x, const float* dy, const float* mean, const float* invstd,
                       const float* gamma, int64_t rows, int64_t channels, bool training,
                       float* dx, float* dgamma, float* dbeta,
                       Epilogue epilogue = Epilogue::kNone, const float* beta = nullptr);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_BATCH_NORM_H_
