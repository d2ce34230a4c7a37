// Layer normalisation kernels (ops/layer_norm.h): Highway SIMD along rows (dynamic
// dispatch), parallel over fixed row blocks through ops/parallel.h. The scalar
// specification is the double-precision reference in ops/layer_norm_test.cc.
#include "ops/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/layer_norm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

// Gamma's (or 1's) and beta's (or 0's) lanes at c.
template <class D>
HWY_INLINE hn::Vec<D> LoadOr(D d, const float* p, int64_t c, float fallback) {
  return p != nullptr ? hn::LoadU(d, p + c) : hn::Set(d, fallback);
}

void ForwardImpl(const float* x, const float* HWY_RESTRICT gamma,
                 const float* HWY_RESTRICT beta, int64_t rows, int64_t channels,
                 float epsilon, int64_t block, float* y, float* HWY_RESTRICT mean,
                 float* HWY_RESTRICT invstd) {
  const int64_t C = channels;
  ParallelFor(rows, block, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      const float m = SumOf(C, [&](auto d, int64_t c) { return hn::LoadU(d, xr + c); }) /
                      static_cast<float>(C);
      const float q = SumOf(C, [&](auto d, int64_t c) {
        const auto t = hn::Sub(hn::LoadU(d, xr + c), hn::Set(d, m));
        return hn::Mul(t, t);
      });
      const float s = static_cast<float>(
          1.0 / std::sqrt(static_cast<double>(q) / static_cast<double>(C) + epsilon));
      mean[r] = m;
      invstd[r] = s;
      ForEachVec(0, C, [&](auto d, int64_t c) {
        const auto xhat = hn::Mul(hn::Sub(hn::LoadU(d, xr + c), hn::Set(d, m)), hn::Set(d, s));
        hn::StoreU(hn::MulAdd(xhat, LoadOr(d, gamma, c, 1.f), LoadOr(d, beta, c, 0.f)), d,
                   yr + c);
      });
    }
  });
}

// dx per row; per row block k, part_dgamma[k * C + c] and part_dbeta[k * C + c] are the
// block's sums of dy * xhat and dy over its rows in order (when not null).
void BackwardImpl(const float* HWY_RESTRICT x, const float* dy,
                  const float* HWY_RESTRICT mean, const float* HWY_RESTRICT invstd,
                  const float* HWY_RESTRICT gamma, int64_t rows, int64_t channels,
                  int64_t block, float* dx, float* part_dgamma, float* part_dbeta) {
  const int64_t C = channels;
  ParallelFor(rows, block, [&](int64_t r0, int64_t r1) {
    const int64_t k = r0 / block;
    float* pg = part_dgamma != nullptr ? part_dgamma + k * C : nullptr;
    float* pb = part_dbeta != nullptr ? part_dbeta + k * C : nullptr;
    if (pg != nullptr) std::fill(pg, pg + C, 0.f);
    if (pb != nullptr) std::fill(pb, pb + C, 0.f);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      const float* gr = dy + r * C;
      const float m = mean[r], s = invstd[r];
      const auto xhat = [&](auto d, int64_t c) {
        return hn::Mul(hn::Sub(hn::LoadU(d, xr + c), hn::Set(d, m)), hn::Set(d, s));
      };
      if (pg != nullptr || pb != nullptr) {
        ForEachVec(0, C, [&](auto d, int64_t c) {
          const auto g = hn::LoadU(d, gr + c);
          if (pg != nullptr) hn::StoreU(hn::MulAdd(g, xhat(d, c), hn::LoadU(d, pg + c)), d, pg + c);
          if (pb != nullptr) hn::StoreU(hn::Add(g, hn::LoadU(d, pb + c)), d, pb + c);
        });
      }
      if (dx == nullptr) continue;
      const auto scaled = [&](auto d, int64_t c) {  // g = dy * gamma
        return hn::Mul(hn::LoadU(d, gr + c), LoadOr(d, gamma, c, 1.f));
      };
      const float inv_c = 1.f / static_cast<float>(C);
      const float a = SumOf(C, scaled) * inv_c;
      const float b = SumOf(C, [&](auto d, int64_t c) {
                        return hn::Mul(scaled(d, c), xhat(d, c));
                      }) * inv_c;
      float* dr = dx + r * C;
      ForEachVec(0, C, [&](auto d, int64_t c) {
        // invstd * (g - a - xhat * b), xhat and g computed before dr (which may alias dy)
        // is written.
        const auto t = hn::NegMulAdd(xhat(d, c), hn::Set(d, b),
                                     hn::Sub(scaled(d, c), hn::Set(d, a)));
        hn::StoreU(hn::Mul(t, hn::Set(d, s)), d, dr + c);
      });
    }
  });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gradway {
namespace ops {

HWY_EXPORT(ForwardImpl);
HWY_EXPORT(BackwardImpl);

namespace {

void CheckSizes(const char* op, int64_t rows, int64_t channels) {
  if (rows < 0 || channels < 0 || (rows > 0 && channels == 0)) {
    throw std::invalid_argument(std::string(op) + ": invalid size [" + std::to_string(rows) +
                                ", " + std::to_string(channels) + "]");
  }
}

// Adds the blocks' rows of parts [blocks, channels] in double in the fixed binary tree
// (pairs of neighbours, then pairs of pairs, ...) into out [channels].
void SumBlocks(const std::vector<float>& parts, int64_t blocks, int64_t channels, float* out) {
  const size_t C = static_cast<size_t>(channels);
  std::vector<double> sums(parts.begin(), parts.end());
  for (int64_t stride = 1; stride < blocks; stride *= 2) {
    for (int64_t i = 0; i + stride < blocks; i += 2 * stride) {
      for (size_t c = 0; c < C; ++c) sums[i * C + c] += sums[(i + stride) * C + c];
    }
  }
  for (size_t c = 0; c < C; ++c) out[c] = blocks > 0 ? static_cast<float>(sums[c]) : 0.f;
}

}  // namespace

int64_t LayerNormRowBlock(int64_t channels) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(channels, 1));
}

void LayerNormForward(const float* x, const float* gamma, const float* beta, int64_t rows,
                      int64_t channels, float epsilon, float* y, float* mean, float* invstd) {
  CheckSizes("LayerNormForward", rows, channels);
  if (!(epsilon > 0.f)) {
    throw std::invalid_argument("LayerNormForward: epsilon must be positive, got " +
                                std::to_string(epsilon));
  }
  HWY_DYNAMIC_DISPATCH(ForwardImpl)(x, gamma, beta, rows, channels, epsilon,
                                    LayerNormRowBlock(channels), y, mean, invstd);
}

void LayerNormBackward(const float* x, const float* dy, const float* mean, const float* invstd,
                       const float* gamma, int64_t rows, int64_t channels, float* dx,
                       float* dgamma, float* dbeta) {
  CheckSizes("LayerNormBackward", rows, channels);
  const int64_t block = LayerNormRowBlock(channels);
  const int64_t blocks = NumChunks(rows, block);
  std::vector<float> part_dgamma(dgamma != nullptr ? blocks * channels : 0),
      part_dbeta(dbeta != nullptr ? blocks * channels : 0);
  HWY_DYNAMIC_DISPATCH(BackwardImpl)(x, dy, mean, invstd, gamma, rows, channels, block, dx,
                                     dgamma != nullptr ? part_dgamma.data() : nullptr,
                                     dbeta != nullptr ? part_dbeta.data() : nullptr);
  if (dgamma != nullptr) SumBlocks(part_dgamma, blocks, channels, dgamma);
  if (dbeta != nullptr) SumBlocks(part_dbeta, blocks, channels, dbeta);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
