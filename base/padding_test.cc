#include "base/padding.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace gradway {
namespace {

TEST(PaddingTest, Names) {
  EXPECT_EQ(std::string(PaddingName(Padding::kValid)), "valid");
  EXPECT_EQ(std::string(PaddingName(Padding::kSame)), "same");
}

// Hand-worked cases: MNIST's 3x3 and 2x2 layers, strides, odd sizes and TensorFlow's
// documented "same" example (in 6, window 3, stride 2: pad 0 before and 1 after).
TEST(PaddingTest, HandWorkedSizes) {
  struct Case {
    int64_t in, window, stride;
    Padding padding;
    int64_t out, pad_before;
  };
  const Case cases[] = {
      {28, 3, 1, Padding::kValid, 26, 0}, {26, 2, 2, Padding::kValid, 13, 0},
      {27, 2, 2, Padding::kValid, 13, 0}, {7, 3, 2, Padding::kValid, 3, 0},
      {8, 3, 2, Padding::kValid, 3, 0},   {2, 3, 1, Padding::kValid, 0, 0},
      {3, 3, 5, Padding::kValid, 1, 0},   {0, 1, 1, Padding::kValid, 0, 0},
      {28, 3, 1, Padding::kSame, 28, 1},  {6, 3, 2, Padding::kSame, 3, 0},
      {5, 3, 2, Padding::kSame, 3, 1},    {7, 4, 1, Padding::kSame, 7, 1},
      {7, 5, 3, Padding::kSame, 3, 2},    {2, 5, 1, Padding::kSame, 2, 2},
      {1, 1, 4, Padding::kSame, 1, 0},    {1, 3, 1, Padding::kSame, 1, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.in) + " " + std::to_string(c.window) + " " +
                 std::to_string(c.stride) + " " + PaddingName(c.padding));
    EXPECT_EQ(WindowOutputSize(c.in, c.window, c.stride, c.padding), c.out);
    EXPECT_EQ(WindowPadBefore(c.in, c.window, c.stride, c.padding), c.pad_before);
  }
}

// The rule from its meaning, by counting window positions. valid: the positions p with
// p * stride + window <= in. same: one output per stride step that starts inside the input,
// and the padding is the least that lets the last window fit, split with the odd cell after.
TEST(PaddingTest, MatchesCountedWindowPositions) {
  for (int64_t in = 0; in <= 20; ++in) {
    for (int64_t window = 1; window <= 6; ++window) {
      for (int64_t stride = 1; stride <= 4; ++stride) {
        SCOPED_TRACE(std::to_string(in) + " " + std::to_string(window) + " " +
                     std::to_string(stride));
        int64_t valid = 0;
        while (valid * stride + window <= in) ++valid;
        EXPECT_EQ(WindowOutputSize(in, window, stride, Padding::kValid), valid);
        EXPECT_EQ(WindowPadBefore(in, window, stride, Padding::kValid), 0);

        int64_t same = 0;
        while (same * stride < in) ++same;
        EXPECT_EQ(WindowOutputSize(in, window, stride, Padding::kSame), same);
        int64_t total = 0;
        while (same > 0 && (same - 1) * stride + window > in + total) ++total;
        const int64_t before = WindowPadBefore(in, window, stride, Padding::kSame);
        if (same > 0) {
          EXPECT_TRUE(before == total / 2) << "total " << total;
          EXPECT_LE(total - before - before, 1);  // the odd cell goes after
        }
      }
    }
  }
}

}  // namespace
}  // namespace gradway
