// Every built-in differentiable op: forward values and the gradient check on random
// inputs of several shapes (broadcasting, sizes that are not multiples of 16).
#include "autograd/functions.h"

#include <cmath>
#include <functional>
#include <string>

#include "autograd/autograd.h"
#include "autograd/test_util.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

using testing::ErrorOf;
using testing::ExpectGradOk;
using testing::RandomLeaf;

const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{}, {}},           {{5}, {5}},       {{17}, {17}},     {{3, 17}, {3, 17}},
    {{3, 17}, {17}},    {{3, 17}, {1, 17}}, {{3, 17}, {3, 1}}, {{3, 1}, {1, 17}},
    {{2, 3, 5}, {3, 1}}, {{7}, {}},        {{}, {2, 19}},    {{4, 1, 6}, {1, 5, 1}}};

TEST(FunctionsTest, BinaryForwardBroadcasts) {
  Tensor a = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::FromVector({10, 20, 30}, {3});
  EXPECT_EQ(Add(a, b).ToVector(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ(Sub(a, b).ToVector(), (std::vector<float>{-9, -18, -27, -6, -15, -24}));
  EXPECT_EQ(Mul(a, Tensor::FromVector({2, 3}, {2, 1})).ToVector(),
            (std::vector<float>{2, 4, 6, 12, 15, 18}));
  EXPECT_EQ(Div(a, Tensor::Scalar(2.f)).ToVector(),
            (std::vector<float>{0.5, 1, 1.5, 2, 2.5, 3}));
  EXPECT_EQ((Tensor::FromVector({1, 2}, {2, 1}) + Tensor::FromVector({10, 20, 30}, {1, 3}))
                .shape(),
            (Shape{2, 3}));
}

TEST(FunctionsTest, BinaryGradients) {
  const std::vector<std::pair<const char*, testing::TensorFn>> ops = {
      {"add", [](const std::vector<Tensor>& v) { return Add(v[0], v[1]); }},
      {"sub", [](const std::vector<Tensor>& v) { return Sub(v[0], v[1]); }},
      {"mul", [](const std::vector<Tensor>& v) { return Mul(v[0], v[1]); }},
      {"div", [](const std::vector<Tensor>& v) { return Div(v[0], v[1]); }},
  };
  uint64_t seed = 1;
  for (const auto& [name, f] : ops) {
    for (const auto& [sa, sb] : kBinaryShapes) {
      SCOPED_TRACE(std::string(name) + " " + ShapeToString(sa) + " " + ShapeToString(sb));
      Tensor a = RandomLeaf(sa, seed++, -2.f, 2.f);
      // Keep divisors away from 0.
      Tensor b = std::string(name) == "div" ? RandomLeaf(sb, seed++, 0.5f, 2.f)
                                            : RandomLeaf(sb, seed++, -2.f, 2.f);
      ExpectGradOk(f, {a, b});
    }
  }
}

TEST(FunctionsTest, GradientOnlyForInputsThatNeedIt) {
  Tensor a = RandomLeaf({3, 4}, 1, -2.f, 2.f);
  Tensor b = Tensor::Ones({4});
  Sum(a * b).Backward();
  EXPECT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(FunctionsTest, ScalarOps) {
  for (const Shape& s : std::vector<Shape>{{}, {17}, {3, 5}}) {
    ExpectGradOk([](const std::vector<Tensor>& v) { return v[0] * 3.f + 1.f; },
                 {RandomLeaf(s, 2, -2.f, 2.f)});
    ExpectGradOk([](const std::vector<Tensor>& v) { return 2.f - v[0] / 4.f; },
                 {RandomLeaf(s, 3, -2.f, 2.f)});
  }
  EXPECT_EQ((2.f - Tensor::Scalar(5.f)).item(), -3.f);
}

TEST(FunctionsTest, UnaryForward) {
  Tensor x = Tensor::FromVector({-1.f, 0.f, 2.f}, {3});
  EXPECT_EQ(Relu(x).ToVector(), (std::vector<float>{0, 0, 2}));
  EXPECT_EQ(Neg(x).ToVector(), (std::vector<float>{1, -0.f, -2}));
  EXPECT_NEAR(Exp(x).at({2}), std::exp(2.f), 1e-5);
  EXPECT_NEAR(Sigmoid(x).at({0}), 1 / (1 + std::exp(1.f)), 1e-6);
  EXPECT_NEAR(Tanh(x).at({2}), std::tanh(2.f), 1e-6);
  Tensor p = Tensor::FromVector({0.f, 1.f, 4.f}, {3});
  EXPECT_NEAR(Sqrt(p).at({2}), 2.f, 1e-6);
  EXPECT_NEAR(Log(p).at({2}), std::log(4.f), 1e-6);
  EXPECT_TRUE(std::isinf(Log(p).at({0})));
  EXPECT_NEAR(Pow(p, 1.5f).at({2}), 8.f, 1e-5);
}

TEST(FunctionsTest, UnaryGradients) {
  struct Case {
    const char* name;
    testing::TensorFn f;
    float lo, hi;
    bool kink;
  };
  const std::vector<Case> cases = {
      {"neg", [](const std::vector<Tensor>& v) { return Neg(v[0]); }, -2, 2, false},
      {"exp", [](const std::vector<Tensor>& v) { return Exp(v[0]); }, -2, 2, false},
      {"log", [](const std::vector<Tensor>& v) { return Log(v[0]); }, 0.5f, 3, false},
      {"sqrt", [](const std::vector<Tensor>& v) { return Sqrt(v[0]); }, 0.5f, 3, false},
      {"pow2", [](const std::vector<Tensor>& v) { return Pow(v[0], 2.f); }, -2, 2, false},
      {"pow-1.5", [](const std::vector<Tensor>& v) { return Pow(v[0], -1.5f); }, 0.5f, 3,
       false},
      {"relu", [](const std::vector<Tensor>& v) { return Relu(v[0]); }, -2, 2, true},
      {"sigmoid", [](const std::vector<Tensor>& v) { return Sigmoid(v[0]); }, -4, 4, false},
      {"tanh", [](const std::vector<Tensor>& v) { return Tanh(v[0]); }, -3, 3, false},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    for (const Shape& s : std::vector<Shape>{{}, {1}, {15}, {17}, {3, 33}, {2, 3, 7}}) {
      SCOPED_TRACE(std::string(c.name) + " " + ShapeToString(s));
      ExpectGradOk(c.f, {RandomLeaf(s, seed++, c.lo, c.hi)},
                   GradCheckOptions().SkipNonsmooth(c.kink));
    }
  }
}

TEST(FunctionsTest, Reductions) {
  Tensor x = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(Sum(x).item(), 21.f);
  EXPECT_EQ(Sum(x).rank(), 0);
  EXPECT_EQ(Mean(x).item(), 3.5f);
  EXPECT_EQ(Sum(x, 0).ToVector(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(Sum(x, 0).shape(), (Shape{3}));
  EXPECT_EQ(Sum(x, 1, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(Sum(x, -1).ToVector(), (std::vector<float>{6, 15}));
  EXPECT_EQ(Mean(x, 1).ToVector(), (std::vector<float>{2, 5}));
  EXPECT_THROW(Sum(x, 2), Error);
  EXPECT_THROW(Mean(Tensor::Zeros({0})), Error);
  uint64_t seed = 200;
  for (const Shape& s : std::vector<Shape>{{1}, {17}, {3, 17}, {2, 5, 3}}) {
    ExpectGradOk([](const std::vector<Tensor>& v) { return Sum(v[0]); },
                 {RandomLeaf(s, seed++, -2.f, 2.f)});
    ExpectGradOk([](const std::vector<Tensor>& v) { return Mean(v[0]); },
                 {RandomLeaf(s, seed++, -2.f, 2.f)});
    for (int axis = -1; axis < static_cast<int>(s.size()); ++axis) {
      for (bool keep : {false, true}) {
        SCOPED_TRACE(ShapeToString(s) + " axis " + std::to_string(axis));
        ExpectGradOk([axis, keep](const std::vector<Tensor>& v) {
          return Sum(v[0], axis, keep);
        }, {RandomLeaf(s, seed++, -2.f, 2.f)});
        ExpectGradOk([axis, keep](const std::vector<Tensor>& v) {
          return Mean(v[0], axis, keep);
        }, {RandomLeaf(s, seed++, -2.f, 2.f)});
      }
    }
  }
}

TEST(FunctionsTest, MatMul) {
  Tensor a = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::FromVector({1, 0, 0, 1, 1, 1}, {3, 2});
  EXPECT_EQ(MatMul(a, b).ToVector(), (std::vector<float>{4, 5, 10, 11}));
  uint64_t seed = 300;
  for (auto [m, k, n] : std::vector<std::tuple<int, int, int>>{
           {1, 1, 1}, {2, 3, 4}, {7, 13, 5}, {17, 16, 15}, {3, 33, 2}}) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n));
    ExpectGradOk([](const std::vector<Tensor>& v) { return MatMul(v[0], v[1]); },
                 {RandomLeaf({m, k}, seed++, -2.f, 2.f), RandomLeaf({k, n}, seed++, -2.f, 2.f)});
  }
}

TEST(FunctionsTest, LayoutGradients) {
  ExpectGradOk([](const std::vector<Tensor>& v) { return v[0].Reshape({5, -1}) * 2.f; },
               {RandomLeaf({3, 5, 2}, 400, -2.f, 2.f)});
  ExpectGradOk([](const std::vector<Tensor>& v) { return Flatten(v[0], 1) * 2.f; },
               {RandomLeaf({3, 5, 2}, 401, -2.f, 2.f)});
  ExpectGradOk([](const std::vector<Tensor>& v) {
    return MatMul(Transpose(v[0]), v[1]);
  }, {RandomLeaf({7, 3}, 402, -2.f, 2.f), RandomLeaf({7, 17}, 403, -2.f, 2.f)});
}

TEST(FunctionsTest, ClipAgainstAReferenceAndItsGradient) {
  Tensor x = Tensor::FromVector({-2, -0.5f, 0, 0.25f, 1, 3}, {2, 3});
  EXPECT_EQ(Clip(x, -1.f, 0.5f).ToVector(), (std::vector<float>{-1, -0.5f, 0, 0.25f, 0.5f, 0.5f}));
  // The gradient is 1 inside [lo, hi], 0 where clipped; points on both sides, none
  // within the finite-difference step of the kinks at lo and hi.
  std::vector<float> points;
  for (int i = 0; i < 28; ++i) points.push_back(-0.99f + 0.0713f * i);
  for (float& p : points) {
    if (std::fabs(p + 0.6f) < 0.02f || std::fabs(p - 0.7f) < 0.02f) p += 0.03f;
  }
  ExpectGradOk([](const std::vector<Tensor>& v) { return Clip(v[0], -0.6f, 0.7f) * 3.f; },
               {Tensor::FromVector(points, {4, 7}).SetRequiresGrad()});
  Tensor leaf = x.Clone().SetRequiresGrad();
  Sum(Clip(leaf, -1.f, 0.5f)).Backward();
  EXPECT_EQ(leaf.grad().ToVector(), (std::vector<float>{0, 1, 1, 1, 0, 0}));
  EXPECT_EQ(ErrorOf([&] { Clip(x, 1.f, 0.f); }), "clip: lower bound 1 is above upper bound 0");
}

TEST(FunctionsTest, PermuteAgainstAReference) {
  // Odd sizes; every permutation of a rank-3 tensor, and NHWC -> NCHW.
  Generator gen(9);
  Tensor x = Tensor::Uniform({3, 5, 7}, -1.f, 1.f, gen);
  const std::vector<std::vector<int>> perms = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                               {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& p : perms) {
    Tensor y = Permute(x, p);
    for (int64_t i = 0; i < y.size(0); ++i) {
      for (int64_t j = 0; j < y.size(1); ++j) {
        for (int64_t k = 0; k < y.size(2); ++k) {
          int64_t src[3];
          src[p[0]] = i;
          src[p[1]] = j;
          src[p[2]] = k;
          ASSERT_EQ(y.at({i, j, k}), x.at({src[0], src[1], src[2]}));
        }
      }
    }
  }
  Tensor img = Tensor::Uniform({2, 3, 4, 5}, -1.f, 1.f, gen);
  Tensor nchw = Permute(img, {0, -1, 1, 2});
  EXPECT_EQ(nchw.shape(), (Shape{2, 5, 3, 4}));
  EXPECT_EQ(nchw.at({1, 4, 2, 3}), img.at({1, 2, 3, 4}));
  ExpectGradOk([](const std::vector<Tensor>& v) { return Permute(v[0], {2, 0, 1}) * 2.f; },
               {RandomLeaf({3, 4, 5}, 405, -2.f, 2.f)});
  EXPECT_EQ(ErrorOf([&] { Permute(x, {0, 0, 1}); }),
            "permute: (0, 0, 1) is not a permutation of the 3 dimensions of shape (3x5x7)");
  EXPECT_EQ(ErrorOf([&] { Permute(x, {0, 1}); }),
            "permute: 2 dimensions given for a tensor of shape (3x5x7)");
}

TEST(FunctionsTest, NarrowIsARowView) {
  Tensor x = Tensor::FromVector({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {4, 3});
  Tensor rows = x.Narrow(0, 1, 2);
  EXPECT_EQ(rows.shape(), (Shape{2, 3}));
  EXPECT_EQ(rows.ToVector(), (std::vector<float>{3, 4, 5, 6, 7, 8}));
  EXPECT_TRUE(rows.SameStorage(x));
  EXPECT_EQ(rows.data(), x.data() + 3);  // no copy
  // Views of views keep the offset: a reshape, a narrow of the narrow, a detach.
  EXPECT_EQ(rows.Reshape({3, 2}).at({2, 1}), 8);
  EXPECT_EQ(rows.Narrow(0, 1, 1).ToVector(), (std::vector<float>{6, 7, 8}));
  EXPECT_EQ(rows.Detach().data(), rows.data());
  rows.set({0, 0}, 30);
  EXPECT_EQ(x.at({1, 0}), 30);
  EXPECT_EQ(x.Narrow(0, 4, 0).numel(), 0);
  // The gradient lands on those rows only.
  ExpectGradOk([](const std::vector<Tensor>& v) { return v[0].Narrow(0, 2, 3) * 3.f; },
               {RandomLeaf({6, 5}, 404, -2.f, 2.f)});
  Tensor leaf = Tensor::Ones({3, 2}).SetRequiresGrad();
  Sum(leaf.Narrow(0, 1, 1)).Backward();
  EXPECT_EQ(leaf.grad().ToVector(), (std::vector<float>{0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(ErrorOf([&] { x.Narrow(1, 0, 1); }),
            "narrow: only dimension 0 (rows) gives a view; got dimension 1 of a tensor of "
            "shape (4x3)");
  EXPECT_EQ(ErrorOf([&] { x.Narrow(0, 3, 2); }),
            "narrow: rows [3, 3 + 2) are outside a tensor of shape (4x3)");
  EXPECT_EQ(ErrorOf([&] { x.Narrow(0, -1, 1); }),
            "narrow: rows [-1, -1 + 1) are outside a tensor of shape (4x3)");
}

TEST(FunctionsTest, ErrorsNameTheOpAndShapes) {
  Tensor a = Tensor::Zeros({3, 2});
  EXPECT_EQ(ErrorOf([&] { MatMul(a, a); }),
            "matmul: shapes (3x2) and (3x2) cannot be multiplied");
  EXPECT_EQ(ErrorOf([&] { MatMul(a, Tensor::Zeros({2})); }),
            "matmul: expected 2-D tensors, got shapes (3x2) and (2)");
  EXPECT_EQ(ErrorOf([&] { Add(a, Tensor::Zeros({4, 2})); }),
            "add: shapes (3x2) and (4x2) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { Mul(a, Tensor::Zeros({3})); }),
            "mul: shapes (3x2) and (3) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { Sub(a, Tensor::Zeros({2, 3})); }),
            "sub: shapes (3x2) and (2x3) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { Div(a, Tensor::Zeros({5})); }),
            "div: shapes (3x2) and (5) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { Sum(a, 3); }),
            "sum: axis 3 is out of range for a tensor of rank 2");
  EXPECT_EQ(ErrorOf([&] { a.Reshape({4}); }),
            "reshape: shape (4) is invalid for a tensor of shape (3x2) (6 elements)");
}

}  // namespace
}  // namespace gradway
