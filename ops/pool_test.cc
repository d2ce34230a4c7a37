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

// ---- Global pooling.

struct GlobalCase {
  int64_t n, h, w, c;
};

// Odd sizes (channel counts that are not multiples of any vector width, and some that are),
// a single position, a single channel.
const GlobalCase kGlobalCases[] = {{1, 1, 1, 1},  {2, 3, 5, 1},  {3, 7, 5, 17}, {2, 1, 9, 33},
                                   {1, 13, 11, 31}, {4, 2, 3, 16}, {3, 5, 3, 64}, {2, 6, 7, 3}};

std::string GlobalTag(const char* what, const GlobalCase& k, int mis) {
  return std::string(what) + " [" + std::to_string(k.n) + "," + std::to_string(k.h) + "," +
         std::to_string(k.w) + "," + std::to_string(k.c) + "] misalign=" + std::to_string(mis);
}

TEST_P(PoolTest, GlobalPoolsMatchReference) {
  for (const GlobalCase& k : kGlobalCases) {
    const int64_t hw = k.h * k.w, in = k.n * hw * k.c, out = k.n * k.c;
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(in, mis, 21, -2.0f, 2.0f), dy(out, 3 - mis, 22);
      // Exact ties (the first maximum wins) and, in a few channels, NaNs (they win, the last
      // one's position is kept).
      for (int64_t i = 0; i < in; i += 5) x[i] = 1.5f;
      for (int64_t i = 3; i < in; i += 23) x[i] = std::numeric_limits<float>::quiet_NaN();
      Buffer y(out, (mis + 1) % 4, 23), y_ref(out, 0, 23);
      std::vector<int32_t> am(out + 3), am_ref(out);
      int32_t* am_p = am.data() + mis;
      GlobalMaxPool2DForward(x.data(), y.data(), am_p, k.n, hw, k.c);
      reference::GlobalMaxPool2DForward(x.data(), y_ref.data(), am_ref.data(), k.n, hw, k.c);
      EXPECT_TRUE(test::SameBits(y_ref.data(), y.data(), out)) << GlobalTag("max fwd", k, mis);
      EXPECT_TRUE(std::equal(am_ref.begin(), am_ref.end(), am_p)) << GlobalTag("argmax", k, mis);
      Buffer y2(out, mis, 24);
      GlobalMaxPool2DForward(x.data(), y2.data(), nullptr, k.n, hw, k.c);
      EXPECT_TRUE(test::SameBits(y_ref.data(), y2.data(), out)) << GlobalTag("max null", k, mis);

      Buffer dx(in, (mis + 2) % 4, 25), dx_ref(in, 0, 25);
      GlobalMaxPool2DBackward(dy.data(), am_p, dx.data(), k.n, hw, k.c);
      reference::GlobalMaxPool2DBackward(dy.data(), am_ref.data(), dx_ref.data(), k.n, hw, k.c);
      EXPECT_TRUE(test::SameBits(dx_ref.data(), dx.data(), in)) << GlobalTag("max bwd", k, mis);

      // The average of finite values (a NaN would make the comparison vacuous).
      Buffer xf(in, mis, 26, -2.0f, 2.0f);
      GlobalAvgPool2DForward(xf.data(), y.data(), k.n, hw, k.c);
      reference::GlobalAvgPool2DForward(xf.data(), y_ref.data(), k.n, hw, k.c);
      EXPECT_TRUE(test::SameBits(y_ref.data(), y.data(), out)) << GlobalTag("avg fwd", k, mis);
      GlobalAvgPool2DBackward(dy.data(), dx.data(), k.n, hw, k.c);
      reference::GlobalAvgPool2DBackward(dy.data(), dx_ref.data(), k.n, hw, k.c);
      EXPECT_TRUE(test::SameBits(dx_ref.data(), dx.data(), in)) << GlobalTag("avg bwd", k, mis);
    }
  }
}

// Hand-computed: one sample, one channel, positions in order.
TEST_P(PoolTest, GlobalPoolsByHand) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float ties[] = {1, 3, -2, 3, 0};
  float y, dx[5];
  int32_t am;
  GlobalMaxPool2DForward(ties, &y, &am, 1, 5, 1);
  EXPECT_EQ(y, 3.0f);
  EXPECT_EQ(am, 1);  // the first of the two maxima
  const float g = 2.0f;
  GlobalMaxPool2DBackward(&g, &am, dx, 1, 5, 1);
  EXPECT_EQ(std::vector<float>(dx, dx + 5), (std::vector<float>{0, 2, 0, 0, 0}));
  const float nans[] = {1, nan, 5, nan, 2};
  GlobalMaxPool2DForward(nans, &y, &am, 1, 5, 1);
  EXPECT_TRUE(std::isnan(y));
  EXPECT_EQ(am, 3);  // the last NaN, as PyTorch's adaptive_max_pool2d
  const float first_nan[] = {nan, 7, 1};
  GlobalMaxPool2DForward(first_nan, &y, &am, 1, 3, 1);
  EXPECT_TRUE(std::isnan(y));
  EXPECT_EQ(am, 0);
  GlobalAvgPool2DForward(ties, &y, 1, 5, 1);
  EXPECT_EQ(y, 1.0f);
  GlobalAvgPool2DBackward(&g, dx, 1, 5, 1);
  EXPECT_EQ(std::vector<float>(dx, dx + 5), (std::vector<float>(5, 0.4f)));
  // Two samples, two channels: [[1, 4], [3, 2]] and [[-1, -4], [-3, -2]] over 2 positions.
  const float x2[] = {1, 4, 3, 2, -1, -4, -3, -2};
  float y2[4];
  int32_t am2[4];
  GlobalMaxPool2DForward(x2, y2, am2, 2, 2, 2);
  EXPECT_EQ(std::vector<float>(y2, y2 + 4), (std::vector<float>{3, 4, -1, -2}));
  EXPECT_EQ(std::vector<int32_t>(am2, am2 + 4), (std::vector<int32_t>{1, 0, 0, 1}));
  GlobalAvgPool2DForward(x2, y2, 2, 2, 2);
  EXPECT_EQ(std::vector<float>(y2, y2 + 4), (std::vector<float>{2, 3, -2, -3}));
}

TEST_P(PoolTest, GlobalPoolsSameBitsAcrossThreadCounts) {
  // Many samples (several parallel chunks), and one large sample.
  const GlobalCase cases[] = {{37, 9, 7, 19}, {2, 61, 59, 45}};
  for (const GlobalCase& k : cases) {
    const int64_t hw = k.h * k.w, in = k.n * hw * k.c, out = k.n * k.c;
    Buffer x(in, 0, 27), dy(out, 0, 28);
    const int threads[] = {1, 2, 7};
    std::vector<float> ya[3], ym[3], dxa[3], dxm[3];
    std::vector<int32_t> am[3];
    for (int t = 0; t < 3; ++t) {
      SetNumThreads(threads[t]);
      ya[t].resize(out);
      ym[t].resize(out);
      am[t].resize(out);
      dxa[t].resize(in);
      dxm[t].resize(in);
      GlobalAvgPool2DForward(x.data(), ya[t].data(), k.n, hw, k.c);
      GlobalAvgPool2DBackward(dy.data(), dxa[t].data(), k.n, hw, k.c);
      GlobalMaxPool2DForward(x.data(), ym[t].data(), am[t].data(), k.n, hw, k.c);
      GlobalMaxPool2DBackward(dy.data(), am[t].data(), dxm[t].data(), k.n, hw, k.c);
    }
    SetNumThreads(0);
    for (int t = 1; t < 3; ++t) {
      EXPECT_TRUE(test::SameBits(ya[0].data(), ya[t].data(), out)) << threads[t];
      EXPECT_TRUE(test::SameBits(ym[0].data(), ym[t].data(), out)) << threads[t];
      EXPECT_EQ(am[0], am[t]) << threads[t];
      EXPECT_TRUE(test::SameBits(dxa[0].data(), dxa[t].data(), in)) << threads[t];
      EXPECT_TRUE(test::SameBits(dxm[0].data(), dxm[t].data(), in)) << threads[t];
    }
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
