#include "ops/parallel.h"

#include <atomic>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

TEST(ParallelTest, CoversRangeOnceWithFixedChunks) {
  for (int threads : {1, 2, 16}) {
    SetNumThreads(threads);
    EXPECT_EQ(NumThreads(), threads);
    for (int64_t n : {0, 1, 7, 64, 1000, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      std::vector<int64_t> starts(NumChunks(n, 64), -1);
      ParallelFor(n, 64, [&](int64_t b, int64_t e) {
        EXPECT_EQ(b % 64, 0);
        EXPECT_LE(e - b, 64);
        starts[b / 64] = b;
        for (int64_t i = b; i < e; ++i) hits[i]++;
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << i;
      for (size_t c = 0; c < starts.size(); ++c) EXPECT_EQ(starts[c], int64_t(c) * 64);
    }
  }
  SetNumThreads(0);
  EXPECT_EQ(NumThreads(), HardwareThreads());
}

}  // namespace
}  // namespace gradway
