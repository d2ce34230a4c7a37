// Batch normalisation kernels: Highway SIMD over channels (dynamic dispatch), parallel over
// fixed row blocks through ops/parallel.h; block results combined in double in one fixed
// tree. The scalar specification is the double-precision reference in
// ops/batch_norm_test.cc.
#include "ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/batch_norm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/simd-inl.h"

// Target-independent definitions, compiled once.
#ifndef GRADWAY_OPS_BATCH_NORM_CC_ONCE_
#define GRADWAY_OPS_BATCH_NORM_CC_ONCE_
namespace gradway {
namespace ops {
namespace detail {

// Elements per row block (64 KiB of floats: a block stays in L2 between its two passes).
constexpr int64_t kBlockElements = 16384;

// Calls combine(i, j) for the fixed binary tree over [0, n) that folds j into i: at stride
// 1 the pairs (0, 1), (2, 3), ..., at stride 2 (0, 2), (4, 6), ..., until one is left in 0.
// An element without a partner at some stride moves up unchanged.
template <class Combine>
void FixedTree(int64_t n, const Combine& combine) {
  for (int64_t stride = 1; stride < n; stride *= 2) {
    for (int64_t i = 0; i + stride < n; i += 2 * stride) combine(i, i + stride);
  }
}

}  // namespace detail
}  // namespace ops
}  // namespace gradway
#endif  // GRADWAY_OPS_BATCH_NORM_CC_ONCE_

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

// For every channel vector at c of [0, channels) (whole vectors, then one-lane tails): two
// per-lane sums over rows [r0, r1), each accumulated in two interleaved row streams (rows
// r0, r0 + 2, ... and r0 + 1, r0 + 3, ...) then added, a fixed order that depends only on
// r0, r1 and channels. make(d, c) returns the row step step(a, b, i), which adds the terms
// of the element at offset i (= r * channels + c) to the accumulators a and b;
// done(d, c, a, b) receives the two sums.
template <class Make, class Done>
HWY_INLINE void ReduceRowPairs(int64_t r0, int64_t r1, int64_t channels, const Make& make,
                               const Done& done) {
  ForEachVec(0, channels, [&](auto d, int64_t c) {
    const auto step = make(d, c);
    auto a0 = hn::Zero(d), b0 = hn::Zero(d), a1 = hn::Zero(d), b1 = hn::Zero(d);
    int64_t r = r0;
    for (; r + 2 <= r1; r += 2) {
      step(a0, b0, r * channels + c);
      step(a1, b1, (r + 1) * channels + c);
    }
    if (r < r1) step(a0, b0, r * channels + c);
    done(d, c, hn::Add(a0, a1), hn::Add(b0, b1));
  });
}

// parts[k] = the moments of row block k (rows [k * block, (k + 1) * block)), by a corrected
// two-pass over the block: m = the block's float mean, then s = sum(x - m) and
// q = sum((x - m)^2), giving mean = m + s / n and m2 = q - s^2 / n (in double).
void BlockMomentsImpl(const float* HWY_RESTRICT x, int64_t rows, int64_t channels,
                      int64_t block, BatchMoments* parts) {
  const int64_t C = channels;
  ParallelFor(rows, block, [&](int64_t r0, int64_t r1) {
    BatchMoments& part = parts[r0 / block];
    const int64_t n = r1 - r0;
    std::vector<float> m(static_cast<size_t>(C)), s(m.size()), q(m.size());
    ReduceRowPairs(
        r0, r1, C,
        [&](auto d, int64_t) {
          return [x, d](auto& a, auto&, int64_t i) { a = hn::Add(a, hn::LoadU(d, x + i)); };
        },
        [&](auto d, int64_t c, auto sum, auto) {
          hn::StoreU(hn::Div(sum, hn::Set(d, static_cast<float>(n))), d, m.data() + c);
        });
    ReduceRowPairs(
        r0, r1, C,
        [&](auto d, int64_t c) {
          const auto mc = hn::LoadU(d, m.data() + c);
          return [x, d, mc](auto& a, auto& b, int64_t i) {
            const auto t = hn::Sub(hn::LoadU(d, x + i), mc);
            a = hn::Add(a, t);
            b = hn::MulAdd(t, t, b);
          };
        },
        [&](auto d, int64_t c, auto sv, auto qv) {
          hn::StoreU(sv, d, s.data() + c);
          hn::StoreU(qv, d, q.data() + c);
        });
    part.count = n;
    part.mean.resize(m.size());
    part.m2.resize(m.size());
    const double dn = static_cast<double>(n);
    for (int64_t c = 0; c < C; ++c) {
      const double sc = s[c];
      part.mean[c] = m[c] + sc / dn;
      part.m2[c] = std::max(0.0, q[c] - sc * sc / dn);
    }
  });
}

// y = (x - mean) * scale + shift per channel, then max(y, 0) as ops::Unary's ReLU when relu
// (y may alias x).
void NormalizeImpl(const float* x, const float* HWY_RESTRICT mean,
                   const float* HWY_RESTRICT scale, const float* HWY_RESTRICT shift,
                   int64_t rows, int64_t channels, bool relu, float* y) {
  const int64_t C = channels;
  ParallelFor(rows, std::max<int64_t>(1, kElementGrain / std::max<int64_t>(C, 1)),
              [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                  const float* xr = x + r * C;
                  float* yr = y + r * C;
                  ForEachVec(0, C, [&](auto d, int64_t c) {
                    const auto t = hn::Sub(hn::LoadU(d, xr + c), hn::LoadU(d, mean + c));
                    auto v = hn::MulAdd(t, hn::LoadU(d, scale + c), hn::LoadU(d, shift + c));
                    if (relu) v = hn::IfThenElseZero(hn::Gt(v, hn::Zero(d)), v);
                    hn::StoreU(v, d, yr + c);
                  });
                }
              });
}

// dy read through the gradient mask of a ReLU fused into the forward (NormalizeImpl with
// relu): dy where the normalised value t * scale + shift (t = x - mean), recomputed exactly
// as the forward computed it, is > 0, else 0; just dy without the ReLU.
template <class D, class V>
HWY_INLINE V MaskedDy(D d, V dy, V t, bool relu, V scale, V shift) {
  if (!relu) return dy;
  return hn::IfThenElseZero(hn::Gt(hn::MulAdd(t, scale, shift), hn::Zero(d)), dy);
}

// Channels [c, c + Lanes(d)) of a fused ReLU's scale or shift (zeros without one).
template <class D>
HWY_INLINE hn::Vec<D> LoadOrZero(D d, const float* p, int64_t c) {
  return p != nullptr ? hn::LoadU(d, p + c) : hn::Zero(d);
}

// Per row block k: sum_dy[k * channels + c] = the block's sum of dy, and
// sum_dyx[k * channels + c] = its sum of dy * (x - mean), in float; dy read through
// MaskedDy (scale, shift: a fused ReLU's, or null).
void BackwardReduceImpl(const float* HWY_RESTRICT x, const float* HWY_RESTRICT dy,
                        const float* HWY_RESTRICT mean, const float* HWY_RESTRICT scale,
                        const float* HWY_RESTRICT shift, int64_t rows, int64_t channels,
                        int64_t block, float* sum_dy, float* sum_dyx) {
  const int64_t C = channels;
  ParallelFor(rows, block, [&](int64_t r0, int64_t r1) {
    const int64_t k = r0 / block;
    ReduceRowPairs(
        r0, r1, C,
        [&](auto d, int64_t c) {
          const auto mc = hn::LoadU(d, mean + c);
          const auto sc = LoadOrZero(d, scale, c), sh = LoadOrZero(d, shift, c);
          const bool relu = scale != nullptr;
          return [x, dy, d, mc, sc, sh, relu](auto& a, auto& b, int64_t i) {
            const auto t = hn::Sub(hn::LoadU(d, x + i), mc);
            const auto g = MaskedDy(d, hn::LoadU(d, dy + i), t, relu, sc, sh);
            a = hn::Add(a, g);
            b = hn::MulAdd(g, t, b);
          };
        },
        [&](auto d, int64_t c, auto a, auto b) {
          hn::StoreU(a, d, sum_dy + k * C + c);
          hn::StoreU(b, d, sum_dyx + k * C + c);
        });
  });
}

// dx = dy * k1 + (x - mean) * k2 + k3 per channel (the training form), or dx = dy * k1 when
// k2 is null (the inference form), dy read through MaskedDy (scale, shift: a fused ReLU's,
// or null). x and mean may be null when neither the training form nor the mask needs them.
// dx may alias dy.
void BackwardDataImpl(const float* HWY_RESTRICT x, const float* dy,
                      const float* HWY_RESTRICT mean, const float* HWY_RESTRICT k1,
                      const float* HWY_RESTRICT k2, const float* HWY_RESTRICT k3,
                      const float* HWY_RESTRICT scale, const float* HWY_RESTRICT shift,
                      int64_t rows, int64_t channels, float* dx) {
  const int64_t C = channels;
  const bool reads_x = k2 != nullptr || scale != nullptr;
  ParallelFor(rows, std::max<int64_t>(1, kElementGrain / std::max<int64_t>(C, 1)),
              [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                  const float* gr = dy + r * C;
                  float* dr = dx + r * C;
                  if (!reads_x) {
                    ForEachVec(0, C, [&](auto d, int64_t c) {
                      hn::StoreU(hn::Mul(hn::LoadU(d, gr + c), hn::LoadU(d, k1 + c)), d, dr + c);
                    });
                    continue;
                  }
                  const float* xr = x + r * C;
                  ForEachVec(0, C, [&](auto d, int64_t c) {
                    const auto t = hn::Sub(hn::LoadU(d, xr + c), hn::LoadU(d, mean + c));
                    const auto g = MaskedDy(d, hn::LoadU(d, gr + c), t, scale != nullptr,
                                            LoadOrZero(d, scale, c), LoadOrZero(d, shift, c));
                    if (k2 == nullptr) {
                      hn::StoreU(hn::Mul(g, hn::LoadU(d, k1 + c)), d, dr + c);
                      return;
                    }
                    const auto rest = hn::MulAdd(t, hn::LoadU(d, k2 + c), hn::LoadU(d, k3 + c));
                    hn::StoreU(hn::MulAdd(g, hn::LoadU(d, k1 + c), rest), d, dr + c);
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

HWY_EXPORT(BlockMomentsImpl);
HWY_EXPORT(NormalizeImpl);
HWY_EXPORT(BackwardReduceImpl);
HWY_EXPORT(BackwardDataImpl);

namespace {

void CheckSizes(const char* op, int64_t rows, int64_t channels) {
  if (rows < 0 || channels < 0) {
    throw std::invalid_argument(std::string(op) + ": invalid size [" + std::to_string(rows) +
                                ", " + std::to_string(channels) + "]");
  }
}

// The normalisation as one multiply-add a channel, y = (x - mean) * scale + shift:
// scale = gamma * invstd, shift = beta (gamma null: 1, beta null: 0). The forward and a
// fused ReLU's backward mask both compute it from here, so they agree to the bit.
struct ScaleShift {
  std::vector<float> scale, shift;
  ScaleShift(const float* gamma, const float* beta, const float* invstd, int64_t channels)
      : scale(static_cast<size_t>(std::max<int64_t>(channels, 0))), shift(scale.size(), 0.0f) {
    for (size_t c = 0; c < scale.size(); ++c) {
      scale[c] = gamma != nullptr ? gamma[c] * invstd[c] : invstd[c];
      if (beta != nullptr) shift[c] = beta[c];
    }
  }
};

bool IsRelu(Epilogue epilogue) { return epilogue == Epilogue::kRelu; }

}  // namespace

int64_t BatchNormRowBlock(int64_t channels) {
  return std::max<int64_t>(1, detail::kBlockElements / std::max<int64_t>(channels, 1));
}

BatchMoments CombineMoments(const BatchMoments& a, const BatchMoments& b) {
  if (b.count == 0) return a;
  if (a.count == 0) return b;
  if (a.mean.size() != b.mean.size()) {
    throw std::invalid_argument("CombineMoments: moments of " + std::to_string(a.mean.size()) +
                                " and " + std::to_string(b.mean.size()) + " channels");
  }
  const double na = static_cast<double>(a.count), nb = static_cast<double>(b.count);
  const double n = na + nb;
  BatchMoments out;
  out.count = a.count + b.count;
  out.mean.resize(a.mean.size());
  out.m2.resize(a.mean.size());
  for (size_t c = 0; c < a.mean.size(); ++c) {
    const double delta = b.mean[c] - a.mean[c];
    out.mean[c] = a.mean[c] + delta * (nb / n);
    out.m2[c] = a.m2[c] + b.m2[c] + delta * delta * (na * nb / n);
  }
  return out;
}

BatchMoments CombineMomentsTree(std::vector<BatchMoments> parts) {
  if (parts.empty()) return BatchMoments();
  detail::FixedTree(static_cast<int64_t>(parts.size()), [&](int64_t i, int64_t j) {
    parts[i] = CombineMoments(parts[i], parts[j]);
  });
  return std::move(parts[0]);
}

std::vector<double> SumPartsTree(std::vector<std::vector<double>> parts) {
  if (parts.empty()) return {};
  for (const std::vector<double>& p : parts) {
    if (p.size() != parts[0].size()) {
      throw std::invalid_argument("SumPartsTree: parts of " + std::to_string(parts[0].size()) +
                                  " and " + std::to_string(p.size()) + " values");
    }
  }
  detail::FixedTree(static_cast<int64_t>(parts.size()), [&](int64_t i, int64_t j) {
    for (size_t c = 0; c < parts[i].size(); ++c) parts[i][c] += parts[j][c];
  });
  return std::move(parts[0]);
}

BatchMoments BatchNormMoments(const float* x, int64_t rows, int64_t channels) {
  CheckSizes("BatchNormMoments", rows, channels);
  if (rows == 0) {
    BatchMoments none;
    none.mean.assign(static_cast<size_t>(channels), 0.0);
    none.m2.assign(static_cast<size_t>(channels), 0.0);
    return none;
  }
  const int64_t block = BatchNormRowBlock(channels);
  std::vector<BatchMoments> parts(static_cast<size_t>(NumChunks(rows, block)));
  HWY_DYNAMIC_DISPATCH(BlockMomentsImpl)(x, rows, channels, block, parts.data());
  return CombineMomentsTree(std::move(parts));
}

void BatchNormStatistics(const BatchMoments& moments, float epsilon, float* mean,
                         float* invstd) {
  if (moments.count < 1) {
    throw std::invalid_argument("BatchNormStatistics: the moments of no rows");
  }
  const double n = static_cast<double>(moments.count);
  for (size_t c = 0; c < moments.mean.size(); ++c) {
    mean[c] = static_cast<float>(moments.mean[c]);
    invstd[c] = static_cast<float>(1.0 / std::sqrt(moments.m2[c] / n + epsilon));
  }
}

void BatchNormNormalize(const float* x, const float* mean, const float* invstd,
                        const float* gamma, const float* beta, int64_t rows, int64_t channels,
                        float* y, Epilogue epilogue) {
  CheckSizes("BatchNormNormalize", rows, channels);
  const ScaleShift k(gamma, beta, invstd, channels);
  HWY_DYNAMIC_DISPATCH(NormalizeImpl)(x, mean, k.scale.data(), k.shift.data(), rows, channels,
                                      IsRelu(epilogue), y);
}

BatchMoments BatchNormTrainingForward(const float* x, const float* gamma, const float* beta,
                                      int64_t rows, int64_t channels, float epsilon, float* y,
                                      float* mean, float* invstd, Epilogue epilogue) {
  CheckSizes("BatchNormTrainingForward", rows, channels);
  if (rows < 1) {
    throw std::invalid_argument("BatchNormTrainingForward: no rows to take statistics of");
  }
  BatchMoments moments = BatchNormMoments(x, rows, channels);
  BatchNormStatistics(moments, epsilon, mean, invstd);
  BatchNormNormalize(x, mean, invstd, gamma, beta, rows, channels, y, epilogue);
  return moments;
}

void BatchNormInferenceForward(const float* x, const float* running_mean,
                               const float* running_var, const float* gamma, const float* beta,
                               int64_t rows, int64_t channels, float epsilon, float* y,
                               float* invstd, Epilogue epilogue) {
  CheckSizes("BatchNormInferenceForward", rows, channels);
  std::vector<float> own;
  if (invstd == nullptr) {
    own.resize(static_cast<size_t>(channels));
    invstd = own.data();
  }
  for (int64_t c = 0; c < channels; ++c) {
    invstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + epsilon));
  }
  BatchNormNormalize(x, running_mean, invstd, gamma, beta, rows, channels, y, epilogue);
}

void BatchNormUpdateRunning(const BatchMoments& moments, float momentum, float* running_mean,
                            float* running_var) {
  const double n = static_cast<double>(moments.count);
  const double keep = momentum, take = 1.0 - static_cast<double>(momentum);
  for (size_t c = 0; c < moments.mean.size(); ++c) {
    const double var = moments.count > 1 ? moments.m2[c] / (n - 1) : 0.0;
    running_mean[c] = static_cast<float>(running_mean[c] * keep + moments.mean[c] * take);
    running_var[c] = static_cast<float>(running_var[c] * keep + var * take);
  }
}

namespace {

// BatchNormBackwardReduce and BatchNormBackwardData, with dy read through the gradient mask
// of a fused ReLU whose forward normalised with `relu` (null: no ReLU).
void BackwardReduce(const float* x, const float* dy, const float* mean, const float* invstd,
                    const ScaleShift* relu, int64_t rows, int64_t channels, float* dgamma,
                    float* dbeta) {
  const int64_t block = BatchNormRowBlock(channels);
  const int64_t blocks = NumChunks(rows, block);
  const size_t C = static_cast<size_t>(channels);
  std::vector<float> sum_dy(static_cast<size_t>(blocks) * C), sum_dyx(sum_dy.size());
  HWY_DYNAMIC_DISPATCH(BackwardReduceImpl)(
      x, dy, mean, relu ? relu->scale.data() : nullptr, relu ? relu->shift.data() : nullptr,
      rows, channels, block, sum_dy.data(), sum_dyx.data());
  // The blocks' sums in double, folded in the fixed tree.
  std::vector<double> a(sum_dy.begin(), sum_dy.end()), b(sum_dyx.begin(), sum_dyx.end());
  detail::FixedTree(blocks, [&](int64_t i, int64_t j) {
    for (size_t c = 0; c < C; ++c) {
      a[i * C + c] += a[j * C + c];
      b[i * C + c] += b[j * C + c];
    }
  });
  for (size_t c = 0; c < C; ++c) {
    const double sa = blocks > 0 ? a[c] : 0.0, sb = blocks > 0 ? b[c] : 0.0;
    dbeta[c] = static_cast<float>(sa);
    dgamma[c] = static_cast<float>(sb * invstd[c]);
  }
}

void BackwardData(const float* x, const float* dy, const float* mean, const float* invstd,
                  const float* gamma, const float* dgamma, const float* dbeta,
                  const ScaleShift* relu, int64_t count, int64_t rows, int64_t channels,
                  float* dx) {
  const bool training = dgamma != nullptr && dbeta != nullptr;
  const size_t C = static_cast<size_t>(channels);
  std::vector<float> k1(C), k2(C, 0.0f), k3(C, 0.0f);
  const double m = static_cast<double>(std::max<int64_t>(count, 1));
  for (size_t c = 0; c < C; ++c) {
    const double g = gamma != nullptr ? gamma[c] : 1.0;
    const double s = g * invstd[c];
    k1[c] = static_cast<float>(s);
    if (training) {
      k2[c] = static_cast<float>(-s * invstd[c] * dgamma[c] / m);
      k3[c] = static_cast<float>(-s * dbeta[c] / m);
    }
  }
  HWY_DYNAMIC_DISPATCH(BackwardDataImpl)(
      x, dy, mean, k1.data(), training ? k2.data() : nullptr, k3.data(),
      relu ? relu->scale.data() : nullptr, relu ? relu->shift.data() : nullptr, rows, channels,
      dx);
}

}  // namespace

void BatchNormBackwardReduce(const float* x, const float* dy, const float* mean,
                             const float* invstd, int64_t rows, int64_t channels,
                             float* dgamma, float* dbeta) {
  CheckSizes("BatchNormBackwardReduce", rows, channels);
  BackwardReduce(x, dy, mean, invstd, nullptr, rows, channels, dgamma, dbeta);
}

void BatchNormBackwardData(const float* x, const float* dy, const float* mean,
                           const float* invstd, const float* gamma, const float* dgamma,
                           const float* dbeta, int64_t count, int64_t rows, int64_t channels,
                           float* dx) {
  CheckSizes("BatchNormBackwardData", rows, channels);
  BackwardData(x, dy, mean, invstd, gamma, dgamma, dbeta, nullptr, count, rows, channels, dx);
}

void BatchNormBackward(const float* x, const float* dy, const float* mean, const float* invstd,
                       const float* gamma, int64_t rows, int64_t channels, bool training,
                       float* dx, float* dgamma, float* dbeta, Epilogue epilogue,
                       const float* beta) {
  CheckSizes("BatchNormBackward", rows, channels);
  std::optional<ScaleShift> relu;
  if (IsRelu(epilogue)) relu.emplace(gamma, beta, invstd, channels);
  const ScaleShift* mask = relu ? &*relu : nullptr;
  const bool reduce = dgamma != nullptr || dbeta != nullptr || (training && dx != nullptr);
  std::vector<float> own_dgamma, own_dbeta;
  if (reduce && dgamma == nullptr) {
    own_dgamma.resize(static_cast<size_t>(std::max<int64_t>(channels, 0)));
    dgamma = own_dgamma.data();
  }
  if (reduce && dbeta == nullptr) {
    own_dbeta.resize(static_cast<size_t>(std::max<int64_t>(channels, 0)));
    dbeta = own_dbeta.data();
  }
  if (reduce) BackwardReduce(x, dy, mean, invstd, mask, rows, channels, dgamma, dbeta);
  if (dx == nullptr) return;
  BackwardData(x, dy, mean, invstd, gamma, training ? dgamma : nullptr,
               training ? dbeta : nullptr, mask, rows, rows, channels, dx);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
