// Every built-in differentiable op: forward values and the gradient check on random
// inputs of several shapes (broadcasting, sizes that are not multiples of 16).
#include "autograd/functions.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

// Batched MatMul against a plain double-precision loop: broadcast batch dimensions (of
// either operand, and of different ranks), every transpose flag, sizes past a vector
// width; then the gradient check (with a broadcast operand, whose gradient sums over the
// batch), failing with the backward halved; and the same bits for 1, 2 and 7 threads.
TEST(FunctionsTest, BatchedMatMulAgainstAReference) {
  struct Case {
    Shape a, b;  // stored shapes
    bool ta, tb;
  };
  const std::vector<Case> cases = {
      {{3, 5, 7}, {3, 7, 4}, false, false},     {{2, 1, 5, 7}, {3, 7, 17}, false, false},
      {{5, 7}, {2, 7, 19}, false, false},       {{2, 3, 7, 5}, {3, 4, 7}, true, true},
      {{4, 17, 3}, {1, 17, 6}, true, false},    {{2, 2, 5, 6}, {2, 1, 9, 6}, false, true},
      {{6, 4}, {5, 4}, false, true}};
  uint64_t seed = 1700;
  for (const Case& c : cases) {
    SCOPED_TRACE(ShapeToString(c.a) + (c.ta ? "ᵀ" : "") + " · " + ShapeToString(c.b) +
                 (c.tb ? "ᵀ" : ""));
    const Tensor a = RandomLeaf(c.a, seed++), b = RandomLeaf(c.b, seed++);
    const Tensor y = MatMul(a, b, c.ta, c.tb);
    // The reference: each output index read back through broadcasting, in double.
    const size_t ar = c.a.size(), br = c.b.size(), r = y.rank();
    const int64_t m = y.size(r - 2), n = y.size(r - 1), k = c.ta ? c.a[ar - 2] : c.a[ar - 1];
    const int64_t count = y.numel() / (m * n);
    std::vector<float> want(y.numel());
    for (int64_t i = 0; i < count; ++i) {
      // Batch offsets of a and b for output batch index i (right-aligned broadcasting).
      int64_t rest = i, a_off = 0, b_off = 0, a_stride = c.a[ar - 2] * c.a[ar - 1],
              b_stride = c.b[br - 2] * c.b[br - 1];
      for (size_t d = 0; d + 2 < r; ++d) {
        const int64_t dim = y.size(r - 3 - d), idx = rest % dim;
        rest /= dim;
        if (d + 2 < ar) {
          const int64_t ad = c.a[ar - 3 - d];
          a_off += (ad == 1 ? 0 : idx) * a_stride;
          a_stride *= ad;
        }
        if (d + 2 < br) {
          const int64_t bd = c.b[br - 3 - d];
          b_off += (bd == 1 ? 0 : idx) * b_stride;
          b_stride *= bd;
        }
      }
      for (int64_t p = 0; p < m; ++p) {
        for (int64_t q = 0; q < n; ++q) {
          double sum = 0;
          for (int64_t t = 0; t < k; ++t) {
            const float av = a.data()[a_off + (c.ta ? t * m + p : p * k + t)];
            const float bv = b.data()[b_off + (c.tb ? q * k + t : t * n + q)];
            sum += static_cast<double>(av) * bv;
          }
          want[(i * m + p) * n + q] = static_cast<float>(sum);
        }
      }
    }
    const std::vector<float> got = y.ToVector();
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-5f * (1.f + std::fabs(want[i]))) << "element " << i;
    }
    testing::ExpectGradCheckCatchesHalvedBackward(
        [&](const std::vector<Tensor>& v) { return MatMul(v[0], v[1], c.ta, c.tb); }, {a, b},
        "matmul");
  }
  // Thread counts: a batch of many small products and one of a few large ones.
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{
           {{16, 9, 33}, {1, 33, 17}}, {{3, 90, 70}, {3, 70, 80}}}) {
    const std::vector<Tensor> in = {RandomLeaf(sa, seed++), RandomLeaf(sb, seed++)};
    const int saved = NumThreads();
    std::vector<std::vector<float>> first;
    for (int threads : {1, 2, 7}) {
      SetNumThreads(threads);
      for (const Tensor& t : in) const_cast<Tensor&>(t).ZeroGrad();
      Tensor y = MatMul(in[0], in[1], false, false);
      Generator gen(4);
      y.Backward(Tensor::Uniform(y.shape(), -1.f, 1.f, gen));
      const std::vector<std::vector<float>> got = {y.ToVector(), in[0].grad().ToVector(),
                                                   in[1].grad().ToVector()};
      if (first.empty()) first = got;
      EXPECT_EQ(got, first) << "threads=" << threads;
    }
    SetNumThreads(saved);
  }
  EXPECT_EQ(ErrorOf([] { MatMul(Tensor::Zeros({2, 3, 4}), Tensor::Zeros({3, 4, 5})); }),
            "matmul: shapes (2, 3, 4) and (3, 4, 5) have batch dimensions that cannot be "
            "broadcast");
  EXPECT_EQ(ErrorOf([] { MatMul(Tensor::Zeros({2, 3, 4}), Tensor::Zeros({2, 3, 5}), true,
                                true); }),
            "matmul: shapes (2, 3, 4) and (2, 3, 5) cannot be multiplied (transpose_a, "
            "transpose_b)");
}

// Gather on every axis against a plain loop, with repeated and unused indices; its
// gradient check (repeated rows add), failing with the backward halved; errors.
TEST(FunctionsTest, GatherAgainstAReferenceAndItsGradient) {
  const Tensor x = RandomLeaf({4, 5, 3}, 1800);
  const std::vector<int64_t> idx = {2, 0, 2, 3};
  for (int axis : {0, 1, 2, -1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    const int a = axis < 0 ? axis + 3 : axis;
    const std::vector<int64_t> use =
        a == 2 ? std::vector<int64_t>{2, 0, 2} : idx;  // axis 2 has 3 entries
    const Tensor y = Gather(x, use, axis);
    Shape want_shape = x.shape();
    want_shape[a] = static_cast<int64_t>(use.size());
    ASSERT_EQ(y.shape(), want_shape);
    for (int64_t i = 0; i < y.numel(); ++i) {
      int64_t pos[3] = {i / (want_shape[1] * want_shape[2]), (i / want_shape[2]) % want_shape[1],
                        i % want_shape[2]};
      pos[a] = use[pos[a]];
      EXPECT_EQ(y.data()[i], x.data()[(pos[0] * 5 + pos[1]) * 3 + pos[2]]) << i;
    }
    testing::ExpectGradCheckCatchesHalvedBackward(
        [&](const std::vector<Tensor>& v) { return Gather(v[0], use, axis); }, {x}, "gather");
  }
  EXPECT_EQ(Gather(x, {}, 0).shape(), (Shape{0, 5, 3}));
  EXPECT_EQ(ErrorOf([&] { Gather(x, {1, 4}, 0); }),
            "gather: index 4 (position 1) is out of range for axis 0 of size 4 (input shape "
            "(4, 5, 3))");
  EXPECT_EQ(ErrorOf([&] { Gather(x, {-1}, 1); }),
            "gather: index -1 (position 0) is out of range for axis 1 of size 5 (input shape "
            "(4, 5, 3))");
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
            "matmul: expected tensors of rank 2 or more, got shapes (3, 2) and (2,)");
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

// ---- Activations (their numbers against PyTorch's: autograd/functions_pytorch_test.cc).

TEST(FunctionsTest, ActivationGradientsAreCheckedAndAHalvedBackwardIsCaught) {
  struct Case {
    const char* op;
    testing::TensorFn f;
    float lo, hi;
    bool kinks;
  };
  const std::vector<Case> cases = {
      {"leaky_relu", [](const std::vector<Tensor>& v) { return LeakyRelu(v[0], 0.2f); }, -2, 2,
       true},
      {"elu", [](const std::vector<Tensor>& v) { return Elu(v[0], 0.7f); }, -2, 2, true},
      {"elu", [](const std::vector<Tensor>& v) { return Elu(v[0]); }, -2, 2, false},
      {"gelu", [](const std::vector<Tensor>& v) { return Gelu(v[0]); }, -4, 4, false},
      {"gelu", [](const std::vector<Tensor>& v) { return Gelu(v[0], true); }, -4, 4, false},
      {"silu", [](const std::vector<Tensor>& v) { return Silu(v[0]); }, -5, 5, false},
      {"hard_sigmoid", [](const std::vector<Tensor>& v) { return HardSigmoid(v[0]); }, -5, 5,
       true},
  };
  uint64_t seed = 1500;
  for (const Case& c : cases) {
    for (const Shape& s : std::vector<Shape>{{}, {17}, {3, 7}, {2, 5, 3}}) {
      SCOPED_TRACE(std::string(c.op) + " " + ShapeToString(s));
      testing::ExpectGradCheckCatchesHalvedBackward(
          c.f, {RandomLeaf(s, seed++, c.lo, c.hi)}, c.op,
          GradCheckOptions().SkipNonsmooth(c.kinks));
    }
  }
}

// AddRelu is Relu(Add(a, b)) bit for bit, values and both gradients (sizes past a vector
// width, and a broadcasting pair, which runs the two ops), and its gradient check fails
// with its backward halved.
TEST(FunctionsTest, AddReluIsReluOfAddBitForBit) {
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{
           {{17}, {17}}, {{3, 5, 7}, {3, 5, 7}}, {{3, 17}, {17}}}) {
    SCOPED_TRACE(ShapeToString(sa) + " + " + ShapeToString(sb));
    const std::vector<Tensor> in = {RandomLeaf(sa, 1601), RandomLeaf(sb, 1602)};
    std::vector<float> outs[2];
    std::vector<std::vector<float>> grads[2];
    for (int k = 0; k < 2; ++k) {
      for (const Tensor& t : in) const_cast<Tensor&>(t).ZeroGrad();
      Tensor y = k == 0 ? AddRelu(in[0], in[1]) : Relu(Add(in[0], in[1]));
      outs[k] = y.ToVector();
      Generator gen(3);
      y.Backward(Tensor::Uniform(y.shape(), -1.f, 1.f, gen));
      for (const Tensor& t : in) grads[k].push_back(t.grad().ToVector());
    }
    EXPECT_EQ(outs[0], outs[1]);
    EXPECT_EQ(grads[0], grads[1]);
    const int64_t positive = std::count_if(outs[0].begin(), outs[0].end(),
                                           [](float v) { return v > 0.f; });
    EXPECT_GT(positive, 0);  // the mask matters
    EXPECT_LT(positive, static_cast<int64_t>(outs[0].size()));
  }
  testing::ExpectGradCheckCatchesHalvedBackward(
      [](const std::vector<Tensor>& v) { return AddRelu(v[0], v[1]); },
      {RandomLeaf({3, 19}, 1603), RandomLeaf({3, 19}, 1604)}, "add_relu",
      GradCheckOptions().SkipNonsmooth(true));
}

TEST(FunctionsTest, ActivationsAgainstTheirDefinitions) {
  const Tensor x = Tensor::FromVector({-4, -3, -1.5f, -0.25f, 0, 0.5f, 2, 3, 5}, {9});
  const std::vector<float> v = x.ToVector();
  const std::vector<float> leaky = LeakyRelu(x, 0.1f).ToVector(), elu = Elu(x, 2.f).ToVector(),
                           gelu = Gelu(x).ToVector(), tanh_form = Gelu(x, true).ToVector(),
                           silu = Silu(x).ToVector(), hard = HardSigmoid(x).ToVector();
  for (size_t i = 0; i < v.size(); ++i) {
    const double t = v[i];
    SCOPED_TRACE("x = " + std::to_string(t));
    EXPECT_FLOAT_EQ(leaky[i], t > 0 ? t : 0.1 * t);
    EXPECT_NEAR(elu[i], t > 0 ? t : 2 * std::expm1(t), 1e-6);
    EXPECT_NEAR(gelu[i], 0.5 * t * (1 + std::erf(t / std::sqrt(2.0))), 2e-6);
    EXPECT_NEAR(tanh_form[i],
                0.5 * t * (1 + std::tanh(std::sqrt(2 / M_PI) * (t + 0.044715 * t * t * t))),
                1e-6);
    EXPECT_NEAR(silu[i], t / (1 + std::exp(-t)), 1e-6);
    EXPECT_FLOAT_EQ(hard[i], std::min(std::max(t + 3, 0.0), 6.0) / 6);
  }
  // Shapes are kept; nothing is recorded without a gradient to compute.
  const Tensor m = RandomLeaf({2, 3, 5}, 1);
  for (const Tensor& y : {LeakyRelu(m, 0.3f), Elu(m), Gelu(m), Silu(m), HardSigmoid(m)}) {
    EXPECT_EQ(y.shape(), m.shape());
    EXPECT_TRUE(y.requires_grad());
  }
  EXPECT_FALSE(Gelu(Tensor::Zeros({2})).requires_grad());
}

// ---- Max, Min, Argmin, Var, LogSumExp.

// Calls f(o, i, offset of (o, 0, i), stride of the axis) for every output of a reduction of
// x over `axis`, in the output's order.
void ForEachReduced(const Shape& shape, int axis,
                    const std::function<void(int64_t offset, int64_t stride)>& f) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) f(o * shape[axis] * inner + i, inner);
  }
}

Shape Reduced(Shape s, int axis, bool keepdim) {
  if (keepdim) {
    s[axis] = 1;
  } else {
    s.erase(s.begin() + axis);
  }
  return s;
}

TEST(FunctionsTest, MaxMinArgminAgainstAReference) {
  const Shape s = {3, 5, 7};
  const Tensor x = Coarse(s, 1600);  // many ties: the first extremum wins
  const std::vector<float> v = x.ToVector();
  for (int axis = -3; axis < 3; ++axis) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE("axis " + std::to_string(axis) + (keep ? " keepdim" : ""));
      const int a = axis < 0 ? axis + 3 : axis;
      const auto [max_v, max_i] = Max(x, axis, keep);
      const auto [min_v, min_i] = Min(x, axis, keep);
      const Tensor argmin = Argmin(x, axis, keep);
      for (const Tensor& t : {max_v, max_i, min_v, min_i, argmin}) {
        EXPECT_EQ(t.shape(), Reduced(s, a, keep));
      }
      EXPECT_FALSE(max_i.requires_grad() || min_i.requires_grad() || argmin.requires_grad());
      EXPECT_EQ(max_i.ToVector(), Argmax(x, axis, keep).ToVector());
      EXPECT_EQ(min_i.ToVector(), argmin.ToVector());
      int64_t k = 0;
      ForEachReduced(s, a, [&](int64_t offset, int64_t stride) {
        int64_t best_max = 0, best_min = 0;
        for (int64_t j = 1; j < s[a]; ++j) {
          if (v[offset + j * stride] > v[offset + best_max * stride]) best_max = j;
          if (v[offset + j * stride] < v[offset + best_min * stride]) best_min = j;
        }
        EXPECT_EQ(max_i.ToVector()[k], best_max);
        EXPECT_EQ(min_i.ToVector()[k], best_min);
        EXPECT_EQ(max_v.ToVector()[k], v[offset + best_max * stride]);
        EXPECT_EQ(min_v.ToVector()[k], v[offset + best_min * stride]);
        ++k;
      });
    }
  }
  // Whole tensor.
  EXPECT_EQ(Max(x).item(), *std::max_element(v.begin(), v.end()));
  EXPECT_EQ(Min(x).item(), *std::min_element(v.begin(), v.end()));
  EXPECT_EQ(Max(x).rank(), 0);
  // NaN wins, the first one (as torch.argmin / torch.min).
  const Tensor t = Tensor::FromVector({1, 3, 3, NAN, 1, NAN, 1, NAN, 5}, {3, 3});
  EXPECT_EQ(Argmin(t, 1).ToVector(), (std::vector<float>{0, 0, 1}));
  EXPECT_EQ(Min(t, 0).indices.ToVector(), (std::vector<float>{1, 2, 1}));
  EXPECT_TRUE(std::isnan(Min(t).item()) && std::isnan(Max(t).item()));
}

// Distinct values 0.1 apart (..., -0.1, 0, 0.1, ...) in a random order: no two within the
// gradient check's steps of each other, so the check sees no kink at any extremum.
Tensor DistinctLeaf(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  const Tensor keys = Tensor::Uniform(shape, 0.f, 1.f, gen);
  const std::vector<float> k = keys.ToVector();
  std::vector<int64_t> order(k.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return k[a] < k[b]; });
  Tensor t = Tensor::Empty(shape);
  const int64_t n = t.numel();
  for (int64_t r = 0; r < n; ++r) t.data()[order[r]] = 0.1f * static_cast<float>(r - n / 2);
  t.SetRequiresGrad();
  return t;
}

TEST(FunctionsTest, MaxMinGradientsGoToTheChosenElement) {
  // Max over an axis: the gradient goes to the first maximum only (ties: the first).
  const Tensor x = Tensor::FromVector({1, 4, 4, 2, 0, -1}, {2, 3}).SetRequiresGrad();
  Sum(Mul(Max(x, 1).values, Tensor::FromVector({10, 20}, {2}))).Backward();
  EXPECT_EQ(x.grad().ToVector(), (std::vector<float>{0, 10, 0, 20, 0, 0}));
  // The whole-tensor form shares it among ties.
  const Tensor y = Tensor::FromVector({1, 4, 4, 2, 0, 4}, {2, 3}).SetRequiresGrad();
  MulScalar(Max(y), 3.f).Backward();
  EXPECT_EQ(y.grad().ToVector(), (std::vector<float>{0, 1, 1, 0, 0, 1}));
  // Gradient checks (distinct values: no ties), each catching a halved backward.
  uint64_t seed = 1700;
  for (const Shape& s : std::vector<Shape>{{17}, {3, 7}, {2, 5, 3}}) {
    SCOPED_TRACE(ShapeToString(s));
    for (int axis = -1; axis < static_cast<int>(s.size()); ++axis) {
      for (bool keep : {false, true}) {
        SCOPED_TRACE("axis " + std::to_string(axis));
        testing::ExpectGradCheckCatchesHalvedBackward(
            [axis, keep](const std::vector<Tensor>& v) { return Max(v[0], axis, keep).values; },
            {DistinctLeaf(s, seed++)}, "max");
        testing::ExpectGradCheckCatchesHalvedBackward(
            [axis, keep](const std::vector<Tensor>& v) { return Min(v[0], axis, keep).values; },
            {DistinctLeaf(s, seed++)}, "min");
      }
    }
    testing::ExpectGradCheckCatchesHalvedBackward(
        [](const std::vector<Tensor>& v) { return Max(v[0]); }, {DistinctLeaf(s, seed++)}, "max");
    testing::ExpectGradCheckCatchesHalvedBackward(
        [](const std::vector<Tensor>& v) { return Min(v[0]); }, {DistinctLeaf(s, seed++)}, "min");
  }
}

TEST(FunctionsTest, VarAndLogSumExpAgainstAReference) {
  const Shape s = {3, 5, 7};
  Generator gen(1800);
  const Tensor x = AddScalar(Tensor::Uniform(s, -3.f, 3.f, gen), 10.f);
  const std::vector<float> v = x.ToVector();
  for (int axis = 0; axis < 3; ++axis) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE("axis " + std::to_string(axis) + (keep ? " keepdim" : ""));
      const Tensor var = Var(x, axis, keep), unbiased = Var(x, axis, keep, 1),
                   lse = LogSumExp(x, axis, keep);
      EXPECT_EQ(var.shape(), Reduced(s, axis, keep));
      EXPECT_EQ(lse.shape(), Reduced(s, axis, keep));
      int64_t k = 0;
      ForEachReduced(s, axis, [&](int64_t offset, int64_t stride) {
        const int64_t n = s[axis];
        double mean = 0, squares = 0, exps = 0;
        for (int64_t j = 0; j < n; ++j) mean += v[offset + j * stride] / n;
        for (int64_t j = 0; j < n; ++j) {
          const double c = v[offset + j * stride] - mean;
          squares += c * c;
          exps += std::exp(v[offset + j * stride]);
        }
        EXPECT_NEAR(var.ToVector()[k], squares / n, 2e-6 * squares / n);
        EXPECT_NEAR(unbiased.ToVector()[k], squares / (n - 1), 2e-6 * squares / (n - 1));
        EXPECT_NEAR(lse.ToVector()[k], std::log(exps), 1e-6 * std::log(exps));
        ++k;
      });
    }
  }
  // LogSumExp does not overflow where exp does, and an empty axis gives -inf (PyTorch).
  const Tensor big = Tensor::FromVector({1000, 1000, -1000}, {3});
  EXPECT_NEAR(LogSumExp(big, 0).item(), 1000 + std::log(2.f), 1e-4);
  const Tensor empty = LogSumExp(Tensor::Zeros({2, 0}), 1);
  EXPECT_EQ(empty.ToVector(), (std::vector<float>{-INFINITY, -INFINITY}));
}

TEST(FunctionsTest, VarAndLogSumExpGradientsAreChecked) {
  uint64_t seed = 1900;
  for (const Shape& s : std::vector<Shape>{{17}, {3, 7}, {2, 5, 3}}) {
    for (int axis = -1; axis < static_cast<int>(s.size()); ++axis) {
      for (bool keep : {false, true}) {
        SCOPED_TRACE(ShapeToString(s) + " axis " + std::to_string(axis));
        for (int64_t correction : {0, 1}) {
          testing::ExpectGradCheckCatchesHalvedBackward(
              [=](const std::vector<Tensor>& v) { return Var(v[0], axis, keep, correction); },
              {RandomLeaf(s, seed++, -2.f, 2.f)}, "var");
        }
        testing::ExpectGradCheckCatchesHalvedBackward(
            [=](const std::vector<Tensor>& v) { return LogSumExp(v[0], axis, keep); },
            {RandomLeaf(s, seed++, -3.f, 3.f)}, "logsumexp");
      }
    }
  }
}

// The reductions (and their gradients) are bit-identical whatever the thread count, on
// shapes large enough for the kernels to split their work.
TEST(FunctionsTest, ReductionsAreIdenticalAcrossThreadCounts) {
  const auto run = [] {
    std::vector<float> all;
    const auto keep = [&](const Tensor& t) {
      const std::vector<float> v = t.ToVector();
      all.insert(all.end(), v.begin(), v.end());
    };
    for (const Shape& s : std::vector<Shape>{{3, 40000}, {40000, 3}, {50, 333, 7}}) {
      for (int axis = 0; axis < static_cast<int>(s.size()); ++axis) {
        const Tensor x = RandomLeaf(s, 2000 + axis, -3.f, 3.f);
        const auto [values, indices] = Max(x, axis);
        const Tensor y = Add(Add(Sum(Var(x, axis)), Sum(LogSumExp(x, axis))),
                             Add(Sum(values), Max(x)));
        y.Backward();
        keep(y), keep(indices), keep(x.grad());
      }
    }
    return all;
  };
  SetNumThreads(1);
  const std::vector<float> one = run();
  for (int threads : {2, 7}) {
    SetNumThreads(threads);
    const std::vector<float> many = run();
    ASSERT_EQ(one.size(), many.size());
    EXPECT_EQ(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)), 0)
        << threads << " threads";
  }
  SetNumThreads(0);
}

TEST(FunctionsTest, ReductionErrorsNameTheOpAndShape) {
  const Tensor x = Tensor::Zeros({2, 3});
  EXPECT_EQ(ErrorOf([&] { Max(Tensor::Zeros({2, 0}), 1); }),
            "max: axis 1 of shape (2, 0) is empty");
  EXPECT_EQ(ErrorOf([&] { Min(x, 2); }), "min: axis 2 is out of range for a tensor of rank 2");
  EXPECT_EQ(ErrorOf([&] { Argmin(Tensor::Zeros({0, 3}), 0); }),
            "argmin: axis 0 of shape (0, 3) is empty");
  EXPECT_EQ(ErrorOf([&] { Max(Tensor::Zeros({0})); }), "max: the tensor is empty (shape (0,))");
  EXPECT_EQ(ErrorOf([&] { Min(Tensor::Zeros({2, 0})); }),
            "min: the tensor is empty (shape (2, 0))");
  EXPECT_EQ(ErrorOf([&] { Var(x, 0, false, 2); }),
            "var: axis 0 of shape (2, 3) has 2 element(s), not more than the correction 2");
  EXPECT_EQ(ErrorOf([&] { Var(Tensor::Zeros({4, 1}), -1, false, 1); }),
            "var: axis -1 of shape (4, 1) has 1 element(s), not more than the correction 1");
  EXPECT_EQ(ErrorOf([&] { Var(x, 1, false, -1); }), "var: correction -1 is negative");
  EXPECT_EQ(ErrorOf([&] { LogSumExp(x, -3); }),
            "logsumexp: axis -3 is out of range for a tensor of rank 2");
}

// ---- Slice, Split.

TEST(FunctionsTest, SliceOnEveryAxisAndItsGradient) {
  const Shape s = {3, 5, 7};
  Generator gen(2100);
  const Tensor x = Tensor::Uniform(s, -1.f, 1.f, gen);
  for (int axis = -3; axis < 3; ++axis) {
    const int a = axis < 0 ? axis + 3 : axis;
    for (auto [start, stop, step] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {0, 100, 1}, {1, -1, 1}, {-2, 5, 2}, {2, 1, 1}, {0, 7, 3}}) {
      SCOPED_TRACE("axis " + std::to_string(axis) + " [" + std::to_string(start) + ":" +
                   std::to_string(stop) + ":" + std::to_string(step) + "]");
      std::vector<int64_t> taken;  // Python's range(size)[start:stop:step]
      const int64_t size = s[a];
      const int64_t b = std::clamp<int64_t>(start < 0 ? start + size : start, 0, size);
      const int64_t e = std::clamp<int64_t>(stop < 0 ? stop + size : stop, 0, size);
      for (int64_t j = b; j < e; j += step) taken.push_back(j);
      const Tensor y = Slice(x, axis, start, stop, step);
      Shape want = s;
      want[a] = static_cast<int64_t>(taken.size());
      ASSERT_EQ(y.shape(), want);
      for (int64_t i = 0; i < y.numel(); ++i) {
        int64_t idx[3] = {i / (want[1] * want[2]), i / want[2] % want[1], i % want[2]};
        const float got = y.ToVector()[i];
        idx[a] = taken[idx[a]];
        EXPECT_EQ(got, x.at({idx[0], idx[1], idx[2]}));
      }
      if (y.numel() > 0) {
        testing::ExpectGradCheckCatchesHalvedBackward(
            [=](const std::vector<Tensor>& v) { return Slice(v[0], axis, start, stop, step); },
            {RandomLeaf(s, 2200 + a, -2.f, 2.f)}, "slice");
      }
    }
  }
  // The gradient of an empty slice is zeros; Narrow stays as it was (axis 0, a view).
  Tensor leaf = RandomLeaf({4, 3}, 2300);
  Sum(Slice(leaf, 1, 2, 2)).Backward();
  EXPECT_EQ(leaf.grad().ToVector(), std::vector<float>(12, 0.f));
  EXPECT_EQ(Slice(leaf, 0, 1, 3).ToVector(), leaf.Narrow(0, 1, 2).ToVector());
}

TEST(FunctionsTest, SplitBySizesAndIntoEqualParts) {
  const Tensor x = Tensor::FromVector({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 6});
  const std::vector<Tensor> parts = Split(x, {1, 0, 3, 2}, 1);
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0].ToVector(), (std::vector<float>{0, 6}));
  EXPECT_EQ(parts[1].shape(), (Shape{2, 0}));
  EXPECT_EQ(parts[2].ToVector(), (std::vector<float>{1, 2, 3, 7, 8, 9}));
  EXPECT_EQ(parts[3].ToVector(), (std::vector<float>{4, 5, 10, 11}));
  const std::vector<Tensor> thirds = Split(x, 3, -1);
  ASSERT_EQ(thirds.size(), 3u);
  EXPECT_EQ(thirds[1].ToVector(), (std::vector<float>{2, 3, 8, 9}));
  // A one-element list is the number of parts (the count overload).
  EXPECT_EQ(Split(x, {2}, 0).size(), 2u);
  EXPECT_EQ(Split(x, std::vector<int64_t>{2}, 0).size(), 1u);
  EXPECT_EQ(Split(x, 2)[1].ToVector(), (std::vector<float>{6, 7, 8, 9, 10, 11}));
  // Each part gets its share of the gradient; the check catches a halved one.
  testing::ExpectGradCheckCatchesHalvedBackward(
      [](const std::vector<Tensor>& v) {
        const std::vector<Tensor> p = Split(v[0], {2, 1, 4}, 1);
        return Concat({Mul(p[2], p[2]), MulScalar(p[0], 3.f), Exp(p[1])}, 1);
      },
      {RandomLeaf({3, 7}, 2400, -1.f, 1.f)}, "split");
  testing::ExpectGradCheckCatchesHalvedBackward(
      [](const std::vector<Tensor>& v) {
        const std::vector<Tensor> p = Split(v[0], 5, 0);
        return Add(Mul(p[0], p[4]), Sub(p[1], MulScalar(p[3], 2.f)));
      },
      {RandomLeaf({5, 3}, 2401, -1.f, 1.f)}, "split");
}

TEST(FunctionsTest, SliceAndSplitErrorsNameTheOpAxisAndRange) {
  const Tensor x = Tensor::Zeros({2, 6});
  EXPECT_EQ(ErrorOf([&] { Slice(x, 1, 0, 3, 0); }),
            "slice: step 0 must be positive (axis 1, range [0, 3) of shape (2, 6))");
  EXPECT_EQ(ErrorOf([&] { Slice(x, 1, 5, 0, -1); }),
            "slice: step -1 must be positive (axis 1, range [5, 0) of shape (2, 6))");
  EXPECT_EQ(ErrorOf([&] { Slice(x, 2, 0, 1); }),
            "slice: axis 2 is out of range for a tensor of rank 2");
  EXPECT_EQ(ErrorOf([&] { Slice(Tensor::Scalar(1), 0, 0, 1); }),
            "slice: a scalar (shape ()) has no axis to slice");
  EXPECT_EQ(ErrorOf([&] { Split(x, {2, 3}, 1); }),
            "split: sizes (2, 3) do not split axis 1 of shape (2, 6) (they must be >= 0 and "
            "sum to 6)");
  EXPECT_EQ(ErrorOf([&] { Split(x, {7, -1}, 1); }),
            "split: sizes (7, -1) do not split axis 1 of shape (2, 6) (they must be >= 0 and "
            "sum to 6)");
  EXPECT_EQ(ErrorOf([&] { Split(x, 4, 1); }),
            "split: axis 1 of shape (2, 6) cannot be split into 4 equal parts");
  EXPECT_EQ(ErrorOf([&] { Split(x, 0, 0); }),
            "split: axis 0 of shape (2, 6) cannot be split into 0 equal parts");
  EXPECT_EQ(ErrorOf([&] { Split(Tensor::Scalar(1), 1, 0); }),
            "split: a scalar (shape ()) has no axis to split");
}

}  // namespace
}  // namespace gradway
