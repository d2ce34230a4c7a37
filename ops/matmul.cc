// GEMM: a register-blocked FMA micro-kernel, cache blocking over k, B packed into column
// panels, tiles of C run in parallel through ParallelFor. Highway dynamic dispatch: this
// file is compiled once per target (AVX3, AVX2, SSE4, SSSE3, scalar) and the best one the
// CPU supports is picked at run time.
//
// Layout of the computation (BLIS-like):
//   for each k-block [k0, k0 + kc)             (fixed boundaries: depend only on k)
//     for each row panel of kMR rows           (its A elements stay in L1)
//       for each column panel of the task      (the task's B block streams from L2)
//         micro-kernel: kMR x kNV vectors of accumulators, kc FMA steps, then C is
//         written (first k-block: = acc + bias (+ C); later ones: += acc).
// A is read in place (broadcasts need no packing, whatever its transposition); B is packed
// into kNR-column panels once per call (in parallel) unless it is stored k x n with whole
// vectors per row. Every C element is the sum over k-blocks (in order) of an FMA chain over
// p (in order), so the result depends neither on the tiling nor on the thread count.
// Epilogue: the last k-block's write applies the ReLU to the finished sums in registers.
// Prologue (MatMulReluMaskedB): B is always packed, with the ReLU mask applied, its column
// sums and optionally a masked copy taken from the same read, by the GEMM's tasks
// themselves (each panel by the first task that needs it).

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "ops/matmul.h"

#include "base/runtime.h"
#include "base/scratch.h"
#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/matmul.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/aligned_allocator.h>
#include <hwy/cache_control.h>
#include <hwy/highway.h>

// Target-independent helpers: defined once.
#ifndef GRADWAY_OPS_MATMUL_SCRATCH_
#define GRADWAY_OPS_MATMUL_SCRATCH_
namespace gradway {
namespace ops {
namespace matmul_detail {

constexpr int64_t kMaxKc = 384;  // k-block length limit (A micro-panel in L1).

// k-blocks: ceil(k / kMaxKc) blocks of (almost) equal length; depends only on k.
inline int64_t NumKBlocks(int64_t k) { return std::max<int64_t>(1, (k + kMaxKc - 1) / kMaxKc); }
inline int64_t KBlockBegin(int64_t k, int64_t nkb, int64_t b) { return k * b / nkb; }


}  // namespace matmul_detail
}  // namespace ops
}  // namespace gradway
#endif  // GRADWAY_OPS_MATMUL_SCRATCH_

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using matmul_detail::KBlockBegin;
using matmul_detail::kMaxKc;
using matmul_detail::NumKBlocks;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr size_t kN = hn::MaxLanes(D());
// Register blocking: kMR rows x kNV vectors of accumulators. 6 x 4 = 24 of the 32 zmm
// registers on AVX-512; 6 x 2 = 12 of the 16 registers on AVX2/SSE4.
constexpr size_t kMR = 6;
constexpr size_t kNV = (kN >= 16) ? 4 : 2;
constexpr size_t kNR = kNV * kN;

// The columns of a packed panel holding nc < kNR columns that the kernels read: whole
// vectors (the padding of the last one is zero). The panel's rows stay kNR apart; the
// columns past these are never read, so they are not written.
inline int64_t ReadCols(int64_t nc) {
  return (nc + static_cast<int64_t>(kN) - 1) / static_cast<int64_t>(kN) *
         static_cast<int64_t>(kN);
}

// ----------------------------------------------------------------------------------------
// Packing. A is never packed: the kernel broadcasts its elements straight from memory
// (row stride and k stride given), which costs the same as reading a packed panel. B is
// packed into column panels unless it is stored k x n with n a multiple of the vector
// length; then the kernel reads its rows in place.

#if HWY_CAP_GE256
// dst[i * ldd + j] = src[j * ld + i] for i, j < 8.
HWY_INLINE void Transpose8x8(const float* HWY_RESTRICT src, int64_t ld,
                             float* HWY_RESTRICT dst, int64_t ldd) {
  const hn::FixedTag<float, 8> d8;
  const hn::Repartition<double, decltype(d8)> dd;
  const auto r0 = hn::LoadU(d8, src), r1 = hn::LoadU(d8, src + ld);
  const auto r2 = hn::LoadU(d8, src + 2 * ld), r3 = hn::LoadU(d8, src + 3 * ld);
  const auto r4 = hn::LoadU(d8, src + 4 * ld), r5 = hn::LoadU(d8, src + 5 * ld);
  const auto r6 = hn::LoadU(d8, src + 6 * ld), r7 = hn::LoadU(d8, src + 7 * ld);
  // t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5] (per 128-bit block), ...
  const auto t0 = hn::BitCast(dd, hn::InterleaveLower(d8, r0, r1));
  const auto t1 = hn::BitCast(dd, hn::InterleaveUpper(d8, r0, r1));
  const auto t2 = hn::BitCast(dd, hn::InterleaveLower(d8, r2, r3));
  const auto t3 = hn::BitCast(dd, hn::InterleaveUpper(d8, r2, r3));
  const auto t4 = hn::BitCast(dd, hn::InterleaveLower(d8, r4, r5));
  const auto t5 = hn::BitCast(dd, hn::InterleaveUpper(d8, r4, r5));
  const auto t6 = hn::BitCast(dd, hn::InterleaveLower(d8, r6, r7));
  const auto t7 = hn::BitCast(dd, hn::InterleaveUpper(d8, r6, r7));
  // u0 = rows 0-3 of columns 0 | 4, u1: 1 | 5, u2: 2 | 6, u3: 3 | 7; u4..u7 rows 4-7.
  const auto u0 = hn::BitCast(d8, hn::InterleaveLower(dd, t0, t2));
  const auto u1 = hn::BitCast(d8, hn::InterleaveUpper(dd, t0, t2));
  const auto u2 = hn::BitCast(d8, hn::InterleaveLower(dd, t1, t3));
  const auto u3 = hn::BitCast(d8, hn::InterleaveUpper(dd, t1, t3));
  const auto u4 = hn::BitCast(d8, hn::InterleaveLower(dd, t4, t6));
  const auto u5 = hn::BitCast(d8, hn::InterleaveUpper(dd, t4, t6));
  const auto u6 = hn::BitCast(d8, hn::InterleaveLower(dd, t5, t7));
  const auto u7 = hn::BitCast(d8, hn::InterleaveUpper(dd, t5, t7));
  hn::StoreU(hn::ConcatLowerLower(d8, u4, u0), d8, dst);
  hn::StoreU(hn::ConcatLowerLower(d8, u5, u1), d8, dst + ldd);
  hn::StoreU(hn::ConcatLowerLower(d8, u6, u2), d8, dst + 2 * ldd);
  hn::StoreU(hn::ConcatLowerLower(d8, u7, u3), d8, dst + 3 * ldd);
  hn::StoreU(hn::ConcatUpperUpper(d8, u4, u0), d8, dst + 4 * ldd);
  hn::StoreU(hn::ConcatUpperUpper(d8, u5, u1), d8, dst + 5 * ldd);
  hn::StoreU(hn::ConcatUpperUpper(d8, u6, u2), d8, dst + 6 * ldd);
  hn::StoreU(hn::ConcatUpperUpper(d8, u7, u3), d8, dst + 7 * ldd);
}
#endif  // HWY_CAP_GE256

// One k-block of a panel of op(B) = Bᵀ: out[p * kNR + c] = src[c * ld + p] for c < nc,
// p < kc, and 0 for nc <= c < ReadCols(nc). Takes 16 rows of B at a time and walks them
// along p (16 sequential streams, prefetched a few lines ahead), two 8x8 transposes per
// step writing whole 64-byte lines of the panel.
void PackTransposedB(const float* HWY_RESTRICT src, int64_t ld, int64_t nc, int64_t kc,
                     float* HWY_RESTRICT out) {
  int64_t c = 0;
#if HWY_CAP_GE256
  constexpr int64_t kAhead = 64;  // prefetch distance in floats (4 cache lines)
  for (; c + 16 <= nc; c += 16) {
    const float* HWY_RESTRICT s0 = src + c * ld;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
      if (p % 16 == 0 && p + kAhead < kc) {
        for (int64_t r = 0; r < 16; ++r) hwy::Prefetch(s0 + r * ld + p + kAhead);
      }
      Transpose8x8(s0 + p, ld, out + p * kNR + c, kNR);
      Transpose8x8(s0 + 8 * ld + p, ld, out + p * kNR + c + 8, kNR);
    }
    for (; p < kc; ++p) {
      for (int64_t r = 0; r < 16; ++r) out[p * kNR + c + r] = s0[r * ld + p];
    }
  }
#endif
  for (; c < nc; ++c) {
    const float* HWY_RESTRICT s = src + c * ld;
    for (int64_t p = 0; p < kc; ++p) out[p * kNR + c] = s[p];
  }
  for (int64_t p = 0; p < kc; ++p) {
    float* o = out + p * kNR;
    for (int64_t cc = nc; cc < ReadCols(nc); ++cc) o[cc] = 0.f;
  }
}

// Packs column panel `j` (all of k) of op(B) into dst, which holds the panel's k-blocks
// at offsets kNR * (kb_begin * num_panels + j * kc_b): for each k-block, kc_b rows of kNR.
void PackBPanel(const float* HWY_RESTRICT b, int64_t n, int64_t k, bool trans_b, int64_t j,
                int64_t num_panels, float* HWY_RESTRICT dst) {
  const int64_t c0 = j * static_cast<int64_t>(kNR);
  const int64_t nc = std::min<int64_t>(kNR, n - c0);
  const int64_t nkb = NumKBlocks(k);
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const int64_t k0 = KBlockBegin(k, nkb, kb);
    const int64_t kc = KBlockBegin(k, nkb, kb + 1) - k0;
    float* HWY_RESTRICT out = dst + kNR * (k0 * num_panels + j * kc);
    if (!trans_b) {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (k0 + p) * n + c0;
        float* o = out + p * kNR;
        int64_t c = 0;
        for (; c < nc; ++c) o[c] = src[c];
        for (; c < ReadCols(nc); ++c) o[c] = 0.f;
      }
    } else {
      // B stored n x k: column c of the panel is a contiguous run of B's row c0 + c.
      // 8x8 blocks are transposed in registers (B read along its rows, the panel written
      // a row of 8 at a time); partial blocks and the panel's padding go one by one.
      PackTransposedB(b + c0 * k + k0, k, nc, kc, out);
    }
  }
}

// The prologue of MatMulReluMaskedB: packs column panel `j` of G = B ⊙ (mask > 0) (B and
// mask stored k x n) into dst as PackBPanel does, writes the panel's column sums of G
// (over p in order, from 0) to colsum[c0, c0 + nc) when not null, and G itself to
// `masked` (k x n) when not null. Whole vectors and the scalar tail columns give the same
// bits.
void PackMaskedBPanel(const float* HWY_RESTRICT b, const float* HWY_RESTRICT mask,
                      int64_t n, int64_t k, int64_t j, int64_t num_panels,
                      float* HWY_RESTRICT dst, float* HWY_RESTRICT colsum,
                      float* HWY_RESTRICT masked) {
  const D d;
  const V zero = hn::Zero(d);
  const int64_t c0 = j * static_cast<int64_t>(kNR);
  const int64_t nc = std::min<int64_t>(kNR, n - c0);
  const int64_t nv = nc / static_cast<int64_t>(kN);  // whole vectors in the panel
  V s0 = zero, s1 = zero, s2 = zero, s3 = zero;
  float tail[kNR] = {};  // sums of the columns past the whole vectors
  const int64_t nkb = NumKBlocks(k);
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const int64_t k0 = KBlockBegin(k, nkb, kb);
    const int64_t kc = KBlockBegin(k, nkb, kb + 1) - k0;
    float* HWY_RESTRICT out = dst + kNR * (k0 * num_panels + j * kc);
    for (int64_t p = 0; p < kc; ++p) {
      const int64_t row = (k0 + p) * n + c0;
      const float* HWY_RESTRICT src = b + row;
      const float* HWY_RESTRICT ms = mask + row;
      float* HWY_RESTRICT o = out + p * kNR;
      float* HWY_RESTRICT mo = masked != nullptr ? masked + row : nullptr;
      auto step = [&](int64_t v, V& sum) HWY_ATTR {
        const int64_t off = v * static_cast<int64_t>(kN);
        const V g = hn::IfThenElseZero(hn::Gt(hn::LoadU(d, ms + off), zero),
                                       hn::LoadU(d, src + off));
        hn::Store(g, d, o + off);
        if (mo != nullptr) hn::StoreU(g, d, mo + off);
        sum = hn::Add(sum, g);
      };
      if (nv > 0) step(0, s0);
      if constexpr (kNV > 1) {
        if (nv > 1) step(1, s1);
      }
      if constexpr (kNV > 2) {
        if (nv > 2) step(2, s2);
      }
      if constexpr (kNV > 3) {
        if (nv > 3) step(3, s3);
      }
      int64_t c = nv * static_cast<int64_t>(kN);
      for (; c < nc; ++c) {
        const float g = ms[c] > 0.f ? src[c] : 0.f;
        o[c] = g;
        if (mo != nullptr) mo[c] = g;
        tail[c] = tail[c] + g;
      }
      for (; c < ReadCols(nc); ++c) o[c] = 0.f;
    }
  }
  if (colsum == nullptr) return;
  float* HWY_RESTRICT cs = colsum + c0;
  if (nv > 0) hn::StoreU(s0, d, cs);
  if (nv > 1) hn::StoreU(s1, d, cs + kN);
  if (nv > 2) hn::StoreU(s2, d, cs + 2 * kN);
  if (nv > 3) hn::StoreU(s3, d, cs + 3 * kN);
  for (int64_t c = nv * static_cast<int64_t>(kN); c < nc; ++c) cs[c] = tail[c];
}

// ----------------------------------------------------------------------------------------
// Micro-kernel.

// How a kernel writes its tile: the first k-block sets C = acc (+ bias) (+ C if
// `accumulate`); later k-blocks add: C = C + acc. The last one then applies the ReLU when
// `relu` (set only on the last k-block). 16 bytes, so that it is passed in two registers
// (a larger struct goes through the stack, and its narrow stores reloaded as one wide
// load stall store forwarding at every kernel call).
struct StoreMode {
  const float* bias;  // bias for this tile's first column, or null.
  bool first;
  bool accumulate;
  bool relu;
  bool last;  // the last k-block: C's zeros become +0 (see "Zero skipping")
};
static_assert(sizeof(StoreMode) <= 16, "StoreMode must fit in two registers");

// Where the kernel reads A and B. A element (r, p) is a[r * a_rs + p * a_ps]; B row p
// (kNV2 vectors) starts at b + p * ldb. With `steps` set, the kernel runs only the steps p
// listed there (ascending, `count` of them) instead of p = 0 .. kc - 1.
struct Operands {
  const float* a;
  int64_t a_rs, a_ps;
  const float* b;
  int64_t ldb;
  bool b_aligned;
  const int32_t* steps;
  int64_t count;
};

// Computes a kRows x (kNV2 * kN) tile: acc[r][c] = sum_p A(r, p) * B(p, c) over kc steps,
// then writes columns [0, cols) of C (row stride ldc). A whole tile (cols == kNV2 * kN)
// goes straight to C; an edge tile through a temporary with the same arithmetic.
template <size_t kRows, size_t kNV2>
HWY_NOINLINE void Kernel(Operands op, int64_t kc, float* HWY_RESTRICT c, int64_t ldc,
                         int64_t cols, StoreMode mode) {
  const D d;
  V c00 = hn::Zero(d), c01 = hn::Zero(d), c02 = hn::Zero(d), c03 = hn::Zero(d);
  V c10 = hn::Zero(d), c11 = hn::Zero(d), c12 = hn::Zero(d), c13 = hn::Zero(d);
  V c20 = hn::Zero(d), c21 = hn::Zero(d), c22 = hn::Zero(d), c23 = hn::Zero(d);
  V c30 = hn::Zero(d), c31 = hn::Zero(d), c32 = hn::Zero(d), c33 = hn::Zero(d);
  V c40 = hn::Zero(d), c41 = hn::Zero(d), c42 = hn::Zero(d), c43 = hn::Zero(d);
  V c50 = hn::Zero(d), c51 = hn::Zero(d), c52 = hn::Zero(d), c53 = hn::Zero(d);
  const float* HWY_RESTRICT ap = op.a;  // A(0, p) and B row p of the current step
  const float* HWY_RESTRICT bp = op.b;
  const int64_t rs = op.a_rs, ps = op.a_ps, ldb = op.ldb;
  const int64_t o1 = rs, o2 = 2 * rs, o3 = 3 * rs, o4 = 4 * rs, o5 = 5 * rs;
  (void)o1, (void)o2, (void)o3, (void)o4, (void)o5;

#define GW_MM_ROW(R, OFF)                                            \
  if constexpr (kRows > R) {                                         \
    const V a = hn::Set(d, ap[OFF]);                                 \
    c##R##0 = hn::MulAdd(a, b0, c##R##0);                            \
    if constexpr (kNV2 > 1) c##R##1 = hn::MulAdd(a, b1, c##R##1);    \
    if constexpr (kNV2 > 2) c##R##2 = hn::MulAdd(a, b2, c##R##2);    \
    if constexpr (kNV2 > 3) c##R##3 = hn::MulAdd(a, b3, c##R##3);    \
  }
#define GW_MM_STEP(LOAD)                                              \
  {                                                                   \
    const V b0 = LOAD(d, bp);                                         \
    const V b1 = kNV2 > 1 ? LOAD(d, bp + 1 * kN) : b0;                \
    const V b2 = kNV2 > 2 ? LOAD(d, bp + 2 * kN) : b0;                \
    const V b3 = kNV2 > 3 ? LOAD(d, bp + 3 * kN) : b0;                \
    GW_MM_ROW(0, 0)                                                   \
    GW_MM_ROW(1, o1)                                                  \
    GW_MM_ROW(2, o2)                                                  \
    GW_MM_ROW(3, o3)                                                  \
    GW_MM_ROW(4, o4)                                                  \
    GW_MM_ROW(5, o5)                                                  \
  }
  if (op.steps != nullptr) {
    const int32_t* HWY_RESTRICT steps = op.steps;
    const float* HWY_RESTRICT a0 = op.a;
    const float* HWY_RESTRICT b0 = op.b;
    const int64_t count = op.count;
    if (op.b_aligned) {
      for (int64_t i = 0; i < count; ++i) {
        ap = a0 + steps[i] * ps;
        bp = b0 + steps[i] * ldb;
        GW_MM_STEP(hn::Load)
      }
    } else {
      for (int64_t i = 0; i < count; ++i) {
        ap = a0 + steps[i] * ps;
        bp = b0 + steps[i] * ldb;
        GW_MM_STEP(hn::LoadU)
      }
    }
  } else if (op.b_aligned) {
    for (int64_t p = 0; p < kc; ++p, ap += ps, bp += ldb) GW_MM_STEP(hn::Load)
  } else {
    for (int64_t p = 0; p < kc; ++p, ap += ps, bp += ldb) GW_MM_STEP(hn::LoadU)
  }
#undef GW_MM_STEP
#undef GW_MM_ROW

  if (cols == static_cast<int64_t>(kNV2 * kN)) {
    V bias0 = hn::Zero(d), bias1 = hn::Zero(d), bias2 = hn::Zero(d), bias3 = hn::Zero(d);
    const bool use_bias = mode.first && mode.bias != nullptr;
    if (use_bias) {
      bias0 = hn::LoadU(d, mode.bias);
      if constexpr (kNV2 > 1) bias1 = hn::LoadU(d, mode.bias + 1 * kN);
      if constexpr (kNV2 > 2) bias2 = hn::LoadU(d, mode.bias + 2 * kN);
      if constexpr (kNV2 > 3) bias3 = hn::LoadU(d, mode.bias + 3 * kN);
    }
    const bool add_c = !mode.first || mode.accumulate;
    const bool relu = mode.relu, last = mode.last;
    auto put = [&](float* out, V acc, V bias) HWY_ATTR {
      if (use_bias) acc = hn::Add(acc, bias);
      if (add_c) acc = hn::Add(hn::LoadU(d, out), acc);
      if (last) acc = hn::Add(acc, hn::Zero(d));  // -0 + +0 = +0; nothing else changes
      if (relu) acc = hn::IfThenElseZero(hn::Gt(acc, hn::Zero(d)), acc);
      hn::StoreU(acc, d, out);
    };
#define GW_MM_PUT(R)                                                  \
  if constexpr (kRows > R) {                                          \
    float* out = c + R * ldc;                                         \
    put(out, c##R##0, bias0);                                         \
    if constexpr (kNV2 > 1) put(out + 1 * kN, c##R##1, bias1);        \
    if constexpr (kNV2 > 2) put(out + 2 * kN, c##R##2, bias2);        \
    if constexpr (kNV2 > 3) put(out + 3 * kN, c##R##3, bias3);        \
  }
    GW_MM_PUT(0)
    GW_MM_PUT(1)
    GW_MM_PUT(2)
    GW_MM_PUT(3)
    GW_MM_PUT(4)
    GW_MM_PUT(5)
#undef GW_MM_PUT
    return;
  }

  // Edge tile: spill the accumulators, then combine element by element.
  HWY_ALIGN float tile[kMR * kNR];
#define GW_MM_SPILL(R)                                                           \
  if constexpr (kRows > R) {                                                     \
    float* t = tile + R * kNR;                                                   \
    hn::Store(c##R##0, d, t);                                                    \
    if constexpr (kNV2 > 1) hn::Store(c##R##1, d, t + 1 * kN);                   \
    if constexpr (kNV2 > 2) hn::Store(c##R##2, d, t + 2 * kN);                   \
    if constexpr (kNV2 > 3) hn::Store(c##R##3, d, t + 3 * kN);                   \
  }
  GW_MM_SPILL(0)
  GW_MM_SPILL(1)
  GW_MM_SPILL(2)
  GW_MM_SPILL(3)
  GW_MM_SPILL(4)
  GW_MM_SPILL(5)
#undef GW_MM_SPILL
  for (size_t r = 0; r < kRows; ++r) {
    float* out = c + r * ldc;
    const float* t = tile + r * kNR;
    for (int64_t j = 0; j < cols; ++j) {
      float v = t[j];
      if (mode.first) {
        if (mode.bias != nullptr) v = v + mode.bias[j];
        if (mode.accumulate) v = out[j] + v;
      } else {
        v = out[j] + v;
      }
      if (mode.last) v = v + 0.f;
      if (mode.relu) v = v > 0.f ? v : 0.f;
      out[j] = v;
    }
  }
}

template <size_t kRows>
void CallKernelRows(size_t nv, const Operands& op, int64_t kc, float* c, int64_t ldc,
                    int64_t cols, StoreMode mode) {
  switch (nv) {
    case 1:
      return Kernel<kRows, 1>(op, kc, c, ldc, cols, mode);
    case 2:
      if constexpr (kNV >= 2) return Kernel<kRows, 2>(op, kc, c, ldc, cols, mode);
      break;
    case 3:
      if constexpr (kNV >= 3) return Kernel<kRows, 3>(op, kc, c, ldc, cols, mode);
      break;
    default:
      if constexpr (kNV >= 4) return Kernel<kRows, 4>(op, kc, c, ldc, cols, mode);
      break;
  }
}

void CallKernel(int64_t rows, size_t nv, const Operands& op, int64_t kc, float* c,
                int64_t ldc, int64_t cols, StoreMode mode) {
  switch (rows) {
    case 1: return CallKernelRows<1>(nv, op, kc, c, ldc, cols, mode);
    case 2: return CallKernelRows<2>(nv, op, kc, c, ldc, cols, mode);
    case 3: return CallKernelRows<3>(nv, op, kc, c, ldc, cols, mode);
    case 4: return CallKernelRows<4>(nv, op, kc, c, ldc, cols, mode);
    case 5: return CallKernelRows<5>(nv, op, kc, c, ldc, cols, mode);
    default: return CallKernelRows<6>(nv, op, kc, c, ldc, cols, mode);
  }
}

// ----------------------------------------------------------------------------------------
// Zero skipping. A step p whose kMR elements A(r, p) of a row panel are all zero (+0 or -0)
// adds only zero products to the panel's accumulators. Provided B's row p is finite (0
// times inf or NaN is NaN), adding a zero product changes a sum at most in the sign of a
// zero: a sum that is -0 (a negative product too small for a float rounds to -0) may
// become +0. By induction over the steps, a sum with some such steps skipped equals the
// full sum up to the sign of zero, and so does everything the store adds (bias, C). So
// the last k-block's store turns every zero of C into +0 (adding +0), and the result is
// the same bit for bit whichever steps were skipped, and so whatever the thread count
// (which decides the tasks' row ranges and so which panels are scanned). Inputs such as
// images (background pixels) and ReLU outputs have many zeros; a dense layer's weight
// gradient reads its input transposed, so a row panel is a run of neighbouring pixels of
// one image, zero together in the background.

// Writes to `steps` the p in [0, kc) where some A(r, p), r < rows, is not zero (NaN counts
// as not zero), in ascending order; returns how many. `steps` holds kc + kN entries.
// A(r, p) = a[r * a_rs + p * a_ps].
int64_t NonzeroSteps(const float* HWY_RESTRICT a, int64_t a_rs, int64_t a_ps, int64_t rows,
                     int64_t kc, int32_t* HWY_RESTRICT steps) {
  int64_t count = 0;
  int64_t p = 0;
  if (a_ps == 1) {  // rows contiguous along p: a vector of steps at a time
    const D d;
    const hn::RebindToSigned<D> di;
    const V zero = hn::Zero(d);
    for (; p + static_cast<int64_t>(kN) <= kc; p += kN) {
      auto all_zero = hn::Eq(hn::LoadU(d, a + p), zero);
      for (int64_t r = 1; r < rows; ++r) {
        all_zero = hn::And(all_zero, hn::Eq(hn::LoadU(d, a + r * a_rs + p), zero));
      }
      const auto keep = hn::Not(all_zero);
      hn::StoreU(hn::Compress(hn::Iota(di, static_cast<int32_t>(p)), hn::RebindMask(di, keep)),
                 di, steps + count);
      count += static_cast<int64_t>(hn::CountTrue(d, keep));
    }
  }
#if HWY_CAP_GE256
  else if (a_rs == 1) {  // a row panel's elements of step p are contiguous
    const hn::FixedTag<float, 8> d8;
    static_assert(kMR <= 8, "a step's row panel must fit in 8 lanes");
    const auto valid = hn::FirstN(d8, static_cast<size_t>(rows));
    const auto zero = hn::Zero(d8);
    for (; p < kc; ++p) {
      const auto v = hn::MaskedLoad(valid, d8, a + p * a_ps);
      steps[count] = static_cast<int32_t>(p);
      count += hn::AllTrue(d8, hn::Eq(v, zero)) ? 0 : 1;
    }
  }
#endif
  for (; p < kc; ++p) {
    bool all_zero = true;
    for (int64_t r = 0; r < rows; ++r) all_zero = all_zero && a[r * a_rs + p * a_ps] == 0.f;
    steps[count] = static_cast<int32_t>(p);
    count += all_zero ? 0 : 1;
  }
  return count;
}

// Whether the kc rows of `cols` floats (a multiple of kN, at most kNR) at b, ldb apart, are
// all finite: x - x is 0 for finite x and NaN for inf or NaN, and NaN sticks in a sum.
bool BlockIsFinite(const float* HWY_RESTRICT b, int64_t ldb, int64_t kc, int64_t cols) {
  const D d;
  V s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  const int64_t nv = cols / static_cast<int64_t>(kN);
  for (int64_t p = 0; p < kc; ++p) {
    const float* HWY_RESTRICT row = b + p * ldb;
    const V x0 = hn::LoadU(d, row);
    s0 = hn::Add(s0, hn::Sub(x0, x0));
    if (nv > 1) {
      const V x1 = hn::LoadU(d, row + kN);
      s1 = hn::Add(s1, hn::Sub(x1, x1));
    }
    if (nv > 2) {
      const V x2 = hn::LoadU(d, row + 2 * kN);
      s2 = hn::Add(s2, hn::Sub(x2, x2));
    }
    if (nv > 3) {
      const V x3 = hn::LoadU(d, row + 3 * kN);
      s3 = hn::Add(s3, hn::Sub(x3, x3));
    }
  }
  static_assert(kNV <= 4, "BlockIsFinite sums at most 4 vectors per row");
  const V sum = hn::Add(hn::Add(s0, s1), hn::Add(s2, s3));
  return hn::AllTrue(d, hn::Eq(sum, hn::Zero(d)));
}

// ----------------------------------------------------------------------------------------
// Driver.

// B as the kernels read it: packed panels, or op(B) = B stored k x n read in place.
struct BSource {
  const float* data;
  bool packed;
  int64_t num_panels;
};

// Computes the tile C[r0 : r0 + rows, column panels j0 .. j1) over all k-blocks. A row
// panel's steps with all-zero A are skipped, when they are at least 1/32 of the k-block,
// where B's block (k-block kb, column panel j) is finite: finite[kb * num_panels + j] is
// 0 until some task checks that block, then 1 (finite) or 2 (not). Skipping never changes
// a bit of C, so neither does which panels are scanned.
void ComputeTile(const float* a, const BSource& bs, float* c, int64_t m, int64_t n,
                 int64_t k, bool trans_a, const float* bias, bool accumulate, bool relu,
                 int64_t r0, int64_t rows, int64_t j0, int64_t j1,
                 std::atomic<uint8_t>* finite) {
  const int64_t nkb = NumKBlocks(k);
  // A(r, p): row stride and k stride.
  const int64_t a_rs = trans_a ? 1 : k, a_ps = trans_a ? m : 1;
  HWY_ALIGN int32_t steps[kMaxKc + kN];
  // Scanning A costs a few percent of a dense product: after `misses` scans in a row that
  // found too few zero steps, the next 2^misses - 1 row panels (`wait`) are not scanned.
  int64_t misses = 0, wait = 0;
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const int64_t k0 = KBlockBegin(k, nkb, kb);
    const int64_t kc = KBlockBegin(k, nkb, kb + 1) - k0;
    for (int64_t rb = r0; rb < r0 + rows; rb += kMR) {
      const int64_t nr = std::min<int64_t>(kMR, r0 + rows - rb);
      const float* a_panel = a + rb * a_rs + k0 * a_ps;
      bool skip = false;
      int64_t count = kc;
      if (wait == 0) {
        count = NonzeroSteps(a_panel, a_rs, a_ps, nr, kc, steps);
        skip = kc - count >= std::max<int64_t>(1, kc / 32);
        // Dense A: scan only every 2nd, 4th, ... 16th row panel from here on.
        misses = skip ? 0 : std::min<int64_t>(misses + 1, 4);
        wait = (int64_t{1} << misses) - 1;
      } else {
        --wait;
      }
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t cb = j * static_cast<int64_t>(kNR);
        const int64_t nc = std::min<int64_t>(kNR, n - cb);
        const size_t nv = static_cast<size_t>((nc + kN - 1) / kN);
        Operands op;
        op.a = a_panel;
        op.a_rs = a_rs;
        op.a_ps = a_ps;
        if (bs.packed) {
          op.b = bs.data + kNR * (k0 * bs.num_panels + j * kc);
          op.ldb = kNR;
          op.b_aligned = true;
        } else {
          op.b = bs.data + k0 * n + cb;
          op.ldb = n;
          op.b_aligned = false;
        }
        op.steps = nullptr;
        op.count = kc;
        if (skip) {
          std::atomic<uint8_t>& known = finite[kb * bs.num_panels + j];
          uint8_t state = known.load(std::memory_order_relaxed);
          if (state == 0) {  // tasks racing here compute the same answer
            state = BlockIsFinite(op.b, op.ldb, kc, static_cast<int64_t>(nv * kN)) ? 1 : 2;
            known.store(state, std::memory_order_relaxed);
          }
          if (state == 1) {
            op.steps = steps;
            op.count = count;
          }
        }
        StoreMode mode{bias ? bias + cb : nullptr, kb == 0, accumulate,
                       relu && kb == nkb - 1, kb == nkb - 1};
        CallKernel(nr, nv, op, kc, c + rb * n + cb, n, nc, mode);
      }
    }
  }
}

// The ReLU-masked B of MatMulReluMaskedB: B stored k x n, masked where mask <= 0.
struct MaskedB {
  const float* mask;  // null: plain B
  float* colsum;      // may be null
  float* masked;      // may be null
};

void MatMulImpl(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
                bool trans_a, bool trans_b, const float* bias, bool accumulate, bool relu,
                const MaskedB& mb, bool parallel) {
  if (n <= 0) return;
  if (mb.mask != nullptr && (m <= 0 || k <= 0)) {
    // No product to fuse the prologue into: G's sums and copy alone, then C = 0.
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0.f;
      for (int64_t p = 0; p < k; ++p) {
        const float g = mb.mask[p * n + j] > 0.f ? b[p * n + j] : 0.f;
        if (mb.masked != nullptr) mb.masked[p * n + j] = g;
        sum = sum + g;
      }
      if (mb.colsum != nullptr) mb.colsum[j] = sum;
    }
    for (int64_t i = 0; i < m * n; ++i) c[i] = 0.f;
    return;
  }
  if (m <= 0) return;
  if (k <= 0) {
    // Empty sum: C = bias (+ C), then the epilogue.
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        float v = bias ? bias[j] : 0.f;
        v = (accumulate ? c[i * n + j] + v : v) + 0.f;  // zeros as +0, as below
        if (relu) v = v > 0.f ? v : 0.f;
        c[i * n + j] = v;
      }
    }
    return;
  }
  const int64_t num_panels = (n + kNR - 1) / kNR;
  const int64_t row_panels = (m + kMR - 1) / kMR;
  const double flops = 2.0 * m * n * k;
  const int threads =
      parallel && (flops > 2e6 || (n * k > (1 << 17) && flops > 2e5)) ? NumThreads() : 1;

  const bool masked = mb.mask != nullptr;
  // B in place when it is k x n with whole vectors per row; packed otherwise, first and in
  // parallel over panels. The masked B (the prologue) is packed inside the GEMM's own
  // tasks instead: each panel by the first task that needs it, while tasks that need it
  // too wait, so no pass over B runs before the product. Its tasks go column block by
  // column block, so a thread mostly packs the panels it then multiplies (in its own L2).
  // Measured at 2 threads: packing first cost 4-10x the in-task packing's time on the
  // MLP's weight gradient, and tasks owning whole columns (no row blocks) read the
  // 9216-row A of the CNN's dense weight gradient once per column block (25% slower).
  BSource bs{b, false, num_panels};
  ScratchBuffer bpack(Runtime::Default().scratch(), ScratchOwner::kMatMul, 0, 0);
  // Per panel of the masked B: 0 not packed, 1 being packed, 2 packed.
  std::unique_ptr<std::atomic<int>[]> panel_state;
  if (trans_b || n % static_cast<int64_t>(kN) != 0 || masked) {
    bpack.Resize(static_cast<size_t>(num_panels * kNR * k));
    float* bp = bpack.get();
    bs.data = bp;
    bs.packed = true;
    if (masked) {
      panel_state.reset(new std::atomic<int>[num_panels]);
      for (int64_t j = 0; j < num_panels; ++j) {
        panel_state[j].store(0, std::memory_order_relaxed);
      }
    } else if (threads > 1 && num_panels > 1 && n * k > 16384) {
      ParallelFor(num_panels, 1, [&](int64_t j0, int64_t j1) HWY_ATTR {
        for (int64_t j = j0; j < j1; ++j) PackBPanel(b, n, k, trans_b, j, num_panels, bp);
      });
    } else {
      for (int64_t j = 0; j < num_panels; ++j) PackBPanel(b, n, k, trans_b, j, num_panels, bp);
    }
  }
  // Makes panels j0 .. j1 - 1 of the masked B ready: packs those nobody has claimed, then
  // waits for the others. A panel's contents, sums and copy do not depend on who packs it.
  auto ensure_packed = [&](int64_t j0, int64_t j1) HWY_ATTR {
    for (int64_t j = j0; j < j1; ++j) {
      int expected = 0;
      if (panel_state[j].compare_exchange_strong(expected, 1, std::memory_order_relaxed)) {
        PackMaskedBPanel(b, mb.mask, n, k, j, num_panels, bpack.get(), mb.colsum, mb.masked);
        panel_state[j].store(2, std::memory_order_release);
      }
    }
    for (int64_t j = j0; j < j1; ++j) {
      while (panel_state[j].load(std::memory_order_acquire) != 2) std::this_thread::yield();
    }
  };

  // Task grid: column blocks of at most kMaxPanels panels (the B block stays in L2), then
  // enough row blocks for about 4 tasks per thread. Tiling does not change any result.
  constexpr int64_t kMaxPanels = (kNR >= 64) ? 4 : 8;
  int64_t tc = (num_panels + kMaxPanels - 1) / kMaxPanels;
  int64_t tr = 1;
  if (threads > 1) {
    const int64_t target = 4 * threads;
    tr = std::min<int64_t>(row_panels, (target + tc - 1) / tc);
    if (tr * tc < target) tc = std::min<int64_t>(num_panels, (target + tr - 1) / tr);
  }
  const int64_t tasks = tr * tc;
  const int64_t nkb = NumKBlocks(k);
  std::unique_ptr<std::atomic<uint8_t>[]> finite(new std::atomic<uint8_t>[nkb * num_panels]);
  for (int64_t i = 0; i < nkb * num_panels; ++i) finite[i].store(0, std::memory_order_relaxed);
  auto run = [&](int64_t t0, int64_t t1) HWY_ATTR {
    for (int64_t t = t0; t < t1; ++t) {
      // Row blocks of a column block are consecutive tasks for the masked B, else the
      // column blocks of a row block.
      const int64_t ti = masked ? t % tr : t / tc, tj = masked ? t / tr : t % tc;
      const int64_t p0 = SplitBegin(row_panels, tr, ti), p1 = SplitBegin(row_panels, tr, ti + 1);
      const int64_t j0 = SplitBegin(num_panels, tc, tj), j1 = SplitBegin(num_panels, tc, tj + 1);
      if (p0 == p1 || j0 == j1) continue;
      const int64_t r0 = p0 * kMR;
      const int64_t rows = std::min<int64_t>(m, p1 * kMR) - r0;
      if (masked) ensure_packed(j0, j1);
      ComputeTile(a, bs, c, m, n, k, trans_a, bias, accumulate, relu, r0, rows, j0, j1,
                  finite.get());
    }
  };
  if (threads > 1 && tasks > 1) {
    ParallelFor(tasks, 1, run);
  } else {
    run(0, tasks);
  }
}

// The exported entry points, one per target: the shapes and options unpacked for
// MatMulImpl (checked by the callers below).
void MatMulParallel(const Mat& a, const Mat& b, const OutMat& c, const MatMulOptions& o) {
  MatMulImpl(a.data, b.data, c.data, c.rows, c.cols, a.op_cols(), a.transposed, b.transposed,
             o.bias, o.accumulate, o.epilogue == Epilogue::kRelu,
             MaskedB{nullptr, nullptr, nullptr}, /*parallel=*/true);
}

void MatMulOneThread(const Mat& a, const Mat& b, const OutMat& c, const MatMulOptions& o) {
  MatMulImpl(a.data, b.data, c.data, c.rows, c.cols, a.op_cols(), a.transposed, b.transposed,
             o.bias, o.accumulate, o.epilogue == Epilogue::kRelu,
             MaskedB{nullptr, nullptr, nullptr}, /*parallel=*/false);
}

void MatMulMaskedParallel(const Mat& a, const Mat& b, const float* mask, const OutMat& c,
                          float* colsum, float* masked) {
  MatMulImpl(a.data, b.data, c.data, c.rows, c.cols, a.op_cols(), a.transposed,
             /*trans_b=*/false, /*bias=*/nullptr, /*accumulate=*/false, /*relu=*/false,
             MaskedB{mask, colsum, masked}, /*parallel=*/true);
}

}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gradway {
namespace ops {

HWY_EXPORT(MatMulParallel);
HWY_EXPORT(MatMulOneThread);
HWY_EXPORT(MatMulMaskedParallel);

namespace {

std::string ShapeOf(const Mat& m) {
  return std::to_string(m.rows) + "x" + std::to_string(m.cols) +
         (m.transposed ? " transposed" : "");
}

// Throws unless op(A) is m x k, op(B) k x n and C m x n.
void CheckShapes(const char* op, const Mat& a, const Mat& b, const OutMat& c) {
  if (a.op_cols() != b.op_rows() || c.rows != a.op_rows() || c.cols != b.op_cols() ||
      a.rows < 0 || a.cols < 0 || b.rows < 0 || b.cols < 0) {
    throw std::invalid_argument(std::string(op) + ": A " + ShapeOf(a) + " times B " +
                                ShapeOf(b) + " does not fit C " + std::to_string(c.rows) +
                                "x" + std::to_string(c.cols));
  }
}

}  // namespace

void MatMul(const Mat& a, const Mat& b, const OutMat& c, const MatMulOptions& options) {
  CheckShapes("MatMul", a, b, c);
  HWY_DYNAMIC_DISPATCH(MatMulParallel)(a, b, c, options);
}

void MatMulSerial(const Mat& a, const Mat& b, const OutMat& c, const MatMulOptions& options) {
  CheckShapes("MatMulSerial", a, b, c);
  HWY_DYNAMIC_DISPATCH(MatMulOneThread)(a, b, c, options);
}

void BatchedMatMul(const Mat& a, const int64_t* a_offsets, const Mat& b,
                   const int64_t* b_offsets, const OutMat& c, int64_t count) {
  CheckShapes("BatchedMatMul", a, b, c);
  if (count < 0) throw std::invalid_argument("BatchedMatMul: negative count");
  const int64_t c_size = c.rows * c.cols;
  const auto product = [&](int64_t i, bool serial) {
    const Mat ai{a.data + a_offsets[i], a.rows, a.cols, a.transposed};
    const Mat bi{b.data + b_offsets[i], b.rows, b.cols, b.transposed};
    const OutMat ci{c.data + i * c_size, c.rows, c.cols};
    serial ? HWY_DYNAMIC_DISPATCH(MatMulOneThread)(ai, bi, ci, MatMulOptions())
           : HWY_DYNAMIC_DISPATCH(MatMulParallel)(ai, bi, ci, MatMulOptions());
  };
  // Products of fewer than about 2^18 multiply-adds, or more products than threads: one
  // product per task. Either way each product is computed as MatMul computes it.
  const int64_t work = c_size * a.op_cols();
  if (work < (int64_t{1} << 18) || count >= 4 * NumThreads()) {
    ParallelFor(count, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) product(i, true);
    });
  } else {
    for (int64_t i = 0; i < count; ++i) product(i, false);
  }
}

void MatMulReluMaskedB(const Mat& a, const Mat& b, const float* mask, const OutMat& c,
                       float* colsum, float* masked) {
  CheckShapes("MatMulReluMaskedB", a, b, c);
  if (b.transposed) {
    throw std::invalid_argument("MatMulReluMaskedB: B " + ShapeOf(b) +
                                " must be read as stored (k x n, like the mask)");
  }
  HWY_DYNAMIC_DISPATCH(MatMulMaskedParallel)(a, b, mask, c, colsum, masked);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
