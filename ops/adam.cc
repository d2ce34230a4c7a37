// Fused optimizer updates: one Highway SIMD pass (dynamic dispatch), parallel over fixed
// chunks. Scalar specification: ops/reference.h.
#include "ops/adam.h"

#include <cmath>
#include <vector>

#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/adam.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

// Decoupled weight decay (AdamW, Keras 3's weight_decay), shared by Adam and SGD:
// param - decay * param with decay = lr * weight_decay.
template <class D, class V>
HWY_INLINE V DecayWeights(D d, V param, float decay) {
  return hn::Sub(param, hn::Mul(hn::Set(d, decay), param));
}

void AdamImpl(float* HWY_RESTRICT param, const float* HWY_RESTRICT grad,
              float* HWY_RESTRICT m, float* HWY_RESTRICT v, int64_t n, float lr_t,
              float decay, const AdamParams& p) {
  const bool decoupled = p.weight_decay != 0.0f;
  ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    ForEachVec(begin, end, [&](auto d, int64_t i) {
      const auto g = hn::LoadU(d, grad + i);
      auto pv = hn::LoadU(d, param + i);
      if (decoupled) pv = DecayWeights(d, pv, decay);
      const auto mv = hn::Add(hn::Mul(hn::Set(d, p.beta1), hn::LoadU(d, m + i)),
                              hn::Mul(hn::Set(d, 1.0f - p.beta1), g));
      const auto vv = hn::Add(hn::Mul(hn::Set(d, p.beta2), hn::LoadU(d, v + i)),
                              hn::Mul(hn::Mul(hn::Set(d, 1.0f - p.beta2), g), g));
      const auto step = hn::Div(hn::Mul(hn::Set(d, lr_t), mv),
                                hn::Add(hn::Sqrt(vv), hn::Set(d, p.epsilon)));
      hn::StoreU(mv, d, m + i);
      hn::StoreU(vv, d, v + i);
      hn::StoreU(hn::Sub(pv, step), d, param + i);
    });
  });
}

void SgdImpl(float* HWY_RESTRICT param, const float* HWY_RESTRICT grad,
             float* HWY_RESTRICT velocity, int64_t n, float lr, float momentum,
             bool nesterov, float decay) {
  const bool decoupled = decay != 0.0f;
  ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    if (momentum == 0.0f) {
      ForEachVec(begin, end, [&](auto d, int64_t i) {
        auto pv = hn::LoadU(d, param + i);
        if (decoupled) pv = DecayWeights(d, pv, decay);
        const auto step = hn::Mul(hn::Set(d, lr), hn::LoadU(d, grad + i));
        hn::StoreU(hn::Sub(pv, step), d, param + i);
      });
      return;
    }
    ForEachVec(begin, end, [&](auto d, int64_t i) {
      auto pv = hn::LoadU(d, param + i);
      if (decoupled) pv = DecayWeights(d, pv, decay);
      const auto lr_g = hn::Mul(hn::Set(d, lr), hn::LoadU(d, grad + i));
      const auto vel =
          hn::Sub(hn::Mul(hn::Set(d, momentum), hn::LoadU(d, velocity + i)), lr_g);
      hn::StoreU(vel, d, velocity + i);
      const auto delta = nesterov ? hn::Sub(hn::Mul(hn::Set(d, momentum), vel), lr_g) : vel;
      hn::StoreU(hn::Add(pv, delta), d, param + i);
    });
  });
}

// Sums of squares of fixed chunks, added in chunk order in double.
double SumOfSquaresImpl(const float* HWY_RESTRICT x, int64_t n) {
  std::vector<float> partial(static_cast<size_t>(NumChunks(n, kElementGrain)));
  ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    const float* xb = x + begin;
    partial[static_cast<size_t>(begin / kElementGrain)] =
        SumOf(end - begin, [&](auto d, int64_t i) {
          const auto v = hn::LoadU(d, xb + i);
          return hn::Mul(v, v);
        });
  });
  double s = 0.0;
  for (float p : partial) s += p;
  return s;
}

void ClipByValueImpl(const float* x, float limit, float* y, int64_t n) {
  ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    ForEachVec(begin, end, [&](auto d, int64_t i) {
      const auto hi = hn::Set(d, limit), lo = hn::Set(d, -limit);
      auto v = hn::LoadU(d, x + i);
      // Comparisons rather than Min/Max, whose NaN handling differs between targets.
      v = hn::IfThenElse(hn::Gt(v, hi), hi, v);
      v = hn::IfThenElse(hn::Lt(v, lo), lo, v);
      hn::StoreU(v, d, y + i);
    });
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

HWY_EXPORT(AdamImpl);
HWY_EXPORT(SgdImpl);
HWY_EXPORT(SumOfSquaresImpl);
HWY_EXPORT(ClipByValueImpl);

void AdamUpdate(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamParams& p) {
  const double t = static_cast<double>(p.step);
  const float lr_t = static_cast<float>(p.lr * std::sqrt(1.0 - std::pow(double(p.beta2), t)) /
                                        (1.0 - std::pow(double(p.beta1), t)));
  const float decay = p.lr * p.weight_decay;
  HWY_DYNAMIC_DISPATCH(AdamImpl)(param, grad, m, v, n, lr_t, decay, p);
}

void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n, float lr,
               float momentum, bool nesterov) {
  HWY_DYNAMIC_DISPATCH(SgdImpl)(param, grad, velocity, n, lr, momentum, nesterov, 0.0f);
}

void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n,
               const SgdParams& p) {
  HWY_DYNAMIC_DISPATCH(SgdImpl)(param, grad, velocity, n, p.lr, p.momentum, p.nesterov,
                                p.lr * p.weight_decay);
}

double SumOfSquares(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  return HWY_DYNAMIC_DISPATCH(SumOfSquaresImpl)(x, n);
}

void ClipByValue(const float* x, float limit, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(ClipByValueImpl)(x, limit, y, n);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
