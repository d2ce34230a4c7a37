// Per-target SIMD helpers shared by the kernels in ops/ (Highway, dynamic dispatch).
// Include this from a .cc that re-includes itself through hwy/foreach_target.h, after
// hwy/highway.h; everything here lives in gradway::ops::HWY_NAMESPACE.
//
// Loops process whole vectors, then the tail one lane at a time through a 1-lane
// descriptor, so the same Highway code (and math) handles every element and no load
// or store ever touches memory outside [begin, end).

// Per-target include guard (the idiom of hwy/examples/skeleton-inl.h).
#if defined(GRADWAY_OPS_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef GRADWAY_OPS_SIMD_INL_H_
#undef GRADWAY_OPS_SIMD_INL_H_
#else
#define GRADWAY_OPS_SIMD_INL_H_
#endif

#include <cstdint>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using D1 = hn::CappedTag<float, 1>;

// Calls f(d, i) for every i in [begin, end): with the full vector descriptor d at
// i, i + Lanes(d), ... and with a one-lane descriptor for the remaining tail.
template <class F>
HWY_INLINE void ForEachVec(int64_t begin, int64_t end, const F& f) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = begin;
  for (; i + 2 * N <= end; i += 2 * N) {
    f(d, i);
    f(d, i + N);
  }
  for (; i + N <= end; i += N) f(d, i);
  const D1 d1;
  for (; i < end; ++i) f(d1, i);
}

// Elements per parallel chunk of the memory-bound kernels (64 KiB of floats).
constexpr int64_t kElementGrain = 16384;

// The sum over i in [0, n) of the lanes of f(d, i) (f loads at i and returns a vector of
// d), accumulated in a fixed order: two vector accumulators, then the one-lane tail.
template <class F>
HWY_INLINE float SumOf(int64_t n, const F& f) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::Add(s0, f(d, i));
    s1 = hn::Add(s1, f(d, i + N));
  }
  for (; i + N <= n; i += N) s0 = hn::Add(s0, f(d, i));
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  const D1 d1;
  for (; i < n; ++i) s += hn::GetLane(f(d1, i));
  return s;
}

// e^x with IEEE special cases: overflow to +inf above ln(FLT_MAX), NaN propagates,
// 0 below about -104 (Highway's Exp, within 1 ULP elsewhere).
template <class D, class V>
HWY_INLINE V SafeExp(D d, V x) {
  V y = hn::Exp(d, x);
  y = hn::IfThenElse(hn::Gt(x, hn::Set(d, 88.72283935546875f)),
                     hn::Set(d, std::numeric_limits<float>::infinity()), y);
  return hn::IfThenElse(hn::IsNaN(x), x, y);
}

// ln(x) with IEEE special cases: log(0) = -inf, log(+inf) = +inf, NaN for x < 0 or NaN.
template <class D, class V>
HWY_INLINE V SafeLog(D d, V x) {
  const V zero = hn::Zero(d);
  const V inf = hn::Set(d, std::numeric_limits<float>::infinity());
  V y = hn::Log(d, x);
  y = hn::IfThenElse(hn::Eq(x, zero), hn::Neg(inf), y);
  y = hn::IfThenElse(hn::Eq(x, inf), inf, y);
  return hn::IfThenElse(hn::Not(hn::Ge(x, zero)),
                        hn::Set(d, std::numeric_limits<float>::quiet_NaN()), y);
}

// 1 / (1 + e^-x).
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  return hn::Div(one, hn::Add(one, SafeExp(d, hn::Neg(x))));
}

// The sum of x[begin, end), accumulated in float over a fixed lane/accumulator layout
// (the result depends only on the data, the range and the target).
HWY_INLINE float SumRange(const float* HWY_RESTRICT x, int64_t begin, int64_t end) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  int64_t i = begin;
  for (; i + 4 * N <= end; i += 4 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, x + i));
    s1 = hn::Add(s1, hn::LoadU(d, x + i + N));
    s2 = hn::Add(s2, hn::LoadU(d, x + i + 2 * N));
    s3 = hn::Add(s3, hn::LoadU(d, x + i + 3 * N));
  }
  for (; i + N <= end; i += N) s0 = hn::Add(s0, hn::LoadU(d, x + i));
  s0 = hn::Add(hn::Add(s0, s1), hn::Add(s2, s3));
  float s = hn::GetLane(hn::SumOfLanes(d, s0));
  for (; i < end; ++i) s += x[i];
  return s;
}

// The maximum of x[begin, end) (begin < end).
HWY_INLINE float MaxRange(const float* HWY_RESTRICT x, int64_t begin, int64_t end) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  float m = x[begin];
  int64_t i = begin;
  if (end - begin >= N) {
    auto v = hn::LoadU(d, x + i);
    for (i += N; i + N <= end; i += N) v = hn::Max(v, hn::LoadU(d, x + i));
    m = hn::GetLane(hn::MaxOfLanes(d, v));
  }
  for (; i < end; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#endif  // GRADWAY_OPS_SIMD_INL_H_
