// Softmax kernels: Highway SIMD over columns (dynamic dispatch), parallel over rows.
// Scalar specification: ops/reference.h.
#include "ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/softmax.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

// Rows per parallel chunk: about kElementGrain elements.
inline int64_t RowGrain(int64_t cols) {
  return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(cols, 1));
}

// Writes e[j] = exp(x[j] - m) (m = max of the row) and returns sum(e); *max_out = m.
HWY_INLINE float ExpShifted(const float* x, float* e, int64_t cols, float* max_out) {
  const float m = MaxRange(x, 0, cols);
  *max_out = m;
  return SumOf(cols, [&](auto d, int64_t j) {
    const auto ev = SafeExp(d, hn::Sub(hn::LoadU(d, x + j), hn::Set(d, m)));
    hn::StoreU(ev, d, e + j);
    return ev;
  });
}

void SoftmaxImpl(const float* x, float* y, int64_t rows, int64_t cols) {
  ParallelFor(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float m;
      const float s = ExpShifted(x + r * cols, y + r * cols, cols, &m);
      const float inv = 1.0f / s;
      float* yr = y + r * cols;
      ForEachVec(0, cols, [&](auto d, int64_t j) {
        hn::StoreU(hn::Mul(hn::LoadU(d, yr + j), hn::Set(d, inv)), d, yr + j);
      });
    }
  });
}

void MaskedSoftmaxImpl(const float* x, const float* mask, int64_t causal_rows, float* y,
                       int64_t rows, int64_t cols) {
  ParallelFor(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const float* mr = mask != nullptr ? mask + r * cols : nullptr;
      float* yr = y + r * cols;
      // Columns from `limit` on are past the query (causal); the rest keep where mask != 0.
      const int64_t limit = causal_rows > 0 ? std::min(cols, r % causal_rows + 1) : cols;
      float m = 0.f;
      bool any = false;
      for (int64_t j = 0; j < limit; ++j) {
        if (mr != nullptr && mr[j] == 0.f) continue;
        if (!any || xr[j] > m) m = xr[j];
        any = true;
      }
      if (!any) {  // nothing to take a softmax over: all 0
        std::fill(yr, yr + cols, 0.f);
        continue;
      }
      const float s = SumOf(cols, [&](auto d, int64_t j) {
        auto keep = hn::Lt(hn::Iota(d, static_cast<float>(j)),
                           hn::Set(d, static_cast<float>(limit)));
        if (mr != nullptr) keep = hn::And(keep, hn::Ne(hn::LoadU(d, mr + j), hn::Zero(d)));
        const auto ev = hn::IfThenElseZero(
            keep, SafeExp(d, hn::Sub(hn::LoadU(d, xr + j), hn::Set(d, m))));
        hn::StoreU(ev, d, yr + j);
        return ev;
      });
      const float inv = 1.0f / s;
      ForEachVec(0, cols, [&](auto d, int64_t j) {
        hn::StoreU(hn::Mul(hn::LoadU(d, yr + j), hn::Set(d, inv)), d, yr + j);
      });
    }
  });
}

void LogSoftmaxImpl(const float* x, float* y, int64_t rows, int64_t cols) {
  ParallelFor(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    std::vector<float> e(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float m;
      const float s = ExpShifted(xr, e.data(), cols, &m);
      const float lse = m + std::log(s);
      float* yr = y + r * cols;
      ForEachVec(0, cols, [&](auto d, int64_t j) {
        hn::StoreU(hn::Sub(hn::LoadU(d, xr + j), hn::Set(d, lse)), d, yr + j);
      });
    }
  });
}

void SoftmaxBackwardImpl(const float* y, const float* dy, float* dx, int64_t rows,
                         int64_t cols) {
  ParallelFor(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = y + r * cols;
      const float* gr = dy + r * cols;
      float* dr = dx + r * cols;
      const float s = SumOf(cols, [&](auto d, int64_t j) {
        return hn::Mul(hn::LoadU(d, gr + j), hn::LoadU(d, yr + j));
      });
      ForEachVec(0, cols, [&](auto d, int64_t j) {
        const auto g = hn::Sub(hn::LoadU(d, gr + j), hn::Set(d, s));
        hn::StoreU(hn::Mul(hn::LoadU(d, yr + j), g), d, dr + j);
      });
    }
  });
}

void LogSoftmaxBackwardImpl(const float* y_log, const float* dy, float* dx, int64_t rows,
                            int64_t cols) {
  ParallelFor(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = y_log + r * cols;
      const float* gr = dy + r * cols;
      float* dr = dx + r * cols;
      const float s = SumRange(gr, 0, cols);
      ForEachVec(0, cols, [&](auto d, int64_t j) {
        const auto p = SafeExp(d, hn::LoadU(d, yr + j));
        hn::StoreU(hn::NegMulAdd(p, hn::Set(d, s), hn::LoadU(d, gr + j)), d, dr + j);
      });
    }
  });
}

// Shared body of the two cross-entropies. For row r, `label(r)` is the class index
// (sparse) or -1 (dense targets). Row losses go to a buffer summed in row order.
template <bool kSparse>
float CrossEntropy(const float* logits, const float* targets, const int32_t* labels,
                   int64_t rows, int64_t cols, float* dlogits) {
  if (rows <= 0) return 0.0f;
  std::vector<float> row_loss(static_cast<size_t>(rows));
  const float inv_rows = static_cast<float>(1.0 / static_cast<double>(rows));
  ParallelFor(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(dlogits == nullptr ? static_cast<size_t>(cols) : 0);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = logits + r * cols;
      // The exps go to dlogits (or scratch); if dlogits aliases logits they overwrite
      // the row, so everything read from it is read first.
      float* e = dlogits != nullptr ? dlogits + r * cols : scratch.data();
      float m;
      float t_sum = 1.0f, x_label = 0.0f, t_dot_x = 0.0f;
      int32_t label = -1;
      bool valid = true;
      if (kSparse) {
        label = labels[r];
        valid = label >= 0 && label < cols;
        if (valid) x_label = xr[label];
      } else {
        const float* tr = targets + r * cols;
        t_sum = SumRange(tr, 0, cols);
        t_dot_x = SumOf(cols, [&](auto d, int64_t j) {
          return hn::Mul(hn::LoadU(d, tr + j), hn::LoadU(d, xr + j));
        });
      }
      const float s = ExpShifted(xr, e, cols, &m);  // may overwrite xr if aliased
      const float lse = m + std::log(s);
      if (kSparse) {
        row_loss[r] = valid ? lse - x_label : std::numeric_limits<float>::quiet_NaN();
      } else {
        row_loss[r] = lse * t_sum - t_dot_x;
      }
      if (dlogits == nullptr) continue;
      // dlogits = (softmax * t_sum - t) / rows; softmax = e / s.
      const float scale = t_sum / s * inv_rows;
      if (kSparse) {
        ForEachVec(0, cols, [&](auto d, int64_t j) {
          hn::StoreU(hn::Mul(hn::LoadU(d, e + j), hn::Set(d, scale)), d, e + j);
        });
        if (valid) e[label] -= inv_rows;
      } else {
        const float* tr = targets + r * cols;
        ForEachVec(0, cols, [&](auto d, int64_t j) {
          const auto t = hn::Mul(hn::LoadU(d, tr + j), hn::Set(d, inv_rows));
          hn::StoreU(hn::MulSub(hn::LoadU(d, e + j), hn::Set(d, scale), t), d, e + j);
        });
      }
    }
  });
  double total = 0.0;
  for (float l : row_loss) total += l;
  return static_cast<float>(total / static_cast<double>(rows));
}

float SoftmaxCrossEntropyImpl(const float* logits, const float* targets, int64_t rows,
                              int64_t cols, float* dlogits) {
  return CrossEntropy<false>(logits, targets, nullptr, rows, cols, dlogits);
}

float SparseSoftmaxCrossEntropyImpl(const float* logits, const int32_t* labels,
                                    int64_t rows, int64_t cols, float* dlogits) {
  return CrossEntropy<true>(logits, nullptr, labels, rows, cols, dlogits);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gradway {
namespace ops {

HWY_EXPORT(SoftmaxImpl);
HWY_EXPORT(LogSoftmaxImpl);
HWY_EXPORT(MaskedSoftmaxImpl);
HWY_EXPORT(SoftmaxBackwardImpl);
HWY_EXPORT(LogSoftmaxBackwardImpl);
HWY_EXPORT(SoftmaxCrossEntropyImpl);
HWY_EXPORT(SparseSoftmaxCrossEntropyImpl);

void Softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  HWY_DYNAMIC_DISPATCH(SoftmaxImpl)(x, y, rows, cols);
}

void MaskedSoftmax(const float* x, const float* mask, int64_t causal_rows, float* y,
                   int64_t rows, int64_t cols) {
  HWY_DYNAMIC_DISPATCH(MaskedSoftmaxImpl)(x, mask, causal_rows, y, rows, cols);
}

void LogSoftmax(const float* x, float* y, int64_t rows, int64_t cols) {
  HWY_DYNAMIC_DISPATCH(LogSoftmaxImpl)(x, y, rows, cols);
}

void SoftmaxBackward(const float* y, const float* dy, float* dx, int64_t rows,
                     int64_t cols) {
  HWY_DYNAMIC_DISPATCH(SoftmaxBackwardImpl)(y, dy, dx, rows, cols);
}

void LogSoftmaxBackward(const float* y_log, const float* dy, float* dx, int64_t rows,
                        int64_t cols) {
  HWY_DYNAMIC_DISPATCH(LogSoftmaxBackwardImpl)(y_log, dy, dx, rows, cols);
}

float SoftmaxCrossEntropy(const float* logits, const float* targets, int64_t rows,
                          int64_t cols, float* dlogits) {
  return HWY_DYNAMIC_DISPATCH(SoftmaxCrossEntropyImpl)(logits, targets, rows, cols,
                                                       dlogits);
}

float SparseSoftmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t rows,
                                int64_t cols, float* dlogits) {
  return HWY_DYNAMIC_DISPATCH(SparseSoftmaxCrossEntropyImpl)(logits, labels, rows, cols,
                                                             dlogits);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
