// Pooling kernels vs the scalar reference and a direct nested-loop check, on every
// compiled Highway target.
#include "ops/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "hwy/aligned_allocator.h"
#include "hwy/tests/hwy_gtest.h"
#include "ops/reference.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using test::Buffer;
using test::ExpectAllNear;

struct Case {
  int64_t n, h, w, c, ph, pw, sh, sw;
  Padding padding;
};

std::string Tag(const char* what, const Case& k, int mis) {
  return std::string(what) + " [" + std::to_string(k.n) + "," + std::to_string(k.h) + "," +
         std::to_string(k.w) + "," + std::to_string(k.c) + "] pool " + std::to_string(k.ph) +
         "x" + std::to_string(k.pw) + " stride " + std::to_string(k.sh) + "x" +
         std::to_string(k.sw) + " " + PaddingName(k.padding) + " misalign=" +
         std::to_string(mis);
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (int64_t c = 1; c <= 33; ++c) cases.push_back({1, 5, 4, c, 2, 2, 2, 2, Padding::kValid});
  const Case more[] = {
      {4, 24, 24, 64, 2, 2, 2, 2, Padding::kValid},  // the seed's CNN (smaller batch)
      {2, 24, 24, 64, 2, 2, 2, 2, Padding::kSame},
      {2, 7, 13, 3, 2, 2, 2, 2, Padding::kValid},    // odd sizes: leftover rows/cols
      {2, 7, 13, 3, 2, 2, 2, 2, Padding::kSame},     // same padding, odd sizes
      {2, 9, 11, 17, 3, 3, 2, 2, Padding::kValid},   // overlapping windows (stride < pool)
      {2, 9, 11, 17, 3, 3, 2, 2, Padding::kSame},
      {1, 10, 10, 5, 3, 2, 1, 1, Padding::kSame},    // stride 1, asymmetric pool
      {1, 10, 12, 16, 2, 2, 3, 3, Padding::kValid},  // stride > pool: uncovered cells
      {1, 10, 12, 16, 2, 3, 3, 2, Padding::kSame},
      {1, 1, 1, 1, 1, 1, 1, 1, Padding::kValid},
      {1, 1, 1, 7, 2, 2, 2, 2, Padding::kSame},
      {1, 5, 5, 31, 5, 5, 1, 1, Padding::kSame},
      {2, 11, 10, 5, 3, 3, 3, 3, Padding::kValid},  // non-overlapping 3x3: leftover rows and cols
      {1, 6, 7, 9, 2, 3, 2, 3, Padding::kValid},    // non-overlapping, asymmetric
      {1, 8, 8, 18, 2, 2, 2, 2, Padding::kSame},    // same padding that needs none: tiled path
  };
  cases.insert(cases.end(), std::begin(more), std::end(more));
  return cases;
}

class PoolTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(PoolTest);

TEST(PoolShapeTest, KerasRules) {
  Pool2DShape s = MakePool2DShape(200, 24, 24, 64, 2, 2, 2, 2, Padding::kValid);
  EXPECT_EQ(s.out_h, 12);
  EXPECT_EQ(s.out_w, 12);
  EXPECT_EQ(s.pad_top, 0);
  s = MakePool2DShape(1, 7, 13, 3, 2, 2, 2, 2, Padding::kValid);
  EXPECT_EQ(s.out_h, 3);
  EXPECT_EQ(s.out_w, 6);
  s = MakePool2DShape(1, 7, 13, 3, 2, 2, 2, 2, Padding::kSame);
  EXPECT_EQ(s.out_h, 4);
  EXPECT_EQ(s.out_w, 7);
  EXPECT_EQ(s.pad_top, 0);   // pad_total 1: the extra row goes to the bottom
  EXPECT_EQ(s.pad_left, 0);
  s = MakePool2DShape(1, 9, 11, 1, 3, 3, 2, 2, Padding::kSame);
  EXPECT_EQ(s.out_h, 5);     // pad_total = 4*2+3-9 = 2
  EXPECT_EQ(s.pad_top, 1);
  EXPECT_EQ(s.out_w, 6);     // pad_total = 5*2+3-11 = 2
  EXPECT_EQ(s.pad_left, 1);
  s = MakePool2DShape(1, 10, 10, 1, 3, 3, 1, 1, Padding::kSame);
  EXPECT_EQ(s.out_h, 10);
  EXPECT_EQ(s.pad_top, 1);
  EXPECT_THROW(MakePool2DShape(1, 4, 4, 1, 0, 2, 2, 2, Padding::kValid), std::invalid_argument);
}

// Direct check of the forward on the seed's shape with an independent loop: the maximum
// of each 2x2 block of an NHWC image.
TEST_P(PoolTest, DirectMaxPool2x2) {
  const int64_t N = 3, H = 24, W = 24, C = 64;
  Buffer x(N * H * W * C, 1, 11);
  const Pool2DShape s = MakePool2DShape(N, H, W, C, 2, 2, 2, 2, Padding::kValid);
  std::vector<float> y(N * 12 * 12 * C);
  std::vector<int32_t> am(y.size());
  MaxPool2DForward(x.data(), y.data(), am.data(), s);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < 12; ++oh)
      for (int64_t ow = 0; ow < 12; ++ow)
        for (int64_t c = 0; c < C; ++c) {
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t dh = 0; dh < 2; ++dh)
            for (int64_t dw = 0; dw < 2; ++dw)
              m = std::max(m, x[((n * H + 2 * oh + dh) * W + 2 * ow + dw) * C + c]);
          const int64_t o = ((n * 12 + oh) * 12 + ow) * C + c;
          ASSERT_EQ(m, y[o]);
          ASSERT_EQ(m, x[am[o]]);
        }
}

TEST_P(PoolTest, MatchesReference) {
  for (const Case& k : Cases()) {
    const Pool2DShape s = MakePool2DShape(k.n, k.h, k.w, k.c, k.ph, k.pw, k.sh, k.sw, k.padding);
    const int64_t in = s.n * s.h * s.w * s.c, out = s.n * s.out_h * s.out_w * s.c;
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(in, mis, 12, -2.0f, 2.0f), dy(out, 3 - mis, 13);
      // Some exact ties, to check that the first maximum wins.
      for (int64_t i = 0; i < in; i += 7) x[i] = 0.5f;
      Buffer y(out, (mis + 1) % 4, 14), y_ref(out, 0, 14);
      std::vector<int32_t> am(out + 3), am_ref(out);
      int32_t* am_p = am.data() + mis;
      MaxPool2DForward(x.data(), y.data(), am_p, s);
      reference::MaxPool2DForward(x.data(), y_ref.data(), am_ref.data(), s);
      ExpectAllNear(y_ref.data(), y.data(), out, 0, 0, Tag("MaxPool fwd", k, mis));
      EXPECT_TRUE(std::equal(am_ref.begin(), am_ref.end(), am_p)) << Tag("argmax", k, mis);
      // Inference: no argmax.
      Buffer y2(out, mis, 15);
      MaxPool2DForward(x.data(), y2.data(), nullptr, s);
      ExpectAllNear(y_ref.data(), y2.data(), out, 0, 0, Tag("MaxPool fwd null", k, mis));

      Buffer dx(in, (mis + 2) % 4, 16), dx_ref(in, 0, 16);
      MaxPool2DBackward(dy.data(), am_p, dx.data(), s);
      reference::MaxPool2DBackward(dy.data(), am_ref.data(), dx_ref.data(), s);
      // Same summation order as the reference scatter: identical bits.
      ExpectAllNear(dx_ref.data(), dx.data(), in, 0, 0, Tag("MaxPool bwd", k, mis));

      AvgPool2DForward(x.data(), y.data(), s);
      reference::AvgPool2DForward(x.data(), y_ref.data(), s);
      ExpectAllNear(y_ref.data(), y.data(), out, 0, 0, Tag("AvgPool fwd", k, mis));
      AvgPool2DBackward(dy.data(), dx.data(), s);
      reference::AvgPool2DBackward(dy.data(), dx_ref.data(), s);
      ExpectAllNear(dx_ref.data(), dx.data(), in, 0, 0, Tag("AvgPool bwd", k, mis));
    }
  }
}

// Keras same-padding average excludes padded cells: a corner window of a 3x3 pool over a
// constant image still averages to the constant.
TEST_P(PoolTest, AvgSamePaddingExcludesPadding) {
  const Pool2DShape s = MakePool2DShape(1, 4, 4, 3, 3, 3, 1, 1, Padding::kSame);
  std::vector<float> x(48, 2.5f), y(48);
  AvgPool2DForward(x.data(), y.data(), s);
  for (float v : y) EXPECT_FLOAT_EQ(2.5f, v);
}

// Large, 64-byte aligned buffers take the non-temporal store path.
TEST_P(PoolTest, LargeAlignedBuffers) {
  const Pool2DShape s = MakePool2DShape(16, 24, 24, 64, 2, 2, 2, 2, Padding::kValid);
  const int64_t in = s.n * s.h * s.w * s.c, out = s.n * s.out_h * s.out_w * s.c;
  Buffer x(in, 0, 19), dy(out, 0, 20);
  auto y = hwy::AllocateAligned<float>(out);
  auto am = hwy::AllocateAligned<int32_t>(out);
  auto dx = hwy::AllocateAligned<float>(in);
  std::vector<float> y_ref(out), dx_ref(in);
  std::vector<int32_t> am_ref(out);
  MaxPool2DForward(x.data(), y.get(), am.get(), s);
  MaxPool2DBackward(dy.data(), am.get(), dx.get(), s);
  reference::MaxPool2DForward(x.data(), y_ref.data(), am_ref.data(), s);
  reference::MaxPool2DBackward(dy.data(), am_ref.data(), dx_ref.data(), s);
  EXPECT_TRUE(test::SameBits(y_ref.data(), y.get(), out));
  EXPECT_TRUE(std::equal(am_ref.begin(), am_ref.end(), am.get()));
  EXPECT_TRUE(test::SameBits(dx_ref.data(), dx.get(), in));
}

TEST_P(PoolTest, BackwardDeterministicAcrossThreads) {
  const Pool2DShape shapes[] = {MakePool2DShape(8, 24, 24, 64, 2, 2, 2, 2, Padding::kValid),
                                MakePool2DShape(4, 25, 23, 19, 3, 3, 2, 2, Padding::kSame)};
  for (const Pool2DShape& s : shapes) {
    const int64_t in = s.n * s.h * s.w * s.c, out = s.n * s.out_h * s.out_w * s.c;
    Buffer x(in, 0, 17), dy(out, 0, 18);
    std::vector<int32_t> am(out);
    std::vector<float> y(out), dx[3], dxa[3];
    const int threads[] = {1, 2, 16};
    for (int k = 0; k < 3; ++k) {
      SetNumThreads(threads[k]);
      dx[k].resize(in);
      dxa[k].resize(in);
      MaxPool2DForward(x.data(), y.data(), am.data(), s);
      MaxPool2DBackward(dy.data(), am.data(), dx[k].data(), s);
      AvgPool2DBackward(dy.data(), dxa[k].data(), s);
    }
    SetNumThreads(0);
    for (int k = 1; k < 3; ++k) {
      EXPECT_TRUE(test::SameBits(dx[0].data(), dx[k].data(), in)) << threads[k];
      EXPECT_TRUE(test::SameBits(dxa[0].data(), dxa[k].data(), in)) << threads[k];
    }
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
