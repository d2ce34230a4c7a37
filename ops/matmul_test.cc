// MatMul against the scalar reference: every m, n, k up to two AVX-512 vectors, odd and
// k-blocked shapes, all transpose variants, bias/accumulate, misaligned buffers, on every
// Highway target this machine supports; and bit-identical results for 1, 2 and 16 threads.
// The same for the fused ReLU epilogue (bit-identical to MatMul then ReLU) and the
// ReLU-masked B prologue of MatMulReluMaskedB (product, column sums and masked copy).
// Zero skipping: A with image-like zeros gives exact results on every target and thread
// count, and a zero of A still turns an inf or NaN of B into NaN.
#include "ops/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "base/runtime.h"
#include "ops/reference.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

struct Case {
  int64_t m, n, k;
  bool ta, tb, bias, accumulate;
  int offset;  // floats by which every buffer is misaligned
};

std::string Describe(const Case& c, const char* target) {
  return std::string(target) + " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
         " k=" + std::to_string(c.k) + " ta=" + std::to_string(c.ta) +
         " tb=" + std::to_string(c.tb) + " bias=" + std::to_string(c.bias) +
         " acc=" + std::to_string(c.accumulate) + " offset=" + std::to_string(c.offset);
}

// op(A) [m x k] and op(B) [k x n] stored as a case says: A is k x m when `ta`, B n x k
// when `tb`.
Mat OpA(const float* a, int64_t m, int64_t k, bool ta) {
  return ta ? Mat{a, k, m}.Transposed() : Mat{a, m, k};
}
Mat OpB(const float* b, int64_t k, int64_t n, bool tb) {
  return tb ? Mat{b, n, k}.Transposed() : Mat{b, k, n};
}

// Returns true when MatMul matches the reference; reports the first mismatch.
bool Check(const Case& c, const char* target, uint32_t seed) {
  const int off = c.offset;
  std::vector<float> a = test::RandomVector(c.m * c.k + off, seed);
  std::vector<float> b = test::RandomVector(c.k * c.n + off, seed + 1);
  std::vector<float> bias = test::RandomVector(c.n + off, seed + 2);
  std::vector<float> c0 = test::RandomVector(c.m * c.n + off, seed + 3);
  std::vector<float> got = c0, want = c0;
  const float* bias_ptr = c.bias ? bias.data() + off : nullptr;
  MatMul(OpA(a.data() + off, c.m, c.k, c.ta), OpB(b.data() + off, c.k, c.n, c.tb),
         OutMat{got.data() + off, c.m, c.n},
         MatMulOptions().Bias(bias_ptr).Accumulate(c.accumulate));
  reference::MatMul(OpA(a.data() + off, c.m, c.k, c.ta), OpB(b.data() + off, c.k, c.n, c.tb),
                    OutMat{want.data() + off, c.m, c.n},
                    MatMulOptions().Bias(bias_ptr).Accumulate(c.accumulate));
  const float tol = 1e-5f * (4.f + static_cast<float>(c.k));
  for (int i = 0; i < off; ++i) {
    if (got[i] != c0[i]) {
      ADD_FAILURE() << Describe(c, target) << ": wrote before C";
      return false;
    }
  }
  for (int64_t i = 0; i < c.m * c.n; ++i) {
    const float g = got[off + i], w = want[off + i];
    if (!(std::fabs(g - w) <= tol)) {
      ADD_FAILURE() << Describe(c, target) << ": C[" << i / c.n << "," << i % c.n
                    << "] = " << g << ", reference " << w;
      return false;
    }
  }
  return true;
}

TEST(MatMulTest, AllSmallSizesAllTargets) {
  test::ForEachTarget([](const char* target) {
    uint32_t seed = 1;
    for (int64_t m = 1; m <= 32; ++m) {
      for (int64_t n = 1; n <= 32; ++n) {
        for (int64_t k = 1; k <= 32; ++k) {
          // Every size in one (rotating) variant; a few k in all four.
          const bool all = k == 1 || k == 2 || k == 17 || k == 32;
          for (int v = 0; v < 4; ++v) {
            if (!all && v != (m + n + k) % 4) continue;
            Case c{m, n, k, (v & 1) != 0, (v & 2) != 0, ((m + k) % 2) == 0,
                   ((n + k) % 3) == 0, static_cast<int>((m + n) % 4)};
            if (!Check(c, target, seed++)) return;
          }
        }
      }
    }
  });
}

TEST(MatMulTest, OddAndBlockedShapesAllTargets) {
  const int64_t shapes[][3] = {{1, 1, 1},    {7, 13, 5},    {127, 129, 65}, {200, 10, 50},
                               {1, 70, 300}, {37, 70, 600}, {13, 200, 513}, {66, 64, 257}};
  test::ForEachTarget([&](const char* target) {
    uint32_t seed = 100;
    for (const auto& s : shapes) {
      for (int v = 0; v < 16; ++v) {
        Case c{s[0], s[1], s[2], (v & 1) != 0, (v & 2) != 0, (v & 4) != 0, (v & 8) != 0,
               v % 4};
        if (!Check(c, target, seed++)) return;
      }
    }
  });
}

// The views carry the shapes: a product whose shapes do not fit is refused before C is
// written, and Transposed() swaps the shape the product sees.
TEST(MatMulTest, RefusesShapesThatDoNotFit) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {1, 0, 0, 1, 1, 1};
  std::vector<float> c(6, 5.f);
  const Mat a23{a.data(), 2, 3}, b23{b.data(), 2, 3};
  EXPECT_EQ(b23.Transposed().op_rows(), 3);
  EXPECT_EQ(b23.Transposed().op_cols(), 2);
  EXPECT_FALSE(b23.Transposed().Transposed().transposed);
  EXPECT_THROW(MatMul(a23, b23, OutMat{c.data(), 2, 3}), std::invalid_argument);
  EXPECT_THROW(MatMulSerial(a23, b23, OutMat{c.data(), 2, 3}), std::invalid_argument);
  EXPECT_THROW(MatMul(a23, b23.Transposed(), OutMat{c.data(), 2, 3}), std::invalid_argument);
  EXPECT_THROW(MatMul(a23.Transposed(), b23, OutMat{c.data(), 2, 3}), std::invalid_argument);
  EXPECT_THROW(MatMulReluMaskedB(a23, b23.Transposed(), b.data(), OutMat{c.data(), 2, 2}),
               std::invalid_argument);
  EXPECT_EQ(c, std::vector<float>(6, 5.f));
  // A · Bᵀ = [1 2 3; 4 5 6] · [1 0 0; 1 1 1]ᵀ and Aᵀ · B, exact in float.
  MatMul(a23, b23.Transposed(), OutMat{c.data(), 2, 2});
  EXPECT_EQ(std::vector<float>(c.begin(), c.begin() + 4), (std::vector<float>{1, 6, 4, 15}));
  std::vector<float> c33(9);
  MatMul(a23.Transposed(), b23, OutMat{c33.data(), 3, 3});
  EXPECT_EQ(c33, (std::vector<float>{5, 4, 4, 7, 5, 5, 9, 6, 6}));
}

TEST(MatMulTest, ZeroK) {
  std::vector<float> bias = {1.f, 2.f, 3.f};
  std::vector<float> c(6, 5.f);
  MatMul(Mat{nullptr, 2, 0}, Mat{nullptr, 0, 3}, OutMat{c.data(), 2, 3},
         MatMulOptions().Bias(bias.data()).Accumulate());
  EXPECT_EQ(c, (std::vector<float>{6.f, 7.f, 8.f, 6.f, 7.f, 8.f}));
  MatMul(Mat{nullptr, 2, 0}, Mat{nullptr, 0, 3}, OutMat{c.data(), 2, 3});
  EXPECT_EQ(c, std::vector<float>(6, 0.f));
}

TEST(MatMulTest, BitIdenticalAcrossThreadCounts) {
  const int64_t m = 61, n = 83, k = 3000;
  for (int v = 0; v < 4; ++v) {
    const bool ta = v & 1, tb = v & 2;
    std::vector<float> a = test::RandomVector(m * k, 7), b = test::RandomVector(k * n, 8), bias = test::RandomVector(n, 9);
    std::vector<float> first;
    for (int threads : {1, 2, 16}) {
      SetNumThreads(threads);
      std::vector<float> c(m * n);
      MatMul(OpA(a.data(), m, k, ta), OpB(b.data(), k, n, tb), OutMat{c.data(), m, n},
             MatMulOptions().Bias(bias.data()));
      if (first.empty()) {
        first = c;
      } else {
        EXPECT_EQ(c, first) << "threads=" << threads << " variant " << v;
      }
    }
    std::vector<float> serial(m * n);
    MatMulSerial(OpA(a.data(), m, k, ta), OpB(b.data(), k, n, tb), OutMat{serial.data(), m, n},
                 MatMulOptions().Bias(bias.data()));
    EXPECT_EQ(serial, first) << "MatMulSerial, variant " << v;
  }
  SetNumThreads(0);
}

// ---------------------------------------------------------------- ReLU epilogue

// Bitwise equality of n floats (so NaN and -0 count); empty buffers may be null.
bool SameBits(const float* x, const float* y, int64_t n) {
  return n <= 0 || std::memcmp(x, y, static_cast<size_t>(n) * sizeof(float)) == 0;
}

float Relu(float v) { return v > 0.f ? v : 0.f; }

// MatMul with Epilogue::kRelu (parallel and serial) equals MatMul followed by a ReLU bit for
// bit, and the reference followed by a ReLU within the usual tolerance.
bool CheckReluEpilogue(const Case& c, const char* target, uint32_t seed) {
  const int off = c.offset;
  std::vector<float> a = test::RandomVector(c.m * c.k + off, seed);
  std::vector<float> b = test::RandomVector(c.k * c.n + off, seed + 1);
  std::vector<float> bias = test::RandomVector(c.n + off, seed + 2);
  std::vector<float> c0 = test::RandomVector(c.m * c.n + off, seed + 3);
  const float* bias_ptr = c.bias ? bias.data() + off : nullptr;
  std::vector<float> fused = c0, serial = c0, unfused = c0, want = c0;
  const Mat op_a = OpA(a.data() + off, c.m, c.k, c.ta), op_b = OpB(b.data() + off, c.k, c.n, c.tb);
  const MatMulOptions plain = MatMulOptions().Bias(bias_ptr).Accumulate(c.accumulate);
  const MatMulOptions relu = MatMulOptions(plain).Epilogue(Epilogue::kRelu);
  MatMul(op_a, op_b, OutMat{fused.data() + off, c.m, c.n}, relu);
  MatMulSerial(op_a, op_b, OutMat{serial.data() + off, c.m, c.n}, relu);
  MatMul(op_a, op_b, OutMat{unfused.data() + off, c.m, c.n}, plain);
  reference::MatMul(op_a, op_b, OutMat{want.data() + off, c.m, c.n}, relu);
  for (int64_t i = 0; i < c.m * c.n; ++i) unfused[off + i] = Relu(unfused[off + i]);
  if (!SameBits(fused.data(), unfused.data(), c.m * c.n + off)) {
    ADD_FAILURE() << Describe(c, target) << ": ReLU epilogue differs from MatMul + ReLU";
    return false;
  }
  if (!SameBits(serial.data(), fused.data(), c.m * c.n + off)) {
    ADD_FAILURE() << Describe(c, target) << ": MatMulSerial differs from MatMul";
    return false;
  }
  const float tol = 1e-5f * (4.f + static_cast<float>(c.k));
  for (int64_t i = 0; i < c.m * c.n; ++i) {
    const float g = fused[off + i], w = want[off + i];
    if (!(std::fabs(g - w) <= tol) || g < 0.f) {
      ADD_FAILURE() << Describe(c, target) << ": C[" << i / c.n << "," << i % c.n
                    << "] = " << g << ", reference " << w;
      return false;
    }
  }
  return true;
}

// BatchedMatMul: each product equals MatMul's bit for bit (offsets repeating, as for a
// broadcast operand), for small products (one per task) and large ones (each split over
// the threads), every transpose variant, odd sizes; the same bits for 1, 2 and 7 threads.
TEST(MatMulTest, BatchedEqualsMatMulPerProductAcrossThreadCounts) {
  struct Shape3 {
    int64_t m, n, k, count;
  };
  for (const Shape3& sh : {Shape3{5, 17, 19, 6}, Shape3{3, 1, 2, 1}, Shape3{70, 90, 80, 3},
                           Shape3{4, 4, 4, 0}}) {
    for (int v = 0; v < 4; ++v) {
      const bool ta = v & 1, tb = v & 2;
      const int64_t a_size = sh.m * sh.k, b_size = sh.k * sh.n, c_size = sh.m * sh.n;
      // A has 2 matrices used alternately; B one matrix per product.
      const std::vector<float> a = test::RandomVector(2 * a_size, 21),
                               b = test::RandomVector(std::max<int64_t>(sh.count, 1) * b_size, 22);
      std::vector<int64_t> a_off, b_off;
      for (int64_t i = 0; i < sh.count; ++i) {
        a_off.push_back((i % 2) * a_size);
        b_off.push_back(i * b_size);
      }
      std::vector<float> want(sh.count * c_size);
      for (int64_t i = 0; i < sh.count; ++i) {
        MatMul(OpA(a.data() + a_off[i], sh.m, sh.k, ta), OpB(b.data() + b_off[i], sh.k, sh.n, tb),
               OutMat{want.data() + i * c_size, sh.m, sh.n});
      }
      for (int threads : {1, 2, 7}) {
        SetNumThreads(threads);
        std::vector<float> got(want.size(), -1.f);
        BatchedMatMul(OpA(a.data(), sh.m, sh.k, ta), a_off.data(),
                      OpB(b.data(), sh.k, sh.n, tb), b_off.data(),
                      OutMat{got.data(), sh.m, sh.n}, sh.count);
        EXPECT_EQ(got, want) << "m=" << sh.m << " n=" << sh.n << " k=" << sh.k
                             << " count=" << sh.count << " variant " << v
                             << " threads=" << threads;
      }
      SetNumThreads(0);
    }
  }
  std::vector<float> x(6);
  const int64_t off = 0;
  EXPECT_THROW(BatchedMatMul(Mat{x.data(), 2, 3}, &off, Mat{x.data(), 2, 3}, &off,
                             OutMat{x.data(), 2, 3}, 1),
               std::invalid_argument);
}

TEST(MatMulTest, ReluEpilogueSmallSizesAllTargets) {
  test::ForEachTarget([](const char* target) {
    uint32_t seed = 1000;
    for (int64_t m = 1; m <= 32; ++m) {
      for (int64_t n = 1; n <= 33; ++n) {
        for (int64_t k : {1, 2, 5, 17, 32}) {
          const int v = static_cast<int>((m + n + k) % 4);
          Case c{m, n, k, (v & 1) != 0, (v & 2) != 0, ((m + k) % 2) == 0,
                 ((n + k) % 3) == 0, static_cast<int>((m + n) % 4)};
          if (!CheckReluEpilogue(c, target, seed++)) return;
        }
      }
    }
  });
}

TEST(MatMulTest, ReluEpilogueOddAndBlockedShapesAllTargets) {
  // k > 384 runs several k-blocks: the ReLU must wait for the last one.
  const int64_t shapes[][3] = {{7, 13, 5},    {127, 129, 65}, {200, 10, 50}, {1, 70, 300},
                               {37, 70, 600}, {13, 200, 513}, {66, 64, 257}, {50, 512, 784}};
  test::ForEachTarget([&](const char* target) {
    uint32_t seed = 2000;
    for (const auto& s : shapes) {
      for (int v = 0; v < 16; ++v) {
        Case c{s[0], s[1], s[2], (v & 1) != 0, (v & 2) != 0, (v & 4) != 0, (v & 8) != 0,
               v % 4};
        if (!CheckReluEpilogue(c, target, seed++)) return;
      }
    }
  });
}

TEST(MatMulTest, ReluEpilogueZeroK) {
  std::vector<float> bias = {1.f, -2.f, 3.f};
  std::vector<float> c = {5.f, 1.f, -9.f, -5.f, 1.f, 1.f};
  MatMul(Mat{nullptr, 2, 0}, Mat{nullptr, 0, 3}, OutMat{c.data(), 2, 3},
         MatMulOptions().Bias(bias.data()).Accumulate().Epilogue(Epilogue::kRelu));
  EXPECT_EQ(c, (std::vector<float>{6.f, 0.f, 0.f, 0.f, 0.f, 4.f}));
}

// ---------------------------------------------------------------- ReLU-masked B

struct MaskedCase {
  int64_t m, n, k;
  bool ta;
  bool colsum, masked;  // ask for the column sums / the masked copy
  int offset;           // floats by which every buffer is misaligned
};

std::string Describe(const MaskedCase& c, const char* target) {
  return std::string(target) + " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
         " k=" + std::to_string(c.k) + " ta=" + std::to_string(c.ta) +
         " colsum=" + std::to_string(c.colsum) + " masked=" + std::to_string(c.masked) +
         " offset=" + std::to_string(c.offset);
}

// A ReLU output as a mask: values in [-1, 1) clamped at 0 (about half exact zeros), plus
// a few negatives, NaNs and -0 that must all mask.
std::vector<float> ReluMask(int64_t n, uint32_t seed) {
  std::vector<float> v = test::RandomVector(static_cast<size_t>(n), seed);
  for (int64_t i = 0; i < n; ++i) {
    if (i % 7 == 3) continue;  // keep some negatives
    v[i] = Relu(v[i]);
  }
  if (n > 5) v[5] = std::numeric_limits<float>::quiet_NaN();
  if (n > 11) v[11] = -0.f;
  return v;
}

// MatMulReluMaskedB against G = B masked by hand: C bit-identical to MatMul(A, G) and near
// the reference; the masked copy equal to G; the column sums equal to G's rows summed in
// order. Outputs past the buffers' ends stay untouched.
bool CheckMasked(const MaskedCase& c, const char* target, uint32_t seed) {
  const int off = c.offset;
  std::vector<float> a = test::RandomVector(c.m * c.k + off, seed);
  std::vector<float> b = test::RandomVector(c.k * c.n + off, seed + 1);
  std::vector<float> mask = ReluMask(c.k * c.n + off, seed + 2);
  std::vector<float> g(c.k * c.n);
  for (int64_t i = 0; i < c.k * c.n; ++i) g[i] = mask[off + i] > 0.f ? b[off + i] : 0.f;
  std::vector<float> want_sum(c.n, 0.f);
  for (int64_t p = 0; p < c.k; ++p) {
    for (int64_t j = 0; j < c.n; ++j) want_sum[j] = want_sum[j] + g[p * c.n + j];
  }
  const std::vector<float> c0 = test::RandomVector(c.m * c.n + off + 1, seed + 3);
  const std::vector<float> s0 = test::RandomVector(c.n + off + 1, seed + 4);
  const std::vector<float> g0 = test::RandomVector(c.k * c.n + off + 1, seed + 5);
  std::vector<float> got = c0, unfused = c0, want = c0, sums = s0, copy = g0;
  MatMulReluMaskedB(OpA(a.data() + off, c.m, c.k, c.ta), Mat{b.data() + off, c.k, c.n},
                    mask.data() + off, OutMat{got.data() + off, c.m, c.n},
                    c.colsum ? sums.data() + off : nullptr, c.masked ? copy.data() + off : nullptr);
  MatMul(OpA(a.data() + off, c.m, c.k, c.ta), Mat{g.data(), c.k, c.n},
         OutMat{unfused.data() + off, c.m, c.n});
  reference::MatMul(OpA(a.data() + off, c.m, c.k, c.ta), Mat{g.data(), c.k, c.n},
                    OutMat{want.data() + off, c.m, c.n});
  if (!SameBits(got.data(), unfused.data(), c.m * c.n + off + 1)) {
    ADD_FAILURE() << Describe(c, target) << ": C differs from MatMul of the masked B";
    return false;
  }
  const float tol = 1e-5f * (4.f + static_cast<float>(c.k));
  for (int64_t i = 0; i < c.m * c.n; ++i) {
    if (!(std::fabs(got[off + i] - want[off + i]) <= tol)) {
      ADD_FAILURE() << Describe(c, target) << ": C[" << i / c.n << "," << i % c.n
                    << "] = " << got[off + i] << ", reference " << want[off + i];
      return false;
    }
  }
  if (c.colsum) {
    if (!SameBits(sums.data() + off, want_sum.data(), c.n) ||
        !SameBits(sums.data(), s0.data(), off) || sums[off + c.n] != s0[off + c.n]) {
      ADD_FAILURE() << Describe(c, target) << ": column sums differ";
      return false;
    }
  } else if (sums != s0) {
    ADD_FAILURE() << Describe(c, target) << ": wrote column sums nobody asked for";
    return false;
  }
  if (c.masked) {
    if (!SameBits(copy.data() + off, g.data(), c.k * c.n) ||
        !SameBits(copy.data(), g0.data(), off) || copy[off + c.k * c.n] != g0[off + c.k * c.n]) {
      ADD_FAILURE() << Describe(c, target) << ": masked copy differs";
      return false;
    }
  } else if (copy != g0) {
    ADD_FAILURE() << Describe(c, target) << ": wrote a masked copy nobody asked for";
    return false;
  }
  return true;
}

TEST(MatMulTest, ReluMaskedBSmallSizesAllTargets) {
  test::ForEachTarget([](const char* target) {
    uint32_t seed = 3000;
    for (int64_t m = 1; m <= 32; ++m) {
      for (int64_t n = 1; n <= 33; ++n) {
        for (int64_t k : {1, 3, 17, 33}) {
          const int v = static_cast<int>((m + n + k) % 8);
          MaskedCase c{m, n, k, (v & 1) != 0, (v & 2) != 0, (v & 4) == 0,
                       static_cast<int>((m + n) % 4)};
          if (!CheckMasked(c, target, seed++)) return;
        }
      }
    }
  });
}

TEST(MatMulTest, ReluMaskedBOddAndBlockedShapesAllTargets) {
  // Weight-gradient shapes (in x out, batch k) like the dense layers' (512 and 128
  // outputs), odd sizes, and k > 384 (several k-blocks in the packed panels). The GEMM's
  // tasks pack the masked panels as they first need them; with 16 threads many tasks
  // share a panel (one packs it, the others wait).
  const int64_t shapes[][3] = {{391, 512, 61}, {300, 128, 200}, {7, 13, 5},   {127, 129, 65},
                               {1, 70, 300},   {5, 70, 600},    {3, 17, 1000}, {0, 21, 9},
                               {4, 19, 0},     {97, 300, 150}};
  for (int threads : {2, 16}) {
    SetNumThreads(threads);
    test::ForEachTarget([&](const char* target) {
      uint32_t seed = 4000;
      for (const auto& s : shapes) {
        for (int v = 0; v < 8; ++v) {
          MaskedCase c{s[0], s[1], s[2], (v & 1) != 0, (v & 2) != 0, (v & 4) != 0, v % 4};
          if (!CheckMasked(c, target, seed++)) return;
        }
      }
    });
  }
  SetNumThreads(0);
}

TEST(MatMulTest, FusedPathsBitIdenticalAcrossThreadCounts) {
  const int64_t m = 300, n = 200, k = 411;
  const std::vector<float> a = test::RandomVector(m * k, 17), b = test::RandomVector(k * n, 18),
                           bias = test::RandomVector(n, 19);
  const std::vector<float> mask = ReluMask(k * n, 20);
  for (int v = 0; v < 2; ++v) {
    const bool ta = v != 0;
    std::vector<float> first_relu, first_masked;
    for (int threads : {1, 2, 16}) {
      SetNumThreads(threads);
      std::vector<float> relu(m * n), masked(m * n + n + k * n);
      MatMul(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, OutMat{relu.data(), m, n},
             MatMulOptions().Bias(bias.data()).Epilogue(Epilogue::kRelu));
      MatMulReluMaskedB(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, mask.data(),
                        OutMat{masked.data(), m, n}, masked.data() + m * n,
                        masked.data() + m * n + n);
      if (first_relu.empty()) {
        first_relu = relu;
        first_masked = masked;
      } else {
        EXPECT_EQ(relu, first_relu) << "ReLU epilogue, threads=" << threads << " ta=" << ta;
        EXPECT_EQ(masked, first_masked) << "masked B, threads=" << threads << " ta=" << ta;
      }
    }
  }
  SetNumThreads(0);
}

// ---------------------------------------------------------------- Zero skipping

// A with the zeros of images and ReLU outputs, stored m x k (trans = false) or k x m: whole
// bands of steps zero in some row panels (background), zero rows, and scattered zeros,
// -0 among them; the rest small integers (|v| <= 3), so that every sum of products of such
// A and B is exact in float and MatMul must equal the reference bit for bit, whichever
// steps it skips.
std::vector<float> ZeroBandedA(int64_t m, int64_t k, bool trans, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-3, 3);
  std::vector<float> a(m * k);
  for (int64_t r = 0; r < m; ++r) {
    // Rows in bands of 9: a band is zero outside its own window of steps.
    const int64_t band = r / 9;
    const int64_t lo = (band * 37) % std::max<int64_t>(1, k), hi = lo + k / 3 + 1;
    for (int64_t p = 0; p < k; ++p) {
      float v = static_cast<float>(value(rng));
      if (p < lo || p >= hi || r % 11 == 10) v = (p + r) % 2 ? 0.f : -0.f;
      a[trans ? p * m + r : r * k + p] = v;
    }
  }
  return a;
}

std::vector<float> SmallIntegers(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-3, 3);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(value(rng));
  return v;
}

TEST(MatMulTest, ZeroSkippingExactAllTargets) {
  // Shapes with one and several k-blocks, odd sizes, many row panels and task splits.
  const int64_t shapes[][3] = {{7, 13, 40},   {37, 70, 300}, {200, 64, 784}, {61, 83, 1000},
                               {130, 17, 97}, {6, 16, 33},   {400, 48, 200}};
  for (int threads : {1, 2, 16}) {
    SetNumThreads(threads);
    test::ForEachTarget([&](const char* target) {
      uint32_t seed = 5000;
      for (const auto& s : shapes) {
        const int64_t m = s[0], n = s[1], k = s[2];
        for (int v = 0; v < 8; ++v) {
          const bool ta = v & 1, tb = v & 2, bias = v & 4;
          const std::vector<float> a = ZeroBandedA(m, k, ta, seed++);
          const std::vector<float> b = SmallIntegers(k * n, seed++);
          const std::vector<float> bv = SmallIntegers(n, seed++);
          std::vector<float> got(m * n), want(m * n), masked(m * n);
          MatMul(OpA(a.data(), m, k, ta), OpB(b.data(), k, n, tb), OutMat{got.data(), m, n},
                 MatMulOptions().Bias(bias ? bv.data() : nullptr));
          reference::MatMul(OpA(a.data(), m, k, ta), OpB(b.data(), k, n, tb),
                            OutMat{want.data(), m, n},
                            MatMulOptions().Bias(bias ? bv.data() : nullptr));
          ASSERT_TRUE(SameBits(got.data(), want.data(), m * n))
              << target << " threads=" << threads << " m=" << m << " n=" << n << " k=" << k
              << " variant " << v;
          if (tb || bias) continue;
          // The weight-gradient product: the same A against a ReLU-masked B.
          std::vector<float> mask = SmallIntegers(k * n, seed++), g(k * n);
          for (int64_t i = 0; i < k * n; ++i) g[i] = mask[i] > 0.f ? b[i] : 0.f;
          MatMulReluMaskedB(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, mask.data(),
                            OutMat{masked.data(), m, n});
          reference::MatMul(OpA(a.data(), m, k, ta), Mat{g.data(), k, n},
                            OutMat{want.data(), m, n});
          ASSERT_TRUE(SameBits(masked.data(), want.data(), m * n))
              << target << " masked, threads=" << threads << " m=" << m << " n=" << n
              << " k=" << k << " ta=" << ta;
        }
      }
    });
  }
  SetNumThreads(0);
}

// Random (inexact) values with the same zeros: bit-identical across thread counts, serial
// and parallel, and near the reference.
TEST(MatMulTest, ZeroSkippingBitIdenticalAcrossThreadCounts) {
  const int64_t m = 200, n = 512, k = 784;
  for (int v = 0; v < 2; ++v) {
    const bool ta = v != 0;
    std::vector<float> a = ZeroBandedA(m, k, ta, 77);
    const std::vector<float> noise = test::RandomVector(m * k, 78);
    for (int64_t i = 0; i < m * k; ++i) {
      if (a[i] != 0.f) a[i] = noise[i];
    }
    const std::vector<float> b = test::RandomVector(k * n, 79), bias = test::RandomVector(n, 80);
    std::vector<float> first;
    for (int threads : {1, 2, 16}) {
      SetNumThreads(threads);
      std::vector<float> c(m * n);
      MatMul(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, OutMat{c.data(), m, n},
             MatMulOptions().Bias(bias.data()));
      if (first.empty()) {
        first = c;
      } else {
        EXPECT_TRUE(SameBits(c.data(), first.data(), m * n))
            << "threads=" << threads << " ta=" << ta;
      }
    }
    std::vector<float> serial(m * n), want(m * n);
    MatMulSerial(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, OutMat{serial.data(), m, n},
                 MatMulOptions().Bias(bias.data()));
    EXPECT_TRUE(SameBits(serial.data(), first.data(), m * n)) << "MatMulSerial, ta=" << ta;
    reference::MatMul(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, OutMat{want.data(), m, n},
                      MatMulOptions().Bias(bias.data()));
    for (int64_t i = 0; i < m * n; ++i) {
      ASSERT_NEAR(first[i], want[i], 1e-5f * (4.f + k)) << "ta=" << ta << " i=" << i;
    }
  }
  SetNumThreads(0);
}

// A zero of A meeting an inf or NaN of B gives NaN, as without skipping: every row of C
// that a skipped step would touch comes out NaN in that column, as the reference says.
TEST(MatMulTest, ZeroSkippingKeepsNonFiniteProducts) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t k : {40, 500}) {
    const int64_t m = 30, n = 70;
    for (int v = 0; v < 4; ++v) {
      const bool ta = v & 1, masked_b = v & 2;
      const std::vector<float> a = ZeroBandedA(m, k, ta, 90 + v);
      std::vector<float> b = SmallIntegers(k * n, 91);
      // Steps that every row has zero: those outside all bands' windows are few, so put
      // the non-finite values in every step of one column each.
      for (int64_t p = 0; p < k; ++p) {
        b[p * n + 5] = inf;
        b[p * n + 66] = nan;
      }
      b[(k / 2) * n + 20] = -inf;  // one step only
      std::vector<float> got(m * n), want(m * n);
      if (masked_b) {
        const std::vector<float> ones(k * n, 1.f);
        MatMulReluMaskedB(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, ones.data(),
                          OutMat{got.data(), m, n});
      } else {
        MatMul(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, OutMat{got.data(), m, n});
      }
      reference::MatMul(OpA(a.data(), m, k, ta), Mat{b.data(), k, n}, OutMat{want.data(), m, n});
      for (int64_t i = 0; i < m * n; ++i) {
        ASSERT_TRUE(std::isnan(got[i]) == std::isnan(want[i]) &&
                    (std::isnan(got[i]) || got[i] == want[i]))
            << "k=" << k << " ta=" << ta << " masked=" << masked_b << " C[" << i / n << ","
            << i % n << "] = " << got[i] << ", reference " << want[i];
      }
    }
  }
}

// A negative product too small for a float makes a sum -0, and a zero product after it
// makes it +0 again: skipping that step must not leave a -0. Every zero of C is +0, and
// the bits do not depend on which panels the thread count's tasks chose to scan (here the
// one-task run does not scan the second panel, after a dense first one).
TEST(MatMulTest, ZeroSkippingZerosArePositive) {
  test::ForEachTarget([](const char* target) {
    const float tiny_a[] = {-1e-30f, 0.f}, tiny_b[] = {1e-30f, 1.f};
    float c = 1.f;
    MatMul(Mat{tiny_a, 1, 2}, Mat{tiny_b, 2, 1}, OutMat{&c, 1, 1});
    const float plus_zero = 0.f;
    EXPECT_TRUE(SameBits(&c, &plus_zero, 1)) << target << ": C = " << c;
    const float neg_zero_bias = -0.f;
    MatMul(Mat{tiny_a, 1, 0}, Mat{tiny_b, 0, 1}, OutMat{&c, 1, 1},
           MatMulOptions().Bias(&neg_zero_bias));
    EXPECT_TRUE(SameBits(&c, &plus_zero, 1)) << target << ", k = 0: C = " << c;
  });
  const int64_t m = 12, n = 256, k = 384;
  std::vector<float> a(m * k, 0.f), b(k * n, 1.f);
  for (int64_t r = 0; r < 6; ++r) {
    for (int64_t p = 0; p < k; ++p) a[r * k + p] = 1.f;
  }
  a[6 * k] = -1e-30f;
  for (int64_t j = 0; j < n; ++j) b[j] = 1e-30f;
  std::vector<float> first;
  for (int threads : {1, 2, 16}) {
    SetNumThreads(threads);
    std::vector<float> c(m * n, 1.f);
    MatMul(Mat{a.data(), m, k}, Mat{b.data(), k, n}, OutMat{c.data(), m, n});
    for (int64_t i = 6 * n; i < m * n; ++i) {
      ASSERT_TRUE(c[i] == 0.f && !std::signbit(c[i])) << "threads=" << threads << " i=" << i;
    }
    if (first.empty()) {
      first = c;
    } else {
      EXPECT_TRUE(SameBits(c.data(), first.data(), m * n)) << "threads=" << threads;
    }
  }
  SetNumThreads(0);
}

// Skipping meets every B layout and NaNs of A: B read in place (n a multiple of the vector
// length) and packed (transposed B), each over two k-blocks, with one inf in a single
// (k-block, column panel) whose step every row panel could skip, and a NaN of A in a step
// where the rest of its row panel is zero. C must be NaN exactly where the reference is,
// and equal to it elsewhere (small integers: exact).
TEST(MatMulTest, ZeroSkippingNonFiniteBlocksAndNanInA) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t m = 24, n = 128, k = 500;  // k-blocks [0, 250) and [250, 500)
  for (int threads : {1, 2}) {
    SetNumThreads(threads);
    test::ForEachTarget([&](const char* target) {
      for (int v = 0; v < 4; ++v) {
        const bool ta = v & 1, tb = v & 2;
        std::vector<float> a = ZeroBandedA(m, k, ta, 95);
        // Step 400: zero in every row but row 13, which holds a NaN.
        for (int64_t r = 0; r < m; ++r) a[ta ? 400 * m + r : r * k + 400] = 0.f;
        a[ta ? 400 * m + 13 : 13 * k + 400] = nan;
        // Step 260: zero in every row; B has an inf there in column 100 only.
        for (int64_t r = 0; r < m; ++r) a[ta ? 260 * m + r : r * k + 260] = 0.f;
        std::vector<float> b = SmallIntegers(k * n, 96);
        b[tb ? 100 * k + 260 : 260 * n + 100] = inf;
        std::vector<float> got(m * n), want(m * n);
        MatMul(OpA(a.data(), m, k, ta), OpB(b.data(), k, n, tb), OutMat{got.data(), m, n});
        reference::MatMul(OpA(a.data(), m, k, ta), OpB(b.data(), k, n, tb),
                          OutMat{want.data(), m, n});
        for (int64_t i = 0; i < m * n; ++i) {
          ASSERT_TRUE(std::isnan(got[i]) == std::isnan(want[i]) &&
                      (std::isnan(got[i]) || got[i] == want[i]))
              << target << " threads=" << threads << " ta=" << ta << " tb=" << tb << " C["
              << i / n << "," << i % n << "] = " << got[i] << ", reference " << want[i];
        }
        // The inf makes column 100 NaN in every row, the NaN row 13 in every column.
        ASSERT_TRUE(std::isnan(got[0 * n + 100]) && std::isnan(got[13 * n + 0])) << target;
      }
    });
  }
  SetNumThreads(0);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
