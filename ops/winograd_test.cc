// The Winograd kernels (ops/winograd.h), both tile sizes, against the float64 reference:
// forward, data gradient and weight gradient (with and without a fused ReLU), on the
// seed CNN's shapes and odd ones, on every Highway target; thread-count independence.
//
// Accuracy criterion (issue 12): every output and gradient within 1e-5 of the float64
// result relative to that tensor's largest magnitude (reference64::MaxRelativeError).
#include "ops/winograd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "ops/conv.h"
#include "ops/conv_reference64.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

constexpr double kMaxRelativeError = 1e-5;

// The seed CNN's batch. Under ASan / TSAN the float64 references of a 200-image batch take
// most of an hour; 16 images run the same code paths (many blocks and groups).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int64_t kSeedBatch = 16;
#else
constexpr int64_t kSeedBatch = 200;
#endif

Winograd3x3Shape ToWinograd(const Conv2DShape& s) {
  return {s.n, s.h, s.w, s.cin, s.cout, s.out_h, s.out_w, s.pad_top, s.pad_left};
}

std::string Name(const Conv2DShape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) + "x" +
         std::to_string(s.cin) + " -> " + std::to_string(s.out_h) + "x" +
         std::to_string(s.out_w) + "x" + std::to_string(s.cout) + " pad " +
         std::to_string(s.pad_top) + "," + std::to_string(s.pad_left);
}

// The float64 results of one shape, computed once for every target and tile size.
struct Expected {
  std::vector<float> x, w, bias, dy, relu_y;
  std::vector<double> y, y_relu, dx, dx_relu, dw, db, dw_relu, db_relu;
};

Expected MakeExpected(const Conv2DShape& s, uint32_t seed) {
  Expected e;
  e.x = test::RandomVector(s.n * s.h * s.w * s.cin, seed);
  e.w = test::RandomVector(9 * s.cin * s.cout, seed + 1, -0.3f, 0.3f);
  e.bias = test::RandomVector(s.cout, seed + 2);
  e.dy = test::RandomVector(s.n * s.out_h * s.out_w * s.cout, seed + 3);
  e.y = reference64::Conv2DForward(e.x.data(), e.w.data(), e.bias.data(), s);
  e.y_relu = e.y;
  for (double& v : e.y_relu) v = v > 0 ? v : 0.0;
  // The mask the backward kernels see: a forward output after ReLU (about half zeros).
  e.relu_y.assign(e.y_relu.begin(), e.y_relu.end());
  e.dx = reference64::Conv2DBackwardData(e.dy.data(), e.w.data(), s);
  e.dx_relu = reference64::Conv2DBackwardData(e.dy.data(), e.w.data(), s, e.relu_y.data());
  reference64::Conv2DBackwardWeights(e.x.data(), e.dy.data(), s, nullptr, &e.dw, &e.db);
  reference64::Conv2DBackwardWeights(e.x.data(), e.dy.data(), s, e.relu_y.data(), &e.dw_relu,
                                     &e.db_relu);
  return e;
}

// The largest relative errors of one run of the three kernels.
struct Errors {
  double y = 0, y_relu = 0, dx = 0, dx_relu = 0, dw = 0, db = 0, dw_relu = 0, db_relu = 0;
  double Max() const { return std::max({y, y_relu, dx, dx_relu, dw, db, dw_relu, db_relu}); }
};

Errors RunAll(int tile, const Conv2DShape& s, const Expected& e) {
  const Winograd3x3Shape ws = ToWinograd(s);
  Errors r;
  std::vector<float> y(e.y.size(), 7.f);
  WinogradConv3x3Forward(tile, ws, e.x.data(), e.w.data(), e.bias.data(), Epilogue::kNone,
                         y.data());
  r.y = reference64::MaxRelativeError(y.data(), e.y);
  WinogradConv3x3Forward(tile, ws, e.x.data(), e.w.data(), e.bias.data(), Epilogue::kRelu,
                         y.data());
  r.y_relu = reference64::MaxRelativeError(y.data(), e.y_relu);
  std::vector<float> dx(e.x.size(), 7.f);
  WinogradConv3x3BackwardData(tile, ws, e.dy.data(), nullptr, e.w.data(), dx.data());
  r.dx = reference64::MaxRelativeError(dx.data(), e.dx);
  WinogradConv3x3BackwardData(tile, ws, e.dy.data(), e.relu_y.data(), e.w.data(), dx.data());
  r.dx_relu = reference64::MaxRelativeError(dx.data(), e.dx_relu);
  std::vector<float> dw(e.w.size(), 7.f), db(s.cout, 7.f);
  WinogradConv3x3BackwardWeights(tile, ws, e.x.data(), e.dy.data(), nullptr, dw.data(),
                                 db.data());
  r.dw = reference64::MaxRelativeError(dw.data(), e.dw);
  r.db = reference64::MaxRelativeError(db.data(), e.db);
  WinogradConv3x3BackwardWeights(tile, ws, e.x.data(), e.dy.data(), e.relu_y.data(),
                                 dw.data(), db.data());
  r.dw_relu = reference64::MaxRelativeError(dw.data(), e.dw_relu);
  r.db_relu = reference64::MaxRelativeError(db.data(), e.db_relu);
  // db == nullptr leaves dw unchanged.
  std::vector<float> dw2(e.w.size(), 7.f);
  WinogradConv3x3BackwardWeights(tile, ws, e.x.data(), e.dy.data(), e.relu_y.data(),
                                 dw2.data(), nullptr);
  EXPECT_EQ(dw2, dw) << Name(s) << ": db == nullptr changed dw";
  return r;
}

void ExpectAccurate(const Errors& r, const std::string& what) {
  EXPECT_LE(r.y, kMaxRelativeError) << what << " forward";
  EXPECT_LE(r.y_relu, kMaxRelativeError) << what << " forward + relu";
  EXPECT_LE(r.dx, kMaxRelativeError) << what << " backward data";
  EXPECT_LE(r.dx_relu, kMaxRelativeError) << what << " backward data through relu";
  EXPECT_LE(r.dw, kMaxRelativeError) << what << " backward weights";
  EXPECT_LE(r.db, kMaxRelativeError) << what << " backward bias";
  EXPECT_LE(r.dw_relu, kMaxRelativeError) << what << " backward weights through relu";
  EXPECT_LE(r.db_relu, kMaxRelativeError) << what << " backward bias through relu";
}

// The seed CNN's layers at batch 200 and 1, both tile sizes, every target; prints the
// measured errors (the figures the tile size was chosen on).
TEST(WinogradTest, SeedShapesAccuracyAllTargets) {
  const Conv2DShape shapes[] = {
      MakeConv2DShape(kSeedBatch, 26, 26, 32, 3, 3, 64, 1, 1, Padding::kValid),  // conv2
      MakeConv2DShape(1, 26, 26, 32, 3, 3, 64, 1, 1, Padding::kValid),
      MakeConv2DShape(kSeedBatch, 28, 28, 1, 3, 3, 32, 1, 1, Padding::kValid),  // conv1
      MakeConv2DShape(1, 28, 28, 1, 3, 3, 32, 1, 1, Padding::kValid),
  };
  uint32_t seed = 1;
  for (const Conv2DShape& s : shapes) {
    const Expected e = MakeExpected(s, seed);
    seed += 10;
    test::ForEachTarget([&](const char* target) {
      for (int tile : {kWinogradTile2, kWinogradTile4}) {
        const std::string what = std::string(target) + " F(" + std::to_string(tile) + "x" +
                                 std::to_string(tile) + ",3x3) " + Name(s);
        const Errors r = RunAll(tile, s, e);
        std::printf("%-44s rel. error  y %.2e  y+relu %.2e  dx %.2e  dx(relu) %.2e  "
                    "dw %.2e  db %.2e  dw(relu) %.2e  db(relu) %.2e\n",
                    what.c_str(), r.y, r.y_relu, r.dx, r.dx_relu, r.dw, r.db, r.dw_relu,
                    r.db_relu);
        ExpectAccurate(r, what);
      }
    });
  }
}

// Odd sizes and channel counts (not multiples of any vector length), valid and same
// padding, tiny images, hand-filled paddings (0 to 3, asymmetric), every target.
TEST(WinogradTest, OddShapesAllTargets) {
  const int64_t shapes[][5] = {
      // n, h, w, cin, cout
      {2, 7, 9, 3, 5},   {3, 11, 10, 17, 33}, {1, 3, 3, 1, 1},  {2, 5, 4, 17, 5},
      {1, 13, 6, 33, 17}, {2, 4, 9, 16, 16},   {1, 1, 7, 2, 3},  {3, 6, 6, 5, 64},
  };
  std::vector<Conv2DShape> all;
  for (const auto& v : shapes) {
    for (Padding padding : {Padding::kValid, Padding::kSame}) {
      const Conv2DShape s = MakeConv2DShape(v[0], v[1], v[2], v[3], 3, 3, v[4], 1, 1, padding);
      if (s.out_h > 0 && s.out_w > 0) all.push_back(s);
    }
  }
  // Hand-filled paddings: out = in + pad_top + pad_bottom - 2.
  for (const auto& pad : {std::vector<int64_t>{2, 2, 0, 1}, {0, 3, 3, 0}, {3, 1, 2, 2}}) {
    Conv2DShape s = MakeConv2DShape(2, 9, 7, 6, 3, 3, 7, 1, 1, Padding::kValid);
    s.pad_top = pad[0];
    s.pad_left = pad[1];
    s.out_h = s.h + pad[0] + pad[2] - 2;
    s.out_w = s.w + pad[1] + pad[3] - 2;
    all.push_back(s);
  }
  uint32_t seed = 100;
  for (const Conv2DShape& s : all) {
    const Expected e = MakeExpected(s, seed++);
    test::ForEachTarget([&](const char* target) {
      for (int tile : {kWinogradTile2, kWinogradTile4}) {
        ExpectAccurate(RunAll(tile, s, e), std::string(target) + " F(" + std::to_string(tile) +
                                            ") " + Name(s));
      }
    });
  }
}

// Empty batches, no input or output channels, outputs with no pixels: whatever exists is
// written (y = bias without input channels, dx = 0 without outputs, db = sum of dy).
TEST(WinogradTest, DegenerateShapes) {
  std::vector<Conv2DShape> shapes = {MakeConv2DShape(0, 5, 5, 3, 3, 3, 4, 1, 1, Padding::kSame),
                                     MakeConv2DShape(2, 5, 6, 0, 3, 3, 4, 1, 1, Padding::kSame),
                                     MakeConv2DShape(2, 5, 6, 3, 3, 3, 0, 1, 1, Padding::kSame),
                                     MakeConv2DShape(2, 2, 6, 3, 3, 3, 4, 1, 1, Padding::kValid)};
  uint32_t seed = 900;
  for (const Conv2DShape& s : shapes) {
    const Expected e = MakeExpected(s, seed++);
    for (int tile : {kWinogradTile2, kWinogradTile4}) {
      ExpectAccurate(RunAll(tile, s, e), "F(" + std::to_string(tile) + ") " + Name(s));
    }
  }
}

// Bit-identical results with 1, 2 and 16 threads, both tile sizes (the weight gradient's
// sum over tiles is the one reduction; its partition depends only on the shape).
TEST(WinogradTest, BitIdenticalAcrossThreadCounts) {
  const Conv2DShape s = MakeConv2DShape(37, 14, 13, 19, 3, 3, 21, 1, 1, Padding::kSame);
  const Expected e = MakeExpected(s, 5);
  for (int tile : {kWinogradTile2, kWinogradTile4}) {
    std::vector<float> y1, dx1, dw1, db1;
    for (int threads : {1, 2, 16}) {
      SetNumThreads(threads);
      std::vector<float> y(e.y.size()), dx(e.x.size()), dw(e.w.size()), db(s.cout);
      const Winograd3x3Shape ws = ToWinograd(s);
      WinogradConv3x3Forward(tile, ws, e.x.data(), e.w.data(), e.bias.data(), Epilogue::kRelu,
                             y.data());
      WinogradConv3x3BackwardData(tile, ws, e.dy.data(), y.data(), e.w.data(), dx.data());
      WinogradConv3x3BackwardWeights(tile, ws, e.x.data(), e.dy.data(), y.data(), dw.data(),
                                     db.data());
      if (threads == 1) {
        y1 = y, dx1 = dx, dw1 = dw, db1 = db;
      } else {
        EXPECT_EQ(y, y1) << "tile " << tile << " threads " << threads;
        EXPECT_EQ(dx, dx1) << "tile " << tile << " threads " << threads;
        EXPECT_EQ(dw, dw1) << "tile " << tile << " threads " << threads;
        EXPECT_EQ(db, db1) << "tile " << tile << " threads " << threads;
      }
    }
  }
  SetNumThreads(0);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
