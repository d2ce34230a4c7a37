// 2-D pooling on NHWC: Highway SIMD over channels (dynamic dispatch), parallel over image
// rows. The backwards gather, for each input cell, the windows that contain it in output
// order: no scatter, no atomics, and the same bits for any thread count.
// Scalar specification: ops/reference.h.
#include "ops/pool.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/pool.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "ops/simd-inl.h"

#ifndef GRADWAY_OPS_POOL_CC_ONCE_
#define GRADWAY_OPS_POOL_CC_ONCE_
namespace gradway {
namespace ops {
namespace detail {

// For each input coordinate i < in: the range [lo, hi) of outputs whose window covers
// it (empty when i is covered by none), for a 1-D pooling axis.
struct Cover {
  std::vector<int64_t> lo, hi;
};

inline Cover CoverOf(int64_t in, int64_t out, int64_t pool, int64_t stride, int64_t pad) {
  Cover c;
  c.lo.resize(static_cast<size_t>(in));
  c.hi.resize(static_cast<size_t>(in));
  for (int64_t i = 0; i < in; ++i) {
    // Window o covers i iff o * stride - pad <= i < o * stride - pad + pool.
    const int64_t a = i + pad - pool + 1;  // o >= ceil(a / stride)
    const int64_t lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    const int64_t hi = std::min(out, (i + pad) / stride + 1);
    c.lo[i] = lo;
    c.hi[i] = std::max(lo, hi);
  }
  return c;
}

// The number of in-bounds cells of each window along one axis.
inline std::vector<int64_t> ValidCounts(int64_t in, int64_t out, int64_t pool,
                                        int64_t stride, int64_t pad) {
  std::vector<int64_t> count(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t b = std::max<int64_t>(0, o * stride - pad);
    const int64_t e = std::min(in, o * stride - pad + pool);
    count[o] = std::max<int64_t>(0, e - b);
  }
  return count;
}

}  // namespace detail
}  // namespace ops
}  // namespace gradway
#endif  // GRADWAY_OPS_POOL_CC_ONCE_

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

// Outputs at least this large are written with non-temporal stores (when aligned): they
// do not fit in the caches anyway, and streaming avoids reading each line before writing.
constexpr int64_t kStreamBytes = int64_t{4} << 20;

// True if vectors stored at p + k * Lanes (k >= 0) can be streamed: p vector-aligned,
// rows of C elements whole vectors, and `bytes` large.
template <typename T>
inline bool CanStream(const T* p, int64_t C, int64_t bytes) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  return N > 1 && bytes >= kStreamBytes && C % N == 0 &&
         reinterpret_cast<uintptr_t>(p) % (N * sizeof(float)) == 0;
}

// StoreU, or Stream for full vectors when `stream` (partial vectors never stream).
template <class D, class V, typename T>
HWY_INLINE void StoreOut(bool stream, V v, D d, T* HWY_RESTRICT p) {
  if (hn::MaxLanes(d) > 1 && stream) {
    hn::Stream(v, d, p);
  } else {
    hn::StoreU(v, d, p);
  }
}

// Output rows (n, oh) per parallel chunk: about kElementGrain input elements.
inline int64_t OutRowGrain(const Pool2DShape& s) {
  const int64_t per_row = std::max<int64_t>(1, s.out_w * s.c * s.pool_h * s.pool_w);
  return std::max<int64_t>(1, kElementGrain / per_row);
}

inline int64_t InRowGrain(const Pool2DShape& s) {
  return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, s.w * s.c));
}

void MaxPoolForwardImpl(const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
                        int32_t* HWY_RESTRICT argmax, const Pool2DShape& s) {
  const int64_t C = s.c;
  const int64_t out_bytes = s.n * s.out_h * s.out_w * C * static_cast<int64_t>(sizeof(float));
  const bool stream_y = CanStream(y, C, out_bytes);
  const bool stream_i = argmax != nullptr && CanStream(argmax, C, out_bytes);
  ParallelFor(s.n * s.out_h, OutRowGrain(s), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / s.out_h, oh = r % s.out_h;
      const int64_t h0 = std::max<int64_t>(0, oh * s.stride_h - s.pad_top);
      const int64_t h1 = std::min(s.h, oh * s.stride_h - s.pad_top + s.pool_h);
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        const int64_t w0 = std::max<int64_t>(0, ow * s.stride_w - s.pad_left);
        const int64_t w1 = std::min(s.w, ow * s.stride_w - s.pad_left + s.pool_w);
        const int64_t o = (r * s.out_w + ow) * C;
        if (h0 >= h1 || w0 >= w1) {  // no in-bounds cell (cannot happen with Keras rules)
          std::fill(y + o, y + o + C, 0.0f);
          if (argmax != nullptr) std::fill(argmax + o, argmax + o + C, -1);
          continue;
        }
        const int64_t first = ((n * s.h + h0) * s.w + w0) * C;
        ForEachVec(0, C, [&](auto d, int64_t c) {
          const hn::RebindToSigned<decltype(d)> di;
          auto best = hn::LoadU(d, x + first + c);
          auto best_i = hn::Iota(di, static_cast<int32_t>(first + c));
          for (int64_t ih = h0; ih < h1; ++ih) {
            for (int64_t iw = w0; iw < w1; ++iw) {
              const int64_t i = ((n * s.h + ih) * s.w + iw) * C + c;
              const auto v = hn::LoadU(d, x + i);
              const auto gt = hn::Gt(v, best);  // strict: the first maximum wins
              best = hn::IfThenElse(gt, v, best);
              if (argmax != nullptr) {
                best_i = hn::IfThenElse(hn::RebindMask(di, gt),
                                        hn::Iota(di, static_cast<int32_t>(i)), best_i);
              }
            }
          }
          StoreOut(stream_y, best, d, y + o + c);
          if (argmax != nullptr) StoreOut(stream_i, best_i, di, argmax + o + c);
        });
      }
    }
    if (stream_y || stream_i) hwy::FlushStream();
  });
}

// dx for input rows [n, ih) in [r0, r1): for each cell, the sum over the covering
// windows (in output order) of contribution(d, o, c, cell_index).
template <class Contribution>
HWY_INLINE void GatherBackward(const Pool2DShape& s, float* HWY_RESTRICT dx,
                               const Contribution& contribution) {
  const int64_t C = s.c;
  const detail::Cover ch = detail::CoverOf(s.h, s.out_h, s.pool_h, s.stride_h, s.pad_top);
  const detail::Cover cw = detail::CoverOf(s.w, s.out_w, s.pool_w, s.stride_w, s.pad_left);
  const bool stream = CanStream(dx, C, s.n * s.h * s.w * C * static_cast<int64_t>(sizeof(float)));
  ParallelFor(s.n * s.h, InRowGrain(s), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / s.h, ih = r % s.h;
      for (int64_t iw = 0; iw < s.w; ++iw) {
        const int64_t cell = (r * s.w + iw) * C;
        ForEachVec(0, C, [&](auto d, int64_t c) {
          auto acc = hn::Zero(d);
          for (int64_t oh = ch.lo[ih]; oh < ch.hi[ih]; ++oh) {
            for (int64_t ow = cw.lo[iw]; ow < cw.hi[iw]; ++ow) {
              const int64_t o = ((n * s.out_h + oh) * s.out_w + ow) * C + c;
              acc = hn::Add(acc, contribution(d, o, oh, ow, cell + c));
            }
          }
          StoreOut(stream, acc, d, dx + cell + c);
        });
      }
    }
    if (stream) hwy::FlushStream();
  });
}

// Max-pool backward when the windows tile the input without overlap (stride == pool, no
// padding, every window inside the input): each cell is covered by at most one window, so each window's argmax and dy
// are read once and its cells written directly (cells past the last window get 0). The
// same values as the gather (0 + the one contribution).
void MaxPoolBackwardTiled(const float* HWY_RESTRICT dy, const int32_t* HWY_RESTRICT argmax,
                          float* HWY_RESTRICT dx, const Pool2DShape& s) {
  const int64_t C = s.c, ph = s.pool_h, pw = s.pool_w;
  const bool stream = CanStream(dx, C, s.n * s.h * s.w * C * static_cast<int64_t>(sizeof(float)));
  const int64_t grain = std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, ph * s.w * C));
  ParallelFor(s.n * s.out_h, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / s.out_h, oh = r % s.out_h;
      // Input rows of this window row (and, for the last one, the uncovered rows below).
      const int64_t ih0 = oh * ph;
      const int64_t ih1 = oh + 1 == s.out_h ? s.h : ih0 + ph;
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        const int64_t o = (r * s.out_w + ow) * C;
        ForEachVec(0, C, [&](auto d, int64_t c) {
          const hn::RebindToSigned<decltype(d)> di;
          const auto am = hn::LoadU(di, argmax + o + c);
          const auto g = hn::LoadU(d, dy + o + c);
          for (int64_t dh = 0; dh < ph; ++dh) {
            for (int64_t dw = 0; dw < pw; ++dw) {
              const int64_t cell = ((n * s.h + ih0 + dh) * s.w + ow * pw + dw) * C + c;
              const auto hit = hn::Eq(am, hn::Iota(di, static_cast<int32_t>(cell)));
              StoreOut(stream, hn::Add(hn::Zero(d), hn::IfThenElseZero(hn::RebindMask(d, hit), g)),
                       d, dx + cell);
            }
          }
        });
      }
      // Columns right of the last window, and rows below the last window row: zero.
      for (int64_t ih = ih0; ih < ih1; ++ih) {
        const int64_t iw0 = ih < ih0 + ph ? s.out_w * pw : 0;
        const int64_t b = ((n * s.h + ih) * s.w + iw0) * C, e = ((n * s.h + ih) * s.w + s.w) * C;
        ForEachVec(b, e, [&](auto d, int64_t i) { StoreOut(stream, hn::Zero(d), d, dx + i); });
      }
    }
    if (stream) hwy::FlushStream();
  });
}

void MaxPoolBackwardImpl(const float* HWY_RESTRICT dy, const int32_t* HWY_RESTRICT argmax,
                         float* HWY_RESTRICT dx, const Pool2DShape& s) {
  if (s.stride_h == s.pool_h && s.stride_w == s.pool_w && s.pad_top == 0 &&
      s.pad_left == 0 && s.out_h > 0 && s.out_w > 0 && s.out_h * s.pool_h <= s.h &&
      s.out_w * s.pool_w <= s.w) {
    return MaxPoolBackwardTiled(dy, argmax, dx, s);
  }
  GatherBackward(s, dx, [&](auto d, int64_t o, int64_t, int64_t, int64_t i) {
    const hn::RebindToSigned<decltype(d)> di;
    const auto hit = hn::Eq(hn::LoadU(di, argmax + o), hn::Iota(di, static_cast<int32_t>(i)));
    return hn::IfThenElseZero(hn::RebindMask(d, hit), hn::LoadU(d, dy + o));
  });
}

void AvgPoolForwardImpl(const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
                        const Pool2DShape& s) {
  const int64_t C = s.c;
  ParallelFor(s.n * s.out_h, OutRowGrain(s), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / s.out_h, oh = r % s.out_h;
      const int64_t h0 = std::max<int64_t>(0, oh * s.stride_h - s.pad_top);
      const int64_t h1 = std::min(s.h, oh * s.stride_h - s.pad_top + s.pool_h);
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        const int64_t w0 = std::max<int64_t>(0, ow * s.stride_w - s.pad_left);
        const int64_t w1 = std::min(s.w, ow * s.stride_w - s.pad_left + s.pool_w);
        const int64_t count = std::max<int64_t>(0, h1 - h0) * std::max<int64_t>(0, w1 - w0);
        const float fcount = static_cast<float>(count);
        const int64_t o = (r * s.out_w + ow) * C;
        ForEachVec(0, C, [&](auto d, int64_t c) {
          auto sum = hn::Zero(d);
          for (int64_t ih = h0; ih < h1; ++ih) {
            for (int64_t iw = w0; iw < w1; ++iw) {
              sum = hn::Add(sum, hn::LoadU(d, x + ((n * s.h + ih) * s.w + iw) * C + c));
            }
          }
          if (count > 0) sum = hn::Div(sum, hn::Set(d, fcount));
          hn::StoreU(sum, d, y + o + c);
        });
      }
    }
  });
}

void AvgPoolBackwardImpl(const float* HWY_RESTRICT dy, float* HWY_RESTRICT dx,
                         const Pool2DShape& s) {
  const std::vector<int64_t> count_h =
      detail::ValidCounts(s.h, s.out_h, s.pool_h, s.stride_h, s.pad_top);
  const std::vector<int64_t> count_w =
      detail::ValidCounts(s.w, s.out_w, s.pool_w, s.stride_w, s.pad_left);
  GatherBackward(s, dx, [&](auto d, int64_t o, int64_t oh, int64_t ow, int64_t) {
    const float count = static_cast<float>(count_h[oh] * count_w[ow]);
    return hn::Div(hn::LoadU(d, dy + o), hn::Set(d, count));
  });
}

// Samples per parallel chunk of the global pools: about kElementGrain input elements.
inline int64_t SampleGrain(int64_t hw, int64_t c) {
  return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, hw * c));
}

// Rows (sample, position) per parallel chunk of the global pools' backwards.
inline int64_t RowGrain(int64_t c) {
  return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, c));
}

// Positions outer, channels inner: x is read once, in memory order, and each channel's
// running sum (kept in y, in L1) adds the positions in order.
void GlobalAvgPoolForwardImpl(const float* HWY_RESTRICT x, float* HWY_RESTRICT y, int64_t n,
                              int64_t hw, int64_t c) {
  ParallelFor(n, SampleGrain(hw, c), [&](int64_t n0, int64_t n1) {
    for (int64_t b = n0; b < n1; ++b) {
      float* HWY_RESTRICT yb = y + b * c;
      const float* HWY_RESTRICT xb = x + b * hw * c;
      std::fill(yb, yb + c, 0.0f);
      for (int64_t i = 0; i < hw; ++i) {
        ForEachVec(0, c, [&](auto d, int64_t ch) {
          hn::StoreU(hn::Add(hn::LoadU(d, yb + ch), hn::LoadU(d, xb + i * c + ch)), d, yb + ch);
        });
      }
      const float count = static_cast<float>(hw);
      ForEachVec(0, c, [&](auto d, int64_t ch) {
        hn::StoreU(hn::Div(hn::LoadU(d, yb + ch), hn::Set(d, count)), d, yb + ch);
      });
    }
  });
}

void GlobalAvgPoolBackwardImpl(const float* HWY_RESTRICT dy, float* HWY_RESTRICT dx, int64_t n,
                               int64_t hw, int64_t c) {
  const float count = static_cast<float>(hw);
  ParallelFor(n * hw, RowGrain(c), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* HWY_RESTRICT g = dy + (r / hw) * c;
      ForEachVec(0, c, [&](auto d, int64_t ch) {
        hn::StoreU(hn::Div(hn::LoadU(d, g + ch), hn::Set(d, count)), d, dx + r * c + ch);
      });
    }
  });
}

// The running maximum and its position live in y and argmax (or a local buffer when argmax
// is null) while the positions are read in memory order.
void GlobalMaxPoolForwardImpl(const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
                              int32_t* HWY_RESTRICT argmax, int64_t n, int64_t hw, int64_t c) {
  ParallelFor(n, SampleGrain(hw, c), [&](int64_t n0, int64_t n1) {
    std::vector<int32_t> local(argmax == nullptr ? static_cast<size_t>(c) : 0);
    for (int64_t b = n0; b < n1; ++b) {
      float* HWY_RESTRICT yb = y + b * c;
      int32_t* HWY_RESTRICT ab = argmax != nullptr ? argmax + b * c : local.data();
      const float* HWY_RESTRICT xb = x + b * hw * c;
      std::copy(xb, xb + c, yb);
      std::fill(ab, ab + c, 0);
      for (int64_t i = 1; i < hw; ++i) {
        ForEachVec(0, c, [&](auto d, int64_t ch) {
          const hn::RebindToSigned<decltype(d)> di;
          const auto v = hn::LoadU(d, xb + i * c + ch);
          const auto best = hn::LoadU(d, yb + ch);
          // PyTorch's rule: greater (so the first maximum wins ties), or NaN.
          const auto take = hn::Or(hn::Gt(v, best), hn::IsNaN(v));
          hn::StoreU(hn::IfThenElse(take, v, best), d, yb + ch);
          hn::StoreU(hn::IfThenElse(hn::RebindMask(di, take),
                                    hn::Set(di, static_cast<int32_t>(i)), hn::LoadU(di, ab + ch)),
                     di, ab + ch);
        });
      }
    }
  });
}

void GlobalMaxPoolBackwardImpl(const float* HWY_RESTRICT dy, const int32_t* HWY_RESTRICT argmax,
                               float* HWY_RESTRICT dx, int64_t n, int64_t hw, int64_t c) {
  ParallelFor(n * hw, RowGrain(c), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / hw;
      const int32_t i = static_cast<int32_t>(r % hw);
      ForEachVec(0, c, [&](auto d, int64_t ch) {
        const hn::RebindToSigned<decltype(d)> di;
        const auto hit = hn::Eq(hn::LoadU(di, argmax + b * c + ch), hn::Set(di, i));
        const auto g = hn::IfThenElseZero(hn::RebindMask(d, hit), hn::LoadU(d, dy + b * c + ch));
        hn::StoreU(hn::Add(hn::Zero(d), g), d, dx + r * c + ch);
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

HWY_EXPORT(MaxPoolForwardImpl);
HWY_EXPORT(MaxPoolBackwardImpl);
HWY_EXPORT(AvgPoolForwardImpl);
HWY_EXPORT(AvgPoolBackwardImpl);
HWY_EXPORT(GlobalAvgPoolForwardImpl);
HWY_EXPORT(GlobalAvgPoolBackwardImpl);
HWY_EXPORT(GlobalMaxPoolForwardImpl);
HWY_EXPORT(GlobalMaxPoolBackwardImpl);

Pool2DShape MakePool2DShape(int64_t n, int64_t h, int64_t w, int64_t c, int64_t pool_h,
                            int64_t pool_w, int64_t stride_h, int64_t stride_w,
                            Padding padding) {
  if (n < 0 || h < 0 || w < 0 || c < 0 || pool_h < 1 || pool_w < 1 || stride_h < 1 ||
      stride_w < 1) {
    throw std::invalid_argument(
        "MakePool2DShape: invalid pooling of [" + std::to_string(n) + ", " +
        std::to_string(h) + ", " + std::to_string(w) + ", " + std::to_string(c) +
        "] with pool " + std::to_string(pool_h) + "x" + std::to_string(pool_w) +
        ", strides " + std::to_string(stride_h) + "x" + std::to_string(stride_w));
  }
  Pool2DShape s{n, h, w, c, pool_h, pool_w, stride_h, stride_w, 0, 0, 0, 0};
  s.out_h = WindowOutputSize(h, pool_h, stride_h, padding);
  s.out_w = WindowOutputSize(w, pool_w, stride_w, padding);
  s.pad_top = WindowPadBefore(h, pool_h, stride_h, padding);
  s.pad_left = WindowPadBefore(w, pool_w, stride_w, padding);
  return s;
}

void MaxPool2DForward(const float* x, float* y, int32_t* argmax, const Pool2DShape& shape) {
  HWY_DYNAMIC_DISPATCH(MaxPoolForwardImpl)(x, y, argmax, shape);
}

void MaxPool2DBackward(const float* dy, const int32_t* argmax, float* dx,
                       const Pool2DShape& shape) {
  HWY_DYNAMIC_DISPATCH(MaxPoolBackwardImpl)(dy, argmax, dx, shape);
}

void AvgPool2DForward(const float* x, float* y, const Pool2DShape& shape) {
  HWY_DYNAMIC_DISPATCH(AvgPoolForwardImpl)(x, y, shape);
}

void AvgPool2DBackward(const float* dy, float* dx, const Pool2DShape& shape) {
  HWY_DYNAMIC_DISPATCH(AvgPoolBackwardImpl)(dy, dx, shape);
}

void GlobalAvgPool2DForward(const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
  HWY_DYNAMIC_DISPATCH(GlobalAvgPoolForwardImpl)(x, y, n, hw, c);
}

void GlobalAvgPool2DBackward(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c) {
  HWY_DYNAMIC_DISPATCH(GlobalAvgPoolBackwardImpl)(dy, dx, n, hw, c);
}

void GlobalMaxPool2DForward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t hw,
                            int64_t c) {
  HWY_DYNAMIC_DISPATCH(GlobalMaxPoolForwardImpl)(x, y, argmax, n, hw, c);
}

void GlobalMaxPool2DBackward(const float* dy, const int32_t* argmax, float* dx, int64_t n,
                             int64_t hw, int64_t c) {
  HWY_DYNAMIC_DISPATCH(GlobalMaxPoolBackwardImpl)(dy, argmax, dx, n, hw, c);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
