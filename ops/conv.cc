// 2-D convolution: the direct path (im2col tiles + GEMM, ops/matmul.h) here, Winograd for
// 3x3 stride-1 kernels in ops/winograd.cc; Conv2DAlgorithmFor picks one per shape and pass.
//
// The patch matrix of one image has a row per output pixel and a column per (ky, kx, ci)
// tap, so with HWIO weights seen as a [kh*kw*cin, cout] matrix:
//   forward          y_tile   = patches · W (+ bias)
//   backward data    dpatches = dy_tile · Wᵀ, scattered back (col2im) into dx
//   backward weights dW      += patchesᵀ · dy_tile, db += column sums of dy_tile
// Tiles are a few output rows of one image (about 1 MiB of patches), built in a per-thread
// buffer: the whole patch matrix never exists.
//
// Tiny input depth (cin <= kDirectMaxCin, e.g. a first layer on grey or RGB images): the
// patch rows are too short for a GEMM to pay off, so the forward pass and the weight
// gradient run direct SIMD loops over output channels instead (Highway dynamic dispatch):
//   y[p, :]      += x[p + tap] * w[tap, :]   (6 output pixels x 2 vectors at a time)
//   dw[tap, :]   += x[p + tap] * dy[p, :]    (9 taps x 2 vectors summed in registers
//                                             over an output row; 4 taps on AVX2)
//
// Fused ReLU on the direct path: the forward applies max(y, 0) in its GEMMs' epilogue
// (ops/matmul.h, Epilogue::kRelu) or in the direct loops' stores; the backward
// kernels mask each dy tile (dy where relu_y > 0) into a per-thread tile buffer before its
// GEMM, or in registers in the direct loops. No full-size masked copy of dy is made.
#include "ops/conv.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/runtime.h"
#include "base/scratch.h"
#include "ops/matmul.h"
#include "ops/parallel.h"
#include "ops/winograd.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/conv.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include "ops/simd-inl.h"

#ifndef GRADWAY_OPS_CONV_CC_ONCE_
#define GRADWAY_OPS_CONV_CC_ONCE_
namespace gradway {
namespace ops {
namespace conv_detail {

// Input depths up to this use the direct forward / weight-gradient loops.
constexpr int64_t kDirectMaxCin = 4;

// Output columns [lo, hi) whose kw taps all lie inside the input row.
struct Interior {
  int64_t lo, hi;
};

inline Interior InteriorColumns(const Conv2DShape& s) {
  // ox * sw - pl >= 0 and ox * sw - pl + kw <= w.
  const int64_t lo = std::min(s.out_w, (s.pad_left + s.stride_w - 1) / s.stride_w);
  const int64_t last = s.w - s.kw + s.pad_left;  // largest ox * sw allowed
  const int64_t hi = last < 0 ? 0 : std::min(s.out_w, last / s.stride_w + 1);
  return {lo, std::max(lo, hi)};
}

}  // namespace conv_detail
}  // namespace ops
}  // namespace gradway
#endif  // GRADWAY_OPS_CONV_CC_ONCE_

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Calls f(d, nv, j) on blocks of output channels that cover [0, cout) in order: two full
// vectors at a time (nv: std::integral_constant<size_t, 2>), then one, then vectors of at
// most 8 and at most 4 lanes (on AVX-512: a 16-channel remainder of 8 + 4 + 3 runs 8-, 4-
// and 1-lane blocks; where a full vector is that short already, those loops find nothing
// left), then single lanes (nv: std::integral_constant<size_t, 1>).
template <class F>
HWY_INLINE void ForEachChannelBlock(int64_t cout, const F& f) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 8> d8;
  const hn::CappedTag<float, 4> d4;
  const hn::CappedTag<float, 1> d1;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t n8 = static_cast<int64_t>(hn::Lanes(d8)), n4 = static_cast<int64_t>(hn::Lanes(d4));
  using Two = std::integral_constant<size_t, 2>;
  using One = std::integral_constant<size_t, 1>;
  int64_t j = 0;
  for (; j + 2 * N <= cout; j += 2 * N) f(d, Two(), j);
  for (; j + N <= cout; j += N) f(d, One(), j);
  for (; j + n8 <= cout; j += n8) f(d8, One(), j);
  for (; j + n4 <= cout; j += n4) f(d4, One(), j);
  for (; j < cout; ++j) f(d1, One(), j);
}

// The direct loops' register blocks: accumulators aI0, aI1 (kNV of them) of row I < COUNT
// of a block get x * B0 and x * B1, x = SCALAR broadcast.
#define GW_CONV_FMA(I, COUNT, SCALAR, B0, B1)                        \
  if constexpr (COUNT > I) {                                         \
    const V xv = hn::Set(d, SCALAR);                                 \
    a##I##0 = hn::MulAdd(xv, B0, a##I##0);                           \
    if constexpr (kNV > 1) a##I##1 = hn::MulAdd(xv, B1, a##I##1);    \
  }

// Forward, direct, interior pixels [ox, ox + kPix) of output row oy (every kw tap inside
// the input row) and kernel rows [ky0, ky1), output channels [j, j + kNV * Lanes(d)).
// img: [h, w, cin]; w: [kh, kw, cin, cout]; yrow: the row's [out_w, cout] outputs. Each
// output sums its taps in (ky, kx, ci) order from zero, then adds the bias (and the fused
// ReLU): the same arithmetic for every kPix and kNV, so the blocking changes no bit.
template <size_t kPix, size_t kNV, class D>
HWY_INLINE void DirectForwardBlock(D d, const float* HWY_RESTRICT img,
                                   const float* HWY_RESTRICT w, const float* HWY_RESTRICT bias,
                                   bool relu, float* HWY_RESTRICT yrow, const Conv2DShape& s,
                                   int64_t ky0, int64_t ky1, int64_t oy, int64_t ox, int64_t j) {
  static_assert(kPix >= 1 && kPix <= 6 && kNV >= 1 && kNV <= 2, "6 x 2 accumulators at most");
  using V = hn::Vec<D>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t cin = s.cin, cout = s.cout, sx = s.stride_w * cin, run = s.kw * cin;
  // Named accumulators: GCC keeps an array of vectors on the stack in the loop.
  V a00 = hn::Zero(d), a01 = hn::Zero(d), a10 = hn::Zero(d), a11 = hn::Zero(d);
  V a20 = hn::Zero(d), a21 = hn::Zero(d), a30 = hn::Zero(d), a31 = hn::Zero(d);
  V a40 = hn::Zero(d), a41 = hn::Zero(d), a50 = hn::Zero(d), a51 = hn::Zero(d);
  for (int64_t ky = ky0; ky < ky1; ++ky) {
    const float* HWY_RESTRICT xp =
        img + ((oy * s.stride_h - s.pad_top + ky) * s.w + ox * s.stride_w - s.pad_left) * cin;
    const float* HWY_RESTRICT wp = w + ky * run * cout + j;
    for (int64_t q = 0; q < run; ++q) {
      const V w0 = hn::LoadU(d, wp + q * cout);
      const V w1 = kNV > 1 ? hn::LoadU(d, wp + q * cout + N) : w0;
      GW_CONV_FMA(0, kPix, xp[q], w0, w1)
      GW_CONV_FMA(1, kPix, xp[q + sx], w0, w1)
      GW_CONV_FMA(2, kPix, xp[q + 2 * sx], w0, w1)
      GW_CONV_FMA(3, kPix, xp[q + 3 * sx], w0, w1)
      GW_CONV_FMA(4, kPix, xp[q + 4 * sx], w0, w1)
      GW_CONV_FMA(5, kPix, xp[q + 5 * sx], w0, w1)
    }
  }
  // acc + bias, then the fused ReLU, stored.
  auto store = [&](V a, size_t p, size_t v) HWY_ATTR {
    const int64_t jv = j + static_cast<int64_t>(v) * N;
    a = hn::Add(a, bias ? hn::LoadU(d, bias + jv) : hn::Zero(d));
    if (relu) a = hn::IfThenElseZero(hn::Gt(a, hn::Zero(d)), a);
    hn::StoreU(a, d, yrow + (ox + static_cast<int64_t>(p)) * cout + jv);
  };
  const V acc[6][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
  for (size_t p = 0; p < kPix; ++p) {
    for (size_t v = 0; v < kNV; ++v) store(acc[p][v], p, v);
  }
}

// Forward, direct: output row oy of one image, output channels [j, j + kNV * Lanes(d)).
// Border pixels (taps past the input's edge) are summed one at a time with bounds checks,
// the interior kPixels at a time.
template <size_t kNV, class D>
HWY_INLINE void DirectForwardRow(D d, const float* HWY_RESTRICT img,
                                 const float* HWY_RESTRICT w, const float* HWY_RESTRICT bias,
                                 bool relu, float* HWY_RESTRICT yrow, const Conv2DShape& s,
                                 const conv_detail::Interior& in, int64_t oy, int64_t j) {
  using V = hn::Vec<D>;
  // 6 pixels x 2 vectors: 12 accumulators, within AVX2's 16 registers.
  constexpr size_t kPixels = 6;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t cin = s.cin, cout = s.cout;
  const int64_t ky0 = std::max<int64_t>(0, s.pad_top - oy * s.stride_h);
  const int64_t ky1 = std::min(s.kh, s.h + s.pad_top - oy * s.stride_h);
  // One pixel with bounds checks on the columns.
  auto one = [&](int64_t ox) HWY_ATTR {
    for (size_t v = 0; v < kNV; ++v) {
      const int64_t jv = j + static_cast<int64_t>(v) * N;
      V a = hn::Zero(d);
      for (int64_t ky = ky0; ky < ky1; ++ky) {
        const float* xr = img + (oy * s.stride_h - s.pad_top + ky) * s.w * cin;
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          const int64_t ix = ox * s.stride_w - s.pad_left + kx;
          if (ix < 0 || ix >= s.w) continue;
          const int64_t t = (ky * s.kw + kx) * cin;
          for (int64_t ci = 0; ci < cin; ++ci) {
            a = hn::MulAdd(hn::Set(d, xr[ix * cin + ci]), hn::LoadU(d, w + (t + ci) * cout + jv),
                           a);
          }
        }
      }
      a = hn::Add(a, bias ? hn::LoadU(d, bias + jv) : hn::Zero(d));
      if (relu) a = hn::IfThenElseZero(hn::Gt(a, hn::Zero(d)), a);
      hn::StoreU(a, d, yrow + ox * cout + jv);
    }
  };
  int64_t ox = 0;
  for (; ox < in.lo; ++ox) one(ox);
  for (; ox + static_cast<int64_t>(kPixels) <= in.hi; ox += kPixels) {
    DirectForwardBlock<kPixels, kNV>(d, img, w, bias, relu, yrow, s, ky0, ky1, oy, ox, j);
  }
  for (; ox < in.hi; ++ox) {
    DirectForwardBlock<1, kNV>(d, img, w, bias, relu, yrow, s, ky0, ky1, oy, ox, j);
  }
  for (; ox < s.out_w; ++ox) one(ox);
}

// y for images [i0, i1). x: [n, h, w, cin]; y: [n, out_h, out_w, cout], overwritten.
void DirectForward(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w,
                   const float* HWY_RESTRICT bias, bool relu, float* HWY_RESTRICT y,
                   const Conv2DShape& s, int64_t i0, int64_t i1) {
  const conv_detail::Interior in = conv_detail::InteriorColumns(s);
  for (int64_t img = i0; img < i1; ++img) {
    const float* xi = x + img * s.h * s.w * s.cin;
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      float* yrow = y + (img * s.out_h + oy) * s.out_w * s.cout;
      ForEachChannelBlock(s.cout, [&](auto d, auto nv, int64_t j) HWY_ATTR {
        DirectForwardRow<decltype(nv)::value>(d, xi, w, bias, relu, yrow, s, in, oy, j);
      });
    }
  }
}

// Most taps per register block of the direct weight gradient: 9 x 2 accumulators with
// AVX-512's 32 registers, 4 x 2 within AVX2's 16.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr int64_t kWeightTaps = 9;
#else
constexpr int64_t kWeightTaps = 4;
#endif

// Weight gradient, direct, interior pixels [ox0, ox1) of one output row (every tap inside
// the image): adds to pdw rows t0 .. t0 + kTaps - 1 (flat (ky, kx, ci) taps), output
// channels [j, j + kNV * Lanes(d)), sum over the pixels of x[pixel + tap] * dy[pixel].
// xb: the input under pixel ox0's first kernel row inside the image (ky0); tap t0 + t
// reads x at offset off[t] from there (and sx further per pixel);
// grad(ox, v): the (masked) dy vector v of pixel ox. Each tap's sum over the row is formed in
// registers, in pixel order, then added to pdw.
template <size_t kTaps, size_t kNV, class D, class Grad>
HWY_INLINE void DirectWeightsBlock(D d, const float* HWY_RESTRICT xb,
                                   const int64_t* HWY_RESTRICT off, int64_t sx,
                                   const Grad& grad, int64_t ox0, int64_t ox1,
                                   float* HWY_RESTRICT pdw, int64_t cout, int64_t t0,
                                   int64_t j) {
  static_assert(kTaps >= 1 && kTaps <= 9 && kNV >= 1 && kNV <= 2, "9 x 2 accumulators at most");
  using V = hn::Vec<D>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  // Named accumulators: GCC keeps an array of vectors on the stack in the loop.
  V a00 = hn::Zero(d), a01 = hn::Zero(d), a10 = hn::Zero(d), a11 = hn::Zero(d);
  V a20 = hn::Zero(d), a21 = hn::Zero(d), a30 = hn::Zero(d), a31 = hn::Zero(d);
  V a40 = hn::Zero(d), a41 = hn::Zero(d), a50 = hn::Zero(d), a51 = hn::Zero(d);
  V a60 = hn::Zero(d), a61 = hn::Zero(d), a70 = hn::Zero(d), a71 = hn::Zero(d);
  V a80 = hn::Zero(d), a81 = hn::Zero(d);
  const int64_t o0 = off[0], o1 = kTaps > 1 ? off[1] : 0, o2 = kTaps > 2 ? off[2] : 0;
  const int64_t o3 = kTaps > 3 ? off[3] : 0, o4 = kTaps > 4 ? off[4] : 0;
  const int64_t o5 = kTaps > 5 ? off[5] : 0, o6 = kTaps > 6 ? off[6] : 0;
  const int64_t o7 = kTaps > 7 ? off[7] : 0, o8 = kTaps > 8 ? off[8] : 0;
  for (int64_t ox = ox0; ox < ox1; ++ox) {
    const float* HWY_RESTRICT xp = xb + (ox - ox0) * sx;
    const V g0 = grad(ox, 0);
    const V g1 = kNV > 1 ? grad(ox, 1) : g0;
    GW_CONV_FMA(0, kTaps, xp[o0], g0, g1)
    GW_CONV_FMA(1, kTaps, xp[o1], g0, g1)
    GW_CONV_FMA(2, kTaps, xp[o2], g0, g1)
    GW_CONV_FMA(3, kTaps, xp[o3], g0, g1)
    GW_CONV_FMA(4, kTaps, xp[o4], g0, g1)
    GW_CONV_FMA(5, kTaps, xp[o5], g0, g1)
    GW_CONV_FMA(6, kTaps, xp[o6], g0, g1)
    GW_CONV_FMA(7, kTaps, xp[o7], g0, g1)
    GW_CONV_FMA(8, kTaps, xp[o8], g0, g1)
  }
  const V acc[9][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41},
                       {a50, a51}, {a60, a61}, {a70, a71}, {a80, a81}};
  for (size_t t = 0; t < kTaps; ++t) {
    for (size_t v = 0; v < kNV; ++v) {
      float* o = pdw + (t0 + static_cast<int64_t>(t)) * cout + j + static_cast<int64_t>(v) * N;
      hn::StoreU(hn::Add(hn::LoadU(d, o), acc[t][v]), d, o);
    }
  }
}

// Weight gradient, direct: adds output row oy's contributions, for output channels
// [j, j + kNV * Lanes(d)), to pdw [kh, kw, cin, cout] and pdb [cout]. The interior pixels
// go through DirectWeightsBlock, kWeightTaps taps at a time; border pixels (taps past the
// input's edge) add their in-bounds taps one at a time. maskrow (the row of relu_y, or
// null): dy is read as 0 where it is not > 0.
template <size_t kNV, class D>
HWY_INLINE void DirectWeightsRow(D d, const float* HWY_RESTRICT img,
                                 const float* HWY_RESTRICT dyrow,
                                 const float* HWY_RESTRICT maskrow, float* HWY_RESTRICT pdw,
                                 float* HWY_RESTRICT pdb, const Conv2DShape& s,
                                 const conv_detail::Interior& in, int64_t oy, int64_t j) {
  using V = hn::Vec<D>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t cin = s.cin, cout = s.cout, run = s.kw * cin, sx = s.stride_w * cin;
  auto grad = [&](int64_t ox, size_t v) HWY_ATTR {
    const int64_t at = ox * cout + j + static_cast<int64_t>(v) * N;
    const V g = hn::LoadU(d, dyrow + at);
    if (!maskrow) return g;
    return hn::IfThenElseZero(hn::Gt(hn::LoadU(d, maskrow + at), hn::Zero(d)), g);
  };
  for (size_t v = 0; v < kNV; ++v) {
    V a0 = hn::Zero(d), a1 = hn::Zero(d);
    int64_t ox = 0;
    for (; ox + 2 <= s.out_w; ox += 2) {
      a0 = hn::Add(a0, grad(ox, v));
      a1 = hn::Add(a1, grad(ox + 1, v));
    }
    if (ox < s.out_w) a0 = hn::Add(a0, grad(ox, v));
    float* b = pdb + j + static_cast<int64_t>(v) * N;
    hn::StoreU(hn::Add(hn::LoadU(d, b), hn::Add(a0, a1)), d, b);
  }
  const int64_t iy0 = oy * s.stride_h - s.pad_top;  // input row under kernel row 0
  const int64_t ky0 = std::max<int64_t>(0, -iy0);
  const int64_t ky1 = std::min(s.kh, s.h - iy0);
  if (ky0 >= ky1) return;
  // Interior pixels: taps [ky0 * run, ky1 * run), offsets from the first one's input.
  if (in.lo < in.hi) {
    const float* xb = img + ((iy0 + ky0) * s.w + in.lo * s.stride_w - s.pad_left) * cin;
    int64_t off[kWeightTaps];
    for (int64_t t0 = ky0 * run; t0 < ky1 * run; t0 += kWeightTaps) {
      const int64_t taps = std::min(kWeightTaps, ky1 * run - t0);
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t ky = (t0 + t) / run, rem = (t0 + t) % run;
        off[t] = (ky - ky0) * s.w * cin + rem;
      }
#define GW_CONV_TAPS(T)                                                                    \
  case T:                                                                                  \
    if constexpr (T <= kWeightTaps) {                                                      \
      DirectWeightsBlock<T, kNV>(d, xb, off, sx, grad, in.lo, in.hi, pdw, cout, t0, j);   \
    }                                                                                      \
    break;
      switch (taps) {
        GW_CONV_TAPS(1)
        GW_CONV_TAPS(2)
        GW_CONV_TAPS(3)
        GW_CONV_TAPS(4)
        GW_CONV_TAPS(5)
        GW_CONV_TAPS(6)
        GW_CONV_TAPS(7)
        GW_CONV_TAPS(8)
        GW_CONV_TAPS(9)
      }
#undef GW_CONV_TAPS
    }
  }
  // Border pixels, tap by tap.
  for (int64_t ox = 0; ox < s.out_w; ++ox) {
    if (ox == in.lo) ox = std::max(ox, in.hi);
    if (ox >= s.out_w) break;
    for (size_t v = 0; v < kNV; ++v) {
      const V g = grad(ox, v);
      for (int64_t ky = ky0; ky < ky1; ++ky) {
        const float* xr = img + (iy0 + ky) * s.w * cin;
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          const int64_t ix = ox * s.stride_w - s.pad_left + kx;
          if (ix < 0 || ix >= s.w) continue;
          for (int64_t ci = 0; ci < cin; ++ci) {
            float* o = pdw + ((ky * s.kw + kx) * cin + ci) * cout + j +
                       static_cast<int64_t>(v) * N;
            hn::StoreU(hn::MulAdd(hn::Set(d, xr[ix * cin + ci]), g, hn::LoadU(d, o)), d, o);
          }
        }
      }
    }
  }
}

#undef GW_CONV_FMA

// Adds the gradients of images [i0, i1) to pdw [kh, kw, cin, cout] and pdb [cout]; dy
// masked by relu_y (if not null).
void DirectWeights(const float* HWY_RESTRICT x, const float* HWY_RESTRICT dy,
                   const float* HWY_RESTRICT relu_y, float* HWY_RESTRICT pdw,
                   float* HWY_RESTRICT pdb, const Conv2DShape& s, int64_t i0, int64_t i1) {
  const conv_detail::Interior in = conv_detail::InteriorColumns(s);
  for (int64_t img = i0; img < i1; ++img) {
    const float* xi = x + img * s.h * s.w * s.cin;
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      const int64_t row = (img * s.out_h + oy) * s.out_w * s.cout;
      const float* dyrow = dy + row;
      const float* maskrow = relu_y ? relu_y + row : nullptr;
      ForEachChannelBlock(s.cout, [&](auto d, auto nv, int64_t j) HWY_ATTR {
        DirectWeightsRow<decltype(nv)::value>(d, xi, dyrow, maskrow, pdw, pdb, s, in, oy, j);
      });
    }
  }
}

// out[i] = relu_y[i] > 0 ? dy[i] : 0 for i < n: one dy tile through the ReLU's mask, into a
// per-thread tile buffer. (ops::ReluBackward computes the same but runs its own parallel
// loop; this runs inside a task, where a nested loop could steal another task that then
// finds this thread's scratch buffers taken.)
void MaskTile(const float* HWY_RESTRICT dy, const float* HWY_RESTRICT relu_y,
              float* HWY_RESTRICT out, int64_t n) {
  ForEachVec(0, n, [&](auto d, int64_t i) HWY_ATTR {
    const auto keep = hn::Gt(hn::LoadU(d, relu_y + i), hn::Zero(d));
    hn::StoreU(hn::IfThenElseZero(keep, hn::LoadU(d, dy + i)), d, out + i);
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gradway {
namespace ops {
HWY_EXPORT(DirectForward);
HWY_EXPORT(DirectWeights);
HWY_EXPORT(MaskTile);
using conv_detail::kDirectMaxCin;
namespace {

constexpr int64_t kTileFloats = 256 * 1024;  // patch floats per tile (1 MiB)

struct Geometry {
  int64_t k;            // kh * kw * cin: patch length
  int64_t rows_per_tile;  // output rows per tile
  int64_t tiles;        // tiles per image
  bool direct;          // 1x1, stride 1, no padding: the input is its own patch matrix
};

Geometry MakeGeometry(const Conv2DShape& s) {
  Geometry g;
  g.k = s.kh * s.kw * s.cin;
  const int64_t row_floats = std::max<int64_t>(1, s.out_w * g.k);
  g.rows_per_tile = std::clamp<int64_t>(kTileFloats / row_floats, 1, std::max<int64_t>(1, s.out_h));
  g.tiles = (s.out_h + g.rows_per_tile - 1) / g.rows_per_tile;
  g.direct = s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 &&
             s.pad_top == 0 && s.pad_left == 0 && s.out_h == s.h && s.out_w == s.w;
  return g;
}

// dst[i] = src[i] for i < n (short runs: a loop beats memcpy's call).
inline void CopyFloats(float* __restrict dst, const float* __restrict src, int64_t n) {
  if (n >= 16) {
    std::memcpy(dst, src, sizeof(float) * n);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// acc[i] += src[i] for i < n.
__attribute__((optimize("tree-vectorize"))) inline void AddFloats(
    float* __restrict acc, const float* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += src[i];
}

// Patches of output rows [oy0, oy1) of image `img` (x points at the image):
// out[(oy - oy0) * out_w + ox][(ky * kw + kx) * cin + ci].
void Im2Col(const float* img, const Conv2DShape& s, int64_t oy0, int64_t oy1, float* out) {
  const int64_t cin = s.cin, run = s.kw * cin;
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const int64_t ix0 = ox * s.stride_w - s.pad_left;
      const bool cols_in = ix0 >= 0 && ix0 + s.kw <= s.w;
      for (int64_t ky = 0; ky < s.kh; ++ky, out += run) {
        const int64_t iy = oy * s.stride_h - s.pad_top + ky;
        if (iy < 0 || iy >= s.h) {
          std::fill(out, out + run, 0.f);
        } else if (cols_in) {  // the kw taps are one contiguous run of the input row
          CopyFloats(out, img + (iy * s.w + ix0) * cin, run);
        } else {
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const int64_t ix = ix0 + kx;
            if (ix >= 0 && ix < s.w) {
              CopyFloats(out + kx * cin, img + (iy * s.w + ix) * cin, cin);
            } else {
              std::fill(out + kx * cin, out + (kx + 1) * cin, 0.f);
            }
          }
        }
      }
    }
  }
}

// Adds patch gradients of output rows [oy0, oy1) back into the image gradient dimg.
void Col2ImAdd(const float* patches, const Conv2DShape& s, int64_t oy0, int64_t oy1,
               float* dimg) {
  const int64_t cin = s.cin, run = s.kw * cin;
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const int64_t ix0 = ox * s.stride_w - s.pad_left;
      const bool cols_in = ix0 >= 0 && ix0 + s.kw <= s.w;
      for (int64_t ky = 0; ky < s.kh; ++ky, patches += run) {
        const int64_t iy = oy * s.stride_h - s.pad_top + ky;
        if (iy < 0 || iy >= s.h) continue;
        if (cols_in) {
          AddFloats(dimg + (iy * s.w + ix0) * cin, patches, run);
        } else {
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const int64_t ix = ix0 + kx;
            if (ix >= 0 && ix < s.w) AddFloats(dimg + (iy * s.w + ix) * cin, patches + kx * cin, cin);
          }
        }
      }
    }
  }
}

using GemmFn = void (*)(const Mat&, const Mat&, const OutMat&, const MatMulOptions&);

// Runs body(task, gemm) for tasks [0, tasks): in parallel with single-threaded GEMMs when
// there are enough tasks to keep the threads busy, otherwise one task at a time with
// parallel GEMMs. Both GEMMs give bit-identical results.
template <typename Body>
void RunTasks(int64_t tasks, const Body& body) {
  const int threads = NumThreads();
  if (threads > 1 && tasks >= 2 * threads) {
    ParallelFor(tasks, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) body(t, static_cast<GemmFn>(&MatMulSerial));
    });
  } else {
    for (int64_t t = 0; t < tasks; ++t) body(t, static_cast<GemmFn>(&MatMul));
  }
}

}  // namespace

Conv2DShape MakeConv2DShape(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t kh,
                            int64_t kw, int64_t cout, int64_t stride_h, int64_t stride_w,
                            Padding padding) {
  Conv2DShape s{};
  s.n = n;
  s.h = h;
  s.w = w;
  s.cin = cin;
  s.kh = kh;
  s.kw = kw;
  s.cout = cout;
  s.stride_h = stride_h;
  s.stride_w = stride_w;
  s.out_h = WindowOutputSize(h, kh, stride_h, padding);
  s.out_w = WindowOutputSize(w, kw, stride_w, padding);
  s.pad_top = WindowPadBefore(h, kh, stride_h, padding);
  s.pad_left = WindowPadBefore(w, kw, stride_w, padding);
  return s;
}

namespace {

bool WinogradApplies(const Conv2DShape& s) {
  return s.kh == 3 && s.kw == 3 && s.stride_h == 1 && s.stride_w == 1 && s.n > 0 &&
         s.out_h > 0 && s.out_w > 0 && s.h > 0 && s.w > 0 && s.cin > 0 && s.cout > 0;
}

Winograd3x3Shape WinogradShape(const Conv2DShape& s) {
  return {s.n, s.h, s.w, s.cin, s.cout, s.out_h, s.out_w, s.pad_top, s.pad_left};
}

int WinogradTile(ConvAlgorithm a) {
  return a == ConvAlgorithm::kWinograd2x2 ? kWinogradTile2 : kWinogradTile4;
}

// The direct path's forward; the fused ReLU is the GEMMs' epilogue (or the direct loops').
void DirectConv2DForward(const float* x, const float* w, const float* bias, float* y,
                         const Conv2DShape& s, Epilogue epilogue) {
  const bool relu = epilogue == Epilogue::kRelu;  // the direct loops' fused ReLU
  const Geometry g = MakeGeometry(s);
  const int64_t in_image = s.h * s.w * s.cin;
  const int64_t out_image = s.out_h * s.out_w * s.cout;
  if (s.n <= 0 || out_image == 0) return;
  if (g.direct) {  // 1x1, stride 1: y = x · W over all pixels
    const int64_t pixels = s.n * s.h * s.w;
    MatMul(Mat{x, pixels, s.cin}, Mat{w, s.cin, s.cout}, OutMat{y, pixels, s.cout},
           MatMulOptions().Bias(bias).Epilogue(epilogue));
    return;
  }
  if (s.cin <= kDirectMaxCin) {
    ParallelFor(s.n, 1, [&](int64_t i0, int64_t i1) {
      HWY_DYNAMIC_DISPATCH(DirectForward)(x, w, bias, relu, y, s, i0, i1);
    });
    return;
  }
  RunTasks(s.n * g.tiles, [&](int64_t t, GemmFn gemm) {
    const int64_t img = t / g.tiles;
    const int64_t oy0 = (t % g.tiles) * g.rows_per_tile;
    const int64_t oy1 = std::min(s.out_h, oy0 + g.rows_per_tile);
    const int64_t pixels = (oy1 - oy0) * s.out_w;
    ScratchBuffer patches(Runtime::Default().scratch(), ScratchOwner::kConv, 0,
                          static_cast<size_t>(pixels * g.k));
    Im2Col(x + img * in_image, s, oy0, oy1, patches.get());
    float* yt = y + img * out_image + oy0 * s.out_w * s.cout;
    gemm(Mat{patches.get(), pixels, g.k}, Mat{w, g.k, s.cout}, OutMat{yt, pixels, s.cout},
         MatMulOptions().Bias(bias).Epilogue(epilogue));
  });
}

void DirectConv2DBackwardData(const float* dy, const float* w, float* dx,
                              const Conv2DShape& s, const float* relu_y) {
  const Geometry g = MakeGeometry(s);
  const int64_t in_image = s.h * s.w * s.cin;
  const int64_t out_image = s.out_h * s.out_w * s.cout;
  if (s.n <= 0) return;
  if (g.direct) {  // 1x1, stride 1: dx = dy · Wᵀ over all pixels
    const int64_t pixels = s.n * s.h * s.w;
    if (!relu_y) {
      MatMul(Mat{dy, pixels, s.cout}, Mat{w, s.cin, s.cout}.Transposed(),
             OutMat{dx, pixels, s.cin});
      return;
    }
    // Pixel chunks: each chunk of dy masked into a tile buffer, then multiplied.
    const int64_t chunk = std::max<int64_t>(1, kTileFloats / std::max<int64_t>(s.cin, s.cout));
    RunTasks((pixels + chunk - 1) / chunk, [&](int64_t t, GemmFn gemm) {
      const int64_t p0 = t * chunk, np = std::min(chunk, pixels - p0);
      ScratchBuffer masked(Runtime::Default().scratch(), ScratchOwner::kConv, 1,
                           static_cast<size_t>(np * s.cout));
      HWY_DYNAMIC_DISPATCH(MaskTile)(dy + p0 * s.cout, relu_y + p0 * s.cout, masked.get(),
                                     np * s.cout);
      gemm(Mat{masked.get(), np, s.cout}, Mat{w, s.cin, s.cout}.Transposed(),
           OutMat{dx + p0 * s.cin, np, s.cin}, MatMulOptions());
    });
    return;
  }
  // Wᵀ once, so the GEMMs read it untransposed: wt[co][k] = w[k][co].
  std::vector<float> wt(static_cast<size_t>(g.k * s.cout));
  for (int64_t k = 0; k < g.k; ++k) {
    for (int64_t co = 0; co < s.cout; ++co) wt[co * g.k + k] = w[k * s.cout + co];
  }
  // One task per image: its tiles overlap in dx, so they run in order.
  RunTasks(s.n, [&](int64_t img, GemmFn gemm) {
    float* dimg = dx + img * in_image;
    std::fill(dimg, dimg + in_image, 0.f);
    if (out_image == 0) return;
    const int64_t max_pixels = std::min(s.out_h, g.rows_per_tile) * s.out_w;
    ScratchPool& scratch = Runtime::Default().scratch();
    ScratchBuffer dpatches(scratch, ScratchOwner::kConv, 0, static_cast<size_t>(max_pixels * g.k));
    ScratchBuffer masked(scratch, ScratchOwner::kConv, 1,
                         relu_y ? static_cast<size_t>(max_pixels * s.cout) : 1);
    for (int64_t tile = 0; tile < g.tiles; ++tile) {
      const int64_t oy0 = tile * g.rows_per_tile;
      const int64_t oy1 = std::min(s.out_h, oy0 + g.rows_per_tile);
      const int64_t pixels = (oy1 - oy0) * s.out_w;
      const int64_t at = img * out_image + oy0 * s.out_w * s.cout;
      const float* dyt = dy + at;
      if (relu_y) {
        HWY_DYNAMIC_DISPATCH(MaskTile)(dyt, relu_y + at, masked.get(), pixels * s.cout);
        dyt = masked.get();
      }
      gemm(Mat{dyt, pixels, s.cout}, Mat{wt.data(), s.cout, g.k},
           OutMat{dpatches.get(), pixels, g.k}, MatMulOptions());
      Col2ImAdd(dpatches.get(), s, oy0, oy1, dimg);
    }
  });
}

void DirectConv2DBackwardWeights(const float* x, const float* dy, float* dw, float* db,
                                 const Conv2DShape& s, const float* relu_y) {
  const Geometry g = MakeGeometry(s);
  const int64_t in_image = s.h * s.w * s.cin;
  const int64_t out_image = s.out_h * s.out_w * s.cout;
  const int64_t nw = g.k * s.cout;
  std::fill(dw, dw + nw, 0.f);
  if (db) std::fill(db, db + s.cout, 0.f);
  if (s.n <= 0 || out_image == 0) return;

  // Fixed partition of the batch into groups of consecutive images (it depends only on
  // the shape): each group sums into its own partial, partials are added in group order.
  const int64_t max_groups = std::max<int64_t>(1, std::min<int64_t>(32, (8 << 20) / std::max<int64_t>(1, nw)));
  const int64_t groups = std::min(s.n, max_groups);
  const int64_t stride = nw + s.cout;  // partial dw, then partial db
  std::vector<float> partial(static_cast<size_t>(groups * stride));
  const bool tiny_cin = !g.direct && s.cin <= kDirectMaxCin;

  RunTasks(groups, [&](int64_t grp, GemmFn gemm) {
    const int64_t i0 = SplitBegin(s.n, groups, grp), i1 = SplitBegin(s.n, groups, grp + 1);
    float* pdw = partial.data() + grp * stride;
    float* pdb = pdw + nw;
    std::fill(pdb, pdb + s.cout, 0.f);
    if (tiny_cin) {
      std::fill(pdw, pdw + nw, 0.f);
      HWY_DYNAMIC_DISPATCH(DirectWeights)(x, dy, relu_y, pdw, pdb, s, i0, i1);
      return;
    }
    const int64_t max_pixels = std::min(s.out_h, g.rows_per_tile) * s.out_w;
    ScratchPool& scratch = Runtime::Default().scratch();
    ScratchBuffer patches(scratch, ScratchOwner::kConv, 0,
                          g.direct ? 1 : static_cast<size_t>(max_pixels * g.k));
    ScratchBuffer masked(scratch, ScratchOwner::kConv, 1,
                         relu_y ? static_cast<size_t>(max_pixels * s.cout) : 1);
    bool first = true;
    for (int64_t img = i0; img < i1; ++img) {
      for (int64_t tile = 0; tile < g.tiles; ++tile) {
        const int64_t oy0 = tile * g.rows_per_tile;
        const int64_t oy1 = std::min(s.out_h, oy0 + g.rows_per_tile);
        const int64_t pixels = (oy1 - oy0) * s.out_w;
        const int64_t at = img * out_image + oy0 * s.out_w * s.cout;
        const float* dyt = dy + at;
        if (relu_y) {
          HWY_DYNAMIC_DISPATCH(MaskTile)(dyt, relu_y + at, masked.get(), pixels * s.cout);
          dyt = masked.get();
        }
        const float* pt;
        if (g.direct) {
          pt = x + img * in_image + oy0 * s.w * s.cin;
        } else {
          Im2Col(x + img * in_image, s, oy0, oy1, patches.get());
          pt = patches.get();
        }
        // dW[k x cout] (+)= patchesᵀ · dy_tile.
        gemm(Mat{pt, pixels, g.k}.Transposed(), Mat{dyt, pixels, s.cout},
             OutMat{pdw, g.k, s.cout}, MatMulOptions().Accumulate(!first));
        first = false;
        for (int64_t p = 0; p < pixels; ++p) AddFloats(pdb, dyt + p * s.cout, s.cout);
      }
    }
  });

  for (int64_t grp = 0; grp < groups; ++grp) {
    const float* pdw = partial.data() + grp * stride;
    for (int64_t i = 0; i < nw; ++i) dw[i] += pdw[i];
    if (db) {
      for (int64_t co = 0; co < s.cout; ++co) db[co] += pdw[nw + co];
    }
  }
}

}  // namespace

ConvAlgorithm Conv2DAlgorithmFor(const Conv2DShape& s, ConvPass pass,
                                 ConvAlgorithm requested) {
  if (requested == ConvAlgorithm::kAuto) requested = GetConvAlgorithm();
  if (requested == ConvAlgorithm::kDirect || !WinogradApplies(s)) return ConvAlgorithm::kDirect;
  if (requested != ConvAlgorithm::kAuto) return requested;
  // Measured on Zen 5, 2 threads, 26x26 inputs (ms, direct / F(4x4) / F(2x2)):
  //   forward,  cin 1 -> 32: 0.53 / 1.06 / 1.58; cin 3 -> 16: 0.50 / 0.85 (the direct
  //             loops for tiny cin win); cin 4 -> 32, same padding: 1.23 / 1.37;
  //             cin 8 -> 8:  1.78 / 0.64 / 1.21;  cin 32 -> 64: 12.6 / 4.1 / 6.5
  //   data,     cin 1 <- 32: 1.47 / 2.03 / 3.09 (dx of one channel: 16x padding waste);
  //             cin 2 <- 16: 1.63 / 1.26 / 2.09;  cin 32 <- 64: 15.2 / 5.7 / 7.9
  //   weights,  cin 1 -> 32: 0.56 / 1.01 / 1.49; cin 2 -> 8, same padding: 0.56 / 1.33;
  //             cin 3 -> 16: 0.65 / 0.73; cin 4 -> 32, same padding: 1.78 / 1.16;
  //             cin 32 -> 64: 14.1 / 4.5 / 6.8
  if (pass == ConvPass::kForward && s.cin <= kDirectMaxCin) return ConvAlgorithm::kDirect;
  if (pass == ConvPass::kBackwardWeights && s.cin <= 3) return ConvAlgorithm::kDirect;
  if (pass == ConvPass::kBackwardData && s.cin < 2) return ConvAlgorithm::kDirect;
  // Multiplications per output relative to direct convolution's 9: (a/m)², times the
  // share of the last tile row / column that falls past the output's edge.
  auto cost = [&](int64_t m, int64_t out_h, int64_t out_w) {
    const double covered = static_cast<double>((out_h + m - 1) / m * m) *
                           static_cast<double>((out_w + m - 1) / m * m);
    return (m + 2.0) * (m + 2.0) / (m * m) * covered / (static_cast<double>(out_h) * out_w);
  };
  const bool data = pass == ConvPass::kBackwardData;
  const int64_t oh = data ? s.h : s.out_h, ow = data ? s.w : s.out_w;
  const double cost4 = cost(4, oh, ow), cost2 = cost(2, oh, ow);
  // Winograd's transforms cost about as much again as the multiplications they save on
  // tiny outputs (a few pixels).
  if (std::min(cost4, cost2) > 6.0) return ConvAlgorithm::kDirect;
  // F(4x4)'s rounding error grows with the GEMMs' reduction length (the input channels
  // forward, the output channels for dx): 6.4e-6 / 8.0e-6 of the tensor's largest
  // magnitude at 128 channels, 1.2e-5 / 1.1e-5 at 256 (F(2x2): under 1e-6). The weight
  // gradient's reduction runs over tiles: 2.3e-6 at any width.
  const int64_t reduction = pass == ConvPass::kForward ? s.cin : data ? s.cout : 0;
  ConvAlgorithm choice = reduction > 128 || cost4 > cost2 ? ConvAlgorithm::kWinograd2x2
                                                          : ConvAlgorithm::kWinograd;
  if (pass == ConvPass::kBackwardWeights) {
    // Its parallel tasks each keep a partial transformed dw ((m + 2)² cin cout floats),
    // kWinogradWeightPartialFloats of them at most: keep at least 4 tasks, with F(2x2)'s
    // smaller partials (from about 241 x 241 channels) or the direct path (from about
    // 362 x 362), so that wide layers do not run their weight gradient on one thread.
    auto tasks = [&](int64_t m) {
      return kWinogradWeightPartialFloats / std::max<int64_t>(1, (m + 2) * (m + 2) * s.cin * s.cout);
    };
    if (choice == ConvAlgorithm::kWinograd && tasks(4) < 4) choice = ConvAlgorithm::kWinograd2x2;
    if (choice == ConvAlgorithm::kWinograd2x2 && tasks(2) < 4) choice = ConvAlgorithm::kDirect;
  }
  return choice;
}

void Conv2DForward(const float* x, const float* w, const float* bias, float* y,
                   const Conv2DShape& s, const ConvForwardOptions& options) {
  const ConvAlgorithm a = Conv2DAlgorithmFor(s, ConvPass::kForward, options.algorithm);
  if (a == ConvAlgorithm::kDirect) return DirectConv2DForward(x, w, bias, y, s, options.epilogue);
  WinogradConv3x3Forward(WinogradTile(a), WinogradShape(s), x, w, bias, options.epilogue, y);
}

void Conv2DBackwardData(const float* dy, const float* w, float* dx, const Conv2DShape& s,
                        const ConvBackwardOptions& options) {
  const ConvAlgorithm a = Conv2DAlgorithmFor(s, ConvPass::kBackwardData, options.algorithm);
  if (a == ConvAlgorithm::kDirect) return DirectConv2DBackwardData(dy, w, dx, s, options.relu_y);
  WinogradConv3x3BackwardData(WinogradTile(a), WinogradShape(s), dy, options.relu_y, w, dx);
}

void Conv2DBackwardWeights(const float* x, const float* dy, float* dw, float* db,
                           const Conv2DShape& s, const ConvBackwardOptions& options) {
  const ConvAlgorithm a = Conv2DAlgorithmFor(s, ConvPass::kBackwardWeights, options.algorithm);
  const float* relu_y = options.relu_y;
  if (a == ConvAlgorithm::kDirect) return DirectConv2DBackwardWeights(x, dy, dw, db, s, relu_y);
  WinogradConv3x3BackwardWeights(WinogradTile(a), WinogradShape(s), x, dy, relu_y, dw, db);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
