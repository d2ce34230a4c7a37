// MatMul against the scalar reference: every m, n, k up to two AVX-512 vectors, odd and
// k-blocked shapes, all transpose variants, bias/accumulate, misaligned buffers, on every
// Highway target this machine supports; and bit-identical results for 1, 2 and 16 threads.
#include "ops/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "ops/parallel.h"
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

// Returns true when MatMul matches the reference; reports the first mismatch.
bool Check(const Case& c, const char* target, uint32_t seed) {
  const int off = c.offset;
  std::vector<float> a = test::RandomVector(c.m * c.k + off, seed);
  std::vector<float> b = test::RandomVector(c.k * c.n + off, seed + 1);
  std::vector<float> bias = test::RandomVector(c.n + off, seed + 2);
  std::vector<float> c0 = test::RandomVector(c.m * c.n + off, seed + 3);
  std::vector<float> got = c0, want = c0;
  const float* bias_ptr = c.bias ? bias.data() + off : nullptr;
  MatMul(a.data() + off, b.data() + off, got.data() + off, c.m, c.n, c.k, c.ta, c.tb,
         bias_ptr, c.accumulate);
  reference::MatMul(a.data() + off, b.data() + off, want.data() + off, c.m, c.n, c.k, c.ta,
                    c.tb, bias_ptr, c.accumulate);
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

TEST(MatMulTest, ZeroK) {
  std::vector<float> bias = {1.f, 2.f, 3.f};
  std::vector<float> c(6, 5.f);
  MatMul(nullptr, nullptr, c.data(), 2, 3, 0, false, false, bias.data(), true);
  EXPECT_EQ(c, (std::vector<float>{6.f, 7.f, 8.f, 6.f, 7.f, 8.f}));
  MatMul(nullptr, nullptr, c.data(), 2, 3, 0, false, false, nullptr, false);
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
      MatMul(a.data(), b.data(), c.data(), m, n, k, ta, tb, bias.data(), false);
      if (first.empty()) {
        first = c;
      } else {
        EXPECT_EQ(c, first) << "threads=" << threads << " variant " << v;
      }
    }
    std::vector<float> serial(m * n);
    MatMulSerial(a.data(), b.data(), serial.data(), m, n, k, ta, tb, bias.data(), false);
    EXPECT_EQ(serial, first) << "MatMulSerial, variant " << v;
  }
  SetNumThreads(0);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
