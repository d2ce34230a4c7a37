// Elementwise kernels and reductions: Highway SIMD with dynamic dispatch (the pattern
// of hwy/examples/skeleton.cc), parallel over fixed chunks through ops/parallel.h.
// Scalar specification: ops/reference.h.
#include "ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/elementwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "ops/simd-inl.h"

// Target-independent definitions, compiled once.
#ifndef GRADWAY_OPS_ELEMENTWISE_CC_ONCE_
#define GRADWAY_OPS_ELEMENTWISE_CC_ONCE_
namespace gradway {
namespace ops {
namespace detail {

// Elements per parallel chunk of the memory-bound kernels (64 KiB of floats).
constexpr int64_t kGrain = 16384;

// A broadcast binary op after dropping size-1 output dims and merging adjacent dims that
// broadcast the same way: out is [rows, inner]; the rows are walked with an odometer over
// `dims` (outer dims only) and strides `as`, `bs` (0 where the operand is broadcast).
struct BroadcastPlan {
  std::vector<int64_t> dims, as, bs;  // outer dims (all but the innermost)
  int64_t inner = 1;                  // innermost run length
  bool a_scalar_run = false;          // a is constant along the run
  bool b_scalar_run = false;          // b is constant along the run
  int64_t rows = 1;
};

}  // namespace detail
}  // namespace ops
}  // namespace gradway
#endif  // GRADWAY_OPS_ELEMENTWISE_CC_ONCE_

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

using detail::kGrain;

struct AddOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Add(a, b); }
};
struct SubOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Sub(a, b); }
};
struct MulOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Mul(a, b); }
};
struct DivOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Div(a, b); }
};

// Calls f(Op()) with the functor type for `op`.
template <class F>
HWY_INLINE void WithBinaryOp(BinaryOp op, const F& f) {
  switch (op) {
    case BinaryOp::kAdd: return f(AddOp());
    case BinaryOp::kSub: return f(SubOp());
    case BinaryOp::kMul: return f(MulOp());
    case BinaryOp::kDiv: return f(DivOp());
  }
}

// Applies `f(d, i)` to [0, n) in parallel chunks of kGrain elements.
template <class F>
HWY_INLINE void ParallelVec(int64_t n, const F& f) {
  ParallelFor(n, kGrain, [&](int64_t begin, int64_t end) { ForEachVec(begin, end, f); });
}

void BinaryImpl(BinaryOp op, const float* a, const float* b,
                float* out, int64_t n, bool relu) {
  WithBinaryOp(op, [&](auto fn) {
    ParallelVec(n, [&](auto d, int64_t i) {
      auto v = fn(hn::LoadU(d, a + i), hn::LoadU(d, b + i));
      if (relu) v = hn::IfThenElseZero(hn::Gt(v, hn::Zero(d)), v);  // as UnaryOp::kRelu
      hn::StoreU(v, d, out + i);
    });
  });
}

// out[0, len) = a[0, len) op b[0, len), with a and/or b constant along the run.
template <class Op>
HWY_INLINE void BinaryRun(Op fn, const float* a, bool a_scalar, const float* b,
                          bool b_scalar, float* out, int64_t len) {
  if (!a_scalar && !b_scalar) {
    ForEachVec(0, len, [&](auto d, int64_t i) {
      hn::StoreU(fn(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
    });
  } else if (!a_scalar) {
    const float bv = *b;
    ForEachVec(0, len, [&](auto d, int64_t i) {
      hn::StoreU(fn(hn::LoadU(d, a + i), hn::Set(d, bv)), d, out + i);
    });
  } else if (!b_scalar) {
    const float av = *a;
    ForEachVec(0, len, [&](auto d, int64_t i) {
      hn::StoreU(fn(hn::Set(d, av), hn::LoadU(d, b + i)), d, out + i);
    });
  } else {
    const D1 d1;
    const float r = hn::GetLane(fn(hn::Set(d1, *a), hn::Set(d1, *b)));
    std::fill(out, out + len, r);
  }
}

void BroadcastImpl(BinaryOp op, const float* a, const float* b, float* out,
                   const detail::BroadcastPlan& plan) {
  const int64_t inner = plan.inner;
  const int rank = static_cast<int>(plan.dims.size());
  const int64_t row_grain = std::max<int64_t>(1, kGrain / inner);
  WithBinaryOp(op, [&](auto fn) {
    ParallelFor(plan.rows, row_grain, [&](int64_t r0, int64_t r1) {
      // Offsets of row r0, then an odometer over the outer dims.
      std::vector<int64_t> idx(rank, 0);
      int64_t ia = 0, ib = 0;
      int64_t r = r0;
      for (int k = rank - 1; k >= 0; --k) {
        idx[k] = r % plan.dims[k];
        r /= plan.dims[k];
        ia += idx[k] * plan.as[k];
        ib += idx[k] * plan.bs[k];
      }
      for (int64_t row = r0; row < r1; ++row) {
        BinaryRun(fn, a + ia, plan.a_scalar_run, b + ib, plan.b_scalar_run,
                  out + row * inner, inner);
        for (int k = rank - 1; k >= 0; --k) {
          if (++idx[k] < plan.dims[k]) {
            ia += plan.as[k];
            ib += plan.bs[k];
            break;
          }
          ia -= plan.as[k] * (plan.dims[k] - 1);
          ib -= plan.bs[k] * (plan.dims[k] - 1);
          idx[k] = 0;
        }
      }
    });
  });
}

// erf(x): the 13/8-degree rational approximation of Eigen's generic_fast_erf_float (a few
// ULP on [-4, 4], where it is evaluated; +-1 beyond), its result clamped to [-1, 1].
template <class D, class V>
HWY_INLINE V Erf(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V c = hn::Min(hn::Max(x, hn::Set(d, -4.0f)), hn::Set(d, 4.0f));
  const V c2 = hn::Mul(c, c);
  V p = hn::MulAdd(c2, hn::Set(d, -2.72614225801306e-10f), hn::Set(d, 2.77068142495902e-08f));
  p = hn::MulAdd(c2, p, hn::Set(d, -2.10102402082508e-06f));
  p = hn::MulAdd(c2, p, hn::Set(d, -5.69250639462346e-05f));
  p = hn::MulAdd(c2, p, hn::Set(d, -7.34990630326855e-04f));
  p = hn::MulAdd(c2, p, hn::Set(d, -2.95459980854025e-03f));
  p = hn::MulAdd(c2, p, hn::Set(d, -1.60960333262415e-02f));
  p = hn::Mul(c, p);
  V q = hn::MulAdd(c2, hn::Set(d, -1.45660718464996e-05f), hn::Set(d, -2.13374055278905e-04f));
  q = hn::MulAdd(c2, q, hn::Set(d, -1.68282697438203e-03f));
  q = hn::MulAdd(c2, q, hn::Set(d, -7.37332916720468e-03f));
  q = hn::MulAdd(c2, q, hn::Set(d, -1.42647390514189e-02f));
  return hn::Min(hn::Max(hn::Div(p, q), hn::Neg(one)), one);
}

constexpr float kSqrtHalf = 0.70710678118654752440f;      // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;    // 1 / sqrt(2 pi)
constexpr float kSqrt2OverPi = 0.79788456080286535588f;   // sqrt(2 / pi)
constexpr float kGeluKappa = 0.044715f;

// x / 2 * (1 + erf(x / sqrt(2))).
template <class D, class V>
HWY_INLINE V Gelu(D d, V x) {
  const V cdf1 = hn::Add(hn::Set(d, 1.0f), Erf(d, hn::Mul(x, hn::Set(d, kSqrtHalf))));
  return hn::Mul(hn::Mul(x, hn::Set(d, 0.5f)), cdf1);
}

// 2u = 2 sqrt(2 / pi) * (x + 0.044715 x^3): the tanh form's CDF (1 + tanh(u)) / 2 is
// sigmoid(2u), without 1 + tanh's cancellation for negative x.
template <class D, class V>
HWY_INLINE V GeluTanhTwoU(D d, V x) {
  const V cube = hn::Mul(hn::Mul(x, x), x);
  return hn::Mul(hn::Set(d, 2.0f * kSqrt2OverPi), hn::MulAdd(hn::Set(d, kGeluKappa), cube, x));
}

// min(max(x + 3, 0), 6) / 6, NaN kept.
template <class D, class V>
HWY_INLINE V HardSigmoid(D d, V x) {
  const V r = hn::Min(hn::Max(hn::Add(x, hn::Set(d, 3.0f)), hn::Zero(d)), hn::Set(d, 6.0f));
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Div(r, hn::Set(d, 6.0f)));
}

template <class F>
HWY_INLINE void UnaryLoop(const float* x, float* y, int64_t n, const F& f) {
  ParallelVec(n, [&](auto d, int64_t i) { hn::StoreU(f(d, hn::LoadU(d, x + i)), d, y + i); });
}

void UnaryImpl(UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case UnaryOp::kNeg:
      return UnaryLoop(x, y, n, [](auto, auto v) { return hn::Neg(v); });
    case UnaryOp::kExp:
      return UnaryLoop(x, y, n, [](auto d, auto v) { return SafeExp(d, v); });
    case UnaryOp::kLog:
      return UnaryLoop(x, y, n, [](auto d, auto v) { return SafeLog(d, v); });
    case UnaryOp::kSqrt:
      return UnaryLoop(x, y, n, [](auto, auto v) { return hn::Sqrt(v); });
    case UnaryOp::kRelu:
      return UnaryLoop(x, y, n, [](auto d, auto v) {
        return hn::IfThenElseZero(hn::Gt(v, hn::Zero(d)), v);
      });
    case UnaryOp::kSigmoid:
      return UnaryLoop(x, y, n, [](auto d, auto v) { return Sigmoid(d, v); });
    case UnaryOp::kTanh:
      return UnaryLoop(x, y, n, [](auto d, auto v) { return hn::Tanh(d, v); });
    case UnaryOp::kGelu:
      return UnaryLoop(x, y, n, [](auto d, auto v) { return Gelu(d, v); });
    case UnaryOp::kGeluTanh:
      return UnaryLoop(x, y, n, [](auto d, auto v) {
        return hn::Mul(v, Sigmoid(d, GeluTanhTwoU(d, v)));
      });
    case UnaryOp::kSilu:
      return UnaryLoop(x, y, n, [](auto d, auto v) {
        return hn::Div(v, hn::Add(hn::Set(d, 1.0f), SafeExp(d, hn::Neg(v))));
      });
    case UnaryOp::kHardSigmoid:
      return UnaryLoop(x, y, n, [](auto d, auto v) { return HardSigmoid(d, v); });
  }
}

void LeakyReluImpl(const float* x, float alpha, float* y, int64_t n) {
  UnaryLoop(x, y, n, [alpha](auto d, auto v) {
    return hn::IfThenElse(hn::Gt(v, hn::Zero(d)), v, hn::Mul(v, hn::Set(d, alpha)));
  });
}

void EluImpl(const float* x, float alpha, float* y, int64_t n) {
  UnaryLoop(x, y, n, [alpha](auto d, auto v) {
    const auto neg = hn::Mul(hn::Expm1(d, v), hn::Set(d, alpha));
    return hn::IfThenElse(hn::Le(v, hn::Zero(d)), neg, v);  // NaN stays NaN
  });
}

// dx[i] = dy[i] * f'(x[i]) with `df(d, x)` the derivative.
template <class F>
HWY_INLINE void GradLoop(const float* x, const float* dy, float* dx, int64_t n, const F& df) {
  ParallelVec(n, [&](auto d, int64_t i) {
    hn::StoreU(hn::Mul(hn::LoadU(d, dy + i), df(d, hn::LoadU(d, x + i))), d, dx + i);
  });
}

void LeakyReluBackwardImpl(const float* x, float alpha, const float* dy, float* dx,
                           int64_t n) {
  GradLoop(x, dy, dx, n, [alpha](auto d, auto v) {
    return hn::IfThenElse(hn::Gt(v, hn::Zero(d)), hn::Set(d, 1.0f), hn::Set(d, alpha));
  });
}

void EluBackwardImpl(const float* x, float alpha, const float* dy, float* dx, int64_t n) {
  GradLoop(x, dy, dx, n, [alpha](auto d, auto v) {
    return hn::IfThenElse(hn::Le(v, hn::Zero(d)), hn::Mul(hn::Set(d, alpha), SafeExp(d, v)),
                          hn::Set(d, 1.0f));
  });
}

void GeluBackwardImpl(const float* x, const float* dy, float* dx, int64_t n) {
  GradLoop(x, dy, dx, n, [](auto d, auto v) {
    const auto cdf = hn::Mul(hn::Set(d, 0.5f), hn::Add(hn::Set(d, 1.0f),
                                                       Erf(d, hn::Mul(v, hn::Set(d, kSqrtHalf)))));
    const auto pdf = hn::Mul(hn::Set(d, kInvSqrt2Pi),
                             SafeExp(d, hn::Mul(hn::Mul(v, v), hn::Set(d, -0.5f))));
    return hn::MulAdd(v, pdf, cdf);
  });
}

void GeluTanhBackwardImpl(const float* x, const float* dy, float* dx, int64_t n) {
  // With s = (1 + t) / 2 = sigmoid(2u): (1 + t) / 2 + x / 2 (1 - t^2) u' =
  // s + x s (1 - s) (2u)'. 1 - s = e s with e = e^-2u where 2u >= 0 (no cancellation).
  GradLoop(x, dy, dx, n, [](auto d, auto v) {
    const auto one = hn::Set(d, 1.0f);
    const auto u2 = GeluTanhTwoU(d, v);
    const auto e = SafeExp(d, hn::Neg(u2));
    const auto s = hn::Div(one, hn::Add(one, e));
    const auto one_minus_s = hn::IfThenElse(hn::Ge(u2, hn::Zero(d)), hn::Mul(e, s),
                                            hn::Sub(one, s));
    const auto du2 = hn::Mul(hn::Set(d, 2.0f * kSqrt2OverPi),
                             hn::MulAdd(hn::Set(d, 3.0f * kGeluKappa), hn::Mul(v, v), one));
    return hn::MulAdd(hn::Mul(hn::Mul(v, s), one_minus_s), du2, s);
  });
}

void SiluBackwardImpl(const float* x, const float* dy, float* dx, int64_t n) {
  GradLoop(x, dy, dx, n, [](auto d, auto v) {
    const auto one = hn::Set(d, 1.0f);
    const auto s = Sigmoid(d, v);
    return hn::Mul(s, hn::MulAdd(v, hn::Sub(one, s), one));
  });
}

void HardSigmoidBackwardImpl(const float* x, const float* dy, float* dx, int64_t n) {
  ParallelVec(n, [&](auto d, int64_t i) {
    const auto v = hn::LoadU(d, x + i);
    const auto inside = hn::And(hn::Gt(v, hn::Set(d, -3.0f)), hn::Lt(v, hn::Set(d, 3.0f)));
    const auto g = hn::Mul(hn::LoadU(d, dy + i), hn::Set(d, 1.0f / 6.0f));
    hn::StoreU(hn::IfThenElseZero(inside, g), d, dx + i);
  });
}

void PowImpl(const float* x, float p, float* y, int64_t n) {
  if (p == 1.0f) {
    return UnaryLoop(x, y, n, [](auto, auto v) { return v; });
  } else if (p == 2.0f) {
    return UnaryLoop(x, y, n, [](auto, auto v) { return hn::Mul(v, v); });
  } else if (p == -1.0f) {
    return UnaryLoop(x, y, n, [](auto d, auto v) { return hn::Div(hn::Set(d, 1.0f), v); });
  }
  ParallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = std::pow(x[i], p);
  });
}

void ScaleImpl(const float* x, float alpha, float* y, int64_t n) {
  UnaryLoop(x, y, n, [alpha](auto d, auto v) { return hn::Mul(hn::Set(d, alpha), v); });
}

void AddScalarImpl(const float* x, float alpha, float* y, int64_t n) {
  UnaryLoop(x, y, n, [alpha](auto d, auto v) { return hn::Add(v, hn::Set(d, alpha)); });
}

void AxpyImpl(float alpha, const float* x, float* y, int64_t n) {
  ParallelVec(n, [&](auto d, int64_t i) {
    const auto prod = hn::Mul(hn::Set(d, alpha), hn::LoadU(d, x + i));
    hn::StoreU(hn::Add(hn::LoadU(d, y + i), prod), d, y + i);
  });
}

void GatherBytesAsFloatImpl(const uint8_t* base, const int64_t* rows, int64_t count,
                            int64_t row_size, float divisor, float* out) {
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, row_size));
  ParallelFor(count, grain, [&](int64_t begin, int64_t end) {
    const DF df;
    const hn::Rebind<uint8_t, DF> du8;
    const hn::Rebind<int32_t, DF> di32;
    const auto div = hn::Set(df, divisor);
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    for (int64_t i = begin; i < end; ++i) {
      const uint8_t* from = base + rows[i] * row_size;
      float* to = out + i * row_size;
      // Rows are scattered over the dataset, beyond the hardware prefetchers' reach: ask
      // for the row after next while this one is converted (in a standalone test, 200
      // random rows of a 47 MB set: 99 -> 48 us).
      if (i + 2 < end) {
        const uint8_t* ahead = base + rows[i + 2] * row_size;
        for (int64_t k = 0; k < row_size; k += 64) hwy::Prefetch(ahead + k);
      }
      int64_t k = 0;
      for (; k + N <= row_size; k += N) {
        const auto v = hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(du8, from + k)));
        hn::StoreU(hn::Div(v, div), df, to + k);
      }
      for (; k < row_size; ++k) to[k] = static_cast<float>(from[k]) / divisor;
    }
  });
}

void ReluBackwardImpl(const float* x, const float* dy, float* dx, int64_t n) {
  ParallelVec(n, [&](auto d, int64_t i) {
    const auto keep = hn::Gt(hn::LoadU(d, x + i), hn::Zero(d));
    hn::StoreU(hn::IfThenElseZero(keep, hn::LoadU(d, dy + i)), d, dx + i);
  });
}

void SigmoidBackwardImpl(const float* y, const float* dy, float* dx, int64_t n) {
  ParallelVec(n, [&](auto d, int64_t i) {
    const auto yv = hn::LoadU(d, y + i);
    const auto g = hn::Mul(hn::Mul(hn::LoadU(d, dy + i), yv), hn::Sub(hn::Set(d, 1.0f), yv));
    hn::StoreU(g, d, dx + i);
  });
}

void TanhBackwardImpl(const float* y, const float* dy, float* dx, int64_t n) {
  ParallelVec(n, [&](auto d, int64_t i) {
    const auto yv = hn::LoadU(d, y + i);
    const auto g = hn::Mul(hn::LoadU(d, dy + i), hn::Sub(hn::Set(d, 1.0f), hn::Mul(yv, yv)));
    hn::StoreU(g, d, dx + i);
  });
}

// Sum of fixed kGrain-element chunks, combined in index order in double.
float SumImpl(const float* x, int64_t n) {
  if (n <= 0) return 0.0f;
  std::vector<float> partial(static_cast<size_t>(NumChunks(n, kGrain)));
  ParallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
    partial[static_cast<size_t>(begin / kGrain)] = SumRange(x, begin, end);
  });
  double s = 0.0;
  for (float p : partial) s += p;
  return static_cast<float>(s);
}

// acc[i] = sum over a in [a0, a1) of x[a * stride + i] for i < width, each column summed
// sequentially in a (overwrites acc).
HWY_INLINE void ColumnSum(const float* HWY_RESTRICT x, int64_t a0, int64_t a1,
                          int64_t stride, int64_t width, float* HWY_RESTRICT acc) {
  if (width == 1) {
    if (stride == 1) {
      acc[0] = SumRange(x, a0, a1);
      return;
    }
  }
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + 4 * N <= width; i += 4 * N) {
    auto v0 = hn::Zero(d), v1 = hn::Zero(d), v2 = hn::Zero(d), v3 = hn::Zero(d);
    for (int64_t a = a0; a < a1; ++a) {
      const float* p = x + a * stride + i;
      v0 = hn::Add(v0, hn::LoadU(d, p));
      v1 = hn::Add(v1, hn::LoadU(d, p + N));
      v2 = hn::Add(v2, hn::LoadU(d, p + 2 * N));
      v3 = hn::Add(v3, hn::LoadU(d, p + 3 * N));
    }
    hn::StoreU(v0, d, acc + i);
    hn::StoreU(v1, d, acc + i + N);
    hn::StoreU(v2, d, acc + i + 2 * N);
    hn::StoreU(v3, d, acc + i + 3 * N);
  }
  for (; i + N <= width; i += N) {
    auto v = hn::Zero(d);
    for (int64_t a = a0; a < a1; ++a) v = hn::Add(v, hn::LoadU(d, x + a * stride + i));
    hn::StoreU(v, d, acc + i);
  }
  for (; i < width; ++i) {
    float s = 0.0f;
    for (int64_t a = a0; a < a1; ++a) s += x[a * stride + i];
    acc[i] = s;
  }
}

void SumAxisImpl(const float* x, int64_t outer, int64_t axis, int64_t inner, float* out) {
  if (outer <= 0 || inner <= 0) return;
  if (axis <= 0) {
    std::fill(out, out + outer * inner, 0.0f);
    return;
  }
  // Every partition below depends on the shape only, never on the thread count.
  constexpr int64_t kColBlock = 512;
  if (inner >= kColBlock) {
    // Wide rows: tasks over (outer, column block), each summing the whole axis.
    const int64_t blocks = NumChunks(inner, kColBlock);
    ParallelFor(outer * blocks, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t o = t / blocks, c0 = (t % blocks) * kColBlock;
        const int64_t w = std::min(kColBlock, inner - c0);
        ColumnSum(x + o * axis * inner + c0, 0, axis, inner, w, out + o * inner + c0);
      }
    });
    return;
  }
  const int64_t a_grain = std::max<int64_t>(1, kGrain / inner);
  const int64_t a_chunks = NumChunks(axis, a_grain);
  if (a_chunks == 1 || outer >= 8) {
    // Parallel over outer; each output sums its whole axis.
    const int64_t o_grain = std::max<int64_t>(1, kGrain / (axis * inner));
    ParallelFor(outer, o_grain, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        ColumnSum(x + o * axis * inner, 0, axis, inner, inner, out + o * inner);
      }
    });
    return;
  }
  // Few long reductions: fixed axis chunks, partial sums combined in chunk order.
  std::vector<float> partial(static_cast<size_t>(a_chunks * inner));
  for (int64_t o = 0; o < outer; ++o) {
    const float* xo = x + o * axis * inner;
    ParallelFor(axis, a_grain, [&](int64_t a0, int64_t a1) {
      ColumnSum(xo, a0, a1, inner, inner, partial.data() + (a0 / a_grain) * inner);
    });
    float* oo = out + o * inner;
    std::copy(partial.begin(), partial.begin() + inner, oo);
    for (int64_t c = 1; c < a_chunks; ++c) {
      const float* pc = partial.data() + c * inner;
      ForEachVec(0, inner, [&](auto d, int64_t i) {
        hn::StoreU(hn::Add(hn::LoadU(d, oo + i), hn::LoadU(d, pc + i)), d, oo + i);
      });
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gradway {
namespace ops {

HWY_EXPORT(BinaryImpl);
HWY_EXPORT(BroadcastImpl);
HWY_EXPORT(UnaryImpl);
HWY_EXPORT(PowImpl);
HWY_EXPORT(ScaleImpl);
HWY_EXPORT(GatherBytesAsFloatImpl);
HWY_EXPORT(AxpyImpl);
HWY_EXPORT(AddScalarImpl);
HWY_EXPORT(ReluBackwardImpl);
HWY_EXPORT(SigmoidBackwardImpl);
HWY_EXPORT(TanhBackwardImpl);
HWY_EXPORT(LeakyReluImpl);
HWY_EXPORT(EluImpl);
HWY_EXPORT(LeakyReluBackwardImpl);
HWY_EXPORT(EluBackwardImpl);
HWY_EXPORT(GeluBackwardImpl);
HWY_EXPORT(GeluTanhBackwardImpl);
HWY_EXPORT(SiluBackwardImpl);
HWY_EXPORT(HardSigmoidBackwardImpl);
HWY_EXPORT(SumImpl);
HWY_EXPORT(SumAxisImpl);

void Binary(BinaryOp op, const float* a, const float* b, float* out, int64_t n,
            Epilogue epilogue) {
  HWY_DYNAMIC_DISPATCH(BinaryImpl)(op, a, b, out, n, epilogue == Epilogue::kRelu);
}

void BroadcastBinary(BinaryOp op, const float* a, const std::vector<int64_t>& a_shape,
                     const float* b, const std::vector<int64_t>& b_shape, float* out,
                     const std::vector<int64_t>& out_shape) {
  // Collapse: drop size-1 output dims, merge neighbours that broadcast alike.
  std::vector<int64_t> dims;
  std::vector<char> a_b, b_b;  // operand broadcast along the dim
  int64_t total = 1;
  for (size_t k = 0; k < out_shape.size(); ++k) {
    total *= out_shape[k];
    if (out_shape[k] == 1) continue;
    const char ab = a_shape[k] == 1, bb = b_shape[k] == 1;
    if (!dims.empty() && a_b.back() == ab && b_b.back() == bb) {
      dims.back() *= out_shape[k];
    } else {
      dims.push_back(out_shape[k]);
      a_b.push_back(ab);
      b_b.push_back(bb);
    }
  }
  if (total <= 0) return;
  if (dims.empty()) {  // a single element
    dims.push_back(1);
    a_b.push_back(0);
    b_b.push_back(0);
  }
  const int rank = static_cast<int>(dims.size());
  if (rank == 1 && !a_b[0] && !b_b[0]) return Binary(op, a, b, out, total);
  detail::BroadcastPlan plan;
  plan.inner = dims[rank - 1];
  plan.a_scalar_run = a_b[rank - 1];
  plan.b_scalar_run = b_b[rank - 1];
  plan.rows = total / plan.inner;
  plan.dims.assign(dims.begin(), dims.end() - 1);
  plan.as.resize(rank - 1);
  plan.bs.resize(rank - 1);
  int64_t sa = a_b[rank - 1] ? 1 : plan.inner, sb = b_b[rank - 1] ? 1 : plan.inner;
  for (int k = rank - 2; k >= 0; --k) {
    plan.as[k] = a_b[k] ? 0 : sa;
    plan.bs[k] = b_b[k] ? 0 : sb;
    if (!a_b[k]) sa *= dims[k];
    if (!b_b[k]) sb *= dims[k];
  }
  HWY_DYNAMIC_DISPATCH(BroadcastImpl)(op, a, b, out, plan);
}

void Unary(UnaryOp op, const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(UnaryImpl)(op, x, y, n);
}

void Pow(const float* x, float p, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(PowImpl)(x, p, y, n);
}

void Scale(const float* x, float alpha, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(ScaleImpl)(x, alpha, y, n);
}

void Axpy(float alpha, const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AxpyImpl)(alpha, x, y, n);
}

void AddScalar(const float* x, float alpha, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AddScalarImpl)(x, alpha, y, n);
}

void GatherBytesAsFloat(const uint8_t* base, const int64_t* rows, int64_t count,
                        int64_t row_size, float divisor, float* out) {
  HWY_DYNAMIC_DISPATCH(GatherBytesAsFloatImpl)(base, rows, count, row_size, divisor, out);
}

void ReluBackward(const float* x, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(ReluBackwardImpl)(x, dy, dx, n);
}

void SigmoidBackward(const float* y, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SigmoidBackwardImpl)(y, dy, dx, n);
}

void TanhBackward(const float* y, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(TanhBackwardImpl)(y, dy, dx, n);
}

void LeakyRelu(const float* x, float alpha, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(LeakyReluImpl)(x, alpha, y, n);
}

void Elu(const float* x, float alpha, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(EluImpl)(x, alpha, y, n);
}

void LeakyReluBackward(const float* x, float alpha, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(LeakyReluBackwardImpl)(x, alpha, dy, dx, n);
}

void EluBackward(const float* x, float alpha, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(EluBackwardImpl)(x, alpha, dy, dx, n);
}

void GeluBackward(const float* x, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(GeluBackwardImpl)(x, dy, dx, n);
}

void GeluTanhBackward(const float* x, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(GeluTanhBackwardImpl)(x, dy, dx, n);
}

void SiluBackward(const float* x, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SiluBackwardImpl)(x, dy, dx, n);
}

void HardSigmoidBackward(const float* x, const float* dy, float* dx, int64_t n) {
  HWY_DYNAMIC_DISPATCH(HardSigmoidBackwardImpl)(x, dy, dx, n);
}

float Sum(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(SumImpl)(x, n); }

void SumAxis(const float* x, int64_t outer, int64_t axis, int64_t inner, float* out) {
  HWY_DYNAMIC_DISPATCH(SumAxisImpl)(x, outer, axis, inner, out);
}

void SumToShape(const float* x, const std::vector<int64_t>& x_shape, float* out,
                const std::vector<int64_t>& out_shape) {
  // Collapse to alternating kept/reduced groups (dims of size 1 in x dropped).
  std::vector<int64_t> dims;
  std::vector<char> reduced;
  int64_t total = 1, out_total = 1;
  for (size_t k = 0; k < x_shape.size(); ++k) {
    total *= x_shape[k];
    out_total *= out_shape[k];
    if (x_shape[k] == 1) continue;
    const char r = out_shape[k] == 1;
    if (!dims.empty() && reduced.back() == r) {
      dims.back() *= x_shape[k];
    } else {
      dims.push_back(x_shape[k]);
      reduced.push_back(r);
    }
  }
  if (out_total <= 0) return;
  if (total <= 0) {
    std::fill(out, out + out_total, 0.0f);
    return;
  }
  int groups = 0;
  for (char r : reduced) groups += r;
  if (groups == 0) {
    std::memcpy(out, x, static_cast<size_t>(total) * sizeof(float));
    return;
  }
  // Reduce the innermost reduced group first, through temporaries, into out last.
  std::vector<float> buf[2];
  const float* cur = x;
  int which = 0;
  while (groups > 0) {
    int g = static_cast<int>(dims.size()) - 1;
    while (!reduced[g]) --g;
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < g; ++k) outer *= dims[k];
    for (size_t k = g + 1; k < dims.size(); ++k) inner *= dims[k];
    float* dst = out;
    if (groups > 1) {
      buf[which].resize(static_cast<size_t>(outer * inner));
      dst = buf[which].data();
      which ^= 1;
    }
    SumAxis(cur, outer, dims[g], inner, dst);
    cur = dst;
    dims.erase(dims.begin() + g);
    reduced.erase(reduced.begin() + g);
    --groups;
  }
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
