// Inverted dropout: a counter-based hash per element (Highway SIMD, dynamic dispatch),
// parallel over fixed chunks. The stream is defined by reference::DropoutHash.
#include "ops/dropout.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/splitmix.h"
#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/dropout.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/simd-inl.h"

#ifndef GRADWAY_OPS_DROPOUT_CC_ONCE_
#define GRADWAY_OPS_DROPOUT_CC_ONCE_
namespace gradway {
namespace ops {
namespace detail {

// The per-2^32-block key of element counter i (its high 32 bits).
inline uint64_t DropoutKey(uint64_t seed, uint64_t i) {
  return SplitMix64(seed ^ SplitMix64(i >> 32));
}

// Keep iff (hash >> 8) >= threshold: keep probability 1 - threshold / 2^24.
inline uint32_t DropoutThreshold(float rate) {
  const double t = std::floor(static_cast<double>(rate) * 16777216.0 + 0.5);
  return static_cast<uint32_t>(std::min(t, 16777216.0));
}

}  // namespace detail
}  // namespace ops
}  // namespace gradway
#endif  // GRADWAY_OPS_DROPOUT_CC_ONCE_

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

template <class DU, class VU>
HWY_INLINE VU Fmix32(DU du, VU h) {
  h = hn::Xor(h, hn::ShiftRight<16>(h));
  h = hn::Mul(h, hn::Set(du, 0x85EBCA6Bu));
  h = hn::Xor(h, hn::ShiftRight<13>(h));
  h = hn::Mul(h, hn::Set(du, 0xC2B2AE35u));
  return hn::Xor(h, hn::ShiftRight<16>(h));
}

void DropoutForwardImpl(const float* x, float* y, uint8_t* HWY_RESTRICT mask, int64_t n,
                        float rate, uint64_t seed) {
  const float scale = 1.0f / (1.0f - rate);
  const uint32_t threshold = detail::DropoutThreshold(rate);
  // Chunks are multiples of kElementGrain (a power of two), so none crosses a 2^32
  // boundary of the counter and vectors start at multiples of their lane count.
  ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    if (rate == 0.0f) {
      if (y != x) std::memmove(y + begin, x + begin, (end - begin) * sizeof(float));
      std::fill(mask + begin, mask + end, uint8_t{1});
      return;
    }
    const uint64_t key = detail::DropoutKey(seed, static_cast<uint64_t>(begin));
    const uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
    ForEachVec(begin, end, [&](auto d, int64_t i) {
      const hn::RebindToUnsigned<decltype(d)> du;
      const hn::RebindToSigned<decltype(d)> di;
      const hn::Rebind<uint8_t, decltype(du)> d8;
      const auto lo = hn::Iota(du, static_cast<uint32_t>(i));
      auto h = Fmix32(du, hn::Xor(hn::Mul(lo, hn::Set(du, 0x9E3779B9u)), hn::Set(du, k0)));
      h = Fmix32(du, hn::Add(h, hn::Set(du, k1)));
      // (h >> 8) < 2^24: a signed compare is exact; bits >= threshold as a Gt.
      const auto bits = hn::BitCast(di, hn::ShiftRight<8>(h));
      const auto keep_i = hn::Gt(bits, hn::Set(di, static_cast<int32_t>(threshold) - 1));
      const auto keep = hn::RebindMask(d, keep_i);
      const auto one = hn::IfThenElseZero(hn::RebindMask(du, keep_i), hn::Set(du, 1u));
      hn::StoreU(hn::U8FromU32(one), d8, mask + i);
      hn::StoreU(hn::IfThenElseZero(keep, hn::Mul(hn::LoadU(d, x + i), hn::Set(d, scale))),
                 d, y + i);
    });
  });
}

void DropoutBackwardImpl(const float* dy, const uint8_t* HWY_RESTRICT mask, float* dx,
                         int64_t n, float rate) {
  const float scale = 1.0f / (1.0f - rate);
  ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    ForEachVec(begin, end, [&](auto d, int64_t i) {
      const hn::RebindToUnsigned<decltype(d)> du;
      const hn::Rebind<uint8_t, decltype(du)> d8;
      const auto m = hn::PromoteTo(du, hn::LoadU(d8, mask + i));
      const auto keep = hn::RebindMask(d, hn::Ne(m, hn::Zero(du)));
      hn::StoreU(hn::IfThenElseZero(keep, hn::Mul(hn::LoadU(d, dy + i), hn::Set(d, scale))),
                 d, dx + i);
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

HWY_EXPORT(DropoutForwardImpl);
HWY_EXPORT(DropoutBackwardImpl);

void DropoutForward(const float* x, float* y, uint8_t* mask, int64_t n, float rate,
                    uint64_t seed) {
  HWY_DYNAMIC_DISPATCH(DropoutForwardImpl)(x, y, mask, n, rate, seed);
}

void DropoutBackward(const float* dy, const uint8_t* mask, float* dx, int64_t n,
                     float rate) {
  HWY_DYNAMIC_DISPATCH(DropoutBackwardImpl)(dy, mask, dx, n, rate);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
