// Conv2D forward / backward-data / backward-weights against the direct nested-loop
// reference, on every Highway target; padding rules; thread-count independence. Every
// algorithm (direct, Winograd F(4x4) and F(2x2)) against the float64 reference with the
// fused ReLU on and off; the automatic choice; the fused ReLU equal to the unfused pair.
#include "ops/conv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "base/runtime.h"
#include "ops/conv_reference64.h"
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
  Conv2DShape v = MakeConv2DShape(2, 28, 28, 1, 3, 3, 32, 1, 1, Padding::kValid);
  EXPECT_EQ(v.out_h, 26);
  EXPECT_EQ(v.out_w, 26);
  EXPECT_EQ(v.pad_top, 0);
  Conv2DShape s = MakeConv2DShape(2, 28, 28, 1, 3, 3, 32, 1, 1, Padding::kSame);
  EXPECT_EQ(s.out_h, 28);
  EXPECT_EQ(s.pad_top, 1);
  EXPECT_EQ(s.pad_left, 1);
  // same, stride 2, even input: out = 14, pad_total = 13*2 + 3 - 28 = 1 -> top 0.
  Conv2DShape s2 = MakeConv2DShape(1, 28, 27, 1, 3, 3, 4, 2, 2, Padding::kSame);
  EXPECT_EQ(s2.out_h, 14);
  EXPECT_EQ(s2.pad_top, 0);
  EXPECT_EQ(s2.out_w, 14);
  EXPECT_EQ(s2.pad_left, 1);  // 13*2 + 3 - 27 = 2
  Conv2DShape v2 = MakeConv2DShape(1, 10, 9, 1, 3, 2, 4, 2, 3, Padding::kValid);
  EXPECT_EQ(v2.out_h, 4);
  EXPECT_EQ(v2.out_w, 3);
}

TEST(Conv2DTest, SeedShapesAllTargets) {
  test::ForEachTarget([](const char* target) {
    CheckAll(MakeConv2DShape(2, 28, 28, 1, 3, 3, 32, 1, 1, Padding::kValid), target, 1);
    CheckAll(MakeConv2DShape(2, 26, 26, 32, 3, 3, 64, 1, 1, Padding::kValid), target, 2);
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
      for (Padding padding : {Padding::kValid, Padding::kSame}) {
        CheckAll(MakeConv2DShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[7], padding),
                 target, seed++);
      }
    }
    // Different strides per axis.
    CheckAll(MakeConv2DShape(2, 9, 8, 3, 3, 2, 4, 2, 1, Padding::kSame), target, seed++);
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
          for (Padding padding : {Padding::kValid, Padding::kSame}) {
            const Conv2DShape s =
                MakeConv2DShape(v[0], v[1], v[2], cin, v[3], v[4], cout, v[5], v[6], padding);
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
  CheckAll(MakeConv2DShape(2, 42, 42, 64, 3, 3, 8, 1, 1, Padding::kValid), "best", 99);
  CheckAll(MakeConv2DShape(1, 40, 40, 64, 3, 3, 8, 1, 1, Padding::kSame), "best", 98);
}

// ---- Algorithms, float64 accuracy, fused ReLU.

// The seed CNN's batch. Under ASan / TSAN the float64 references of a 200-image batch take
// most of an hour; 16 images run the same code paths (many blocks and groups).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int64_t kSeedBatch = 16;
#else
constexpr int64_t kSeedBatch = 200;
#endif

constexpr ConvAlgorithm kAlgorithms[] = {ConvAlgorithm::kDirect, ConvAlgorithm::kWinograd,
                                         ConvAlgorithm::kWinograd2x2};

const char* AlgorithmName(ConvAlgorithm a) {
  switch (a) {
    case ConvAlgorithm::kDirect: return "direct";
    case ConvAlgorithm::kWinograd: return "winograd4x4";
    case ConvAlgorithm::kWinograd2x2: return "winograd2x2";
    default: return "auto";
  }
}

// The inputs of one shape and their float64 results (with and without the fused ReLU).
struct Case64 {
  Case64(const Conv2DShape& shape, uint32_t seed) : s(shape) {
    x = test::RandomVector(s.n * s.h * s.w * s.cin, seed);
    w = test::RandomVector(s.kh * s.kw * s.cin * s.cout, seed + 1, -0.3f, 0.3f);
    bias = test::RandomVector(s.cout, seed + 2);
    dy = test::RandomVector(s.n * s.out_h * s.out_w * s.cout, seed + 3);
    y = reference64::Conv2DForward(x.data(), w.data(), bias.data(), s);
    y_relu = y;
    for (double& v : y_relu) v = v > 0 ? v : 0.0;
    relu_y.assign(y_relu.begin(), y_relu.end());
    dx = reference64::Conv2DBackwardData(dy.data(), w.data(), s);
    dx_relu = reference64::Conv2DBackwardData(dy.data(), w.data(), s, relu_y.data());
    reference64::Conv2DBackwardWeights(x.data(), dy.data(), s, nullptr, &dw, &db);
    reference64::Conv2DBackwardWeights(x.data(), dy.data(), s, relu_y.data(), &dw_relu,
                                       &db_relu);
  }
  Conv2DShape s;
  std::vector<float> x, w, bias, dy, relu_y;
  std::vector<double> y, y_relu, dx, dx_relu, dw, db, dw_relu, db_relu;
};

// Every output and gradient of `algo` within 1e-5 of the float64 result, relative to the
// tensor's largest magnitude, with the fused ReLU off and on.
void CheckAgainstFloat64(const Case64& c, ConvAlgorithm algo, const std::string& what) {
  const Conv2DShape& s = c.s;
  constexpr double kTol = 1e-5;
  for (bool relu : {false, true}) {
    const std::string w = what + " " + AlgorithmName(algo) + (relu ? " relu" : "");
    const ConvForwardOptions forward =
        ConvForwardOptions().Epilogue(relu ? Epilogue::kRelu : Epilogue::kNone).Algorithm(algo);
    const ConvBackwardOptions backward =
        ConvBackwardOptions().ReluY(relu ? c.relu_y.data() : nullptr).Algorithm(algo);
    std::vector<float> y(c.y.size(), 7.f);
    Conv2DForward(c.x.data(), c.w.data(), c.bias.data(), y.data(), s, forward);
    EXPECT_LE(reference64::MaxRelativeError(y.data(), relu ? c.y_relu : c.y), kTol)
        << w << " forward";
    std::vector<float> dx(c.x.size(), 7.f);
    Conv2DBackwardData(c.dy.data(), c.w.data(), dx.data(), s, backward);
    EXPECT_LE(reference64::MaxRelativeError(dx.data(), relu ? c.dx_relu : c.dx), kTol)
        << w << " backward data";
    std::vector<float> dw(c.w.size(), 7.f), db(s.cout, 7.f);
    Conv2DBackwardWeights(c.x.data(), c.dy.data(), dw.data(), db.data(), s, backward);
    EXPECT_LE(reference64::MaxRelativeError(dw.data(), relu ? c.dw_relu : c.dw), kTol)
        << w << " backward weights";
    EXPECT_LE(reference64::MaxRelativeError(db.data(), relu ? c.db_relu : c.db), kTol)
        << w << " backward bias";
  }
}

// The seed CNN's layers at batch 200 and 1, every algorithm, every target.
TEST(Conv2DTest, AlgorithmsSeedShapesFloat64AllTargets) {
  uint32_t seed = 300;
  for (int64_t n : {kSeedBatch, int64_t{1}}) {
    for (const Conv2DShape& s : {MakeConv2DShape(n, 28, 28, 1, 3, 3, 32, 1, 1, Padding::kValid),
                                 MakeConv2DShape(n, 26, 26, 32, 3, 3, 64, 1, 1, Padding::kValid)}) {
      const Case64 c(s, seed);
      seed += 10;
      test::ForEachTarget([&](const char* target) {
        for (ConvAlgorithm algo : kAlgorithms) {
          CheckAgainstFloat64(c, algo, target + (" " + Name(s)));
        }
      });
    }
  }
}

// Odd shapes (odd sizes, channel counts 3, 5, 17, 33), valid and same padding, every
// algorithm (Winograd falls back to the direct path where it does not apply), every
// target; the direct path's ReLU fusion on its GEMM, 1x1 and tiny-cin branches.
TEST(Conv2DTest, AlgorithmsOddShapesFloat64AllTargets) {
  const int64_t shapes[][8] = {
      // n, h, w, cin, kh, kw, cout, stride
      {2, 7, 9, 3, 3, 3, 5, 1},   {2, 11, 10, 17, 3, 3, 33, 1}, {3, 9, 5, 33, 3, 3, 17, 1},
      {2, 6, 7, 17, 3, 3, 5, 2},  {2, 5, 6, 8, 1, 1, 9, 1},     {2, 9, 8, 2, 3, 3, 17, 1},
      {1, 3, 3, 5, 3, 3, 3, 1},   {2, 8, 7, 6, 5, 5, 7, 1},     {2, 9, 8, 4, 3, 3, 21, 1},
  };
  std::vector<Case64> cases;
  uint32_t seed = 400;
  for (const auto& v : shapes) {
    for (Padding padding : {Padding::kValid, Padding::kSame}) {
      cases.emplace_back(
          MakeConv2DShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[7], padding), seed++);
    }
  }
  test::ForEachTarget([&](const char* target) {
    for (const Case64& c : cases) {
      for (ConvAlgorithm algo : kAlgorithms) {
        CheckAgainstFloat64(c, algo, target + (" " + Name(c.s)));
      }
    }
  });
}

// The fused ReLU is bit-identical to the unfused pair on every algorithm: forward =
// max(conv, 0) (NaN -> 0); backward with relu_y = backward of the masked dy.
TEST(Conv2DTest, FusedReluEqualsUnfused) {
  for (const Conv2DShape& s : {MakeConv2DShape(3, 10, 9, 16, 3, 3, 24, 1, 1, Padding::kSame),
                               MakeConv2DShape(2, 9, 8, 3, 3, 3, 17, 1, 1, Padding::kValid),
                               MakeConv2DShape(2, 6, 5, 7, 1, 1, 9, 1, 1, Padding::kValid),
                               MakeConv2DShape(2, 9, 9, 6, 3, 3, 5, 2, 2, Padding::kSame),
                               // tiny cin (the direct loops): stride 2 with same padding,
                               // a kernel wider than the image (no interior column)
                               MakeConv2DShape(2, 9, 11, 2, 3, 3, 37, 2, 2, Padding::kSame),
                               MakeConv2DShape(2, 2, 2, 1, 3, 3, 7, 1, 1, Padding::kSame)}) {
    const size_t nx = s.n * s.h * s.w * s.cin, nw = s.kh * s.kw * s.cin * s.cout;
    const size_t ny = s.n * s.out_h * s.out_w * s.cout;
    const std::vector<float> x = test::RandomVector(nx, 1), w = test::RandomVector(nw, 2),
                             b = test::RandomVector(s.cout, 3), dy = test::RandomVector(ny, 4);
    for (ConvAlgorithm algo : kAlgorithms) {
      const std::string what = Name(s) + " " + AlgorithmName(algo);
      std::vector<float> y(ny), y_relu(ny);
      Conv2DForward(x.data(), w.data(), b.data(), y.data(), s,
                    ConvForwardOptions().Algorithm(algo));
      Conv2DForward(x.data(), w.data(), b.data(), y_relu.data(), s,
                    ConvForwardOptions().Epilogue(Epilogue::kRelu).Algorithm(algo));
      std::vector<float> want(ny), masked(ny);
      for (size_t i = 0; i < ny; ++i) {
        want[i] = y[i] > 0 ? y[i] : 0.f;
        masked[i] = y_relu[i] > 0 ? dy[i] : 0.f;
      }
      EXPECT_TRUE(test::SameBits(want.data(), y_relu.data(), ny)) << what << " forward";
      std::vector<float> dx(nx), dx_fused(nx), dw(nw), dw_fused(nw), db(s.cout), db_fused(s.cout);
      const ConvBackwardOptions plain = ConvBackwardOptions().Algorithm(algo);
      const ConvBackwardOptions fused = ConvBackwardOptions().ReluY(y_relu.data()).Algorithm(algo);
      Conv2DBackwardData(masked.data(), w.data(), dx.data(), s, plain);
      Conv2DBackwardData(dy.data(), w.data(), dx_fused.data(), s, fused);
      EXPECT_TRUE(test::SameBits(dx.data(), dx_fused.data(), nx)) << what << " backward data";
      Conv2DBackwardWeights(x.data(), masked.data(), dw.data(), db.data(), s, plain);
      Conv2DBackwardWeights(x.data(), dy.data(), dw_fused.data(), db_fused.data(), s, fused);
      EXPECT_TRUE(test::SameBits(dw.data(), dw_fused.data(), nw)) << what << " backward weights";
      EXPECT_TRUE(test::SameBits(db.data(), db_fused.data(), s.cout)) << what << " backward bias";
    }
  }
}

TEST(Conv2DTest, AutomaticChoice) {
  constexpr ConvPass kFwd = ConvPass::kForward, kData = ConvPass::kBackwardData,
                     kWeights = ConvPass::kBackwardWeights;
  const Conv2DShape conv1 = MakeConv2DShape(200, 28, 28, 1, 3, 3, 32, 1, 1, Padding::kValid);
  const Conv2DShape conv2 = MakeConv2DShape(200, 26, 26, 32, 3, 3, 64, 1, 1, Padding::kValid);
  // conv1: the direct loops forward and for dw, direct dx (one input channel).
  EXPECT_EQ(Conv2DAlgorithmFor(conv1, kFwd), ConvAlgorithm::kDirect);
  EXPECT_EQ(Conv2DAlgorithmFor(conv1, kData), ConvAlgorithm::kDirect);
  EXPECT_EQ(Conv2DAlgorithmFor(conv1, kWeights), ConvAlgorithm::kDirect);
  const Conv2DShape rgb = MakeConv2DShape(8, 32, 32, 3, 3, 3, 16, 1, 1, Padding::kSame);
  EXPECT_EQ(Conv2DAlgorithmFor(rgb, kFwd), ConvAlgorithm::kDirect);
  EXPECT_EQ(Conv2DAlgorithmFor(rgb, kData), ConvAlgorithm::kWinograd);
  EXPECT_EQ(Conv2DAlgorithmFor(rgb, kWeights), ConvAlgorithm::kDirect);
  // 4 input channels: 36 taps per pixel, Winograd's weight gradient wins.
  const Conv2DShape cin4 = MakeConv2DShape(8, 26, 26, 4, 3, 3, 32, 1, 1, Padding::kSame);
  EXPECT_EQ(Conv2DAlgorithmFor(cin4, kFwd), ConvAlgorithm::kDirect);
  EXPECT_EQ(Conv2DAlgorithmFor(cin4, kWeights), ConvAlgorithm::kWinograd);
  // Wide layers: F(2x2) where the pass sums over more than 128 channels.
  const Conv2DShape wide = MakeConv2DShape(8, 14, 14, 256, 3, 3, 64, 1, 1, Padding::kSame);
  EXPECT_EQ(Conv2DAlgorithmFor(wide, kFwd), ConvAlgorithm::kWinograd2x2);
  EXPECT_EQ(Conv2DAlgorithmFor(wide, kData), ConvAlgorithm::kWinograd);
  EXPECT_EQ(Conv2DAlgorithmFor(wide, kWeights), ConvAlgorithm::kWinograd);
  // Wide both ways: the weight gradient's partials would leave fewer than 4 parallel tasks
  // with F(4x4) (36 * 256 * 256 floats each), so F(2x2); wider still, direct.
  const Conv2DShape wide256 = MakeConv2DShape(8, 14, 14, 256, 3, 3, 256, 1, 1, Padding::kSame);
  EXPECT_EQ(Conv2DAlgorithmFor(wide256, kWeights), ConvAlgorithm::kWinograd2x2);
  const Conv2DShape wide512 = MakeConv2DShape(8, 14, 14, 512, 3, 3, 512, 1, 1, Padding::kSame);
  EXPECT_EQ(Conv2DAlgorithmFor(wide512, kWeights), ConvAlgorithm::kDirect);
  EXPECT_EQ(Conv2DAlgorithmFor(wide512, kFwd), ConvAlgorithm::kWinograd2x2);
  const Conv2DShape wide_out = MakeConv2DShape(8, 14, 14, 64, 3, 3, 129, 1, 1, Padding::kSame);
  EXPECT_EQ(Conv2DAlgorithmFor(wide_out, kFwd), ConvAlgorithm::kWinograd);
  EXPECT_EQ(Conv2DAlgorithmFor(wide_out, kData), ConvAlgorithm::kWinograd2x2);
  // Edge waste: a 2x2 output fits F(2x2) exactly (F(4x4) would compute 16 outputs for 4);
  // a 1x1 output is left to the direct path.
  EXPECT_EQ(Conv2DAlgorithmFor(MakeConv2DShape(4, 4, 4, 16, 3, 3, 16, 1, 1, Padding::kValid), kFwd),
            ConvAlgorithm::kWinograd2x2);
  EXPECT_EQ(Conv2DAlgorithmFor(MakeConv2DShape(4, 3, 3, 16, 3, 3, 16, 1, 1, Padding::kValid), kFwd),
            ConvAlgorithm::kDirect);
  const Conv2DShape strided = MakeConv2DShape(200, 26, 26, 32, 3, 3, 64, 2, 2, Padding::kValid);
  const Conv2DShape five = MakeConv2DShape(200, 26, 26, 32, 5, 5, 64, 1, 1, Padding::kValid);
  for (ConvPass pass : {kFwd, kData, kWeights}) {
    EXPECT_EQ(Conv2DAlgorithmFor(conv2, pass), ConvAlgorithm::kWinograd);
    const Conv2DShape one_image = MakeConv2DShape(1, 26, 26, 32, 3, 3, 64, 1, 1, Padding::kValid);
    EXPECT_EQ(Conv2DAlgorithmFor(one_image, pass), ConvAlgorithm::kWinograd);
    // Forced: Winograd only where it applies.
    EXPECT_EQ(Conv2DAlgorithmFor(conv1, pass, ConvAlgorithm::kWinograd2x2),
              ConvAlgorithm::kWinograd2x2);
    EXPECT_EQ(Conv2DAlgorithmFor(conv2, pass, ConvAlgorithm::kDirect), ConvAlgorithm::kDirect);
    EXPECT_EQ(Conv2DAlgorithmFor(strided, pass, ConvAlgorithm::kWinograd), ConvAlgorithm::kDirect);
    EXPECT_EQ(Conv2DAlgorithmFor(five, pass, ConvAlgorithm::kWinograd), ConvAlgorithm::kDirect);
    EXPECT_EQ(Conv2DAlgorithmFor(strided, pass), ConvAlgorithm::kDirect);
    EXPECT_EQ(Conv2DAlgorithmFor(five, pass), ConvAlgorithm::kDirect);
    // The process-wide override replaces kAuto only.
    SetConvAlgorithm(ConvAlgorithm::kDirect);
    EXPECT_EQ(Conv2DAlgorithmFor(conv2, pass), ConvAlgorithm::kDirect);
    EXPECT_EQ(Conv2DAlgorithmFor(conv2, pass, ConvAlgorithm::kWinograd), ConvAlgorithm::kWinograd);
    SetConvAlgorithm(ConvAlgorithm::kWinograd2x2);
    EXPECT_EQ(Conv2DAlgorithmFor(conv1, pass), ConvAlgorithm::kWinograd2x2);
    EXPECT_EQ(Conv2DAlgorithmFor(strided, pass), ConvAlgorithm::kDirect);
    SetConvAlgorithm(ConvAlgorithm::kAuto);
    EXPECT_EQ(Conv2DAlgorithmFor(conv2, pass), ConvAlgorithm::kWinograd);
  }
}

TEST(Conv2DTest, BitIdenticalAcrossThreadCounts) {
  for (int64_t cin : {8, 1, 3, 16}) {  // GEMM path; direct path (tiny cin); Winograd
    const Conv2DShape s = MakeConv2DShape(37, 12, 12, cin, 3, 3, 16 + cin, 1, 1, Padding::kSame);
    const size_t nx = s.n * s.h * s.w * s.cin, nw = s.kh * s.kw * s.cin * s.cout;
    const size_t ny = s.n * s.out_h * s.out_w * s.cout;
    const std::vector<float> x = test::RandomVector(nx, 5), w = test::RandomVector(nw, 6), dy = test::RandomVector(ny, 7);
    for (ConvAlgorithm algo : kAlgorithms) {
      for (bool relu : {false, true}) {
        std::vector<float> dw1, db1, dx1, y1;
        for (int threads : {1, 2, 16}) {
          SetNumThreads(threads);
          std::vector<float> dw(nw), db(s.cout), dx(nx), y(ny);
          const Epilogue epilogue = relu ? Epilogue::kRelu : Epilogue::kNone;
          Conv2DForward(x.data(), w.data(), dy.data(), y.data(), s,
                        ConvForwardOptions().Epilogue(epilogue).Algorithm(algo));
          const ConvBackwardOptions backward =
              ConvBackwardOptions().ReluY(relu ? y.data() : nullptr).Algorithm(algo);
          Conv2DBackwardWeights(x.data(), dy.data(), dw.data(), db.data(), s, backward);
          Conv2DBackwardData(dy.data(), w.data(), dx.data(), s, backward);
          const std::string what = "cin " + std::to_string(cin) + " " + AlgorithmName(algo) +
                                   (relu ? " relu" : "") + " threads=" + std::to_string(threads);
          if (threads == 1) {
            dw1 = dw, db1 = db, dx1 = dx, y1 = y;
          } else {
            EXPECT_EQ(dw, dw1) << what;
            EXPECT_EQ(db, db1) << what;
            EXPECT_EQ(dx, dx1) << what;
            EXPECT_EQ(y, y1) << what;
          }
        }
      }
    }
  }
  SetNumThreads(0);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
