// Winograd F(m x m, 3x3) convolution (ops/winograd.h), m = 2 or 4, a = m + 2.
//
// One block of T output tiles (consecutive in (image, tile row, tile column) order) runs on
// one thread, start to finish:
//   1. input transform: for each tile and each vector of input channels, the a x a input
//      pixels (zeros outside the image) -> V[ξ][t][ci] = (Bᵀ d B)[ξ], ξ < a²;
//   2. a² GEMMs  M_ξ [T x cout] = V_ξ [T x cin] · U_ξ [cin x cout]  (U = G g Gᵀ, transformed
//      once per call), register-blocked FMA kernels;
//   3. output transform: Y = Aᵀ M A (+ bias, ReLU) -> the tile's m x m output pixels.
// V and M of a block (a² T (cin + cout) floats) are sized to stay in L2 beside U. Blocks run
// in parallel (ParallelFor); every output is computed by the same arithmetic whatever the
// blocking (each GEMM element sums its cin products in order), so the result does not
// depend on T or on the thread count.
//
// The data gradient is the forward pass of the transposed problem: dy padded by 2 - pad,
// the kernel flipped and transposed (w'[a][b][co][ci] = w[2-a][2-b][ci][co]); a fused
// ReLU's mask (relu_y > 0) is applied as dy is read by the input transform.
//
// The weight gradient differentiates the same tile identity: with dM = A dY Aᵀ (dY the
// tile's m x m output gradient, zero past the output's edge),
//   dU_ξ [cin x cout] += V_ξᵀ [cin x T] · dM_ξ [T x cout]   (a² GEMMs per block),
//   dw = Gᵀ dU G.
// Blocks have a size fixed by the shape and are summed in fixed groups of consecutive
// blocks, each group into its own partial dU; the partials are added in group order.
#include "ops/winograd.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/runtime.h"
#include "base/scratch.h"
#include "ops/parallel.h"
#include "ops/transpose.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/winograd.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/aligned_allocator.h>
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#ifndef GRADWAY_OPS_WINOGRAD_CC_ONCE_
#define GRADWAY_OPS_WINOGRAD_CC_ONCE_
namespace gradway {
namespace ops {
namespace winograd_detail {

// A 3x3 stride-1 correlation as the kernels see it (the data gradient's is transposed).
struct Problem {
  int64_t n, h, w, c;            // input [n, h, w, c]
  int64_t oh, ow, k;             // output [n, oh, ow, k]
  int64_t pt, pl;                // output (oy, ox) reads input rows from oy - pt, cols from ox - pl
  int64_t tiles_y, tiles_x;      // tiles per image column / row
  int64_t tiles;                 // tiles in all images
};

inline Problem MakeProblem(int64_t m, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh,
                           int64_t ow, int64_t k, int64_t pt, int64_t pl) {
  Problem p{n, h, w, c, oh, ow, k, pt, pl, 0, 0, 0};
  p.tiles_y = (oh + m - 1) / m;
  p.tiles_x = (ow + m - 1) / m;
  p.tiles = n * p.tiles_y * p.tiles_x;
  return p;
}

inline int64_t RoundUp(int64_t v, int64_t to) { return (v + to - 1) / to * to; }


// Bytes of V and M (or dM) a block may use: with U beside them, about half of a 1 MiB L2.
constexpr int64_t kBlockBytes = 384 * 1024;

// The transforms prefetch the input / output rows of the tile this many tiles ahead.
constexpr int64_t kPrefetchTiles = 4;

}  // namespace winograd_detail
}  // namespace ops
}  // namespace gradway
#endif  // GRADWAY_OPS_WINOGRAD_CC_ONCE_

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using winograd_detail::kBlockBytes;
using winograd_detail::kPrefetchTiles;
using winograd_detail::Problem;
using winograd_detail::RoundUp;

using DF = hn::ScalableTag<float>;
using D1 = hn::CappedTag<float, 1>;
constexpr int64_t kN = static_cast<int64_t>(hn::MaxLanes(DF()));
// Register blocking of the transformed-domain GEMMs: up to kMaxNV vectors of output
// columns times RowsFor(nv) rows of accumulators (24 of the 32 registers on AVX-512, 12 of
// 16 elsewhere).
constexpr int64_t kMaxNV = kN >= 16 ? 4 : 2;
constexpr int64_t kMaxAcc = kN >= 16 ? 24 : 12;
constexpr int64_t RowsFor(int64_t nv) { return kMaxAcc / nv < 12 ? kMaxAcc / nv : 12; }

// Calls f(d, c0) for vectors of channels covering [0, n): full vectors, then 8-, 4- and
// 1-lane ones (so that e.g. 8 or 17 channels are not done one lane at a time).
template <class F>
HWY_INLINE void ForEachChannelVector(int64_t n, const F& f) {
  int64_t c0 = 0;
  for (; c0 + kN <= n; c0 += kN) f(DF(), c0);
  if constexpr (kN > 8) {
    for (; c0 + 8 <= n; c0 += 8) f(hn::CappedTag<float, 8>(), c0);
  }
  if constexpr (kN > 4) {
    for (; c0 + 4 <= n; c0 += 4) f(hn::CappedTag<float, 4>(), c0);
  }
  for (; c0 < n; ++c0) f(D1(), c0);
}

// ----------------------------------------------------------------------------------------
// The 1-D transforms, on arrays of vectors (one lane per channel).
//   In:   o = Bᵀ x   (a -> a)     Out: o = Aᵀ x  (a -> m)     OutT: o = A y  (m -> a)
//   kG:   G (a x 3), for the filter and the weight gradient.

template <int64_t M>
struct Tf;

// F(2x2, 3x3): interpolation points 0, 1, -1 and infinity.
template <>
struct Tf<2> {
  static constexpr int64_t kA = 4;
  static constexpr float kG[4][3] = {
      {1.f, 0.f, 0.f}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0.f, 0.f, 1.f}};

  template <class D, class V>
  static HWY_INLINE void In(D, const V* x, V* o) {
    o[0] = hn::Sub(x[0], x[2]);
    o[1] = hn::Add(x[1], x[2]);
    o[2] = hn::Sub(x[2], x[1]);
    o[3] = hn::Sub(x[1], x[3]);
  }
  template <class D, class V>
  static HWY_INLINE void Out(D, const V* x, V* o) {
    o[0] = hn::Add(hn::Add(x[0], x[1]), x[2]);
    o[1] = hn::Sub(hn::Sub(x[1], x[2]), x[3]);
  }
  template <class D, class V>
  static HWY_INLINE void OutT(D, const V* y, V* o) {
    o[0] = y[0];
    o[1] = hn::Add(y[0], y[1]);
    o[2] = hn::Sub(y[0], y[1]);
    o[3] = hn::Neg(y[1]);
  }
};

// F(4x4, 3x3): interpolation points 0, 1, -1, 2, -2 and infinity (Lavin & Gray).
template <>
struct Tf<4> {
  static constexpr int64_t kA = 6;
  static constexpr float kG[6][3] = {
      {1.f / 4, 0.f, 0.f},           {-1.f / 6, -1.f / 6, -1.f / 6},
      {-1.f / 6, 1.f / 6, -1.f / 6}, {1.f / 24, 1.f / 12, 1.f / 6},
      {1.f / 24, -1.f / 12, 1.f / 6}, {0.f, 0.f, 1.f}};

  // Bᵀ rows: [4 0 -5 0 1 0] [0 -4 -4 1 1 0] [0 4 -4 -1 1 0] [0 -2 -1 2 1 0]
  //          [0 2 -1 -2 1 0] [0 4 0 -5 0 1]
  template <class D, class V>
  static HWY_INLINE void In(D d, const V* x, V* o) {
    const V four = hn::Set(d, 4.f), five = hn::Set(d, 5.f), two = hn::Set(d, 2.f);
    o[0] = hn::MulAdd(four, x[0], hn::NegMulAdd(five, x[2], x[4]));
    const V a = hn::NegMulAdd(four, x[2], x[4]);  // x4 - 4 x2
    const V b = hn::NegMulAdd(four, x[1], x[3]);  // x3 - 4 x1
    o[1] = hn::Add(a, b);
    o[2] = hn::Sub(a, b);
    const V c = hn::Sub(x[4], x[2]);
    const V e = hn::Mul(two, hn::Sub(x[3], x[1]));
    o[3] = hn::Add(c, e);
    o[4] = hn::Sub(c, e);
    o[5] = hn::MulAdd(four, x[1], hn::NegMulAdd(five, x[3], x[5]));
  }
  // Aᵀ rows: [1 1 1 1 1 0] [0 1 -1 2 -2 0] [0 1 1 4 4 0] [0 1 -1 8 -8 1]
  template <class D, class V>
  static HWY_INLINE void Out(D d, const V* x, V* o) {
    const V s12 = hn::Add(x[1], x[2]), d12 = hn::Sub(x[1], x[2]);
    const V s34 = hn::Add(x[3], x[4]), d34 = hn::Sub(x[3], x[4]);
    o[0] = hn::Add(hn::Add(x[0], s12), s34);
    o[1] = hn::MulAdd(hn::Set(d, 2.f), d34, d12);
    o[2] = hn::MulAdd(hn::Set(d, 4.f), s34, s12);
    o[3] = hn::Add(hn::MulAdd(hn::Set(d, 8.f), d34, d12), x[5]);
  }
  template <class D, class V>
  static HWY_INLINE void OutT(D d, const V* y, V* o) {
    const V e = hn::Add(y[0], y[2]), f = hn::Add(y[1], y[3]);
    const V g = hn::MulAdd(hn::Set(d, 4.f), y[2], y[0]);
    const V h = hn::MulAdd(hn::Set(d, 8.f), y[3], hn::Add(y[1], y[1]));
    o[0] = y[0];
    o[1] = hn::Add(e, f);
    o[2] = hn::Sub(e, f);
    o[3] = hn::Add(g, h);
    o[4] = hn::Sub(g, h);
    o[5] = y[3];
  }
};

// ----------------------------------------------------------------------------------------
// Tile transforms, for the channels of one vector of d (a full vector, or 8, 4 or 1 lanes).
// Their small loops are unrolled so that a tile's values stay in registers (as loops they
// went through the stack: the whole transform took 1.6x as long).

// Where a tile lies: its first input row / column (may be negative) and the range of its
// a x a cells that are inside the input.
struct TileInput {
  int64_t base;    // offset of cell (0, 0) in the input (may be out of range)
  int64_t r0, r1;  // cell rows inside: [r0, r1)
  int64_t q0, q1;  // cell columns inside: [q0, q1)
  bool edge;       // some cell is outside
};

template <int64_t M>
HWY_INLINE TileInput LocateInput(const Problem& p, int64_t tile) {
  constexpr int64_t A = M + 2;
  const int64_t per_image = p.tiles_y * p.tiles_x;
  const int64_t img = tile / per_image, r = tile % per_image;
  const int64_t iy0 = (r / p.tiles_x) * M - p.pt, ix0 = (r % p.tiles_x) * M - p.pl;
  TileInput t;
  t.base = ((img * p.h + iy0) * p.w + ix0) * p.c;
  t.r0 = std::clamp<int64_t>(-iy0, 0, A);
  t.r1 = std::clamp<int64_t>(p.h - iy0, t.r0, A);
  t.q0 = std::clamp<int64_t>(-ix0, 0, A);
  t.q1 = std::clamp<int64_t>(p.w - ix0, t.q0, A);
  t.edge = t.r0 > 0 || t.r1 < A || t.q0 > 0 || t.q1 < A;
  return t;
}

// Where a tile's outputs go: offset of pixel (0, 0) and how many rows / columns exist.
struct TileOutput {
  int64_t base;
  int64_t rows, cols;
};

template <int64_t M>
HWY_INLINE TileOutput LocateOutput(const Problem& p, int64_t tile) {
  const int64_t per_image = p.tiles_y * p.tiles_x;
  const int64_t img = tile / per_image, r = tile % per_image;
  const int64_t oy0 = (r / p.tiles_x) * M, ox0 = (r % p.tiles_x) * M;
  return {((img * p.oh + oy0) * p.ow + ox0) * p.k, std::min<int64_t>(M, p.oh - oy0),
          std::min<int64_t>(M, p.ow - ox0)};
}

// dst[ξ * xs] = (Bᵀ d B)[ξ] for the tile's input channels [c0, c0 + Lanes(d)), d[r][q] =
// src[base + (r * w + q) * c + c0] (times mask > 0 when kMask; zero outside the input).
template <int64_t M, bool kMask, bool kEdge, class D>
HWY_INLINE void InputTile(D d, const float* HWY_RESTRICT src, const float* HWY_RESTRICT mask,
                          const Problem& p, const TileInput& ti, int64_t c0,
                          float* HWY_RESTRICT dst, int64_t xs) {
  constexpr int64_t A = M + 2;
  using V = hn::Vec<D>;
  const int64_t rs = p.w * p.c, cs = p.c;
  V t[A][A];
#pragma GCC unroll 8
  for (int64_t q = 0; q < A; ++q) {
    V col[A], o[A];
#pragma GCC unroll 8
    for (int64_t r = 0; r < A; ++r) {
      if (!kEdge || (r >= ti.r0 && r < ti.r1 && q >= ti.q0 && q < ti.q1)) {
        const int64_t at = ti.base + r * rs + q * cs + c0;
        V v = hn::LoadU(d, src + at);
        if (kMask) v = hn::IfThenElseZero(hn::Gt(hn::LoadU(d, mask + at), hn::Zero(d)), v);
        col[r] = v;
      } else {
        col[r] = hn::Zero(d);
      }
    }
    Tf<M>::In(d, col, o);
#pragma GCC unroll 8
    for (int64_t r = 0; r < A; ++r) t[r][q] = o[r];
  }
#pragma GCC unroll 8
  for (int64_t r = 0; r < A; ++r) {
    V o[A];
    Tf<M>::In(d, t[r], o);
#pragma GCC unroll 8
    for (int64_t q = 0; q < A; ++q) hn::StoreU(o[q], d, dst + (r * A + q) * xs);
  }
}

// The input transform of one tile, all channels: V[ξ * xs + ci].
template <int64_t M, bool kMask>
HWY_INLINE void InputTransform(const Problem& p, const float* HWY_RESTRICT src,
                               const float* HWY_RESTRICT mask, int64_t tile,
                               float* HWY_RESTRICT dst, int64_t xs) {
  const TileInput ti = LocateInput<M>(p, tile);
  // Prefetch the input rows of a tile further on: hardware prefetchers do not follow the
  // a interleaved row streams well (this halved the transform's time).
  if (tile + kPrefetchTiles < p.tiles) {
    const TileInput tn = LocateInput<M>(p, tile + kPrefetchTiles);
    const int64_t bytes = (tn.q1 - tn.q0) * p.c * static_cast<int64_t>(sizeof(float));
    for (int64_t r = tn.r0; r < tn.r1; ++r) {
      const int64_t at = tn.base + (r * p.w + tn.q0) * p.c;
      for (int64_t b = 0; b < bytes; b += 64) {
        hwy::Prefetch(reinterpret_cast<const char*>(src + at) + b);
        if (kMask) hwy::Prefetch(reinterpret_cast<const char*>(mask + at) + b);
      }
    }
  }
  if (ti.edge) {
    ForEachChannelVector(p.c, [&](auto d, int64_t c0) HWY_ATTR {
      InputTile<M, kMask, true>(d, src, mask, p, ti, c0, dst + c0, xs);
    });
  } else {
    ForEachChannelVector(p.c, [&](auto d, int64_t c0) HWY_ATTR {
      InputTile<M, kMask, false>(d, src, mask, p, ti, c0, dst + c0, xs);
    });
  }
}

// Output channels [k0, k0 + Lanes(d)) of one tile: Y = Aᵀ M A (+ bias) (ReLU), from
// src[ξ * xs], into the tile's staging rows: out[(r * M + q) * kp] for pixel (r, q).
template <int64_t M, class D>
HWY_INLINE void OutputTile(D d, const float* HWY_RESTRICT src, int64_t xs,
                           const float* HWY_RESTRICT bias, bool relu, int64_t k0,
                           float* HWY_RESTRICT out, int64_t kp) {
  constexpr int64_t A = M + 2;
  using V = hn::Vec<D>;
  V s[M][A];
#pragma GCC unroll 8
  for (int64_t q = 0; q < A; ++q) {
    V col[A], o[M];
#pragma GCC unroll 8
    for (int64_t r = 0; r < A; ++r) col[r] = hn::LoadU(d, src + (r * A + q) * xs);
    Tf<M>::Out(d, col, o);
#pragma GCC unroll 8
    for (int64_t r = 0; r < M; ++r) s[r][q] = o[r];
  }
  const V b = bias ? hn::LoadU(d, bias + k0) : hn::Zero(d);
#pragma GCC unroll 8
  for (int64_t r = 0; r < M; ++r) {
    V o[M];
    Tf<M>::Out(d, s[r], o);
#pragma GCC unroll 8
    for (int64_t q = 0; q < M; ++q) {
      V v = bias ? hn::Add(o[q], b) : o[q];
      if (relu) v = hn::IfThenElseZero(hn::Gt(v, hn::Zero(d)), v);
      hn::StoreU(v, d, out + (r * M + q) * kp);
    }
  }
}

// The output transform of one tile: all channels into a staging buffer (M x M pixels of kp
// floats), then each existing output row of the tile to y as one contiguous run (scattered
// vector stores to the output cost several times more).
template <int64_t M>
HWY_INLINE void OutputTransform(const Problem& p, const float* HWY_RESTRICT src, int64_t xs,
                                const float* HWY_RESTRICT bias, bool relu, int64_t tile,
                                float* HWY_RESTRICT stage, float* HWY_RESTRICT y) {
  const int64_t kp = RoundUp(p.k, kN);
  ForEachChannelVector(p.k, [&](auto d, int64_t k0) HWY_ATTR {
    OutputTile<M>(d, src + k0, xs, bias, relu, k0, stage + k0, kp);
  });
  // Prefetch the output rows of a tile further on (their lines are read for ownership).
  if (tile + kPrefetchTiles < p.tiles) {
    const TileOutput tn = LocateOutput<M>(p, tile + kPrefetchTiles);
    const int64_t bytes = tn.cols * p.k * static_cast<int64_t>(sizeof(float));
    for (int64_t r = 0; r < tn.rows; ++r) {
      const char* row = reinterpret_cast<const char*>(y + tn.base + r * p.ow * p.k);
      for (int64_t b = 0; b < bytes; b += 64) hwy::Prefetch(row + b);
    }
  }
  const TileOutput to = LocateOutput<M>(p, tile);
  for (int64_t r = 0; r < to.rows; ++r) {
    float* HWY_RESTRICT dst = y + to.base + r * p.ow * p.k;
    const float* HWY_RESTRICT row = stage + r * M * kp;
    if (kp == p.k) {
      std::memcpy(dst, row, sizeof(float) * to.cols * p.k);
    } else {
      for (int64_t q = 0; q < to.cols; ++q) {
        std::memcpy(dst + q * p.k, row + q * kp, sizeof(float) * p.k);
      }
    }
  }
}

// Output-gradient channels [k0, k0 + Lanes(d)) of one tile: dst[ξ * xs] = (A dY Aᵀ)[ξ], dY
// the tile's m x m gradient (masked by relu_y > 0 when kMask; zero past the output's edge).
// Adds the tile's dY (in row-major order) to db[k0...].
template <int64_t M, bool kMask, class D>
HWY_INLINE void GradTile(D d, const float* HWY_RESTRICT dy, const float* HWY_RESTRICT mask,
                         const Problem& p, const TileOutput& to, int64_t k0,
                         float* HWY_RESTRICT dst, int64_t xs, float* HWY_RESTRICT db) {
  constexpr int64_t A = M + 2;
  using V = hn::Vec<D>;
  V g[M][M];
  V sum = hn::Zero(d);
#pragma GCC unroll 8
  for (int64_t r = 0; r < M; ++r) {
#pragma GCC unroll 8
    for (int64_t q = 0; q < M; ++q) {
      if (r < to.rows && q < to.cols) {
        const int64_t at = to.base + (r * p.ow + q) * p.k + k0;
        V v = hn::LoadU(d, dy + at);
        if (kMask) v = hn::IfThenElseZero(hn::Gt(hn::LoadU(d, mask + at), hn::Zero(d)), v);
        sum = hn::Add(sum, v);
        g[r][q] = v;
      } else {
        g[r][q] = hn::Zero(d);
      }
    }
  }
  hn::StoreU(hn::Add(hn::LoadU(d, db + k0), sum), d, db + k0);
  V t[A][M];
#pragma GCC unroll 8
  for (int64_t q = 0; q < M; ++q) {
    V col[M], o[A];
#pragma GCC unroll 8
    for (int64_t r = 0; r < M; ++r) col[r] = g[r][q];
    Tf<M>::OutT(d, col, o);
#pragma GCC unroll 8
    for (int64_t r = 0; r < A; ++r) t[r][q] = o[r];
  }
#pragma GCC unroll 8
  for (int64_t r = 0; r < A; ++r) {
    V o[A];
    Tf<M>::OutT(d, t[r], o);
#pragma GCC unroll 8
    for (int64_t q = 0; q < A; ++q) hn::StoreU(o[q], d, dst + (r * A + q) * xs);
  }
}

// The output-gradient transform of one tile, all kp (padded) channels: dM[ξ * xs + co],
// zero for co >= k.
template <int64_t M, bool kMask>
HWY_INLINE void GradTransform(const Problem& p, const float* HWY_RESTRICT dy,
                              const float* HWY_RESTRICT mask, int64_t tile,
                              float* HWY_RESTRICT dst, int64_t xs, float* HWY_RESTRICT db) {
  constexpr int64_t A = M + 2;
  // Prefetch the gradient rows (and mask rows) of a tile further on.
  if (tile + kPrefetchTiles < p.tiles) {
    const TileOutput tn = LocateOutput<M>(p, tile + kPrefetchTiles);
    const int64_t bytes = tn.cols * p.k * static_cast<int64_t>(sizeof(float));
    for (int64_t r = 0; r < tn.rows; ++r) {
      const int64_t at = tn.base + r * p.ow * p.k;
      for (int64_t b = 0; b < bytes; b += 64) {
        hwy::Prefetch(reinterpret_cast<const char*>(dy + at) + b);
        if (kMask) hwy::Prefetch(reinterpret_cast<const char*>(mask + at) + b);
      }
    }
  }
  const TileOutput to = LocateOutput<M>(p, tile);
  ForEachChannelVector(p.k, [&](auto d, int64_t k0) HWY_ATTR {
    GradTile<M, kMask>(d, dy, mask, p, to, k0, dst + k0, xs, db);
  });
  const int64_t kp = RoundUp(p.k, kN);
  if (kp > p.k) {
    for (int64_t x = 0; x < A * A; ++x) std::fill(dst + x * xs + p.k, dst + x * xs + kp, 0.f);
  }
}

// Filter transform of output channels [k0, k0 + Lanes(d)) of input channel ci:
// dst[ξ * xs] = (G g Gᵀ)[ξ] with g[a][b] = w[(a * 3 + b) * tap + k0].
template <int64_t M, class D>
HWY_INLINE void FilterTile(D d, const float* HWY_RESTRICT w, int64_t tap,
                           float* HWY_RESTRICT dst, int64_t xs) {
  constexpr int64_t A = M + 2;
  using V = hn::Vec<D>;
  V g[3][3];
#pragma GCC unroll 8
  for (int64_t a = 0; a < 3; ++a) {
#pragma GCC unroll 8
    for (int64_t b = 0; b < 3; ++b) g[a][b] = hn::LoadU(d, w + (a * 3 + b) * tap);
  }
  V q[A][3];
#pragma GCC unroll 8
  for (int64_t i = 0; i < A; ++i) {
#pragma GCC unroll 8
    for (int64_t b = 0; b < 3; ++b) {
      V s = hn::Mul(hn::Set(d, Tf<M>::kG[i][0]), g[0][b]);
      s = hn::MulAdd(hn::Set(d, Tf<M>::kG[i][1]), g[1][b], s);
      q[i][b] = hn::MulAdd(hn::Set(d, Tf<M>::kG[i][2]), g[2][b], s);
    }
  }
#pragma GCC unroll 8
  for (int64_t i = 0; i < A; ++i) {
#pragma GCC unroll 8
    for (int64_t j = 0; j < A; ++j) {
      V s = hn::Mul(hn::Set(d, Tf<M>::kG[j][0]), q[i][0]);
      s = hn::MulAdd(hn::Set(d, Tf<M>::kG[j][1]), q[i][1], s);
      s = hn::MulAdd(hn::Set(d, Tf<M>::kG[j][2]), q[i][2], s);
      hn::StoreU(s, d, dst + (i * A + j) * xs);
    }
  }
}

// U[ξ][ci][co] for co < kp (zero for co >= k) from w [3][3][c][k].
template <int64_t M>
void FilterTransform(const float* HWY_RESTRICT w, int64_t c, int64_t k,
                     float* HWY_RESTRICT u) {
  constexpr int64_t A = M + 2;
  const int64_t kp = RoundUp(k, kN), xs = c * kp;
  auto rows = [&](int64_t c0, int64_t c1) HWY_ATTR {
    for (int64_t ci = c0; ci < c1; ++ci) {
      ForEachChannelVector(k, [&](auto d, int64_t k0) HWY_ATTR {
        FilterTile<M>(d, w + ci * k + k0, c * k, u + ci * kp + k0, xs);
      });
      if (kp > k) {
        for (int64_t x = 0; x < A * A; ++x) {
          std::fill(u + x * xs + ci * kp + k, u + x * xs + (ci + 1) * kp, 0.f);
        }
      }
    }
  };
  // At least 8 chunks (the transform is a few microseconds, but batch-1 calls wait for it).
  ParallelFor(c, std::max<int64_t>(1, (c + 7) / 8), rows);
}

// ----------------------------------------------------------------------------------------
// Transformed-domain GEMM: C[rows x cols] (+)= A · B with A(r, p) = a[r * a_rs + p * a_ps],
// B kc rows of ldb floats, C rows of ldc floats (B, C rows aligned; cols a multiple of kN).
// Every C element is one FMA chain over p in order (then added to C when accumulating).

template <int64_t kR, int64_t kNV>
HWY_NOINLINE void Kernel(const float* HWY_RESTRICT a, int64_t a_rs, int64_t a_ps,
                         const float* HWY_RESTRICT b, int64_t ldb, int64_t kc,
                         float* HWY_RESTRICT c, int64_t ldc, bool accumulate) {
  const DF d;
  using V = hn::Vec<DF>;
  V acc[kR][kNV];
#pragma GCC unroll 12
  for (int64_t r = 0; r < kR; ++r) {
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) acc[r][v] = hn::Zero(d);
  }
  for (int64_t p = 0; p < kc; ++p) {
    V bv[kNV];
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) bv[v] = hn::Load(d, b + v * kN);
#pragma GCC unroll 12
    for (int64_t r = 0; r < kR; ++r) {
      const V av = hn::Set(d, a[r * a_rs]);
#pragma GCC unroll 4
      for (int64_t v = 0; v < kNV; ++v) acc[r][v] = hn::MulAdd(av, bv[v], acc[r][v]);
    }
    a += a_ps;
    b += ldb;
  }
#pragma GCC unroll 12
  for (int64_t r = 0; r < kR; ++r) {
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) {
      float* HWY_RESTRICT out = c + r * ldc + v * kN;
      hn::Store(accumulate ? hn::Add(hn::Load(d, out), acc[r][v]) : acc[r][v], d, out);
    }
  }
}

// Kernel<rows, kNV> for rows < kR (a panel's last rows).
template <int64_t kNV, int64_t kR>
HWY_INLINE void KernelRows(int64_t rows, const float* a, int64_t a_rs, int64_t a_ps,
                           const float* b, int64_t ldb, int64_t kc, float* c, int64_t ldc,
                           bool accumulate) {
  if constexpr (kR >= 1) {
    if (rows == kR) return Kernel<kR, kNV>(a, a_rs, a_ps, b, ldb, kc, c, ldc, accumulate);
    KernelRows<kNV, kR - 1>(rows, a, a_rs, a_ps, b, ldb, kc, c, ldc, accumulate);
  }
}

template <int64_t kNV>
void Panel(int64_t rows, const float* a, int64_t a_rs, int64_t a_ps, const float* b,
           int64_t ldb, int64_t kc, float* c, int64_t ldc, bool accumulate) {
  constexpr int64_t kR = RowsFor(kNV);
  int64_t r = 0;
  for (; r + kR <= rows; r += kR) {
    Kernel<kR, kNV>(a + r * a_rs, a_rs, a_ps, b, ldb, kc, c + r * ldc, ldc, accumulate);
  }
  if (r < rows) {
    KernelRows<kNV, kR - 1>(rows - r, a + r * a_rs, a_rs, a_ps, b, ldb, kc, c + r * ldc, ldc,
                            accumulate);
  }
}

void Gemm(int64_t rows, int64_t cols, int64_t kc, const float* a, int64_t a_rs, int64_t a_ps,
          const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  for (int64_t j = 0; j < cols; j += kMaxNV * kN) {
    const int64_t nv = std::min<int64_t>(kMaxNV, (cols - j) / kN);
    switch (nv) {
      case 1:
        Panel<1>(rows, a, a_rs, a_ps, b + j, ldb, kc, c + j, ldc, accumulate);
        break;
      case 2:
        Panel<2>(rows, a, a_rs, a_ps, b + j, ldb, kc, c + j, ldc, accumulate);
        break;
      case 3:
        if constexpr (kMaxNV >= 3) {
          Panel<3>(rows, a, a_rs, a_ps, b + j, ldb, kc, c + j, ldc, accumulate);
        }
        break;
      default:
        if constexpr (kMaxNV >= 4) {
          Panel<4>(rows, a, a_rs, a_ps, b + j, ldb, kc, c + j, ldc, accumulate);
        }
        break;
    }
  }
}

// ----------------------------------------------------------------------------------------
// Drivers.

// The stride between the a² matrices of a block buffer holding `floats` floats each: one
// vector more than a multiple of 16 vectors (1 KiB on AVX-512), so that the a² values of one
// tile, read or written together, fall into different cache sets (with T * cout floats
// apart, 6 KiB, they fell into 2 of the L1's 64 sets).
HWY_INLINE int64_t XiStride(int64_t floats) { return RoundUp(floats, 16 * kN) + kN; }

// Tiles per block: V and M of a block within kBlockBytes, a multiple of 12 (whole
// register panels); fewer when that leaves under 4 blocks per thread (any T gives the same
// results).
int64_t ForwardBlockTiles(const Problem& p, int64_t xis, int64_t kp) {
  const int64_t per_tile =
      std::max<int64_t>(1, xis * (p.c + kp) * static_cast<int64_t>(sizeof(float)));
  int64_t t = std::clamp<int64_t>(kBlockBytes / per_tile / 12 * 12, 12, 240);
  const int64_t want = 4 * static_cast<int64_t>(NumThreads());
  if ((p.tiles + t - 1) / t < want) {
    t = std::max<int64_t>(6, RoundUp((p.tiles + want - 1) / want, 6));
  }
  return std::min(t, std::max<int64_t>(1, p.tiles));
}

template <int64_t M>
void Forward(const Problem& p, const float* HWY_RESTRICT x, const float* HWY_RESTRICT mask,
             const float* HWY_RESTRICT w, const float* HWY_RESTRICT bias, bool relu,
             float* HWY_RESTRICT y) {
  constexpr int64_t A = M + 2, X = A * A;
  if (p.tiles == 0 || p.k == 0) return;  // nothing to write
  const int64_t kp = RoundUp(p.k, kN);
  ScratchPool& scratch = Runtime::Default().scratch();
  ScratchBuffer ubuf(scratch, ScratchOwner::kWinograd, 2, static_cast<size_t>(X * p.c * kp));
  float* u = ubuf.get();
  FilterTransform<M>(w, p.c, p.k, u);
  const int64_t T = ForwardBlockTiles(p, X, kp);
  const int64_t blocks = (p.tiles + T - 1) / T;
  const int64_t vs = XiStride(T * p.c), ms = XiStride(T * kp);
  ParallelFor(blocks, 1, [&](int64_t b0, int64_t b1) HWY_ATTR {
    ScratchBuffer vbuf(scratch, ScratchOwner::kWinograd, 0, static_cast<size_t>(X * vs));
    ScratchBuffer mbuf(scratch, ScratchOwner::kWinograd, 1, static_cast<size_t>(X * ms));
    // The output transform's staging rows.
    ScratchBuffer sbuf(scratch, ScratchOwner::kWinograd, 4, static_cast<size_t>(M * M * kp));
    float* stage = sbuf.get();
    float* v = vbuf.get();
    float* m = mbuf.get();
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t t0 = blk * T, nt = std::min(T, p.tiles - t0);
      for (int64_t t = 0; t < nt; ++t) {
        if (mask) {
          InputTransform<M, true>(p, x, mask, t0 + t, v + t * p.c, vs);
        } else {
          InputTransform<M, false>(p, x, nullptr, t0 + t, v + t * p.c, vs);
        }
      }
      for (int64_t xi = 0; xi < X; ++xi) {
        Gemm(nt, kp, p.c, v + xi * vs, p.c, 1, u + xi * p.c * kp, kp, m + xi * ms, kp, false);
      }
      for (int64_t t = 0; t < nt; ++t) {
        OutputTransform<M>(p, m + t * kp, ms, bias, relu, t0 + t, stage, y);
      }
    }
  });
}

// Tiles per weight-gradient block, fixed by the shape (the sum over tiles follows it).
int64_t WeightBlockTiles(const Problem& p, int64_t xis, int64_t kp) {
  const int64_t per_tile =
      std::max<int64_t>(1, xis * (p.c + kp) * static_cast<int64_t>(sizeof(float)));
  return std::clamp<int64_t>(kBlockBytes / per_tile, 8, 256);
}

template <int64_t M>
void Weights(const Problem& p, const float* HWY_RESTRICT x, const float* HWY_RESTRICT dy,
             const float* HWY_RESTRICT mask, float* HWY_RESTRICT dw, float* HWY_RESTRICT db) {
  constexpr int64_t A = M + 2, X = A * A;
  const int64_t kp = RoundUp(p.k, kN);
  const int64_t nu = X * p.c * kp;  // floats of one partial dU
  const int64_t stride = nu + kp;   // partial dU, then partial db
  const int64_t T = WeightBlockTiles(p, X, kp);
  const int64_t blocks = (p.tiles + T - 1) / T;
  // Fixed groups of consecutive blocks (at most 16, at most ~32 MiB of partials).
  const int64_t groups = std::max<int64_t>(
      1, std::min<int64_t>({blocks, 16, kWinogradWeightPartialFloats / stride}));
  ScratchPool& scratch = Runtime::Default().scratch();
  ScratchBuffer pbuf(scratch, ScratchOwner::kWinograd, 3, static_cast<size_t>(groups * stride));
  float* partial = pbuf.get();
  const int64_t vs = XiStride(T * p.c), ms = XiStride(T * kp);
  ParallelFor(groups, 1, [&](int64_t g0, int64_t g1) HWY_ATTR {
    ScratchBuffer vbuf(scratch, ScratchOwner::kWinograd, 0, static_cast<size_t>(X * vs));
    ScratchBuffer mbuf(scratch, ScratchOwner::kWinograd, 1, static_cast<size_t>(X * ms));
    float* v = vbuf.get();
    float* m = mbuf.get();
    for (int64_t grp = g0; grp < g1; ++grp) {
      float* du = partial + grp * stride;
      float* pdb = du + nu;
      std::fill(du, du + stride, 0.f);
      const int64_t blk1 = SplitBegin(blocks, groups, grp + 1);
      for (int64_t blk = SplitBegin(blocks, groups, grp); blk < blk1; ++blk) {
        const int64_t t0 = blk * T, nt = std::min(T, p.tiles - t0);
        for (int64_t t = 0; t < nt; ++t) {
          InputTransform<M, false>(p, x, nullptr, t0 + t, v + t * p.c, vs);
        }
        for (int64_t t = 0; t < nt; ++t) {
          if (mask) {
            GradTransform<M, true>(p, dy, mask, t0 + t, m + t * kp, ms, pdb);
          } else {
            GradTransform<M, false>(p, dy, nullptr, t0 + t, m + t * kp, ms, pdb);
          }
        }
        for (int64_t xi = 0; xi < X; ++xi) {
          Gemm(p.c, kp, nt, v + xi * vs, 1, p.c, m + xi * ms, kp, du + xi * p.c * kp, kp, true);
        }
      }
    }
  });
  // dU = the partials in group order, then dw = Gᵀ dU G, one input channel at a time.
  const int64_t k = p.k;
  auto finish = [&](int64_t c0, int64_t c1) HWY_ATTR {
    auto one = [&](auto d, int64_t ci, int64_t k0) HWY_ATTR {
      using V = hn::Vec<decltype(d)>;
      V s[A][A];
      for (int64_t xi = 0; xi < X; ++xi) {
        const float* src = partial + xi * p.c * kp + ci * kp + k0;
        V sum = hn::LoadU(d, src);
        for (int64_t grp = 1; grp < groups; ++grp) {
          sum = hn::Add(sum, hn::LoadU(d, src + grp * stride));
        }
        s[xi / A][xi % A] = sum;
      }
      V q[3][A];  // q[a][j] = sum_i G[i][a] s[i][j]
      for (int64_t a = 0; a < 3; ++a) {
        for (int64_t j = 0; j < A; ++j) {
          V acc = hn::Mul(hn::Set(d, Tf<M>::kG[0][a]), s[0][j]);
          for (int64_t i = 1; i < A; ++i) {
            acc = hn::MulAdd(hn::Set(d, Tf<M>::kG[i][a]), s[i][j], acc);
          }
          q[a][j] = acc;
        }
      }
      for (int64_t a = 0; a < 3; ++a) {
        for (int64_t b = 0; b < 3; ++b) {
          V acc = hn::Mul(hn::Set(d, Tf<M>::kG[0][b]), q[a][0]);
          for (int64_t j = 1; j < A; ++j) {
            acc = hn::MulAdd(hn::Set(d, Tf<M>::kG[j][b]), q[a][j], acc);
          }
          hn::StoreU(acc, d, dw + ((a * 3 + b) * p.c + ci) * k + k0);
        }
      }
    };
    for (int64_t ci = c0; ci < c1; ++ci) {
      ForEachChannelVector(k, [&](auto d, int64_t k0) HWY_ATTR { one(d, ci, k0); });
    }
  };
  ParallelFor(p.c, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, X * kp / 16)), finish);
  if (db) {
    for (int64_t co = 0; co < k; ++co) {
      float sum = partial[nu + co];
      for (int64_t grp = 1; grp < groups; ++grp) sum += partial[grp * stride + nu + co];
      db[co] = sum;
    }
  }
}

void WinogradForwardImpl(int64_t m, const Problem& p, const float* x, const float* mask,
                         const float* w, const float* bias, bool relu, float* y) {
  if (m == 2) return Forward<2>(p, x, mask, w, bias, relu, y);
  Forward<4>(p, x, mask, w, bias, relu, y);
}

void WinogradWeightsImpl(int64_t m, const Problem& p, const float* x, const float* dy,
                         const float* mask, float* dw, float* db) {
  if (m == 2) return Weights<2>(p, x, dy, mask, dw, db);
  Weights<4>(p, x, dy, mask, dw, db);
}

}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gradway {
namespace ops {

HWY_EXPORT(WinogradForwardImpl);
HWY_EXPORT(WinogradWeightsImpl);

namespace {

// The output tile side m: 2 for kWinogradTile2, else 4.
int64_t TileSide(int tile) { return tile == kWinogradTile2 ? 2 : 4; }

}  // namespace

void WinogradConv3x3Forward(int tile, const Winograd3x3Shape& s, const float* x,
                            const float* w, const float* bias, Epilogue epilogue, float* y) {
  const int64_t m = TileSide(tile);
  const winograd_detail::Problem p = winograd_detail::MakeProblem(
      m, s.n, s.h, s.w, s.cin, s.out_h, s.out_w, s.cout, s.pad_top, s.pad_left);
  const bool relu = epilogue == Epilogue::kRelu;
  HWY_DYNAMIC_DISPATCH(WinogradForwardImpl)(m, p, x, nullptr, w, bias, relu, y);
}

void WinogradConv3x3BackwardData(int tile, const Winograd3x3Shape& s, const float* dy,
                                 const float* relu_y, const float* w, float* dx) {
  const int64_t m = TileSide(tile);
  // The transposed problem: input dy [n, out_h, out_w, cout], output dx [n, h, w, cin],
  // padding 2 - pad, kernel w'[a][b][co][ci] = w[2 - a][2 - b][ci][co].
  const winograd_detail::Problem p = winograd_detail::MakeProblem(
      m, s.n, s.out_h, s.out_w, s.cout, s.h, s.w, s.cin, 2 - s.pad_top, 2 - s.pad_left);
  if (p.tiles == 0) return;
  ScratchBuffer wt(Runtime::Default().scratch(), ScratchOwner::kWinograd, 3,
                   static_cast<size_t>(9 * s.cin * s.cout));
  for (int64_t a = 0; a < 3; ++a) {
    for (int64_t b = 0; b < 3; ++b) {
      Transpose2D(w + ((2 - a) * 3 + (2 - b)) * s.cin * s.cout, s.cin, s.cout,
                  wt.get() + (a * 3 + b) * s.cout * s.cin);
    }
  }
  HWY_DYNAMIC_DISPATCH(WinogradForwardImpl)(m, p, dy, relu_y, wt.get(), nullptr, false, dx);
}

void WinogradConv3x3BackwardWeights(int tile, const Winograd3x3Shape& s, const float* x,
                                    const float* dy, const float* relu_y, float* dw,
                                    float* db) {
  const int64_t m = TileSide(tile);
  const winograd_detail::Problem p = winograd_detail::MakeProblem(
      m, s.n, s.h, s.w, s.cin, s.out_h, s.out_w, s.cout, s.pad_top, s.pad_left);
  if (p.tiles == 0) {
    std::fill(dw, dw + 9 * s.cin * s.cout, 0.f);
    if (db) std::fill(db, db + s.cout, 0.f);
    return;
  }
  if (s.cout == 0) return;  // dw and db are empty
  HWY_DYNAMIC_DISPATCH(WinogradWeightsImpl)(m, p, x, dy, relu_y, dw, db);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
