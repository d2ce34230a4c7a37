// Elementwise kernels vs the scalar reference, on every compiled Highway target.
#include "ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "hwy/tests/hwy_gtest.h"
#include "ops/reference.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using test::Buffer;
using test::ExpectAllNear;
using test::SameBits;

// Every count below two AVX-512 vectors, plus sizes that span several parallel chunks.
std::vector<int64_t> Sizes() {
  std::vector<int64_t> sizes;
  for (int64_t n = 0; n <= 33; ++n) sizes.push_back(n);
  sizes.push_back(127 * 129);
  sizes.push_back(100003);
  return sizes;
}

std::string Tag(const char* what, int64_t n, int misalign) {
  return std::string(what) + " n=" + std::to_string(n) + " misalign=" +
         std::to_string(misalign);
}

class ElementwiseTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(ElementwiseTest);

TEST_P(ElementwiseTest, Binary) {
  const BinaryOp ops[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv};
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      Buffer a(n, mis, 1), b(n, (mis + 1) % 4, 2, 0.5f, 2.0f);
      for (BinaryOp op : ops) {
        Buffer got(n, (mis + 2) % 4, 3), want(n, 0, 3);
        Binary(op, a.data(), b.data(), got.data(), n);
        reference::Binary(op, a.data(), b.data(), want.data(), n);
        ExpectAllNear(want.data(), got.data(), n, 0, 0, Tag("Binary", n, mis));
        // The fused ReLU: the reference's result, then max(v, 0) (v > 0 ? v : 0).
        Binary(op, a.data(), b.data(), got.data(), n, Epilogue::kRelu);
        for (int64_t i = 0; i < n; ++i) want[i] = want[i] > 0.f ? want[i] : 0.f;
        ExpectAllNear(want.data(), got.data(), n, 0, 0, Tag("Binary relu", n, mis));
      }
    }
  }
}

TEST_P(ElementwiseTest, BinaryInPlace) {
  Buffer a(1000, 1, 1), b(1000, 2, 2);
  std::vector<float> want(1000);
  reference::Binary(BinaryOp::kAdd, a.data(), b.data(), want.data(), 1000);
  Binary(BinaryOp::kAdd, a.data(), b.data(), a.data(), 1000);
  ExpectAllNear(want.data(), a.data(), 1000, 0, 0, "in place");
}

struct BroadcastCase {
  std::vector<int64_t> a, b, out;
};

int64_t Numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

TEST_P(ElementwiseTest, BroadcastBinary) {
  const std::vector<BroadcastCase> cases = {
      {{200, 512}, {1, 512}, {200, 512}},   // bias add: leading-dim broadcast
      {{1, 512}, {200, 512}, {200, 512}},
      {{200, 512}, {200, 1}, {200, 512}},   // trailing-dim broadcast
      {{200, 1}, {200, 512}, {200, 512}},
      {{7, 13}, {1, 1}, {7, 13}},           // scalar operand
      {{1, 1}, {7, 13}, {7, 13}},
      {{7, 13}, {7, 13}, {7, 13}},          // same shape
      {{1, 1}, {1, 1}, {1, 1}},
      {{127, 129}, {127, 1}, {127, 129}},
      {{127, 129}, {1, 129}, {127, 129}},
      {{2, 3, 4}, {1, 3, 1}, {2, 3, 4}},
      {{2, 3, 4}, {2, 1, 4}, {2, 3, 4}},
      {{3, 1, 5}, {1, 4, 1}, {3, 4, 5}},    // outer-product style
      {{33, 1}, {1, 17}, {33, 17}},
      {{5, 1, 1, 3}, {1, 4, 6, 1}, {5, 4, 6, 3}},
      {{1, 33}, {1, 1}, {1, 33}},
      {{4000, 64}, {1, 64}, {4000, 64}},    // several parallel chunks
      {{0, 3}, {1, 3}, {0, 3}},             // empty
  };
  const BinaryOp ops[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv};
  for (const BroadcastCase& c : cases) {
    for (int mis = 0; mis < 4; ++mis) {
      Buffer a(Numel(c.a), mis, 4), b(Numel(c.b), 3 - mis, 5, 0.5f, 2.0f);
      const int64_t n = Numel(c.out);
      for (BinaryOp op : ops) {
        Buffer got(n, (mis + 1) % 4, 6), want(n, 0, 6);
        BroadcastBinary(op, a.data(), c.a, b.data(), c.b, got.data(), c.out);
        reference::BroadcastBinary(op, a.data(), c.a, b.data(), c.b, want.data(), c.out);
        ExpectAllNear(want.data(), got.data(), n, 0, 0, Tag("BroadcastBinary", n, mis));
      }
    }
  }
}

// a op= b: out is a's own buffer (a of the output's shape), b broadcast.
TEST_P(ElementwiseTest, BroadcastBinaryInPlace) {
  const std::vector<BroadcastCase> cases = {
      {{200, 512}, {1, 512}, {200, 512}}, {{127, 129}, {127, 1}, {127, 129}},
      {{3, 4, 5}, {1, 4, 1}, {3, 4, 5}},  {{7, 13}, {1, 1}, {7, 13}},
      {{4000, 64}, {1, 64}, {4000, 64}},
  };
  const BinaryOp ops[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv};
  for (const BroadcastCase& c : cases) {
    const int64_t n = Numel(c.out);
    Buffer b(Numel(c.b), 1, 5, 0.5f, 2.0f);
    for (BinaryOp op : ops) {
      Buffer a(n, 2, 4), want(n, 0, 6);
      reference::BroadcastBinary(op, a.data(), c.a, b.data(), c.b, want.data(), c.out);
      BroadcastBinary(op, a.data(), c.a, b.data(), c.b, a.data(), c.out);
      ExpectAllNear(want.data(), a.data(), n, 0, 0, Tag("BroadcastBinary in place", n, 2));
    }
  }
}

TEST_P(ElementwiseTest, Unary) {
  struct Case {
    UnaryOp op;
    float lo, hi, rel, abs;
    const char* name;
  };
  const Case cases[] = {
      {UnaryOp::kNeg, -3, 3, 0, 0, "neg"},
      {UnaryOp::kExp, -90, 88, 4e-7f, 1e-37f, "exp"}  /* subnormal results lose bits */,
      {UnaryOp::kLog, 1e-30f, 100, 6e-7f, 1e-7f, "log"},
      {UnaryOp::kSqrt, 0, 100, 0, 0, "sqrt"},
      {UnaryOp::kRelu, -3, 3, 0, 0, "relu"},
      {UnaryOp::kSigmoid, -20, 20, 4e-7f, 1e-7f, "sigmoid"},
      {UnaryOp::kTanh, -10, 10, 6e-7f, 1e-7f, "tanh"},
      // Gelu's erf is a rational approximation, within 3.4e-7 of erf: x / 2 times that.
      {UnaryOp::kGelu, -8, 8, 1e-6f, 1e-6f, "gelu"},
      {UnaryOp::kGeluTanh, -8, 8, 1e-6f, 1e-7f, "gelu_tanh"},
      {UnaryOp::kSilu, -20, 20, 4e-7f, 1e-7f, "silu"},
      {UnaryOp::kHardSigmoid, -5, 5, 0, 0, "hard_sigmoid"},
  };
  for (const Case& c : cases) {
    for (int64_t n : Sizes()) {
      for (int mis = 0; mis < 4; ++mis) {
        Buffer x(n, mis, 7, c.lo, c.hi);
        Buffer got(n, 3 - mis, 8), want(n, 0, 8);
        Unary(c.op, x.data(), got.data(), n);
        reference::Unary(c.op, x.data(), want.data(), n);
        ExpectAllNear(want.data(), got.data(), n, c.rel, c.abs, Tag(c.name, n, mis));
        // In place.
        Unary(c.op, x.data(), x.data(), n);
        ExpectAllNear(want.data(), x.data(), n, c.rel, c.abs, Tag(c.name, n, mis));
      }
    }
  }
}

TEST_P(ElementwiseTest, UnarySpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.0f, 89.0f, 100.0f, -100.0f,
                                -200.0f, inf, -inf, nan, 1e-3f, 50.0f, -50.0f,
                                88.7f, -88.0f, 2.0f};
  const int64_t n = static_cast<int64_t>(x.size());
  for (UnaryOp op : {UnaryOp::kExp, UnaryOp::kLog, UnaryOp::kSigmoid, UnaryOp::kRelu,
                     UnaryOp::kGelu, UnaryOp::kGeluTanh, UnaryOp::kSilu,
                     UnaryOp::kHardSigmoid}) {
    std::vector<float> got(n), want(n);
    Unary(op, x.data(), got.data(), n);
    reference::Unary(op, x.data(), want.data(), n);
    ExpectAllNear(want.data(), got.data(), n, 1e-6f, 1e-30f,
                  "special values op " + std::to_string(static_cast<int>(op)));
  }
}

// GatherBytesAsFloat equals the scalar quotient bit for bit, on row sizes around the
// vector widths (odd tails) and MNIST's 784, rows repeated and out of order, every byte
// value, and writes nothing past its output.
TEST_P(ElementwiseTest, GatherBytesAsFloat) {
  std::vector<uint8_t> base(300 * 800);
  for (size_t i = 0; i < base.size(); ++i) base[i] = static_cast<uint8_t>((i * 37 + i / 7) % 256);
  for (int64_t row_size : {1, 3, 7, 15, 16, 17, 31, 33, 64, 65, 784, 785}) {
    const int64_t total_rows = static_cast<int64_t>(base.size()) / row_size;
    for (int64_t count : {0, 1, 5, 200}) {
      std::vector<int64_t> rows(count);
      for (int64_t i = 0; i < count; ++i) rows[i] = (i * 7919 + 13) % total_rows;
      if (count > 2) rows[2] = rows[0];  // a repeated row
      for (float divisor : {255.0f, 3.0f}) {
        std::vector<float> got(count * row_size + 5, -7.f), want(count * row_size);
        GatherBytesAsFloat(base.data(), rows.data(), count, row_size, divisor, got.data());
        reference::GatherBytesAsFloat(base.data(), rows.data(), count, row_size, divisor,
                                      want.data());
        const std::string tag = "row_size " + std::to_string(row_size) + " count " +
                                std::to_string(count) + " divisor " + std::to_string(divisor);
        for (int64_t i = 0; i < count * row_size; ++i) {
          ASSERT_EQ(got[i], want[i]) << tag << " at " << i;
        }
        for (int64_t i = count * row_size; i < count * row_size + 5; ++i) {
          ASSERT_EQ(got[i], -7.f) << tag << ": wrote past the output";
        }
      }
    }
  }
}

TEST_P(ElementwiseTest, ScalarOps) {
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(n, mis, 9, 0.1f, 3.0f), dy(n, 3 - mis, 10);
      Buffer got(n, (mis + 1) % 4, 11), want(n, 0, 11);
      for (float p : {1.0f, 2.0f, -1.0f, 0.5f, 3.0f, -2.5f}) {
        Pow(x.data(), p, got.data(), n);
        reference::Pow(x.data(), p, want.data(), n);
        ExpectAllNear(want.data(), got.data(), n, 2e-7f, 0, Tag("Pow", n, mis));
      }
      Scale(x.data(), -1.5f, got.data(), n);
      reference::Scale(x.data(), -1.5f, want.data(), n);
      ExpectAllNear(want.data(), got.data(), n, 0, 0, Tag("Scale", n, mis));
      AddScalar(x.data(), 0.25f, got.data(), n);
      reference::AddScalar(x.data(), 0.25f, want.data(), n);
      ExpectAllNear(want.data(), got.data(), n, 0, 0, Tag("AddScalar", n, mis));
      // Axpy accumulates into y.
      Buffer y(n, (mis + 2) % 4, 12);
      std::vector<float> y_ref = y.ToVector();
      Axpy(0.75f, x.data(), y.data(), n);
      reference::Axpy(0.75f, x.data(), y_ref.data(), n);
      ExpectAllNear(y_ref.data(), y.data(), n, 1e-6f, 1e-6f, Tag("Axpy", n, mis));
      // Backward kernels.
      Buffer xr(n, mis, 13);
      ReluBackward(xr.data(), dy.data(), got.data(), n);
      reference::ReluBackward(xr.data(), dy.data(), want.data(), n);
      ExpectAllNear(want.data(), got.data(), n, 0, 0, Tag("ReluBackward", n, mis));
      SigmoidBackward(x.data(), dy.data(), got.data(), n);
      reference::SigmoidBackward(x.data(), dy.data(), want.data(), n);
      // The SIMD code may fuse multiply-adds: compare with a tolerance.
      ExpectAllNear(want.data(), got.data(), n, 1e-6f, 1e-6f, Tag("SigmoidBackward", n, mis));
      TanhBackward(x.data(), dy.data(), got.data(), n);
      reference::TanhBackward(x.data(), dy.data(), want.data(), n);
      ExpectAllNear(want.data(), got.data(), n, 1e-6f, 1e-6f, Tag("TanhBackward", n, mis));
    }
  }
}

// erf's rational approximation against std::erf, through Gelu: x / 2 * (1 + erf(x / sqrt 2))
// for x on a fine grid of [-8, 8] is within 5e-7 * |x| / 2 of the double-precision value
// (the approximation's error, at most 3.4e-7 near erf's argument -3.94, plus rounding).
TEST_P(ElementwiseTest, GeluErfIsWithinAFewUlp) {
  const int64_t n = 120001;
  std::vector<float> x(n), got(n);
  for (int64_t i = 0; i < n; ++i) x[i] = -8.f + 16.f * static_cast<float>(i) / (n - 1);
  Unary(UnaryOp::kGelu, x.data(), got.data(), n);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] == 0.f) continue;
    const double v = x[i];
    const double want = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    worst = std::max(worst, std::fabs(got[i] - want) / (0.5 * std::fabs(v)));
  }
  EXPECT_LT(worst, 5e-7);
}

// The activations with a parameter, and every activation's backward kernel.
TEST_P(ElementwiseTest, ActivationKernels) {
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(n, mis, 21, -6.f, 6.f), dy(n, 3 - mis, 22);
      Buffer got(n, (mis + 1) % 4, 23), want(n, 0, 23);
      for (float alpha : {0.2f, 1.0f, -0.5f}) {
        LeakyRelu(x.data(), alpha, got.data(), n);
        reference::LeakyRelu(x.data(), alpha, want.data(), n);
        ExpectAllNear(want.data(), got.data(), n, 0, 0, Tag("LeakyRelu", n, mis));
        Elu(x.data(), alpha, got.data(), n);
        reference::Elu(x.data(), alpha, want.data(), n);
        ExpectAllNear(want.data(), got.data(), n, 6e-7f, 1e-7f, Tag("Elu", n, mis));
        LeakyReluBackward(x.data(), alpha, dy.data(), got.data(), n);
        reference::LeakyReluBackward(x.data(), alpha, dy.data(), want.data(), n);
        ExpectAllNear(want.data(), got.data(), n, 0, 0, Tag("LeakyReluBackward", n, mis));
        EluBackward(x.data(), alpha, dy.data(), got.data(), n);
        reference::EluBackward(x.data(), alpha, dy.data(), want.data(), n);
        ExpectAllNear(want.data(), got.data(), n, 6e-7f, 1e-7f, Tag("EluBackward", n, mis));
      }
      struct Backward {
        void (*kernel)(const float*, const float*, float*, int64_t);
        void (*reference)(const float*, const float*, float*, int64_t);
        float rel, abs;
        const char* name;
      };
      const Backward backwards[] = {
          {GeluBackward, reference::GeluBackward, 1e-6f, 5e-7f, "GeluBackward"},
          {GeluTanhBackward, reference::GeluTanhBackward, 1e-6f, 5e-7f, "GeluTanhBackward"},
          {SiluBackward, reference::SiluBackward, 1e-6f, 2e-7f, "SiluBackward"},
          {HardSigmoidBackward, reference::HardSigmoidBackward, 0, 0, "HardSigmoidBackward"},
      };
      for (const Backward& b : backwards) {
        b.kernel(x.data(), dy.data(), got.data(), n);
        b.reference(x.data(), dy.data(), want.data(), n);
        ExpectAllNear(want.data(), got.data(), n, b.rel, b.abs, Tag(b.name, n, mis));
        // dx in dy's place.
        std::vector<float> in_place = dy.ToVector();
        b.kernel(x.data(), in_place.data(), in_place.data(), n);
        EXPECT_TRUE(SameBits(got.data(), in_place.data(), n)) << Tag(b.name, n, mis);
      }
      // y in x's place.
      std::vector<float> in_place = x.ToVector();
      Elu(in_place.data(), 0.5f, in_place.data(), n);
      Elu(x.data(), 0.5f, got.data(), n);
      EXPECT_TRUE(SameBits(got.data(), in_place.data(), n)) << Tag("Elu in place", n, mis);
    }
  }
}

// At the kinks and on special values the activations follow PyTorch: LeakyRelu's and
// Elu's gradients at 0 are alpha's side, HardSigmoid's gradient is 0 at +-3 and beyond,
// NaN stays NaN.
TEST_P(ElementwiseTest, ActivationKinksAndSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {0.f, -3.f, 3.f, -200.f, 200.f, inf, -inf, nan};
  const std::vector<float> ones(x.size(), 1.f);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(n);
  LeakyReluBackward(x.data(), 0.25f, ones.data(), y.data(), n);
  EXPECT_EQ(y[0], 0.25f);
  EluBackward(x.data(), 0.5f, ones.data(), y.data(), n);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[3], 0.f);
  HardSigmoidBackward(x.data(), ones.data(), y.data(), n);
  EXPECT_EQ(y, (std::vector<float>{1.f / 6.f, 0, 0, 0, 0, 0, 0, 0}));
  Unary(UnaryOp::kHardSigmoid, x.data(), y.data(), n);
  EXPECT_EQ(std::vector<float>(y.begin(), y.end() - 1),
            (std::vector<float>{0.5f, 0, 1, 0, 1, 1, 0}));
  EXPECT_TRUE(std::isnan(y[7]));
  Elu(x.data(), 2.f, y.data(), n);
  EXPECT_EQ(std::vector<float>(y.begin(), y.end() - 1),
            (std::vector<float>{0, 2.f * std::expm1(-3.f), 3, -2, 200, inf, -2}));
  EXPECT_TRUE(std::isnan(y[7]));
  for (UnaryOp op : {UnaryOp::kGelu, UnaryOp::kGeluTanh, UnaryOp::kSilu}) {
    Unary(op, x.data(), y.data(), n);
    EXPECT_EQ(y[0], 0.f);
    EXPECT_EQ(y[3], 0.f);      // -200
    EXPECT_EQ(y[4], 200.f);
    EXPECT_EQ(y[5], inf);
    EXPECT_TRUE(std::isnan(y[7]));
  }
}

// The activation kernels give bit-identical results whatever the thread count.
TEST_P(ElementwiseTest, ActivationsDeterministicAcrossThreads) {
  const int64_t n = 100003;
  Buffer x(n, 1, 24, -6.f, 6.f), dy(n, 2, 25);
  const auto run = [&] {
    std::vector<float> out;
    std::vector<float> y(n);
    const auto keep = [&] { out.insert(out.end(), y.begin(), y.end()); };
    for (UnaryOp op : {UnaryOp::kGelu, UnaryOp::kGeluTanh, UnaryOp::kSilu,
                       UnaryOp::kHardSigmoid}) {
      Unary(op, x.data(), y.data(), n);
      keep();
    }
    LeakyRelu(x.data(), 0.2f, y.data(), n), keep();
    Elu(x.data(), 0.7f, y.data(), n), keep();
    LeakyReluBackward(x.data(), 0.2f, dy.data(), y.data(), n), keep();
    EluBackward(x.data(), 0.7f, dy.data(), y.data(), n), keep();
    GeluBackward(x.data(), dy.data(), y.data(), n), keep();
    GeluTanhBackward(x.data(), dy.data(), y.data(), n), keep();
    SiluBackward(x.data(), dy.data(), y.data(), n), keep();
    HardSigmoidBackward(x.data(), dy.data(), y.data(), n), keep();
    return out;
  };
  SetNumThreads(1);
  const std::vector<float> one = run();
  for (int threads : {2, 7}) {
    SetNumThreads(threads);
    const std::vector<float> many = run();
    ASSERT_EQ(one.size(), many.size());
    EXPECT_TRUE(SameBits(one.data(), many.data(), static_cast<int64_t>(one.size())))
        << threads << " threads";
  }
  SetNumThreads(0);
}

TEST_P(ElementwiseTest, Sum) {
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(n, mis, 14);
      const float want = reference::Sum(x.data(), n);
      EXPECT_NEAR(want, Sum(x.data(), n), 1e-6 * std::sqrt(double(n)) + 1e-6)
          << Tag("Sum", n, mis);
    }
  }
}

TEST_P(ElementwiseTest, SumAxis) {
  struct Shape {
    int64_t outer, axis, inner;
  };
  const Shape shapes[] = {{1, 1, 1},   {1, 33, 1},    {7, 13, 1},    {1, 7, 13},
                          {7, 13, 17}, {3, 5, 64},    {1, 20000, 64}, {1, 100000, 1},
                          {2, 30000, 3}, {4, 300, 1000}, {127, 129, 1}, {1, 127, 129},
                          {20, 1000, 16}, {5, 0, 4},   {0, 5, 4}};
  for (const Shape& s : shapes) {
    for (int mis = 0; mis < 4; ++mis) {
      const int64_t n = s.outer * s.axis * s.inner, m = s.outer * s.inner;
      Buffer x(n, mis, 15);
      Buffer got(m, 3 - mis, 16), want(m, 0, 16);
      SumAxis(x.data(), s.outer, s.axis, s.inner, got.data());
      reference::SumAxis(x.data(), s.outer, s.axis, s.inner, want.data());
      ExpectAllNear(want.data(), got.data(), m, 1e-5f, 2e-5f * std::sqrt(float(s.axis)),
                    Tag("SumAxis", n, mis) + " outer=" + std::to_string(s.outer) +
                        " axis=" + std::to_string(s.axis) + " inner=" +
                        std::to_string(s.inner));
    }
  }
}

struct ToShapeCase {
  std::vector<int64_t> x, out;
};

const std::vector<ToShapeCase>& ToShapeCases() {
  static const std::vector<ToShapeCase> cases = {
      {{200, 512}, {1, 512}},  {{200, 512}, {200, 1}},  {{200, 512}, {1, 1}},
      {{200, 512}, {200, 512}}, {{2, 3, 4}, {1, 3, 1}}, {{2, 3, 4}, {2, 1, 4}},
      {{5, 6, 7, 8}, {5, 1, 7, 1}}, {{5, 6, 7, 8}, {1, 6, 1, 8}}, {{127, 129}, {1, 129}},
      {{1, 1}, {1, 1}},        {{33}, {1}},             {{20000, 64}, {1, 64}},
      {{1, 100000}, {1, 1}},   {{300, 1000}, {1, 1000}}, {{7, 1, 13}, {1, 1, 13}},
      {{0, 4}, {1, 4}},
  };
  return cases;
}

TEST_P(ElementwiseTest, SumToShape) {
  for (const ToShapeCase& c : ToShapeCases()) {
    for (int mis = 0; mis < 4; ++mis) {
      const int64_t n = Numel(c.x), m = Numel(c.out);
      Buffer x(n, mis, 17);
      Buffer got(m, 3 - mis, 18), want(m, 0, 18);
      SumToShape(x.data(), c.x, got.data(), c.out);
      reference::SumToShape(x.data(), c.x, want.data(), c.out);
      ExpectAllNear(want.data(), got.data(), m, 1e-5f, 2e-5f * std::sqrt(float(n / m + 1)),
                    Tag("SumToShape", n, mis));
    }
  }
}

// Reductions give bit-identical results whatever the thread count.
TEST_P(ElementwiseTest, ReductionsDeterministicAcrossThreads) {
  const int64_t n = 1 << 20;
  Buffer x(n, 1, 19);
  std::vector<float> sums, axis_1, axis_2, to_shape;
  const int threads[] = {1, 2, 16};
  std::vector<std::vector<float>> axis_a(3), axis_b(3), axis_c(3), shape_a(3), shape_b(3);
  for (int t = 0; t < 3; ++t) {
    SetNumThreads(threads[t]);
    sums.push_back(Sum(x.data(), n));
    axis_a[t].resize(64);
    SumAxis(x.data(), 1, n / 64, 64, axis_a[t].data());
    axis_b[t].resize(1);
    SumAxis(x.data(), 1, n, 1, axis_b[t].data());
    axis_c[t].resize(4 * 1024);
    SumAxis(x.data(), 4, 256, 1024, axis_c[t].data());
    shape_a[t].resize(512);
    SumToShape(x.data(), {2048, 512}, shape_a[t].data(), {1, 512});
    shape_b[t].resize(16);
    SumToShape(x.data(), {16, 256, 256}, shape_b[t].data(), {16, 1, 1});
  }
  SetNumThreads(0);
  for (int t = 1; t < 3; ++t) {
    EXPECT_TRUE(SameBits(&sums[0], &sums[t], 1)) << threads[t];
    EXPECT_TRUE(SameBits(axis_a[0].data(), axis_a[t].data(), 64)) << threads[t];
    EXPECT_TRUE(SameBits(axis_b[0].data(), axis_b[t].data(), 1)) << threads[t];
    EXPECT_TRUE(SameBits(axis_c[0].data(), axis_c[t].data(), 4096)) << threads[t];
    EXPECT_TRUE(SameBits(shape_a[0].data(), shape_a[t].data(), 512)) << threads[t];
    EXPECT_TRUE(SameBits(shape_b[0].data(), shape_b[t].data(), 16)) << threads[t];
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
