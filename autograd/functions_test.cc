// Every built-in differentiable op: forward values and the gradient check on random
// inputs of several shapes (broadcasting, sizes that are not multiples of 16).
#include "autograd/functions.h"

#include <cmath>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

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
            "permute: (0, 0, 1) is not a permutation of the 3 dimensions of shape (3, 5, 7)");
  EXPECT_EQ(ErrorOf([&] { Permute(x, {0, 1}); }),
            "permute: 2 dimensions given for a tensor of shape (3, 5, 7)");
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
            "shape (4, 3)");
  EXPECT_EQ(ErrorOf([&] { x.Narrow(0, 3, 2); }),
            "narrow: rows [3, 3 + 2) are outside a tensor of shape (4, 3)");
  EXPECT_EQ(ErrorOf([&] { x.Narrow(0, -1, 1); }),
            "narrow: rows [-1, -1 + 1) are outside a tensor of shape (4, 3)");
}

// ---- A reference for broadcasting, independent of the library's: the element of `x`
// (values in row-major order, shape `xs`) that flat index i of shape `out` reads.
float BroadcastAt(const std::vector<float>& x, const Shape& xs, const Shape& out, int64_t i) {
  const int pad = static_cast<int>(out.size() - xs.size());
  int64_t offset = 0, stride = 1;
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    const int64_t coord = i % out[d];
    i /= out[d];
    if (d < pad) continue;
    const int64_t size = xs[d - pad];
    if (size != 1) offset += coord * stride;
    stride *= size;
  }
  return x[offset];
}

// The NumPy broadcast of two shapes, computed here for the reference.
Shape RefBroadcast(Shape a, Shape b) {
  while (a.size() < b.size()) a.insert(a.begin(), 1);
  while (b.size() < a.size()) b.insert(b.begin(), 1);
  Shape out(a.size());
  for (size_t d = 0; d < a.size(); ++d) out[d] = a[d] == 1 ? b[d] : a[d];
  return out;
}

// Values on a coarse grid (multiples of 1/2 in [-2, 2]) so that ties are frequent.
Tensor Coarse(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::Uniform(shape, -2.f, 2.f, gen);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = std::round(p[i] * 2) / 2;
  return t;
}

TEST(FunctionsTest, AbsAgainstAReferenceAndItsGradient) {
  Tensor x = Tensor::FromVector({-2.5f, -0.f, 0.f, 1.5f, -1e-30f}, {5});
  EXPECT_EQ(Abs(x).ToVector(), (std::vector<float>{2.5f, 0, 0, 1.5f, 1e-30f}));
  uint64_t seed = 500;
  for (const Shape& s : std::vector<Shape>{{}, {1}, {17}, {3, 33}, {2, 3, 7}}) {
    SCOPED_TRACE(ShapeToString(s));
    Tensor leaf = RandomLeaf(s, seed++, -2.f, 2.f);
    Tensor y = Abs(leaf);
    for (int64_t i = 0; i < leaf.numel(); ++i) {
      ASSERT_EQ(y.data()[i], std::fabs(leaf.data()[i]));
    }
    ExpectGradOk([](const std::vector<Tensor>& v) { return Abs(v[0]); }, {leaf},
                 GradCheckOptions().SkipNonsmooth(true));
  }
  // sign(x), and 0 at 0 as PyTorch.
  Tensor leaf = Tensor::FromVector({-1, 0, 0.5f, 2}, {4}).SetRequiresGrad();
  Sum(Abs(leaf) * 3.f).Backward();
  EXPECT_EQ(leaf.grad().ToVector(), (std::vector<float>{-3, 0, 3, 3}));
  EXPECT_EQ(Abs(leaf).grad_fn_name(), "abs");
}

TEST(FunctionsTest, ClampIsClipUnderPyTorchsName) {
  // torch.clamp(x, 0, 1) for x = [-1, 0, 0.5, 1, 2]: values and gradient [0, 1, 1, 1, 0]
  // (the bounds count as inside), as Clip.
  Tensor leaf = Tensor::FromVector({-1, 0, 0.5f, 1, 2}, {5}).SetRequiresGrad();
  Tensor y = Clamp(leaf, 0.f, 1.f);
  EXPECT_EQ(y.ToVector(), (std::vector<float>{0, 0, 0.5f, 1, 1}));
  EXPECT_EQ(y.ToVector(), Clip(leaf, 0.f, 1.f).ToVector());
  EXPECT_EQ(y.grad_fn_name(), "clip");
  Sum(y).Backward();
  EXPECT_EQ(leaf.grad().ToVector(), (std::vector<float>{0, 1, 1, 1, 0}));
  EXPECT_EQ(ErrorOf([&] { Clamp(leaf, 1.f, 0.f); }),
            "clip: lower bound 1 is above upper bound 0");
}

TEST(FunctionsTest, MinimumMaximumAgainstAReference) {
  uint64_t seed = 600;
  for (const auto& [sa, sb] : kBinaryShapes) {
    SCOPED_TRACE(ShapeToString(sa) + " " + ShapeToString(sb));
    const Tensor a = Coarse(sa, seed++), b = Coarse(sb, seed++);
    const Shape out = RefBroadcast(sa, sb);
    const Tensor lo = Minimum(a, b), hi = Maximum(a, b);
    ASSERT_EQ(lo.shape(), out);
    ASSERT_EQ(hi.shape(), out);
    const std::vector<float> av = a.ToVector(), bv = b.ToVector();
    for (int64_t i = 0; i < NumElements(out); ++i) {
      const float x = BroadcastAt(av, sa, out, i), y = BroadcastAt(bv, sb, out, i);
      ASSERT_EQ(lo.ToVector()[i], std::min(x, y)) << i;
      ASSERT_EQ(hi.ToVector()[i], std::max(x, y)) << i;
    }
    // Away from ties the gradient goes to the chosen input: a on multiples of 1/2, b a
    // quarter off them, so no pair is within the finite-difference steps of a tie.
    for (auto f : {&Minimum, &Maximum}) {
      Tensor ga = Coarse(sa, seed++).SetRequiresGrad();
      Tensor gb = (Coarse(sb, seed++) + 0.25f).SetRequiresGrad();
      ExpectGradOk([f](const std::vector<Tensor>& v) { return f(v[0], v[1]); }, {ga, gb});
    }
  }
  // Ties split the gradient half and half, as torch.maximum / torch.minimum:
  // a = [1, 2, 3], b = [1, 3, 2] -> max: a.grad [0.5, 0, 1], b.grad [0.5, 1, 0].
  Tensor a = Tensor::FromVector({1, 2, 3}, {3}).SetRequiresGrad();
  Tensor b = Tensor::FromVector({1, 3, 2}, {3}).SetRequiresGrad();
  Sum(Maximum(a, b)).Backward();
  EXPECT_EQ(a.grad().ToVector(), (std::vector<float>{0.5f, 0, 1}));
  EXPECT_EQ(b.grad().ToVector(), (std::vector<float>{0.5f, 1, 0}));
  a.ZeroGrad();
  b.ZeroGrad();
  Sum(Minimum(a, b)).Backward();
  EXPECT_EQ(a.grad().ToVector(), (std::vector<float>{0.5f, 1, 0}));
  EXPECT_EQ(b.grad().ToVector(), (std::vector<float>{0.5f, 0, 1}));
  // Broadcast: a scalar floor gets the sum of its shares, a half from each tie.
  Tensor x = Tensor::FromVector({-1, 0, 2, 0, -3, 5}, {2, 3}).SetRequiresGrad();
  Tensor floor = Tensor::Scalar(0.f).SetRequiresGrad();
  Sum(Maximum(x, floor)).Backward();
  EXPECT_EQ(x.grad().ToVector(), (std::vector<float>{0, 0.5f, 1, 0.5f, 0, 1}));
  EXPECT_EQ(floor.grad().item(), 3.f);  // 1 + 0.5 + 0.5 + 1
  // NaN propagates, as in PyTorch.
  Tensor nan = Tensor::FromVector({NAN, 1}, {2});
  Tensor other = Tensor::FromVector({1, NAN}, {2});
  for (float v : Maximum(nan, other).ToVector()) EXPECT_TRUE(std::isnan(v));
  for (float v : Minimum(nan, other).ToVector()) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(ErrorOf([] { Maximum(Tensor::Zeros({3, 2}), Tensor::Zeros({4, 2})); }),
            "maximum: shapes (3, 2) and (4, 2) cannot be broadcast");
  EXPECT_EQ(ErrorOf([] { Minimum(Tensor::Zeros({3}), Tensor::Zeros({2})); }),
            "minimum: shapes (3,) and (2,) cannot be broadcast");
}

TEST(FunctionsTest, ComparisonsAgainstAReference) {
  using Cmp = std::function<bool(float, float)>;
  const std::vector<std::tuple<const char*, Tensor (*)(const Tensor&, const Tensor&), Cmp>>
      ops = {{"greater", &Greater, [](float x, float y) { return x > y; }},
             {"greater_equal", &GreaterEqual, [](float x, float y) { return x >= y; }},
             {"less", &Less, [](float x, float y) { return x < y; }},
             {"less_equal", &LessEqual, [](float x, float y) { return x <= y; }},
             {"equal", &Equal, [](float x, float y) { return x == y; }},
             {"not_equal", &NotEqual, [](float x, float y) { return x != y; }}};
  uint64_t seed = 700;
  for (const auto& [name, op, cmp] : ops) {
    for (const auto& [sa, sb] : kBinaryShapes) {
      SCOPED_TRACE(std::string(name) + " " + ShapeToString(sa) + " " + ShapeToString(sb));
      // Inputs that require grad: the mask still does not.
      Tensor a = Coarse(sa, seed++).SetRequiresGrad(), b = Coarse(sb, seed++);
      const Shape out = RefBroadcast(sa, sb);
      const Tensor mask = op(a, b);
      ASSERT_EQ(mask.shape(), out);
      EXPECT_FALSE(mask.requires_grad());
      EXPECT_EQ(mask.grad_fn(), nullptr);
      const std::vector<float> av = a.ToVector(), bv = b.ToVector(), mv = mask.ToVector();
      for (int64_t i = 0; i < NumElements(out); ++i) {
        const bool want = cmp(BroadcastAt(av, sa, out, i), BroadcastAt(bv, sb, out, i));
        ASSERT_EQ(mv[i], want ? 1.f : 0.f) << i;
      }
    }
    EXPECT_EQ(ErrorOf([op = op] { op(Tensor::Zeros({3, 2}), Tensor::Zeros({4, 2})); }),
              std::string(name) + ": shapes (3, 2) and (4, 2) cannot be broadcast");
  }
  // NaN: false except not_equal.
  Tensor nan = Tensor::Scalar(NAN);
  EXPECT_EQ(Equal(nan, nan).item(), 0.f);
  EXPECT_EQ(NotEqual(nan, nan).item(), 1.f);
  EXPECT_EQ(GreaterEqual(nan, Tensor::Scalar(0.f)).item(), 0.f);
}

TEST(FunctionsTest, WhereAgainstAReferenceAndItsGradient) {
  const std::vector<std::tuple<Shape, Shape, Shape>> shapes = {
      {{3, 17}, {3, 17}, {3, 17}}, {{3, 1}, {1, 5}, {}},      {{5}, {3, 5}, {3, 1}},
      {{2, 1, 5}, {3, 1}, {5}},    {{}, {17}, {17}},          {{4, 1, 6}, {1, 5, 1}, {6}},
      {{7}, {}, {}}};
  uint64_t seed = 800;
  for (const auto& [sc, sa, sb] : shapes) {
    SCOPED_TRACE(ShapeToString(sc) + " " + ShapeToString(sa) + " " + ShapeToString(sb));
    const Tensor cond = Greater(Coarse(sc, seed++), Tensor::Scalar(0.f));
    const Tensor a = RandomLeaf(sa, seed++, -2.f, 2.f), b = RandomLeaf(sb, seed++, -2.f, 2.f);
    const Shape out = RefBroadcast(RefBroadcast(sc, sa), sb);
    const Tensor y = Where(cond, a, b);
    ASSERT_EQ(y.shape(), out);
    const std::vector<float> cv = cond.ToVector(), av = a.ToVector(), bv = b.ToVector();
    for (int64_t i = 0; i < NumElements(out); ++i) {
      const float want = BroadcastAt(cv, sc, out, i) != 0.f ? BroadcastAt(av, sa, out, i)
                                                             : BroadcastAt(bv, sb, out, i);
      ASSERT_EQ(y.ToVector()[i], want) << i;
    }
    ExpectGradOk([cond](const std::vector<Tensor>& v) { return Where(cond, v[0], v[1]); },
                 {a, b});
  }
  // The gradient: to a where the mask holds, to b elsewhere, none to the mask.
  Tensor mask = Tensor::FromVector({1, 0, 0.5f, 0}, {4}).SetRequiresGrad();
  Tensor a = Tensor::Zeros({4}).SetRequiresGrad();
  Tensor b = Tensor::Zeros({1}).SetRequiresGrad();
  Sum(Where(mask, a, b) * 2.f).Backward();
  EXPECT_EQ(a.grad().ToVector(), (std::vector<float>{2, 0, 2, 0}));
  EXPECT_EQ(b.grad().ToVector(), (std::vector<float>{4}));
  EXPECT_FALSE(mask.grad().defined());
  EXPECT_FALSE(Where(mask, Tensor::Zeros({4}), Tensor::Ones({4})).requires_grad());
  EXPECT_EQ(ErrorOf([] { Where(Tensor::Zeros({3}), Tensor::Zeros({3}), Tensor::Zeros({2})); }),
            "where: condition, a and b of shapes (3,), (3,) and (2,) cannot be broadcast together");
}

// Any nonzero condition picks a, as in the forward pass: negative and NaN conditions
// too (NaN != 0), in the values and in the gradient.
TEST(FunctionsTest, WhereTreatsNegativeAndNaNConditionsAsTrue) {
  const Tensor cond = Tensor::FromVector({1.f, 0.f, -1.f, std::nanf("")}, {4});
  Tensor a = Tensor::FromVector({10, 20, 30, 40}, {4}).SetRequiresGrad();
  Tensor b = Tensor::FromVector({-1, -2, -3, -4}, {4}).SetRequiresGrad();
  const Tensor y = Where(cond, a, b);
  EXPECT_EQ(y.ToVector(), (std::vector<float>{10, -2, 30, 40}));
  Sum(y * Tensor::FromVector({1, 2, 3, 4}, {4})).Backward();
  EXPECT_EQ(a.grad().ToVector(), (std::vector<float>{1, 0, 3, 4}));
  EXPECT_EQ(b.grad().ToVector(), (std::vector<float>{0, 2, 0, 0}));
  ExpectGradOk([cond](const std::vector<Tensor>& v) { return Where(cond, v[0], v[1]); },
               {a, b});
}

TEST(FunctionsTest, ConcatAgainstAReferenceAndItsGradient) {
  // Rank 3, odd sizes, along each axis: compare every element with its source.
  const Shape base = {3, 5, 7};
  uint64_t seed = 900;
  for (int axis = -3; axis < 3; ++axis) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    const int a = axis < 0 ? axis + 3 : axis;
    std::vector<Tensor> xs;
    for (int64_t len : {2, 1, 3}) {
      Shape s = base;
      s[a] = len;
      xs.push_back(RandomLeaf(s, seed++, -2.f, 2.f));
    }
    const Tensor y = Concat(xs, axis);
    Shape want_shape = base;
    want_shape[a] = 6;
    ASSERT_EQ(y.shape(), want_shape);
    for (int64_t i = 0; i < y.size(0); ++i) {
      for (int64_t j = 0; j < y.size(1); ++j) {
        for (int64_t k = 0; k < y.size(2); ++k) {
          int64_t idx[3] = {i, j, k};
          size_t part = 0;
          while (idx[a] >= xs[part].size(a)) idx[a] -= xs[part++].size(a);
          ASSERT_EQ(y.at({i, j, k}), xs[part].at({idx[0], idx[1], idx[2]}));
        }
      }
    }
    ExpectGradOk([axis](const std::vector<Tensor>& v) { return Concat(v, axis); }, xs);
  }
  EXPECT_EQ(Concat({Tensor::FromVector({1, 2}, {2}), Tensor::FromVector({3}, {1})}, 0)
                .ToVector(),
            (std::vector<float>{1, 2, 3}));
  // Only the inputs that need it get a gradient; an empty part is fine.
  Tensor p = Tensor::Ones({2, 2}).SetRequiresGrad();
  Tensor q = Tensor::Ones({2, 3});
  Tensor y = Concat({q, p, Tensor::Zeros({2, 0})}, 1);
  EXPECT_EQ(y.shape(), (Shape{2, 5}));
  Sum(y * Tensor::FromVector({1, 2, 3, 4, 5}, {5})).Backward();
  EXPECT_EQ(p.grad().ToVector(), (std::vector<float>{4, 5, 4, 5}));
  EXPECT_FALSE(q.grad().defined());
  EXPECT_EQ(ErrorOf([] { Concat({Tensor::Zeros({2, 3}), Tensor::Zeros({3, 4})}, 1); }),
            "concat: shapes (2, 3) and (3, 4) (tensors 0 and 1) differ outside axis 1");
  EXPECT_EQ(ErrorOf([] { Concat({Tensor::Zeros({2, 3}), Tensor::Zeros({3})}, 0); }),
            "concat: shapes (2, 3) and (3,) (tensors 0 and 1) differ outside axis 0");
  EXPECT_EQ(ErrorOf([] { Concat({}, 0); }), "concat: expected at least one tensor, got none");
  EXPECT_EQ(ErrorOf([] { Concat({Tensor::Scalar(1), Tensor::Scalar(2)}, 0); }),
            "concat: tensor 0 is a scalar (shape ()); only tensors of rank >= 1 can be joined");
  EXPECT_EQ(ErrorOf([] { Concat({Tensor::Zeros({2}), Tensor()}, 0); }),
            "concat: tensor 1 is undefined");
  EXPECT_EQ(ErrorOf([] { Concat({Tensor::Zeros({2, 3})}, 2); }),
            "concat: axis 2 is out of range for a tensor of rank 2");
}

TEST(FunctionsTest, StackAgainstAReferenceAndItsGradient) {
  const Shape s = {3, 5};
  uint64_t seed = 1000;
  std::vector<Tensor> xs;
  for (int n = 0; n < 3; ++n) xs.push_back(RandomLeaf(s, seed++, -2.f, 2.f));
  for (int axis = -3; axis < 3; ++axis) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    const int a = axis < 0 ? axis + 3 : axis;
    const Tensor y = Stack(xs, axis);
    Shape want_shape = s;
    want_shape.insert(want_shape.begin() + a, 3);
    ASSERT_EQ(y.shape(), want_shape);
    for (int64_t i = 0; i < y.size(0); ++i) {
      for (int64_t j = 0; j < y.size(1); ++j) {
        for (int64_t k = 0; k < y.size(2); ++k) {
          int64_t idx[3] = {i, j, k};
          int64_t rest[2], r = 0;
          for (int d = 0; d < 3; ++d) {
            if (d != a) rest[r++] = idx[d];
          }
          ASSERT_EQ(y.at({i, j, k}), xs[idx[a]].at({rest[0], rest[1]}));
        }
      }
    }
    ExpectGradOk([axis](const std::vector<Tensor>& v) { return Stack(v, axis); }, xs);
  }
  // Scalars stack into a vector.
  EXPECT_EQ(Stack({Tensor::Scalar(1), Tensor::Scalar(2)}, 0).ToVector(),
            (std::vector<float>{1, 2}));
  EXPECT_EQ(ErrorOf([] { Stack({Tensor::Zeros({2, 3}), Tensor::Zeros({2, 4})}, 0); }),
            "stack: shapes (2, 3) and (2, 4) (tensors 0 and 1) differ; stack needs tensors of "
            "one shape");
  EXPECT_EQ(ErrorOf([] { Stack({Tensor::Zeros({2, 3})}, 3); }),
            "stack: axis 3 is out of range for stacking tensors of shape (2, 3) (expected -3 "
            "to 2)");
  EXPECT_EQ(Stack({Tensor::Zeros({2, 3})}, -3).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(ErrorOf([] { Stack({}, 0); }), "stack: expected at least one tensor, got none");
}

TEST(FunctionsTest, ArgmaxAgainstAReference) {
  const Shape s = {3, 5, 7};
  const Tensor x = Coarse(s, 1100);  // many ties: the first maximum wins
  for (int axis = -3; axis < 3; ++axis) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE("axis " + std::to_string(axis) + (keep ? " keepdim" : ""));
      const int a = axis < 0 ? axis + 3 : axis;
      const Tensor y = Argmax(x, axis, keep);
      Shape want_shape = s;
      if (keep) {
        want_shape[a] = 1;
      } else {
        want_shape.erase(want_shape.begin() + a);
      }
      ASSERT_EQ(y.shape(), want_shape);
      EXPECT_FALSE(y.requires_grad());
      const Tensor y3 = y.Reshape([&] {
        Shape k = s;
        k[a] = 1;
        return k;
      }());
      for (int64_t i = 0; i < y3.size(0); ++i) {
        for (int64_t j = 0; j < y3.size(1); ++j) {
          for (int64_t k = 0; k < y3.size(2); ++k) {
            int64_t idx[3] = {i, j, k};
            int64_t best = 0;
            float best_v = -INFINITY;
            for (int64_t n = 0; n < s[a]; ++n) {
              idx[a] = n;
              const float v = x.at({idx[0], idx[1], idx[2]});
              if (v > best_v) {
                best_v = v;
                best = n;
              }
            }
            ASSERT_EQ(y3.at({i, j, k}), static_cast<float>(best));
          }
        }
      }
    }
  }
  // Ties: the first; NaN counts as the maximum (the first NaN), as torch.argmax.
  const Tensor t = Tensor::FromVector({1, 3, 3, NAN, 1, NAN, 1, NAN, 5}, {3, 3});
  EXPECT_EQ(Argmax(t, 1).ToVector(), (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(Argmax(t, 0, true).shape(), (Shape{1, 3}));
  EXPECT_FALSE(Argmax(RandomLeaf({4, 3}, 1), -1).requires_grad());
  EXPECT_EQ(ErrorOf([] { Argmax(Tensor::Zeros({2, 0}), 1); }),
            "argmax: axis 1 of shape (2, 0) is empty");
  EXPECT_EQ(ErrorOf([] { Argmax(Tensor::Zeros({2, 3}), 2); }),
            "argmax: axis 2 is out of range for a tensor of rank 2");
}

TEST(FunctionsTest, InPlaceArithmeticAgainstAReference) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{17}, {17}}, {{3, 17}, {17}}, {{3, 17}, {3, 1}}, {{2, 3, 5}, {3, 1}}, {{7}, {}}, {{}, {}}};
  uint64_t seed = 1200;
  for (const auto& [sa, sb] : shapes) {
    for (int op = 0; op < 4; ++op) {
      SCOPED_TRACE(ShapeToString(sa) + " " + ShapeToString(sb) + " op " + std::to_string(op));
      Generator gen(seed++);
      Tensor a = Tensor::Uniform(sa, -2.f, 2.f, gen);
      const Tensor b = Tensor::Uniform(sb, 0.5f, 2.f, gen);
      const std::vector<float> av = a.ToVector(), bv = b.ToVector();
      Tensor alias = a.Reshape({-1});  // a view: sees the write
      Tensor& r = op == 0 ? (a += b) : op == 1 ? (a -= b) : op == 2 ? (a *= b) : (a /= b);
      EXPECT_TRUE(r.is_same(a));
      ASSERT_EQ(a.shape(), sa);
      for (int64_t i = 0; i < a.numel(); ++i) {
        const float x = av[i], y = BroadcastAt(bv, sb, sa, i);
        const float want = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
        ASSERT_EQ(a.ToVector()[i], want) << i;
        ASSERT_EQ(alias.ToVector()[i], want) << i;
      }
    }
  }
  Tensor x = Tensor::FromVector({1, 2, 3, 4}, {2, 2});
  x += 1.f;
  EXPECT_EQ(x.ToVector(), (std::vector<float>{2, 3, 4, 5}));
  x -= 0.5f;
  EXPECT_EQ(x.ToVector(), (std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f}));
  x *= 2.f;
  EXPECT_EQ(x.ToVector(), (std::vector<float>{3, 5, 7, 9}));
  x /= 4.f;
  EXPECT_EQ(x.ToVector(), (Tensor::FromVector({3, 5, 7, 9}, {2, 2}) / 4.f).ToVector());
  // The right side overlapping the left: read before written.
  Tensor m = Tensor::FromVector({1, 2, 3, 4}, {2, 2});
  m += m.Narrow(0, 0, 1);
  EXPECT_EQ(m.ToVector(), (std::vector<float>{2, 4, 4, 6}));
  m *= m;
  EXPECT_EQ(m.ToVector(), (std::vector<float>{4, 16, 16, 36}));
  // The result must keep the left operand's shape.
  Tensor v = Tensor::Zeros({3});
  EXPECT_EQ(ErrorOf([&] { v += Tensor::Zeros({2, 3}); }),
            "add_: the result of shapes (3,) and (2, 3) would have shape (2, 3), not the left "
            "operand's (3,)");
  EXPECT_EQ(ErrorOf([&] { v *= Tensor::Zeros({2}); }),
            "mul_: shapes (3,) and (2,) cannot be broadcast");
}

TEST(FunctionsTest, InPlaceArithmeticOnlyWhereNoGraphIsRecorded) {
  Tensor w = Tensor::Ones({3}).SetRequiresGrad();
  Tensor c = Tensor::Ones({3});
  EXPECT_EQ(ErrorOf([&] { w += c; }),
            "add_: cannot modify a tensor in place while it, or the other operand, requires "
            "grad (use NoGradGuard, or a = a + b)");
  EXPECT_EQ(ErrorOf([&] { c -= w; }),
            "sub_: cannot modify a tensor in place while it, or the other operand, requires "
            "grad (use NoGradGuard, or a = a - b)");
  EXPECT_EQ(ErrorOf([&] { w *= 2.f; }),
            "mul_: cannot modify a tensor in place while it requires grad (use NoGradGuard, "
            "or a = a * s)");
  Tensor y = Exp(w);  // a non-leaf
  EXPECT_EQ(ErrorOf([&] { y /= c; }),
            "div_: cannot modify a tensor in place while it, or the other operand, requires "
            "grad (use NoGradGuard, or a = a / b)");
  EXPECT_EQ(c.ToVector(), (std::vector<float>{1, 1, 1}));  // nothing written
  {
    NoGradGuard no_grad;  // an optimizer's step
    w -= Tensor::FromVector({0.5f, 1, 2}, {3}) * 0.5f;
    w *= 2.f;
  }
  EXPECT_EQ(w.ToVector(), (std::vector<float>{1.5f, 1, 0}));
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
}

TEST(FunctionsTest, InPlaceArithmeticIsCaughtByTheVersionCounter) {
  // Exp saves its output y for its backward: y += 1 afterwards makes that backward wrong,
  // so it throws naming the op.
  Tensor x = RandomLeaf({2, 3}, 1300);
  Tensor y = Exp(x);
  {
    NoGradGuard no_grad;
    y += 1.f;
  }
  const std::string error = ErrorOf([&] { Sum(y).Backward(); });
  EXPECT_NE(error.find("'exp' saved for its gradient was modified in place"), std::string::npos)
      << error;
  // MatMul saves its inputs: a weight updated in place before backward.
  Tensor a = RandomLeaf({2, 3}, 1301);
  Tensor w = RandomLeaf({3, 4}, 1302);
  Tensor out = MatMul(a, w);
  {
    NoGradGuard no_grad;
    w -= Tensor::Full({3, 4}, 0.1f);
  }
  const std::string error2 = ErrorOf([&] { Sum(out).Backward(); });
  EXPECT_NE(error2.find("'matmul' saved for its gradient was modified in place"),
            std::string::npos)
      << error2;
  // Updating after backward is the normal order, and fine.
  Tensor out2 = MatMul(a, w);
  Sum(out2).Backward();
  {
    NoGradGuard no_grad;
    w -= w.grad() * 0.1f;
  }
}

// The formulas of autograd/testdata/global_pool_pad_pytorch.py, by flat index: Wave
// x[i] = sin(0.37 i + 0.1) * 2 and Incoming dy[i] = cos(0.23 i + 0.3).
Tensor Formula(const Shape& shape, double a, double b, double scale, bool sine) {
  Tensor t = Tensor::Empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double u = a * static_cast<double>(i) + b;
    p[i] = static_cast<float>((sine ? std::sin(u) : std::cos(u)) * scale);
  }
  return t;
}

// torch.nn.functional.pad(x, (2, 1, 1, 0, 0, 1), value=-0.75) and its gradient, by
// autograd/testdata/global_pool_pad_pytorch.py (torch 1.13).
TEST(FunctionsTest, PadMatchesPyTorch) {
  const std::vector<float> kPadY = {
      -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, 0.199666828f,
      0.905772567f, 1.48928618f, -0.75f, -0.75f, -0.75f, 1.87123203f, 1.99991524f,
      1.85791945f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f,
      1.46446288f, 0.872798145f, 0.163004309f, -0.75f, -0.75f, -0.75f, -0.568851411f,
      -1.22371578f, -1.71295595f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f,
      -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f, -0.75f,
      -0.75f,
  };
  const std::vector<float> kPadDx = {
      -0.53896147f, -0.716801047f, -0.856888771f, -0.929254234f, -0.820559382f,
      -0.668647945f, 0.999994934f, 0.974387646f, 0.89746207f, 0.192767367f, -0.0360105783f,
      -0.262891948f,
  };
  Tensor x = Formula({2, 2, 3}, 0.37, 0.1, 2, true).SetRequiresGrad();
  Tensor y = Pad(x, {{0, 1}, {1, 0}, {2, 1}}, -0.75f);
  ASSERT_EQ(y.shape(), (Shape{3, 3, 6}));
  const std::vector<float> got = y.ToVector();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(kPadY[i], got[i], 1e-5) << i;
  y.Backward(Formula(y.shape(), 0.23, 0.3, 1, false));
  const std::vector<float> dx = x.grad().ToVector();
  ASSERT_EQ(dx.size(), kPadDx.size());
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(kPadDx[i], dx[i], 1e-5) << i;
}

TEST(FunctionsTest, PadAgainstAReferenceAndItsGradient) {
  // An NHWC image padded as ZeroPadding2D does: y[n, h + 1, w + 2, c] = x[n, h, w, c].
  Tensor x = RandomLeaf({2, 3, 4, 5}, 51);
  Tensor y = Pad(x, {{0, 0}, {1, 2}, {2, 0}, {0, 0}});
  ASSERT_EQ(y.shape(), (Shape{2, 6, 6, 5}));
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t h = 0; h < 6; ++h) {
      for (int64_t w = 0; w < 6; ++w) {
        for (int64_t c = 0; c < 5; ++c) {
          const bool inside = h >= 1 && h < 4 && w >= 2;
          ASSERT_EQ(y.at({n, h, w, c}), inside ? x.at({n, h - 1, w - 2, c}) : 0.f);
        }
      }
    }
  }
  // No padding: a copy of x; a scalar (rank 0): itself.
  EXPECT_EQ(Pad(x, {{0, 0}, {0, 0}, {0, 0}, {0, 0}}).ToVector(), x.ToVector());
  EXPECT_EQ(Pad(Tensor::FromVector({2.5f}, {}), {}).ToVector(), (std::vector<float>{2.5f}));
  // An empty axis: all padding.
  EXPECT_EQ(Pad(Tensor::Zeros({0, 2}), {{1, 1}, {0, 1}}, 3.f).ToVector(),
            (std::vector<float>(6, 3.f)));
  uint64_t seed = 52;
  for (const auto& [shape, pads] :
       std::vector<std::pair<Shape, std::vector<std::pair<int64_t, int64_t>>>>{
           {{7}, {{2, 3}}},
           {{3, 5}, {{1, 0}, {0, 2}}},
           {{2, 3, 4, 5}, {{0, 0}, {1, 2}, {2, 0}, {0, 0}}},
           {{3, 1, 2, 1, 3}, {{1, 0}, {0, 2}, {0, 0}, {1, 1}, {0, 1}}}}) {
    SCOPED_TRACE(ShapeToString(shape));
    testing::ExpectGradCheckCatchesHalvedBackward(
        [pads = pads](const std::vector<Tensor>& v) { return Pad(v[0], pads, 0.5f); },
        {RandomLeaf(shape, seed++)}, "pad");
  }
}

TEST(FunctionsTest, PadErrors) {
  Tensor x = Tensor::Zeros({2, 3});
  EXPECT_EQ(ErrorOf([&] { Pad(x, {{1, 1}}); }),
            "pad: expected one (before, after) pair for each axis of the input of shape "
            "(2, 3), got 1");
  EXPECT_EQ(ErrorOf([&] { Pad(x, {{0, 0}, {1, -1}}); }),
            "pad: pads must be >= 0, got (1, -1) for axis 1 of the input of shape (2, 3) (pad "
            "does not crop)");
}

TEST(FunctionsTest, ErrorsNameTheOpAndShapes) {
  Tensor a = Tensor::Zeros({3, 2});
  EXPECT_EQ(ErrorOf([&] { MatMul(a, a); }),
            "matmul: shapes (3, 2) and (3, 2) cannot be multiplied");
  EXPECT_EQ(ErrorOf([&] { MatMul(a, Tensor::Zeros({2})); }),
            "matmul: expected 2-D tensors, got shapes (3, 2) and (2,)");
  EXPECT_EQ(ErrorOf([&] { Add(a, Tensor::Zeros({4, 2})); }),
            "add: shapes (3, 2) and (4, 2) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { Mul(a, Tensor::Zeros({3})); }),
            "mul: shapes (3, 2) and (3,) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { Sub(a, Tensor::Zeros({2, 3})); }),
            "sub: shapes (3, 2) and (2, 3) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { Div(a, Tensor::Zeros({5})); }),
            "div: shapes (3, 2) and (5,) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { Sum(a, 3); }),
            "sum: axis 3 is out of range for a tensor of rank 2");
  EXPECT_EQ(ErrorOf([&] { a.Reshape({4}); }),
            "reshape: shape (4,) is invalid for a tensor of shape (3, 2) (6 elements)");
}

}  // namespace
}  // namespace gradway
