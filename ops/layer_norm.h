// Layer normalisation over the last axis of x seen as [rows, channels] (row-major): every
// row is normalised with its own mean and variance (PyTorch's F.layer_norm over the last
// dimension, Keras' LayerNormalization with axis -1). Highway SIMD along a row, oneTBB-
// parallel over fixed blocks of rows.
//
// Determinism: a row's statistics and its dx are computed by one task, in a fixed order
// along the row. dgamma and dbeta sum over rows: each block of LayerNormRowBlock(channels)
// rows sums its own rows in order, and the blocks' sums are added in double in one fixed
// binary tree. Nothing depends on the thread count (bit-identical for 1, 2 or 16 threads,
// on one SIMD target).
#ifndef GRADWAY_OPS_LAYER_NORM_H_
#define GRADWAY_OPS_LAYER_NORM_H_

#include <cstdint>

namespace gradway {
namespace ops {

// Rows per block of the backward's column sums (about 16K elements, at least 1 row).
int64_t LayerNormRowBlock(int64_t channels);

// y[r, c] = (x[r, c] - mean[r]) * invstd[r] * gamma[c] + beta[c], with mean[r] the row's
// mean and invstd[r] = 1 / sqrt(var[r] + epsilon), var the biased variance (a two-pass:
// mean, then the mean of squared deviations). gamma null means 1 and beta null 0. Writes y
// [rows, channels] (may alias x), and mean and invstd [rows] for the backward. channels
// must be >= 1 when rows >= 1; throws std::invalid_argument for bad sizes or epsilon <= 0.
void LayerNormForward(const float* x, const float* gamma, const float* beta, int64_t rows,
                      int64_t channels, float epsilon, float* y, float* mean, float* invstd);

// The backward, one pass over x and dy: with xhat = (x - mean) * invstd and g = dy * gamma,
//   dx[r, c] = invstd[r] * (g - mean_c(g) - xhat * mean_c(g * xhat)),
//   dgamma[c] = sum_r dy * xhat,   dbeta[c] = sum_r dy.
// gamma null means 1. dx (may alias dy), dgamma and dbeta may each be null when not wanted.
void LayerNormBackward(const float* x, const float* dy, const float* mean, const float* invstd,
                       const float* gamma, int64_t rows, int64_t channels, float* dx,
                       float* dgamma, float* dbeta);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_LAYER_NORM_H_
