// Gather and its scatter-add backward against plain loops (the backward adds in index
// order, so the scalar loop gives the same bits), on every compiled Highway target, at odd
// row widths, with repeated and unused indices; and the same bits for 1, 2 and 7 threads.
#include "ops/gather.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "hwy/tests/hwy_gtest.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using test::Buffer;

std::vector<int64_t> Indices(int64_t n, int64_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t& i : idx) i = static_cast<int64_t>(rng() % static_cast<uint32_t>(size));
  return idx;
}

class GatherTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(GatherTest);

TEST_P(GatherTest, AgainstPlainLoops) {
  for (int64_t outer : {1, 3}) {
    for (int64_t inner : {1, 3, 16, 17, 33}) {
      for (int64_t size : {1, 5, 40}) {
        for (int64_t n : {0, 1, 7, 100}) {
          const std::string tag = "outer " + std::to_string(outer) + " size " +
                                  std::to_string(size) + " n " + std::to_string(n) +
                                  " inner " + std::to_string(inner);
          Buffer x(outer * size * inner, 1, 3), dy(outer * n * inner, 2, 4);
          const std::vector<int64_t> idx = Indices(n, size, 5);
          std::vector<float> y(outer * n * inner, -1.f), want_y(y.size());
          std::vector<float> dx(outer * size * inner, -1.f), want_dx(dx.size(), 0.f);
          for (int64_t o = 0; o < outer; ++o) {
            for (int64_t i = 0; i < n; ++i) {
              for (int64_t c = 0; c < inner; ++c) {
                want_y[(o * n + i) * inner + c] = x[(o * size + idx[i]) * inner + c];
                want_dx[(o * size + idx[i]) * inner + c] += dy[(o * n + i) * inner + c];
              }
            }
          }
          Gather(x.data(), idx.data(), outer, size, n, inner, y.data());
          GatherBackward(dy.data(), idx.data(), outer, size, n, inner, dx.data());
          EXPECT_EQ(y, want_y) << tag;
          EXPECT_EQ(dx, want_dx) << tag;
        }
      }
    }
  }
}

TEST_P(GatherTest, SameBitsForAnyThreadCount) {
  const int64_t outer = 2, size = 1000, n = 30000, inner = 37;
  Buffer dy(outer * n * inner, 0, 6);
  const std::vector<int64_t> idx = Indices(n, size, 7);
  std::vector<float> first;
  for (int threads : {1, 2, 7}) {
    SetNumThreads(threads);
    std::vector<float> dx(outer * size * inner);
    GatherBackward(dy.data(), idx.data(), outer, size, n, inner, dx.data());
    if (first.empty()) first = dx;
    EXPECT_EQ(dx, first) << "threads " << threads;
  }
  SetNumThreads(0);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
