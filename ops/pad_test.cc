// The padding kernel vs the scalar reference (a loop over every element by its
// multi-index) and by hand. It copies and fills only (memcpy, std::fill; no SIMD dispatch,
// so there are no Highway targets to loop over), so every comparison is bit-exact.
#include "ops/pad.h"

#include <cstdint>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "ops/reference.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

struct PadCase {
  std::vector<int64_t> shape, before, after;
};

int64_t Count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> Padded(const PadCase& k) {
  std::vector<int64_t> s(k.shape.size());
  for (size_t d = 0; d < s.size(); ++d) s[d] = k.shape[d] + k.before[d] + k.after[d];
  return s;
}

std::string Tag(const PadCase& k) {
  std::string t;
  for (size_t d = 0; d < k.shape.size(); ++d) {
    t += std::to_string(k.shape[d]) + "(" + std::to_string(k.before[d]) + "," +
         std::to_string(k.after[d]) + ") ";
  }
  return t.empty() ? "scalar" : t;
}

std::vector<PadCase> Cases() {
  return {
      {{}, {}, {}},                                      // a scalar
      {{7}, {2}, {3}},                                   // 1-D
      {{7}, {0}, {0}},                                   // no padding at all
      {{3, 5}, {1, 0}, {0, 2}},                          // both axes, one side each
      {{3, 5}, {2, 1}, {0, 0}},                          // the outer axis only: whole blocks
      {{2, 7, 5, 3}, {0, 1, 2, 0}, {0, 1, 3, 0}},        // ZeroPadding2D on NHWC
      {{2, 7, 5, 3}, {0, 0, 0, 0}, {0, 0, 0, 4}},        // the channels only
      {{3, 1, 4, 1, 5}, {1, 0, 2, 1, 0}, {0, 3, 0, 1, 2}},  // rank 5, every kind of axis
      {{2, 0, 3}, {1, 1, 0}, {0, 2, 1}},                 // an empty input: all padding
      {{2, 3, 0}, {0, 1, 0}, {1, 0, 0}},                 // empty rows
      {{1, 1, 1}, {3, 0, 2}, {1, 2, 0}},
      {{5, 33, 17}, {0, 3, 0}, {0, 2, 0}},               // a middle axis: runs of 17
  };
}

TEST(PadTest, MatchesReference) {
  for (const PadCase& k : Cases()) {
    const std::vector<int64_t> padded = Padded(k);
    const int64_t in = Count(k.shape), out = Count(padded);
    for (int mis = 0; mis < 3; ++mis) {
      test::Buffer x(in, mis, 31), dy(out, 2 - mis, 32);
      test::Buffer y(out, (mis + 1) % 3, 33), y_ref(out, 0, 34);
      PadForward(x.data(), k.shape, k.before, k.after, -7.5f, y.data());
      reference::PadForward(x.data(), k.shape, k.before, k.after, -7.5f, y_ref.data());
      EXPECT_TRUE(test::SameBits(y_ref.data(), y.data(), out)) << "forward " << Tag(k);
      test::Buffer dx(in, mis, 35), dx_ref(in, 0, 36);
      PadBackward(dy.data(), k.shape, k.before, k.after, dx.data());
      reference::PadBackward(dy.data(), k.shape, k.before, k.after, dx_ref.data());
      EXPECT_TRUE(test::SameBits(dx_ref.data(), dx.data(), in)) << "backward " << Tag(k);
    }
  }
}

TEST(PadTest, ByHand) {
  // [[1, 2, 3], [4, 5, 6]] with one row before and two columns after, filled with 9.
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<float> y(15);
  PadForward(x.data(), {2, 3}, {1, 0}, {0, 2}, 9.f, y.data());
  EXPECT_EQ(y, (std::vector<float>{9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 4, 5, 6, 9, 9}));
  std::vector<float> dy(15), dx(6);
  for (int i = 0; i < 15; ++i) dy[i] = static_cast<float>(i);
  PadBackward(dy.data(), {2, 3}, {1, 0}, {0, 2}, dx.data());
  EXPECT_EQ(dx, (std::vector<float>{5, 6, 7, 10, 11, 12}));
}

TEST(PadTest, SameBitsAcrossThreadCounts) {
  const PadCase cases[] = {{{3, 41, 37, 29}, {0, 2, 1, 0}, {0, 1, 3, 0}},
                           {{300, 7, 11}, {0, 0, 1}, {0, 0, 2}},
                           {{4, 200, 300}, {5, 0, 0}, {6, 0, 0}}};
  for (const PadCase& k : cases) {
    const int64_t in = Count(k.shape), out = Count(Padded(k));
    test::Buffer x(in, 0, 37), dy(out, 0, 38);
    const int threads[] = {1, 2, 7};
    std::vector<float> y[3], dx[3];
    for (int t = 0; t < 3; ++t) {
      SetNumThreads(threads[t]);
      y[t].resize(out);
      dx[t].resize(in);
      PadForward(x.data(), k.shape, k.before, k.after, 0.25f, y[t].data());
      PadBackward(dy.data(), k.shape, k.before, k.after, dx[t].data());
    }
    SetNumThreads(0);
    for (int t = 1; t < 3; ++t) {
      EXPECT_TRUE(test::SameBits(y[0].data(), y[t].data(), out)) << Tag(k) << threads[t];
      EXPECT_TRUE(test::SameBits(dx[0].data(), dx[t].data(), in)) << Tag(k) << threads[t];
    }
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
