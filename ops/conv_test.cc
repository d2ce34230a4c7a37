// Conv2D forward / backward-data / backward-weights against the direct nested-loop
// reference, on every Highway target; padding rules; thread-count independence.
#include "ops/conv.h"

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

// got[i] within tol * (1 + |want[i]|) of want[i].
void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, float tol,
                const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  test::ExpectAllNear(want.data(), got.data(), static_cast<int64_t>(got.size()), tol, tol,
                      what);
}

std::string Name(const Conv2DShape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) + "x" +
         std::to_string(s.cin) + " k" + std::to_string(s.kh) + "x" + std::to_string(s.kw) +
         " -> " + std::to_string(s.cout) + " stride " + std::to_string(s.stride_h) + "," +
         std::to_string(s.stride_w) + " pad " + std::to_string(s.pad_top) + "," +
         std::to_string(s.pad_left);
}

// Compares all three kernels with the reference. `offset` > 0 misaligns the forward's
// inputs and outputs by that many floats (the guard floats before them must survive).
void CheckAll(const Conv2DShape& s, const char* target, uint32_t seed, int offset = 0) {
  const std::string what = std::string(target) + " " + Name(s) + " offset " +
                           std::to_string(offset);
  const size_t nx = s.n * s.h * s.w * s.cin, nw = s.kh * s.kw * s.cin * s.cout;
  const size_t ny = s.n * s.out_h * s.out_w * s.cout;
  const std::vector<float> x = test::RandomVector(nx, seed), w = test::RandomVector(nw, seed + 1),
                           bias = test::RandomVector(s.cout, seed + 2), dy = test::RandomVector(ny, seed + 3);
  const float tol = 1e-5f * (8.f + s.kh * s.kw * s.cin);
  for (bool with_bias : {false, true}) {
    std::vector<float> y(ny, 7.f), y_ref(ny);
    if (offset > 0) {
      std::vector<float> xo(offset, 0.f), wo(offset, 0.f), bo(offset, 0.f), yo(offset, 5.f);
      xo.insert(xo.end(), x.begin(), x.end());
      wo.insert(wo.end(), w.begin(), w.end());
      bo.insert(bo.end(), bias.begin(), bias.end());
      yo.insert(yo.end(), y.begin(), y.end());
      Conv2DForward(xo.data() + offset, wo.data() + offset,
                    with_bias ? bo.data() + offset : nullptr, yo.data() + offset, s);
      EXPECT_EQ(std::vector<float>(yo.begin(), yo.begin() + offset),
                std::vector<float>(offset, 5.f)) << what << ": wrote before y";
      y.assign(yo.begin() + offset, yo.end());
    } else {
      Conv2DForward(x.data(), w.data(), with_bias ? bias.data() : nullptr, y.data(), s);
    }
    reference::Conv2DForward(x.data(), w.data(), with_bias ? bias.data() : nullptr,
                             y_ref.data(), s);
    ExpectNear(y, y_ref, tol, what + " forward bias=" + std::to_string(with_bias));
  }
  std::vector<float> dx(nx, 7.f), dx_ref(nx);
  Conv2DBackwardData(dy.data(), w.data(), dx.data(), s);
  reference::Conv2DBackwardData(dy.data(), w.data(), dx_ref.data(), s);
  ExpectNear(dx, dx_ref, tol * s.cout, what + " backward data");

  const float wtol = 1e-5f * (8.f + s.n * s.out_h * s.out_w);
  std::vector<float> dw(nw, 7.f), dw_ref(nw), db(s.cout, 7.f), db_ref(s.cout);
  Conv2DBackwardWeights(x.data(), dy.data(), dw.data(), db.data(), s);
  reference::Conv2DBackwardWeights(x.data(), dy.data(), dw_ref.data(), db_ref.data(), s);
  ExpectNear(dw, dw_ref, wtol, what + " backward weights");
  ExpectNear(db, db_ref, wtol, what + " backward bias");
  std::vector<float> dw2(nw, 7.f);
  Conv2DBackwardWeights(x.data(), dy.data(), dw2.data(), nullptr, s);
  EXPECT_EQ(dw2, dw) << what << ": db == nullptr changed dw";
}

TEST(Conv2DShapeTest, KerasPaddingRules) {
  Conv2DShape v = MakeConv2DShape(2, 28, 28, 1, 3, 3, 32, 1, 1, false);
  EXPECT_EQ(v.out_h, 26);
  EXPECT_EQ(v.out_w, 26);
  EXPECT_EQ(v.pad_top, 0);
  Conv2DShape s = MakeConv2DShape(2, 28, 28, 1, 3, 3, 32, 1, 1, true);
  EXPECT_EQ(s.out_h, 28);
  EXPECT_EQ(s.pad_top, 1);
  EXPECT_EQ(s.pad_left, 1);
  // same, stride 2, even input: out = 14, pad_total = 13*2 + 3 - 28 = 1 -> top 0.
  Conv2DShape s2 = MakeConv2DShape(1, 28, 27, 1, 3, 3, 4, 2, 2, true);
  EXPECT_EQ(s2.out_h, 14);
  EXPECT_EQ(s2.pad_top, 0);
  EXPECT_EQ(s2.out_w, 14);
  EXPECT_EQ(s2.pad_left, 1);  // 13*2 + 3 - 27 = 2
  Conv2DShape v2 = MakeConv2DShape(1, 10, 9, 1, 3, 2, 4, 2, 3, false);
  EXPECT_EQ(v2.out_h, 4);
  EXPECT_EQ(v2.out_w, 3);
}

TEST(Conv2DTest, SeedShapesAllTargets) {
  test::ForEachTarget([](const char* target) {
    CheckAll(MakeConv2DShape(2, 28, 28, 1, 3, 3, 32, 1, 1, false), target, 1);
    CheckAll(MakeConv2DShape(2, 26, 26, 32, 3, 3, 64, 1, 1, false), target, 2);
  });
}

TEST(Conv2DTest, OddShapesAllTargets) {
  const int64_t shapes[][8] = {
      // n, h, w, cin, kh, kw, cout, stride; each in valid and same padding.
      {3, 7, 9, 3, 3, 3, 5, 1},   {3, 7, 9, 3, 3, 3, 5, 2},  {2, 11, 10, 4, 5, 5, 6, 2},
      {2, 6, 5, 2, 2, 3, 7, 1},   {2, 5, 6, 8, 1, 1, 9, 1},  {2, 5, 6, 8, 1, 1, 9, 2},
      {1, 1, 1, 3, 1, 1, 2, 1},   {5, 4, 4, 1, 4, 4, 17, 3}, {1, 3, 3, 2, 3, 3, 3, 1},
  };
  test::ForEachTarget([&](const char* target) {
    uint32_t seed = 10;
    for (const auto& v : shapes) {
      for (bool same : {false, true}) {
        CheckAll(MakeConv2DShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[7], same),
                 target, seed++);
      }
    }
    // Different strides per axis.
    CheckAll(MakeConv2DShape(2, 9, 8, 3, 3, 2, 4, 2, 1, true), target, seed++);
  });
}

// The direct path for tiny input depth (cin <= 4): every cout below two AVX-512 vectors
// plus some, odd images, kernels wider than the image, strides 1-3, valid and same
// padding, misaligned buffers, on every target; cin = 5 takes the GEMM path beside it.
TEST(Conv2DTest, TinyInputDepthAllTargets) {
  const int64_t shapes[][7] = {
      // n, h, w, kh, kw, stride_h, stride_w
      {2, 28, 28, 3, 3, 1, 1}, {3, 7, 9, 3, 3, 2, 2}, {2, 5, 11, 5, 5, 1, 2},
      {1, 9, 6, 2, 3, 3, 1},   {2, 3, 3, 3, 3, 1, 1}, {1, 4, 13, 1, 7, 1, 3},
      {1, 2, 2, 3, 3, 2, 2},   {1, 1, 17, 1, 4, 1, 1},
  };
  test::ForEachTarget([&](const char* target) {
    uint32_t seed = 200;
    for (const auto& v : shapes) {
      for (int64_t cin : {1, 2, 3, 4, 5}) {
        for (int64_t cout : {1, 3, 8, 16, 17, 31, 32, 33}) {
          if ((cin + cout + v[1]) % 3 != 0 && cout != 32) continue;  // a rotating subset
          for (bool same : {false, true}) {
            const Conv2DShape s =
                MakeConv2DShape(v[0], v[1], v[2], cin, v[3], v[4], cout, v[5], v[6], same);
            if (s.out_h == 0 || s.out_w == 0) continue;
            CheckAll(s, target, seed, static_cast<int>(seed % 4));
            ++seed;
          }
        }
      }
    }
  });
}

TEST(Conv2DTest, SeveralTilesPerImage) {
  // out_w * k = 40 * 576 floats per output row: several im2col tiles per image.
  CheckAll(MakeConv2DShape(2, 42, 42, 64, 3, 3, 8, 1, 1, false), "best", 99);
  CheckAll(MakeConv2DShape(1, 40, 40, 64, 3, 3, 8, 1, 1, true), "best", 98);
}

TEST(Conv2DTest, BitIdenticalAcrossThreadCounts) {
  for (int64_t cin : {8, 1, 3}) {  // GEMM path; direct path (tiny cin)
    const Conv2DShape s = MakeConv2DShape(37, 12, 12, cin, 3, 3, 16 + cin, 1, 1, true);
    const size_t nx = s.n * s.h * s.w * s.cin, nw = s.kh * s.kw * s.cin * s.cout;
    const size_t ny = s.n * s.out_h * s.out_w * s.cout;
    const std::vector<float> x = test::RandomVector(nx, 5), w = test::RandomVector(nw, 6), dy = test::RandomVector(ny, 7);
    std::vector<float> dw1, db1, dx1, y1;
    for (int threads : {1, 2, 16}) {
      SetNumThreads(threads);
      std::vector<float> dw(nw), db(s.cout), dx(nx), y(ny);
      Conv2DBackwardWeights(x.data(), dy.data(), dw.data(), db.data(), s);
      Conv2DBackwardData(dy.data(), w.data(), dx.data(), s);
      Conv2DForward(x.data(), w.data(), db.data(), y.data(), s);
      if (threads == 1) {
        dw1 = dw, db1 = db, dx1 = dx, y1 = y;
      } else {
        EXPECT_EQ(dw, dw1) << "threads=" << threads;
        EXPECT_EQ(db, db1) << "threads=" << threads;
        EXPECT_EQ(dx, dx1) << "threads=" << threads;
        EXPECT_EQ(y, y1) << "threads=" << threads;
      }
    }
  }
  SetNumThreads(0);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
