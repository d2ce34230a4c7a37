// Forward values and gradient checks of the neural-network ops.
#include "autograd/nn_functions.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/types/span.h"
#include "autograd/autograd.h"
#include "autograd/test_util.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

using testing::ErrorOf;
using testing::ExpectGradOk;
using testing::RandomLeaf;

TEST(NnFunctionsTest, LinearForwardAndGradient) {
  Tensor x = Tensor::FromVector({1, 2, 3, 4}, {2, 2});
  Tensor w = Tensor::FromVector({1, 0, 1, 0, 1, 1}, {2, 3});
  Tensor b = Tensor::FromVector({10, 20, 30}, {3});
  EXPECT_EQ(Linear(x, w, b).ToVector(), (std::vector<float>{11, 22, 33, 13, 24, 37}));
  EXPECT_EQ(Linear(x, w, Tensor()).ToVector(), (std::vector<float>{1, 2, 3, 3, 4, 7}));
  ExpectGradOk([](const std::vector<Tensor>& v) { return Linear(v[0], v[1], v[2]); },
               {RandomLeaf({5, 17}, 1), RandomLeaf({17, 3}, 2), RandomLeaf({3}, 3)});
  EXPECT_EQ(ErrorOf([] { Linear(Tensor::Zeros({2, 3}), Tensor::Zeros({4, 5}), Tensor()); }),
            "linear: input of shape (2, 3) does not match weight of shape (4, 5)");
}

// The fused ops equal the unfused pair bit for bit, forward and backward.
void ExpectSameAsUnfused(const testing::TensorFn& fused, const testing::TensorFn& unfused,
                         const std::vector<Tensor>& in) {
  std::vector<std::vector<float>> grads[2];
  std::vector<float> outs[2];
  for (int k = 0; k < 2; ++k) {
    for (const Tensor& t : in) const_cast<Tensor&>(t).ZeroGrad();
    Tensor y = (k == 0 ? fused : unfused)(in);
    outs[k] = y.ToVector();
    Generator gen(9);
    y.Backward(Tensor::Uniform(y.shape(), -1.f, 1.f, gen));
    for (const Tensor& t : in) grads[k].push_back(t.grad().ToVector());
  }
  EXPECT_EQ(outs[0], outs[1]);
  for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(grads[0][i], grads[1][i]) << "input " << i;
}

TEST(NnFunctionsTest, FusedLinearRelu) {
  const std::vector<Tensor> in = {RandomLeaf({7, 19}, 1), RandomLeaf({19, 5}, 2),
                                  RandomLeaf({5}, 3)};
  ExpectSameAsUnfused([](const std::vector<Tensor>& v) { return LinearRelu(v[0], v[1], v[2]); },
                      [](const std::vector<Tensor>& v) { return Relu(Linear(v[0], v[1], v[2])); },
                      in);
  ExpectGradOk([](const std::vector<Tensor>& v) { return LinearRelu(v[0], v[1], v[2]); }, in);
}

// LinearRelu's backward paths: the weight-gradient GEMM's ReLU-mask prologue with or
// without dx and db (the MLP's first layer needs no dx), and the plain masked pass when w
// needs no gradient, on odd sizes past a vector width. Gradients equal the unfused pair's
// bit for bit (db within rounding where the unfused column sum splits the batch), and pass
// the gradient check.
TEST(NnFunctionsTest, FusedLinearReluGradientPaths) {
  struct Config {
    int64_t n, in, out;
    bool gx, gw;
    int bias;  // 0: none, 1: constant, 2: requires grad
  };
  const Config configs[] = {{13, 37, 21, true, true, 2},  {13, 37, 21, false, true, 2},
                            {13, 37, 21, false, true, 0}, {13, 37, 21, true, true, 1},
                            {13, 37, 21, true, false, 2}, {9, 5, 70, true, true, 2},
                            {200, 9, 128, true, true, 2}};
  for (const Config& c : configs) {
    SCOPED_TRACE("n=" + std::to_string(c.n) + " in=" + std::to_string(c.in) +
                 " out=" + std::to_string(c.out) + " gx=" + std::to_string(c.gx) +
                 " gw=" + std::to_string(c.gw) + " bias=" + std::to_string(c.bias));
    std::vector<Tensor> in = {RandomLeaf({c.n, c.in}, 21), RandomLeaf({c.in, c.out}, 22),
                              c.bias == 0 ? Tensor() : RandomLeaf({c.out}, 23)};
    in[0].SetRequiresGrad(c.gx);
    in[1].SetRequiresGrad(c.gw);
    if (c.bias == 1) in[2].SetRequiresGrad(false);
    std::vector<float> grads[2][3];
    std::vector<float> outs[2];
    for (int k = 0; k < 2; ++k) {
      for (Tensor& t : in) {
        if (t.defined() && t.requires_grad()) t.ZeroGrad();
      }
      Tensor y = k == 0 ? LinearRelu(in[0], in[1], in[2]) : Relu(Linear(in[0], in[1], in[2]));
      outs[k] = y.ToVector();
      Generator gen(9);
      y.Backward(Tensor::Uniform(y.shape(), -1.f, 1.f, gen));
      for (int i = 0; i < 3; ++i) {
        if (in[i].defined() && in[i].requires_grad()) grads[k][i] = in[i].grad().ToVector();
      }
    }
    EXPECT_EQ(outs[0], outs[1]);
    EXPECT_EQ(grads[0][0], grads[1][0]) << "dx";
    EXPECT_EQ(grads[0][1], grads[1][1]) << "dw";
    ASSERT_EQ(grads[0][2].size(), grads[1][2].size());
    for (size_t i = 0; i < grads[0][2].size(); ++i) {
      EXPECT_NEAR(grads[0][2][i], grads[1][2][i], 2e-5f) << "db[" << i << "]";
    }
    if (c.n * c.in * c.out > 20000) continue;
    // A small step: fewer pre-activations within reach of the ReLU's kink.
    const GradCheckOptions check = GradCheckOptions().Epsilon(1e-3f).SkipNonsmooth(true);
    if (c.bias == 0) {
      ExpectGradOk(
          [](const std::vector<Tensor>& v) { return LinearRelu(v[0], v[1], Tensor()); },
          {in[0], in[1]}, check);
    } else {
      ExpectGradOk([](const std::vector<Tensor>& v) { return LinearRelu(v[0], v[1], v[2]); },
                   in, check);
    }
  }
}

// LinearRelu's forward and gradients do not depend on the thread count, at a size where
// the GEMMs run in parallel (the weight-gradient GEMM's tasks pack the masked panels as
// they first need them, whichever thread gets there first).
TEST(NnFunctionsTest, FusedLinearReluSameAcrossThreadCounts) {
  const std::vector<Tensor> in = {RandomLeaf({200, 300}, 31), RandomLeaf({300, 256}, 32),
                                  RandomLeaf({256}, 33)};
  const int saved = NumThreads();
  std::vector<std::vector<float>> first;
  for (int threads : {1, 2, 16}) {
    SetNumThreads(threads);
    for (const Tensor& t : in) const_cast<Tensor&>(t).ZeroGrad();
    Tensor y = LinearRelu(in[0], in[1], in[2]);
    Generator gen(5);
    y.Backward(Tensor::Uniform(y.shape(), -1.f, 1.f, gen));
    std::vector<std::vector<float>> got = {y.ToVector()};
    for (const Tensor& t : in) got.push_back(t.grad().ToVector());
    if (first.empty()) {
      first = got;
      continue;
    }
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i], first[i]) << "threads=" << threads << ", output " << i;
    }
  }
  SetNumThreads(saved);
}

TEST(NnFunctionsTest, FusedConv2DRelu) {
  const std::vector<Tensor> in = {RandomLeaf({2, 6, 5, 3}, 4), RandomLeaf({3, 3, 3, 4}, 5),
                                  RandomLeaf({4}, 6)};
  ExpectSameAsUnfused(
      [](const std::vector<Tensor>& v) {
        return Conv2DRelu(v[0], v[1], v[2], 1, 1, Padding::kSame);
      },
      [](const std::vector<Tensor>& v) {
        return Relu(Conv2D(v[0], v[1], v[2], 1, 1, Padding::kSame));
      },
      in);
  ExpectGradOk(
      [](const std::vector<Tensor>& v) {
        return Conv2DRelu(v[0], v[1], v[2], 1, 1, Padding::kValid);
      },
      in);
}

// The same on a shape whose three passes all run Winograd F(4x4, 3x3) (ops/conv.h's
// automatic choice for 3x3 stride-1 kernels with more than 4 input channels; with 3, as
// above, the forward pass and its fused ReLU take the direct path): the ReLU fused into
// the Winograd output transform and its mask into the backward transforms, gradient-checked
// with both paddings.
TEST(NnFunctionsTest, FusedConv2DReluWinogradShapes) {
  const std::vector<Tensor> in = {RandomLeaf({2, 7, 6, 8}, 7), RandomLeaf({3, 3, 8, 9}, 8),
                                  RandomLeaf({9}, 9)};
  // Forced, so the test stays on Winograd whatever the automatic choice becomes.
  SetConvAlgorithm(ConvAlgorithm::kWinograd);
  for (Padding padding : {Padding::kSame, Padding::kValid}) {
    SCOPED_TRACE(PaddingName(padding));
    ExpectSameAsUnfused(
        [padding](const std::vector<Tensor>& v) {
          return Conv2DRelu(v[0], v[1], v[2], 1, 1, padding);
        },
        [padding](const std::vector<Tensor>& v) {
          return Relu(Conv2D(v[0], v[1], v[2], 1, 1, padding));
        },
        in);
    ExpectGradOk(
        [padding](const std::vector<Tensor>& v) {
          return Conv2DRelu(v[0], v[1], v[2], 1, 1, padding);
        },
        in, GradCheckOptions().Epsilon(1e-3f).SkipNonsmooth(true));
  }
  SetConvAlgorithm(ConvAlgorithm::kAuto);
}

// Each algorithm SetConvAlgorithm can force passes the gradient check on a 3x3 stride-1
// shape (all three passes on that path), and the setting takes effect: the Winograd paths
// round differently from the direct one, within 1e-5 of it relative to the largest output.
TEST(NnFunctionsTest, ConvAlgorithmsEachPassTheGradientCheck) {
  const std::vector<Tensor> in = {RandomLeaf({2, 7, 6, 8}, 41), RandomLeaf({3, 3, 8, 9}, 42),
                                  RandomLeaf({9}, 43)};
  ASSERT_EQ(GetConvAlgorithm(), ConvAlgorithm::kAuto);
  std::vector<std::vector<float>> outputs;
  for (ConvAlgorithm a : {ConvAlgorithm::kDirect, ConvAlgorithm::kWinograd,
                          ConvAlgorithm::kWinograd2x2, ConvAlgorithm::kAuto}) {
    SCOPED_TRACE(ConvAlgorithmName(a));
    SetConvAlgorithm(a);
    EXPECT_EQ(GetConvAlgorithm(), a);
    outputs.push_back(Conv2D(in[0], in[1], in[2], 1, 1, Padding::kSame).ToVector());
    ExpectGradOk(
        [](const std::vector<Tensor>& v) {
          return Conv2DRelu(v[0], v[1], v[2], 1, 1, Padding::kSame);
        },
        in, GradCheckOptions().Epsilon(1e-3f).SkipNonsmooth(true));
  }
  SetConvAlgorithm(ConvAlgorithm::kAuto);
  float largest = 0.f;
  for (float v : outputs[0]) largest = std::max(largest, std::fabs(v));
  for (size_t k = 1; k < outputs.size(); ++k) {
    EXPECT_NE(outputs[k], outputs[0]) << "algorithm " << k << " rounds like direct";
    for (size_t i = 0; i < outputs[0].size(); ++i) {
      ASSERT_NEAR(outputs[k][i], outputs[0][i], 1e-5f * largest) << k << ", " << i;
    }
  }
  EXPECT_EQ(outputs[3], outputs[1]);  // kAuto runs F(4x4, 3x3) on this shape
}

TEST(NnFunctionsTest, Conv2DForwardHandComputed) {
  // One 3x3 image, one channel, a 2x2 kernel of ones plus bias 1 (valid): window sums.
  Tensor x = Tensor::FromVector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1});
  Tensor w = Tensor::Ones({2, 2, 1, 1});
  Tensor b = Tensor::Full({1}, 1.f);
  Tensor y = Conv2D(x, w, b, 1, 1, Padding::kValid);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 1}));
  EXPECT_EQ(y.ToVector(), (std::vector<float>{13, 17, 25, 29}));
  // Same padding keeps 3x3; with a 2x2 kernel TF pads at the end (bottom/right).
  Tensor ys = Conv2D(x, w, Tensor(), 1, 1, Padding::kSame);
  EXPECT_EQ(ys.shape(), (Shape{1, 3, 3, 1}));
  EXPECT_EQ(ys.ToVector(), (std::vector<float>{12, 16, 9, 24, 28, 15, 15, 17, 9}));
}

TEST(NnFunctionsTest, PyTorchStyleDefaults) {
  Generator gen(5);
  Tensor x = Tensor::Normal({2, 6, 6, 3}, 0, 1, gen);
  Tensor w = Tensor::Normal({3, 3, 3, 4}, 0, 1, gen);
  Tensor b = Tensor::Normal({4}, 0, 1, gen);
  // Conv2D(x, w, b): stride 1, valid; Conv2D(x, w): no bias; a single stride both ways.
  EXPECT_EQ(Conv2D(x, w, b).ToVector(), Conv2D(x, w, b, 1, 1, Padding::kValid).ToVector());
  EXPECT_EQ(Conv2D(x, w).ToVector(), Conv2D(x, w, Tensor(), 1, 1, Padding::kValid).ToVector());
  EXPECT_EQ(Conv2D(x, w, b, 2, Padding::kSame).ToVector(),
            Conv2D(x, w, b, 2, 2, Padding::kSame).ToVector());
  // MaxPool2D(x, 2): a 2x2 window with stride 2.
  EXPECT_EQ(MaxPool2D(x, 2).shape(), (Shape{2, 3, 3, 3}));
  EXPECT_EQ(MaxPool2D(x, 2).ToVector(), MaxPool2D(x, 2, 2, 2, 2, Padding::kValid).ToVector());
  EXPECT_EQ(MaxPool2D(x, 3, 1).ToVector(), MaxPool2D(x, 3, 3, 1, 1, Padding::kValid).ToVector());
  EXPECT_EQ(AvgPool2D(x, 2).ToVector(), AvgPool2D(x, 2, 2, 2, 2, Padding::kValid).ToVector());
}

TEST(NnFunctionsTest, SoftmaxOverAnyAxis) {
  Generator gen(11);
  Tensor x = Tensor::Normal({3, 4, 5}, 0, 2, gen);
  for (int axis : {0, 1, -2}) {
    SCOPED_TRACE(axis);
    const int a = axis < 0 ? axis + 3 : axis;
    Tensor y = Softmax(x, axis), ly = LogSoftmax(x, axis);
    // Reference: along `a`, exp(x - max) / sum, in double.
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 4; ++j) {
        for (int64_t k = 0; k < 5; ++k) {
          int64_t idx[3] = {i, j, k};
          double mx = -1e30, sum = 0;
          for (int64_t t = 0; t < x.size(a); ++t) {
            idx[a] = t;
            mx = std::max<double>(mx, x.at({idx[0], idx[1], idx[2]}));
          }
          for (int64_t t = 0; t < x.size(a); ++t) {
            idx[a] = t;
            sum += std::exp(x.at({idx[0], idx[1], idx[2]}) - mx);
          }
          idx[0] = i, idx[1] = j, idx[2] = k;
          const double want = std::exp(x.at({i, j, k}) - mx) / sum;
          ASSERT_NEAR(y.at({i, j, k}), want, 1e-6);
          ASSERT_NEAR(ly.at({i, j, k}), std::log(want), 1e-5);
        }
      }
    }
    ExpectGradOk([axis](const std::vector<Tensor>& v) { return Softmax(v[0], axis); },
                 {RandomLeaf({3, 4, 5}, 60 + a)});
    ExpectGradOk([axis](const std::vector<Tensor>& v) { return LogSoftmax(v[0], axis); },
                 {RandomLeaf({3, 4, 5}, 70 + a)});
  }
  EXPECT_EQ(Softmax(x, 2).ToVector(), Softmax(x).ToVector());
}

TEST(NnFunctionsTest, IntegerLabels) {
  Generator gen(12);
  Tensor logits = Tensor::Normal({5, 3}, 0, 1, gen).SetRequiresGrad();
  const std::vector<int64_t> labels = {0, 2, 1, 1, 2};
  const std::vector<uint8_t> bytes(labels.begin(), labels.end());
  Tensor as_floats = Tensor::FromVector({0, 2, 1, 1, 2}, {5});
  const float want = SparseSoftmaxCrossEntropy(logits, as_floats).item();
  EXPECT_EQ(SparseSoftmaxCrossEntropy(logits, labels).item(), want);
  EXPECT_EQ(SparseSoftmaxCrossEntropy(logits, bytes).item(), want);
  ExpectGradOk([&labels](const std::vector<Tensor>& v) {
    return SparseSoftmaxCrossEntropy(v[0], labels);
  }, {logits});
  EXPECT_EQ(ErrorOf([&] { SparseSoftmaxCrossEntropy(logits, std::vector<int64_t>{0, 1}); }),
            "sparse_softmax_cross_entropy: 2 labels do not match logits of shape (5, 3)");
  EXPECT_EQ(ErrorOf([&] {
              SparseSoftmaxCrossEntropy(logits, std::vector<uint8_t>{0, 1, 3, 0, 0});
            }),
            "sparse_softmax_cross_entropy: label 3 at row 2 is not a class index in [0, 3)");
}

TEST(NnFunctionsTest, Conv2DGradients) {
  struct Case {
    Shape x, w;
    int stride;
    Padding padding;
  };
  const std::vector<Case> cases = {
      {{2, 5, 5, 1}, {3, 3, 1, 4}, 1, Padding::kValid},
      {{1, 6, 7, 3}, {3, 3, 3, 5}, 1, Padding::kSame},
      {{2, 7, 6, 2}, {3, 2, 2, 3}, 2, Padding::kSame},
      {{1, 8, 8, 17}, {1, 1, 17, 2}, 1, Padding::kValid},
      {{2, 6, 7, 8}, {3, 3, 8, 10}, 1, Padding::kSame},  // auto: Winograd F(4x4, 3x3)
  };
  uint64_t seed = 10;
  for (const Case& c : cases) {
    SCOPED_TRACE(ShapeToString(c.x) + " * " + ShapeToString(c.w));
    const int stride = c.stride;
    const Padding padding = c.padding;
    ExpectGradOk([stride, padding](const std::vector<Tensor>& v) {
      return Conv2D(v[0], v[1], v[2], stride, stride, padding);
    }, {RandomLeaf(c.x, seed++), RandomLeaf(c.w, seed++), RandomLeaf({c.w[3]}, seed++)});
  }
}

TEST(NnFunctionsTest, Conv2DErrors) {
  EXPECT_EQ(ErrorOf([] {
              Conv2D(Tensor::Zeros({1, 5, 5, 2}), Tensor::Zeros({3, 3, 1, 4}), Tensor(), 1, 1,
                     Padding::kValid);
            }),
            "conv2d: input of shape (1, 5, 5, 2) has 2 channels but the kernel of shape "
            "(3, 3, 1, 4) expects 1");
  EXPECT_EQ(ErrorOf([] {
              Conv2D(Tensor::Zeros({5, 5, 2}), Tensor::Zeros({3, 3, 2, 4}), Tensor(), 1, 1,
                     Padding::kValid);
            }),
            "conv2d: expected an NHWC input (batch, height, width, channels), got shape "
            "(5, 5, 2)");
  EXPECT_NE(ErrorOf([] {
              Conv2D(Tensor::Zeros({1, 2, 2, 1}), Tensor::Zeros({3, 3, 1, 1}), Tensor(), 1, 1,
                     Padding::kValid);
            }).find("smaller than the kernel"),
            std::string::npos);
}

TEST(NnFunctionsTest, MaxPool2D) {
  Tensor x = Tensor::FromVector({1, 5, 2, 0, 3, 4, 8, 7, 6, 9, 1, 2, 0, 0, 3, 4},
                                {1, 4, 4, 1});
  Tensor y = MaxPool2D(x, 2, 2, 2, 2, Padding::kValid);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 1}));
  EXPECT_EQ(y.ToVector(), (std::vector<float>{5, 8, 9, 4}));
  Tensor xg = x.Clone().SetRequiresGrad();
  Sum(MaxPool2D(xg, 2, 2, 2, 2, Padding::kValid)).Backward();
  EXPECT_EQ(xg.grad().ToVector(),
            (std::vector<float>{0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1}));
  uint64_t seed = 20;
  for (auto [shape, pool, stride, padding] :
       std::vector<std::tuple<Shape, int, int, Padding>>{
           {{2, 6, 6, 3}, 2, 2, Padding::kValid},
           {{1, 7, 5, 17}, 2, 2, Padding::kSame},
           {{1, 7, 7, 2}, 3, 2, Padding::kValid}}) {
    SCOPED_TRACE(ShapeToString(shape));
    ExpectGradOk([pool, stride, padding](const std::vector<Tensor>& v) {
      return MaxPool2D(v[0], pool, pool, stride, stride, padding);
    }, {RandomLeaf(shape, seed++)}, GradCheckOptions().Epsilon(1e-3f).SkipNonsmooth(true));
  }
}

TEST(NnFunctionsTest, AvgPool2D) {
  Tensor x = Tensor::FromVector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1});
  EXPECT_EQ(AvgPool2D(x, 2, 2, 1, 1, Padding::kValid).ToVector(),
            (std::vector<float>{3, 4, 6, 7}));
  // Same padding: border windows average only the real cells.
  EXPECT_EQ(AvgPool2D(x, 2, 2, 2, 2, Padding::kSame).ToVector(),
            (std::vector<float>{3, 4.5, 7.5, 9}));
  ExpectGradOk([](const std::vector<Tensor>& v) {
    return AvgPool2D(v[0], 2, 3, 2, 1, Padding::kSame);
  }, {RandomLeaf({2, 5, 7, 3}, 30)});
}

// ---- Global pooling.

// The formulas of autograd/testdata/global_pool_pad_pytorch.py: Wave x[i] = sin(0.37 i +
// 0.1) * 2, Quantised floor(Wave), Incoming dy[i] = cos(0.23 i + 0.3), by flat index.
Tensor Wave(const Shape& shape, bool quantised = false) {
  Tensor t = Tensor::Empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 0.1) * 2);
    if (quantised) p[i] = std::floor(p[i]);
  }
  return t;
}

Tensor Incoming(const Shape& shape) {
  Tensor t = Tensor::Empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    p[i] = static_cast<float>(std::cos(0.23 * static_cast<double>(i) + 0.3));
  }
  return t;
}

// Each want[i] within 1e-5 of got[i]; NaN where want is NaN.
void ExpectClose(const std::vector<float>& want, const Tensor& got, const std::string& what) {
  ASSERT_EQ(static_cast<int64_t>(want.size()), got.numel()) << what;
  const std::vector<float> g = got.ToVector();
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << what << " at " << i << ": " << g[i];
    } else {
      EXPECT_NEAR(want[i], g[i], 1e-5) << what << " at " << i;
    }
  }
}

// y and x's gradient for dy = Incoming.
void ExpectPoolLikePyTorch(Tensor (*pool)(const Tensor&), Tensor x, const std::vector<float>& y,
                           const std::vector<float>& dx, const std::string& what) {
  x.SetRequiresGrad();
  Tensor out = pool(x);
  EXPECT_EQ(out.shape(), (Shape{x.size(0), x.size(3)})) << what;
  ExpectClose(y, out, what + " y");
  out.Backward(Incoming(out.shape()));
  ExpectClose(dx, x.grad(), what + " dx");
}

// PyTorch's adaptive_avg_pool2d / adaptive_max_pool2d(x, 1) on the NCHW image, by
// autograd/testdata/global_pool_pad_pytorch.py (torch 1.13): values and gradients.
TEST(NnFunctionsTest, GlobalPoolsMatchPyTorch) {
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> kAvgY = {
      -0.0312126968f, 0.0122297211f, 0.0540169887f, 0.0130325556f, 0.0547343493f,
      0.0890280604f,
  };
  const std::vector<float> kAvgDx = {
      0.159222752f, 0.143801183f, 0.120806001f, 0.159222752f, 0.143801183f, 0.120806001f,
      0.159222752f, 0.143801183f, 0.120806001f, 0.159222752f, 0.143801183f, 0.120806001f,
      0.159222752f, 0.143801183f, 0.120806001f, 0.159222752f, 0.143801183f, 0.120806001f,
      0.091448307f, 0.0572742932f, 0.0200837944f, 0.091448307f, 0.0572742932f, 0.0200837944f,
      0.091448307f, 0.0572742932f, 0.0200837944f, 0.091448307f, 0.0572742932f, 0.0200837944f,
      0.091448307f, 0.0572742932f, 0.0200837944f, 0.091448307f, 0.0572742932f, 0.0200837944f,
  };
  const std::vector<float> kMaxY = {
      1.87123203f, 1.99991524f, 1.85791945f, 1.99974346f, 1.85283101f, 1.87599993f,
  };
  const std::vector<float> kMaxDx = {
      0.f, 0.f, 0.f, 0.955336511f, 0.862807095f, 0.724835992f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
      0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.12050277f, 0.548689842f, 0.343645751f, 0.f,
      0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  };
  const std::vector<float> kMaxTiesY = {
      1.f, 1.f, 1.f, 1.f, 1.f, 1.f,
  };
  const std::vector<float> kMaxTiesDx = {
      0.f, 0.f, 0.724835992f, 0.955336511f, 0.862807095f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
      0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.343645751f, 0.12050277f, 0.548689842f, 0.f, 0.f,
      0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  };
  const std::vector<float> kMaxNaNY = {
      kNaN, 1.87123203f,
  };
  const std::vector<float> kMaxNaNDx = {
      0.f, 0.f, 0.f, 0.862807095f, 0.f, 0.f, 0.f, 0.f, 0.955336511f, 0.f, 0.f, 0.f,
  };
  ExpectPoolLikePyTorch(GlobalAvgPool2D, Wave({2, 3, 2, 3}), kAvgY, kAvgDx, "avg");
  ExpectPoolLikePyTorch(GlobalMaxPool2D, Wave({2, 3, 2, 3}), kMaxY, kMaxDx, "max");
  // Tied maxima: the gradient goes to the first, as PyTorch's.
  ExpectPoolLikePyTorch(GlobalMaxPool2D, Wave({2, 3, 2, 3}, true), kMaxTiesY, kMaxTiesDx,
                        "max ties");
  // NaN at positions 1 and 4 of channel 0: NaN, and the gradient to the last NaN.
  Tensor x = Wave({1, 3, 2, 2});
  x.data()[2] = kNaN;
  x.data()[8] = kNaN;
  ExpectPoolLikePyTorch(GlobalMaxPool2D, x, kMaxNaNY, kMaxNaNDx, "max NaN");
}

TEST(NnFunctionsTest, GlobalPoolsByHand) {
  // Two positions ([1, 4] and [3, 2] per channel pair), one sample.
  Tensor x = Tensor::FromVector({1, 4, 3, 2}, {1, 1, 2, 2});
  EXPECT_EQ(GlobalAvgPool2D(x).ToVector(), (std::vector<float>{2, 3}));
  EXPECT_EQ(GlobalMaxPool2D(x).ToVector(), (std::vector<float>{3, 4}));
  Tensor xg = x.Clone().SetRequiresGrad();
  Sum(GlobalMaxPool2D(xg)).Backward();
  EXPECT_EQ(xg.grad().ToVector(), (std::vector<float>{0, 1, 1, 0}));
  Tensor xa = x.Clone().SetRequiresGrad();
  Sum(GlobalAvgPool2D(xa)).Backward();
  EXPECT_EQ(xa.grad().ToVector(), (std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}));
  // Without a graph the max records nothing (and keeps no argmax).
  EXPECT_FALSE(GlobalMaxPool2D(x).requires_grad());
}

TEST(NnFunctionsTest, GlobalPoolsGradCheck) {
  uint64_t seed = 40;
  for (const Shape& shape : std::vector<Shape>{{2, 3, 5, 3}, {1, 1, 1, 17}, {3, 7, 1, 2}}) {
    SCOPED_TRACE(ShapeToString(shape));
    testing::ExpectGradCheckCatchesHalvedBackward(
        [](const std::vector<Tensor>& v) { return GlobalAvgPool2D(v[0]); },
        {RandomLeaf(shape, seed++)}, "global_avg_pool2d");
    testing::ExpectGradCheckCatchesHalvedBackward(
        [](const std::vector<Tensor>& v) { return GlobalMaxPool2D(v[0]); },
        {RandomLeaf(shape, seed++)}, "global_max_pool2d",
        GradCheckOptions().Epsilon(1e-3f).SkipNonsmooth(true));
  }
}

TEST(NnFunctionsTest, GlobalPoolErrors) {
  EXPECT_EQ(ErrorOf([] { GlobalAvgPool2D(Tensor::Zeros({2, 5, 3})); }),
            "global_avg_pool2d: expected an NHWC input (batch, height, width, channels), got "
            "shape (2, 5, 3)");
  EXPECT_EQ(ErrorOf([] { GlobalMaxPool2D(Tensor::Zeros({2, 5})); }),
            "global_max_pool2d: expected an NHWC input (batch, height, width, channels), got "
            "shape (2, 5)");
  EXPECT_EQ(ErrorOf([] { GlobalMaxPool2D(Tensor::Zeros({2, 0, 3, 4})); }),
            "global_max_pool2d: input of shape (2, 0, 3, 4) has no positions to pool (height "
            "and width must be at least 1)");
  EXPECT_EQ(ErrorOf([] { GlobalAvgPool2D(Tensor::Zeros({2, 3, 0, 4})); }),
            "global_avg_pool2d: input of shape (2, 3, 0, 4) has no positions to pool (height "
            "and width must be at least 1)");
  // An empty batch or no channels is fine: an empty output.
  EXPECT_EQ(GlobalAvgPool2D(Tensor::Zeros({0, 3, 2, 4})).shape(), (Shape{0, 4}));
  EXPECT_EQ(GlobalMaxPool2D(Tensor::Zeros({2, 3, 2, 0})).shape(), (Shape{2, 0}));
}

TEST(NnFunctionsTest, SoftmaxAndLogSoftmax) {
  Tensor x = Tensor::FromVector({1, 2, 3, 1000, 1000, 1000}, {2, 3});
  Tensor y = Softmax(x);
  const double e = std::exp(1.0), z = e + e * e + e * e * e;
  EXPECT_NEAR(y.at({0, 2}), e * e * e / z, 1e-6);
  EXPECT_NEAR(y.at({1, 0}), 1.0 / 3, 1e-6);  // stable for large logits
  EXPECT_NEAR(LogSoftmax(x).at({0, 0}), std::log(e / z), 1e-5);
  uint64_t seed = 40;
  for (const Shape& s : std::vector<Shape>{{5}, {3, 17}, {2, 3, 10}}) {
    ExpectGradOk([](const std::vector<Tensor>& v) { return Softmax(v[0]); },
                 {RandomLeaf(s, seed++, -3, 3)});
    ExpectGradOk([](const std::vector<Tensor>& v) { return LogSoftmax(v[0]); },
                 {RandomLeaf(s, seed++, -3, 3)});
  }
}

TEST(NnFunctionsTest, SoftmaxCrossEntropy) {
  Tensor logits = Tensor::FromVector({2, 1, 0, 0, 0, 3}, {2, 3});
  Tensor onehot = Tensor::FromVector({1, 0, 0, 0, 0, 1}, {2, 3});
  Tensor labels = Tensor::FromVector({0, 2}, {2});
  // Against the unfused definition.
  const float expected = -Mean(Sum(onehot * LogSoftmax(logits), 1)).item();
  EXPECT_NEAR(SoftmaxCrossEntropy(logits, onehot).item(), expected, 1e-6);
  EXPECT_NEAR(SparseSoftmaxCrossEntropy(logits, labels).item(), expected, 1e-6);
  Generator gen(50);
  for (auto [n, c] : std::vector<std::pair<int, int>>{{1, 2}, {7, 10}, {3, 17}}) {
    Tensor t = Tensor::Zeros({n, c});
    Tensor idx = Tensor::Zeros({n});
    for (int i = 0; i < n; ++i) {
      const int k = static_cast<int>(gen.UniformInt(c));
      t.set({i, k}, 1.f);
      idx.set({i}, static_cast<float>(k));
    }
    ExpectGradOk([t](const std::vector<Tensor>& v) { return SoftmaxCrossEntropy(v[0], t); },
                 {RandomLeaf({n, c}, 51 + n, -3, 3)});
    ExpectGradOk(
        [idx](const std::vector<Tensor>& v) { return SparseSoftmaxCrossEntropy(v[0], idx); },
        {RandomLeaf({n, c}, 61 + n, -3, 3)});
  }
  EXPECT_EQ(ErrorOf([&] { SparseSoftmaxCrossEntropy(logits, Tensor::FromVector({0, 3}, {2})); }),
            "sparse_softmax_cross_entropy: label 3 at row 1 is not a class index in [0, 3)");
  EXPECT_EQ(ErrorOf([&] { SoftmaxCrossEntropy(logits, Tensor::Zeros({2, 4})); }),
            "softmax_cross_entropy: targets of shape (2, 4) do not match logits of shape "
            "(2, 3)");
}

TEST(NnFunctionsTest, SoftplusAndLogSigmoidAgainstAReference) {
  // Odd sizes and large |x|: the plain formulas in double (which do not overflow here)
  // against the stable float ones.
  std::vector<float> xs = {-100, -30, -20, -5, -1, -1e-3f, 0, 1e-3f, 1, 5, 20, 30, 88, 100};
  Generator gen(11);
  for (int i = 0; i < 23; ++i) xs.push_back(gen.Uniform(-10.f, 10.f));
  const Tensor x = Tensor::FromVector(xs, {static_cast<int64_t>(xs.size())});
  const Tensor sp = Softplus(x), ls = LogSigmoid(x);
  for (size_t i = 0; i < xs.size(); ++i) {
    SCOPED_TRACE(xs[i]);
    const double v = xs[i];
    const double want_sp = std::log1p(std::exp(v));       // log(1 + e^x)
    const double want_ls = -std::log1p(std::exp(-v));     // log(1 / (1 + e^-x))
    EXPECT_NEAR(sp.ToVector()[i], want_sp, 1e-6 * std::fabs(want_sp) + 1e-45);
    EXPECT_NEAR(ls.ToVector()[i], want_ls, 1e-6 * std::fabs(want_ls) + 1e-45);
  }
  EXPECT_EQ(ls.ToVector(), Neg(Softplus(Neg(x))).ToVector());  // -softplus(-x), exactly
  // Where the naive float formula overflows (exp(100) = inf) or rounds to 0, these don't.
  EXPECT_EQ(Softplus(Tensor::Scalar(1e4f)).item(), 1e4f);
  EXPECT_EQ(LogSigmoid(Tensor::Scalar(-1e4f)).item(), -1e4f);
  EXPECT_GT(Softplus(Tensor::Scalar(-50.f)).item(), 0.f);    // e^-50, not 0
  EXPECT_LT(LogSigmoid(Tensor::Scalar(50.f)).item(), 0.f);   // -e^-50, not 0
  // torch.nn.functional.softplus(1) = 1.3133, logsigmoid(1) = -0.3133.
  EXPECT_NEAR(Softplus(Tensor::Scalar(1.f)).item(), 1.3132616f, 1e-6);
  EXPECT_NEAR(LogSigmoid(Tensor::Scalar(1.f)).item(), -0.3132617f, 1e-6);
  EXPECT_TRUE(std::isnan(Softplus(Tensor::Scalar(NAN)).item()));
  // Gradients: sigmoid(x) and sigmoid(-x), also out where they saturate.
  uint64_t seed = 80;
  for (const Shape& s : std::vector<Shape>{{}, {1}, {17}, {3, 33}, {2, 3, 7}}) {
    SCOPED_TRACE(ShapeToString(s));
    ExpectGradOk([](const std::vector<Tensor>& v) { return Softplus(v[0]); },
                 {RandomLeaf(s, seed++, -6.f, 6.f)});
    ExpectGradOk([](const std::vector<Tensor>& v) { return LogSigmoid(v[0]); },
                 {RandomLeaf(s, seed++, -6.f, 6.f)});
  }
  Tensor leaf = Tensor::FromVector({-40, 0, 40}, {3}).SetRequiresGrad();
  Sum(Softplus(leaf)).Backward();
  EXPECT_NEAR(leaf.grad().ToVector()[0], std::exp(-40.0), 1e-20);
  EXPECT_EQ(leaf.grad().ToVector()[1], 0.5f);
  EXPECT_EQ(leaf.grad().ToVector()[2], 1.f);
  leaf.ZeroGrad();
  Sum(LogSigmoid(leaf)).Backward();
  EXPECT_EQ(leaf.grad().ToVector()[0], 1.f);
  EXPECT_EQ(leaf.grad().ToVector()[1], 0.5f);
  EXPECT_NEAR(leaf.grad().ToVector()[2], std::exp(-40.0), 1e-20);
  EXPECT_EQ(Softplus(leaf).grad_fn_name(), "softplus");
  EXPECT_EQ(LogSigmoid(leaf).grad_fn_name(), "log_sigmoid");
}

TEST(NnFunctionsTest, SigmoidBinaryCrossEntropyAgainstAReference) {
  uint64_t seed = 90;
  for (const Shape& s : std::vector<Shape>{{1}, {17}, {5, 1}, {3, 7}, {2, 3, 5}}) {
    SCOPED_TRACE(ShapeToString(s));
    Tensor z = RandomLeaf(s, seed++, -4.f, 4.f);
    Generator gen(seed++);
    Tensor t = Tensor::Uniform(s, 0.f, 1.f, gen);  // soft labels...
    float* tp = t.data();
    for (int64_t i = 0; i < t.numel(); i += 2) tp[i] = tp[i] < 0.5f ? 0.f : 1.f;  // ...and hard
    double want = 0;
    for (int64_t i = 0; i < z.numel(); ++i) {
      const double p = 1 / (1 + std::exp(-static_cast<double>(z.data()[i])));
      want -= t.data()[i] * std::log(p) + (1 - t.data()[i]) * std::log(1 - p);
    }
    want /= z.numel();
    EXPECT_NEAR(SigmoidBinaryCrossEntropy(z, t).item(), want, 1e-6 * want);
    ExpectGradOk([t](const std::vector<Tensor>& v) { return SigmoidBinaryCrossEntropy(v[0], t); },
                 {z});
  }
  // Saturated logits: sigmoid(±40) rounds to 1 / 0 in float, the fused loss does not.
  Tensor z = Tensor::FromVector({40, -40, 40, -40}, {4}).SetRequiresGrad();
  Tensor t = Tensor::FromVector({0, 1, 1, 0}, {4});
  Tensor loss = SigmoidBinaryCrossEntropy(z, t);
  EXPECT_NEAR(loss.item(), (40 + 40 + 2 * std::log1p(std::exp(-40.0))) / 4, 1e-5);
  loss.Backward();
  const std::vector<float> want_grad = {0.25f, -0.25f, 0, 0};  // (sigmoid(z) - t) / 4
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(z.grad().ToVector()[i], want_grad[i], 1e-12) << i;
  EXPECT_EQ(loss.grad_fn_name(), "sigmoid_binary_cross_entropy");
  EXPECT_EQ(ErrorOf([] { SigmoidBinaryCrossEntropy(Tensor::Zeros({3}), Tensor::Zeros({3, 1})); }),
            "sigmoid_binary_cross_entropy: targets of shape (3, 1) do not match logits of "
            "shape (3,)");
}

TEST(NnFunctionsTest, SigmoidAndSoftmaxRememberTheirLogits) {
  Tensor x = RandomLeaf({4, 3}, 95);
  Tensor p = Sigmoid(x);
  EXPECT_TRUE(SigmoidLogits(p).is_same(x));
  EXPECT_FALSE(SoftmaxLogits(p).defined());
  EXPECT_FALSE(SigmoidLogits(x).defined());
  EXPECT_FALSE(SigmoidLogits(p.Detach()).defined());
  EXPECT_FALSE(SigmoidLogits(p.Reshape({12})).defined());
  EXPECT_FALSE(SigmoidLogits(p.Clone()).defined());
  EXPECT_FALSE(SigmoidLogits(Tensor()).defined());
  EXPECT_FALSE(SigmoidLogits(Softmax(x)).defined());
  {
    NoGradGuard no_grad;
    EXPECT_TRUE(SigmoidLogits(Sigmoid(x)).is_same(x));  // with or without a graph
  }
  // A write to either tensor breaks the pair: the probabilities no longer are f(logits).
  Tensor q = Sigmoid(x), s = Softmax(x);
  {
    NoGradGuard no_grad;
    p *= 0.5f;
  }
  EXPECT_FALSE(SigmoidLogits(p).defined());
  EXPECT_TRUE(SigmoidLogits(q).defined());
  EXPECT_TRUE(SoftmaxLogits(s).defined());
  {
    NoGradGuard no_grad;
    x += 1.f;
  }
  EXPECT_FALSE(SigmoidLogits(q).defined());
  EXPECT_FALSE(SoftmaxLogits(s).defined());
}

TEST(NnFunctionsTest, Dropout) {
  Tensor x = Tensor::Ones({10000});
  Tensor y = Dropout(x, 0.25f, /*training=*/true, /*seed=*/7);
  int64_t zeros = 0;
  for (float v : y.ToVector()) {
    if (v == 0.f) {
      ++zeros;
    } else {
      EXPECT_FLOAT_EQ(v, 1.f / 0.75f);
    }
  }
  EXPECT_NEAR(zeros / 10000.0, 0.25, 0.02);
  EXPECT_EQ(Dropout(x, 0.25f, true, 7).ToVector(), y.ToVector());  // seeded
  EXPECT_NE(Dropout(x, 0.25f, true, 8).ToVector(), y.ToVector());
  EXPECT_TRUE(Dropout(x, 0.5f, /*training=*/false, 7).SameStorage(x));
  // The gradient goes through the kept elements with the same scale.
  ExpectGradOk([](const std::vector<Tensor>& v) { return Dropout(v[0], 0.4f, true, 3); },
               {RandomLeaf({3, 17}, 70)});
  EXPECT_THROW(Dropout(x, 1.f, true, 1), Error);
}

// ---- BatchNorm.

// PyTorch's numbers: F.batch_norm (float32) on the channels-first permutation of the same
// channels-last inputs, and the gradients of sum(w * y).
// Produced by autograd/testdata/batch_norm_pytorch.py (torch 1.13.0a0).
// Train4D: input [2, 3, 2, 3], training = true
constexpr float kTrain4DY[] = {-0.0780410245f, 0.597279072f, 1.41605508f, 0.8985129f,
    1.47189915f, 1.78424406f, 0.660872161f, 0.570920467f, 0.0913715363f, -0.52702111f,
    -1.10496068f, -1.78232789f, -1.34580123f, -1.69438171f, -1.7557795f, -0.886067986f,
    -0.542686284f, 0.141530082f, 0.341563493f, 1.0709641f, 1.80230272f, 0.973591268f,
    1.35432506f, 1.38195658f, 0.308036536f, -0.00732590631f, -0.652639627f, -0.915884376f,
    -1.50163448f, -2.0417068f, -1.33879066f, -1.4689064f, -1.24243987f, -0.490970075f,
    0.0545077957f, 0.857433677f};
constexpr float kTrain4DDx[] = {0.443344891f, 0.451016277f, 0.387244791f, -0.0147565128f,
    -0.167315066f, -0.315154791f, -0.37011072f, -0.550784945f, -0.698455811f, -0.48597452f,
    -0.620002508f, -0.739090741f, -0.438476056f, -0.521958709f, -0.586478174f, -0.338356465f,
    -0.364345521f, -0.308059365f, -0.181443319f, -0.0964943543f, 0.138913855f, 0.0939311013f,
    0.331075191f, 0.698864758f, 0.430489123f, 0.752954602f, 1.07791996f, 0.601899743f,
    0.830970705f, 0.920221925f, 0.396687776f, 0.370128453f, 0.17336446f, -0.137234971f,
    -0.415244192f, -0.749290764f};
constexpr float kTrain4DDgamma[] = {2.73492479f, 2.69515705f, 2.30909562f};
constexpr float kTrain4DDbeta[] = {1.00758529f, 0.463046193f, -0.105880439f};
constexpr float kTrain4DRunningMean[] = {-0.0909090042f, -0.0416517928f, 0.00715225283f};
constexpr float kTrain4DRunningVar[] = {1.10445178f, 1.55646837f, 2.01422524f};
// Train2D: input [5, 4], training = true
constexpr float kTrain2DY[] = {-0.0594449677f, 0.590688825f, 1.3266412f, 1.98064315f,
    1.06373465f, 1.39624643f, 1.30124998f, 0.808571756f, -0.0823188052f, -0.656907082f,
    -1.44841838f, -2.22687054f, -1.41332746f, -1.83479011f, -1.92166102f, -1.6052562f,
    -0.508643448f, 0.00476213638f, 0.742188036f, 1.54291177f};
constexpr float kTrain2DDx[] = {0.649662912f, 0.631497025f, 0.455542743f, 0.209171891f,
    -0.152945638f, -0.343468636f, -0.433650851f, -0.444069058f, -0.324723303f, -0.280617595f,
    -0.143378899f, -0.00877710804f, -0.0969427899f, 0.0415985957f, 0.126170248f, 0.142456949f,
    -0.0750511661f, -0.0490095355f, -0.00468316954f, 0.101217382f};
constexpr float kTrain2DDgamma[] = {1.99104524f, 2.24003839f, 2.34643579f, 2.3833847f};
constexpr float kTrain2DDbeta[] = {-1.16834641f, -1.41270614f, -1.5826627f, -1.66926479f};
constexpr float kTrain2DRunningMean[] = {-0.0925616771f, -0.036060255f, 0.019231217f,
    0.0719198361f};
constexpr float kTrain2DRunningVar[] = {1.10539615f, 1.56118011f, 2.03403974f, 2.5120182f};
// Infer2D: input [5, 4], training = false
constexpr float kInfer2DY[] = {0.0396136865f, 0.758137524f, 1.47394967f, 2.0577507f,
    1.47909284f, 1.6130197f, 1.44938195f, 0.984474719f, 0.0102983247f, -0.565849185f,
    -1.21111405f, -1.79510629f, -1.69553685f, -1.81585455f, -1.66900933f, -1.22588861f,
    -0.536083996f, 0.13633433f, 0.908450484f, 1.65691626f};
constexpr float kInfer2DDx[] = {0.701715291f, 0.669052601f, 0.5676139f, 0.399519324f,
    0.120120339f, -0.0710384548f, -0.301166505f, -0.551941037f, -0.556172669f, -0.755125642f,
    -0.932519436f, -1.06827331f, -0.794001579f, -0.84390223f, -0.828711569f, -0.742421985f,
    -0.40587163f, -0.267380327f, -0.0715809688f, 0.168724865f};
constexpr float kInfer2DDgamma[] = {2.46488333f, 2.21645975f, 2.05517554f, 1.95111692f};
constexpr float kInfer2DDbeta[] = {-1.16834641f, -1.41270614f, -1.5826627f, -1.66926479f};
constexpr float kInfer2DRunningMean[] = {-0.100000001f, -0.0500000007f, 0.f, 0.0500000007f};
constexpr float kInfer2DRunningVar[] = {1.f, 1.5f, 2.f, 2.5f};

// The inputs of autograd/testdata/batch_norm_pytorch.py, by its formulas.
Tensor ByFormula(const Shape& shape, double (*f)(int64_t)) {
  Tensor t = Tensor::Empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(f(i));
  return t;
}

void ExpectNearAll(absl::Span<const float> want, const Tensor& got, const std::string& what) {
  ASSERT_EQ(static_cast<int64_t>(want.size()), got.numel()) << what;
  const std::vector<float> g = got.ToVector();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(want[i], g[i], 1e-5) << what << " " << i;
}

TEST(NnFunctionsTest, BatchNormMatchesPyTorch) {
  struct Case {
    const char* name;
    Shape shape;
    bool training;
    absl::Span<const float> y, dx, dgamma, dbeta, running_mean, running_var;
  };
  const Case cases[] = {
      {"Train4D", {2, 3, 2, 3}, true, kTrain4DY, kTrain4DDx, kTrain4DDgamma, kTrain4DDbeta,
       kTrain4DRunningMean, kTrain4DRunningVar},
      {"Train2D", {5, 4}, true, kTrain2DY, kTrain2DDx, kTrain2DDgamma, kTrain2DDbeta,
       kTrain2DRunningMean, kTrain2DRunningVar},
      {"Infer2D", {5, 4}, false, kInfer2DY, kInfer2DDx, kInfer2DDgamma, kInfer2DDbeta,
       kInfer2DRunningMean, kInfer2DRunningVar},
  };
  for (const Case& k : cases) {
    const int64_t c = k.shape.back();
    Tensor x = ByFormula(k.shape, [](int64_t i) { return std::sin(0.37 * i + 0.1) * 2; });
    const Tensor w = ByFormula(k.shape, [](int64_t i) { return std::cos(0.23 * i + 0.5); });
    Tensor gamma = ByFormula({c}, [](int64_t i) { return 0.8 + 0.3 * i; });
    Tensor beta = ByFormula({c}, [](int64_t i) { return 0.1 * i - 0.2; });
    Tensor running_mean = ByFormula({c}, [](int64_t i) { return 0.05 * i - 0.1; });
    Tensor running_var = ByFormula({c}, [](int64_t i) { return 1 + 0.5 * i; });
    x.SetRequiresGrad();
    gamma.SetRequiresGrad();
    beta.SetRequiresGrad();
    Tensor y = BatchNorm(x, gamma, beta, running_mean, running_var, k.training, 0.9f, 1e-3f);
    Sum(Mul(y, w)).Backward();
    ExpectNearAll(k.y, y, std::string(k.name) + " y");
    ExpectNearAll(k.dx, x.grad(), std::string(k.name) + " dx");
    ExpectNearAll(k.dgamma, gamma.grad(), std::string(k.name) + " dgamma");
    ExpectNearAll(k.dbeta, beta.grad(), std::string(k.name) + " dbeta");
    ExpectNearAll(k.running_mean, running_mean, std::string(k.name) + " running_mean");
    ExpectNearAll(k.running_var, running_var, std::string(k.name) + " running_var");
  }
}

// Both forms pass the gradient check, and fail it with the backward halved: channels-last
// images and feature vectors at odd sizes, with and without gamma and beta.
TEST(NnFunctionsTest, BatchNormGradients) {
  for (bool training : {true, false}) {
    for (const Shape& shape : {Shape{3, 3, 5, 3}, Shape{7, 5}}) {
      SCOPED_TRACE(std::string(training ? "training " : "inference ") + ShapeToString(shape));
      const int64_t c = shape.back();
      Generator gen(5);
      Tensor running_mean = Tensor::Uniform({c}, -0.5f, 0.5f, gen);
      Tensor running_var = Tensor::Uniform({c}, 0.5f, 2.f, gen);
      testing::ExpectGradCheckCatchesHalvedBackward(
          [&](const std::vector<Tensor>& v) {
            return BatchNorm(v[0], v[1], v[2], running_mean, running_var, training);
          },
          {RandomLeaf(shape, 81, -2.f, 3.f), RandomLeaf({c}, 82, 0.5f, 1.5f),
           RandomLeaf({c}, 83)},
          "batch_norm");
      testing::ExpectGradCheckCatchesHalvedBackward(
          [&](const std::vector<Tensor>& v) {
            return BatchNorm(v[0], Tensor(), Tensor(), running_mean, running_var, training,
                             0.9f, 1e-5f);
          },
          {RandomLeaf(shape, 84)}, "batch_norm");
    }
  }
}

// BatchNormRelu is Relu(BatchNorm(...)) bit for bit (outputs, the three gradients and the
// running statistics), in both forms, with and without gamma and beta, on channels-last
// images and feature vectors at odd sizes; it passes the gradient check and fails it with
// its backward halved.
TEST(NnFunctionsTest, FusedBatchNormRelu) {
  for (bool training : {true, false}) {
    for (const Shape& shape : {Shape{3, 3, 5, 19}, Shape{7, 5}}) {
      SCOPED_TRACE(std::string(training ? "training " : "inference ") + ShapeToString(shape));
      const int64_t c = shape.back();
      Generator gen(7);
      const Tensor mean0 = Tensor::Uniform({c}, -0.5f, 0.5f, gen);
      const Tensor var0 = Tensor::Uniform({c}, 0.5f, 2.f, gen);
      Tensor rm[2] = {mean0.Clone(), mean0.Clone()}, rv[2] = {var0.Clone(), var0.Clone()};
      const std::vector<Tensor> in = {RandomLeaf(shape, 91, -2.f, 3.f),
                                      RandomLeaf({c}, 92, 0.5f, 1.5f), RandomLeaf({c}, 93)};
      ExpectSameAsUnfused(
          [&](const std::vector<Tensor>& v) {
            return BatchNormRelu(v[0], v[1], v[2], rm[0], rv[0], training, 0.9f);
          },
          [&](const std::vector<Tensor>& v) {
            return Relu(BatchNorm(v[0], v[1], v[2], rm[1], rv[1], training, 0.9f));
          },
          in);
      EXPECT_EQ(rm[0].ToVector(), rm[1].ToVector());
      EXPECT_EQ(rv[0].ToVector(), rv[1].ToVector());
      ExpectSameAsUnfused(
          [&](const std::vector<Tensor>& v) {
            return BatchNormRelu(v[0], Tensor(), Tensor(), rm[0], rv[0], training);
          },
          [&](const std::vector<Tensor>& v) {
            return Relu(BatchNorm(v[0], Tensor(), Tensor(), rm[1], rv[1], training));
          },
          {in[0]});
      testing::ExpectGradCheckCatchesHalvedBackward(
          [&](const std::vector<Tensor>& v) {
            return BatchNormRelu(v[0], v[1], v[2], rm[0], rv[0], training);
          },
          in, "batch_norm_relu", GradCheckOptions().Epsilon(1e-3f).SkipNonsmooth(true));
    }
  }
  EXPECT_EQ(ErrorOf([] {
              Tensor rm = Tensor::Zeros({3}), rv = Tensor::Ones({3});
              BatchNormRelu(Tensor::Zeros({2, 3, 3}), Tensor(), Tensor(), rm, rv, true);
            }).substr(0, 16),
            "batch_norm_relu:");
}

// ---- MaskedSoftmax.

// A padding mask broadcast over rows and a causal mask: the kept entries' softmax (a row
// keeping nothing is 0), Softmax's bits when all is kept; the gradient check (x only),
// failing with the backward halved; errors.
TEST(NnFunctionsTest, MaskedSoftmaxAgainstSoftmaxOfTheKeptEntries) {
  const Tensor x = RandomLeaf({2, 3, 5}, 2200, -3.f, 3.f);
  // Keys 0-2 of the first sample, none of the second (broadcast over its 3 queries).
  const Tensor mask = Tensor::FromVector({1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, {2, 1, 5});
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "padding");
    const std::vector<float> y = MaskedSoftmax(x, mask, causal).ToVector();
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t q = 0; q < 3; ++q) {
        const float* xr = x.data() + (b * 3 + q) * 5;
        const auto kept = [&](int64_t j) { return b == 0 && j < 3 && (!causal || j <= q); };
        double sum = 0;
        for (int64_t j = 0; j < 5; ++j) sum += kept(j) ? std::exp(xr[j]) : 0.0;
        for (int64_t j = 0; j < 5; ++j) {
          const double want = kept(j) ? std::exp(xr[j]) / sum : 0.0;
          EXPECT_NEAR(y[(b * 3 + q) * 5 + j], want, 1e-6) << b << ", " << q << ", " << j;
        }
      }
    }
    testing::ExpectGradCheckCatchesHalvedBackward(
        [&](const std::vector<Tensor>& v) { return MaskedSoftmax(v[0], mask, causal); }, {x},
        "masked_softmax");
  }
  EXPECT_EQ(MaskedSoftmax(x, Tensor()).ToVector(), Softmax(x).ToVector());
  EXPECT_EQ(MaskedSoftmax(x, Tensor::Ones({5})).ToVector(), Softmax(x).ToVector());
  EXPECT_EQ(ErrorOf([&] { MaskedSoftmax(x, Tensor::Ones({4})); }),
            "masked_softmax: shapes (2, 3, 5) and (4,) cannot be broadcast");
  EXPECT_EQ(ErrorOf([&] { MaskedSoftmax(x, Tensor::Ones({3, 2, 3, 5})); }),
            "masked_softmax: mask of shape (3, 2, 3, 5) does not broadcast to input of shape "
            "(2, 3, 5)");
  EXPECT_EQ(ErrorOf([] { MaskedSoftmax(Tensor::Zeros({4}), Tensor(), true); }),
            "masked_softmax: a causal mask needs queries and keys (rank >= 2), got shape (4,)");
}

// ---- LayerNorm.

// Against a plain double loop on odd shapes (any rank; last axes of 1, 5 and 19 features),
// with and without gamma and beta; the gradient check, failing with the backward halved;
// the errors.
TEST(NnFunctionsTest, LayerNormAgainstAReferenceAndItsGradient) {
  uint64_t seed = 2100;
  for (const Shape& shape : {Shape{3, 5}, Shape{2, 3, 19}, Shape{4, 1}, Shape{7}}) {
    SCOPED_TRACE(ShapeToString(shape));
    const int64_t C = shape.back(), rows = NumElements(shape) / C;
    const Tensor x = RandomLeaf(shape, seed++, -2.f, 3.f), gamma = RandomLeaf({C}, seed++),
                 beta = RandomLeaf({C}, seed++);
    const std::vector<float> y = LayerNorm(x, gamma, beta, 1e-3f).ToVector();
    for (int64_t r = 0; r < rows; ++r) {
      double m = 0, v = 0;
      for (int64_t c = 0; c < C; ++c) m += x.data()[r * C + c];
      m /= C;
      for (int64_t c = 0; c < C; ++c) v += std::pow(x.data()[r * C + c] - m, 2);
      const double s = 1 / std::sqrt(v / C + 1e-3);
      for (int64_t c = 0; c < C; ++c) {
        const double want = (x.data()[r * C + c] - m) * s * gamma.data()[c] + beta.data()[c];
        EXPECT_NEAR(y[r * C + c], want, 1e-5) << r << ", " << c;
      }
    }
    if (C == 1) continue;  // y = beta: no gradient through x to check
    testing::ExpectGradCheckCatchesHalvedBackward(
        [](const std::vector<Tensor>& v) { return LayerNorm(v[0], v[1], v[2], 1e-3f); },
        {x, gamma, beta}, "layer_norm");
    testing::ExpectGradCheckCatchesHalvedBackward(
        [](const std::vector<Tensor>& v) { return LayerNorm(v[0], Tensor(), Tensor()); },
        {x}, "layer_norm");
  }
  EXPECT_EQ(ErrorOf([] { LayerNorm(Tensor::Zeros({2, 0}), Tensor(), Tensor()); }),
            "layer_norm: expected an input with a non-empty last axis, got shape (2, 0)");
  EXPECT_EQ(ErrorOf([] { LayerNorm(Tensor::Zeros({2, 3}), Tensor::Ones({2}), Tensor()); }),
            "layer_norm: gamma of shape (2,) does not match input of shape (2, 3) (3 features "
            "on the last axis)");
  EXPECT_EQ(ErrorOf([] { LayerNorm(Tensor::Zeros({2, 3}), Tensor(), Tensor(), 0.f); }),
            "layer_norm: epsilon must be positive, got 0");
}

// The running statistics: updated in place in training (Keras' momentum, unbiased
// variance; 0 for a single row), unchanged in inference, untracked when undefined.
TEST(NnFunctionsTest, BatchNormRunningStatistics) {
  const Tensor x = RandomLeaf({9, 4}, 91, -1.f, 3.f).Detach();
  Tensor running_mean = Tensor::Full({4}, 0.5f), running_var = Tensor::Full({4}, 2.f);
  Tensor y = BatchNorm(x, Tensor(), Tensor(), running_mean, running_var, true, 0.8f);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_FALSE(running_mean.requires_grad());
  for (int64_t c = 0; c < 4; ++c) {
    double mean = 0, ss = 0;
    for (int64_t r = 0; r < 9; ++r) mean += x.at({r, c}) / 9.0;
    for (int64_t r = 0; r < 9; ++r) ss += (x.at({r, c}) - mean) * (x.at({r, c}) - mean);
    EXPECT_NEAR(running_mean.at({c}), 0.5 * 0.8 + mean * 0.2, 1e-6);
    EXPECT_NEAR(running_var.at({c}), 2.0 * 0.8 + ss / 8 * 0.2, 1e-6);  // unbiased
  }
  const std::vector<float> mean_after = running_mean.ToVector(), var_after = running_var.ToVector();
  BatchNorm(x, Tensor(), Tensor(), running_mean, running_var, false);
  EXPECT_EQ(running_mean.ToVector(), mean_after);
  EXPECT_EQ(running_var.ToVector(), var_after);
  // One row: the normalised values are 0 (beta), the variance moves toward 0.
  Tensor one = Tensor::FromVector({3.f, -1.f}, {1, 2});
  Tensor m1 = Tensor::Zeros({2}), v1 = Tensor::Ones({2});
  EXPECT_EQ(BatchNorm(one, Tensor(), Tensor::Full({2}, 0.25f), m1, v1, true, 0.5f).ToVector(),
            (std::vector<float>{0.25f, 0.25f}));
  EXPECT_EQ(m1.ToVector(), (std::vector<float>{1.5f, -0.5f}));
  EXPECT_EQ(v1.ToVector(), (std::vector<float>{0.5f, 0.5f}));
  // Untracked statistics in training.
  EXPECT_EQ(BatchNorm(one, Tensor(), Tensor(), Tensor(), Tensor(), true).ToVector(),
            (std::vector<float>{0.f, 0.f}));
}

TEST(NnFunctionsTest, BatchNormErrors) {
  const Tensor rm = Tensor::Zeros({3}), rv = Tensor::Ones({3});
  EXPECT_EQ(ErrorOf([&] { BatchNorm(Tensor::Zeros({2, 3, 3}), Tensor(), Tensor(), rm, rv, true); }),
            "batch_norm: expected an input of shape (batch, channels) or (batch, height, width, "
            "channels), got (2, 3, 3)");
  EXPECT_EQ(ErrorOf([&] {
              BatchNorm(Tensor::Zeros({2, 3}), Tensor::Ones({4}), Tensor(), rm, rv, true);
            }),
            "batch_norm: gamma of shape (4,) does not match input of shape (2, 3) with 3 channels");
  EXPECT_EQ(ErrorOf([&] {
              BatchNorm(Tensor::Zeros({2, 2, 2, 3}), Tensor(), Tensor(), rm, Tensor::Ones({2}),
                        true);
            }),
            "batch_norm: running_var of shape (2,) does not match input of shape (2, 2, 2, 3) "
            "with 3 channels");
  EXPECT_EQ(ErrorOf([&] {
              BatchNorm(Tensor::Zeros({2, 3}), Tensor(), Tensor(), rm, Tensor(), true);
            }),
            "batch_norm: running_mean and running_var must both be given or both be undefined");
  EXPECT_EQ(ErrorOf([&] {
              BatchNorm(Tensor::Zeros({2, 3}), Tensor(), Tensor(), Tensor(), Tensor(), false);
            }),
            "batch_norm: inference (training = false) needs running_mean and running_var");
  EXPECT_EQ(ErrorOf([&] {
              BatchNorm(Tensor::Zeros({2, 3}), Tensor(), Tensor(), RandomLeaf({3}, 1), rv, true);
            }),
            "batch_norm: running_mean and running_var are statistics updated in place and must "
            "not require a gradient");
  EXPECT_EQ(ErrorOf([&] { BatchNorm(Tensor::Zeros({0, 3}), Tensor(), Tensor(), rm, rv, true); }),
            "batch_norm: training needs at least one value per channel, got input of shape (0, 3)");
  EXPECT_EQ(BatchNorm(Tensor::Zeros({0, 3}), Tensor(), Tensor(), rm, rv, false).shape(),
            (Shape{0, 3}));
  EXPECT_EQ(ErrorOf([&] {
              BatchNorm(Tensor::Zeros({2, 3}), Tensor(), Tensor(), rm, rv, true, 1.5f);
            }),
            "batch_norm: momentum must be in [0, 1], got 1.5");
  EXPECT_EQ(ErrorOf([&] {
              BatchNorm(Tensor::Zeros({2, 3}), Tensor(), Tensor(), rm, rv, true, 0.9f, 0.f);
            }),
            "batch_norm: epsilon must be positive, got 0");
}

// ---- SyncBatchNorm.

// x split into shards of `rows` rows each (rows sum to x's first dimension), as leaves.
std::vector<Tensor> Shards(const Tensor& x, const std::vector<int64_t>& rows) {
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t r : rows) {
    out.push_back(x.Narrow(0, at, r).Clone().SetRequiresGrad());
    at += r;
  }
  return out;
}

// The whole batch: SyncBatchNorm over shards normalises as BatchNorm over the batch, and
// so gives PyTorch's F.batch_norm numbers (the constants of BatchNormMatchesPyTorch, from
// autograd/testdata/batch_norm_pytorch.py): the outputs, the gradients of sum(w * y) (x's
// per shard; gamma's and beta's summed over the shards) and the running statistics.
TEST(NnFunctionsTest, SyncBatchNormMatchesPyTorch) {
  struct Case {
    const char* name;
    Shape shape;
    std::vector<int64_t> rows;
    absl::Span<const float> y, dx, dgamma, dbeta, running_mean, running_var;
  };
  const Case cases[] = {
      {"Train4D", {2, 3, 2, 3}, {1, 1}, kTrain4DY, kTrain4DDx, kTrain4DDgamma, kTrain4DDbeta,
       kTrain4DRunningMean, kTrain4DRunningVar},
      {"Train2D", {5, 4}, {2, 1, 2}, kTrain2DY, kTrain2DDx, kTrain2DDgamma, kTrain2DDbeta,
       kTrain2DRunningMean, kTrain2DRunningVar},
  };
  for (const Case& k : cases) {
    const int64_t c = k.shape.back();
    const Tensor x = ByFormula(k.shape, [](int64_t i) { return std::sin(0.37 * i + 0.1) * 2; });
    const Tensor w = ByFormula(k.shape, [](int64_t i) { return std::cos(0.23 * i + 0.5); });
    Tensor gamma = ByFormula({c}, [](int64_t i) { return 0.8 + 0.3 * i; });
    Tensor beta = ByFormula({c}, [](int64_t i) { return 0.1 * i - 0.2; });
    Tensor running_mean = ByFormula({c}, [](int64_t i) { return 0.05 * i - 0.1; });
    Tensor running_var = ByFormula({c}, [](int64_t i) { return 1 + 0.5 * i; });
    gamma.SetRequiresGrad();
    beta.SetRequiresGrad();
    std::vector<Tensor> xs = Shards(x, k.rows);
    std::vector<Tensor> ys =
        SyncBatchNorm(xs, gamma, beta, running_mean, running_var, 0.9f, 1e-3f);
    Tensor y = Concat(ys, 0);
    Sum(Mul(y, w)).Backward();
    std::vector<Tensor> dxs;
    for (const Tensor& s : xs) dxs.push_back(s.grad());
    ExpectNearAll(k.y, y, std::string(k.name) + " y");
    ExpectNearAll(k.dx, Concat(dxs, 0), std::string(k.name) + " dx");
    ExpectNearAll(k.dgamma, gamma.grad(), std::string(k.name) + " dgamma");
    ExpectNearAll(k.dbeta, beta.grad(), std::string(k.name) + " dbeta");
    ExpectNearAll(k.running_mean, running_mean, std::string(k.name) + " running_mean");
    ExpectNearAll(k.running_var, running_var, std::string(k.name) + " running_var");
  }
}

// One shard is BatchNorm: the same outputs and running statistics, bit for bit (the same
// moments and kernels); the gradients agree to rounding (x's is computed in two terms).
TEST(NnFunctionsTest, SyncBatchNormOfOneShardIsBatchNorm) {
  Tensor x = RandomLeaf({3, 5, 5, 7}, 61, -2.f, 3.f);
  Tensor gamma = RandomLeaf({7}, 62, 0.5f, 1.5f), beta = RandomLeaf({7}, 63);
  Tensor x2 = x.Detach().Clone().SetRequiresGrad();
  Tensor gamma2 = gamma.Detach().Clone().SetRequiresGrad();
  Tensor beta2 = beta.Detach().Clone().SetRequiresGrad();
  Tensor rm = Tensor::Zeros({7}), rv = Tensor::Ones({7}), rm2 = rm.Clone(), rv2 = rv.Clone();
  const Tensor w = RandomLeaf({3, 5, 5, 7}, 64).Detach();
  Tensor y = SyncBatchNorm({x}, gamma, beta, rm, rv, 0.9f, 1e-3f)[0];
  Tensor y2 = BatchNorm(x2, gamma2, beta2, rm2, rv2, true, 0.9f, 1e-3f);
  EXPECT_EQ(y.ToVector(), y2.ToVector());
  EXPECT_EQ(rm.ToVector(), rm2.ToVector());
  EXPECT_EQ(rv.ToVector(), rv2.ToVector());
  Sum(Mul(y, w)).Backward();
  Sum(Mul(y2, w)).Backward();
  EXPECT_EQ(gamma.grad().ToVector(), gamma2.grad().ToVector());
  EXPECT_EQ(beta.grad().ToVector(), beta2.grad().ToVector());
  const std::vector<float> dx = x.grad().ToVector(), dx2 = x2.grad().ToVector();
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], dx2[i], 1e-5) << i;
}

// Both ops pass the gradient check over three shards of odd sizes, and fail it with either
// backward halved; images and feature vectors, with and without gamma and beta.
TEST(NnFunctionsTest, SyncBatchNormGradients) {
  for (const Shape& per_sample : {Shape{3, 5, 3}, Shape{5}}) {
    SCOPED_TRACE(ShapeToString(per_sample));
    const int64_t c = per_sample.back();
    std::vector<Tensor> inputs;
    const int64_t rows[] = {2, 3, 1};
    for (int i = 0; i < 3; ++i) {
      Shape shape = per_sample;
      shape.insert(shape.begin(), rows[i]);
      inputs.push_back(RandomLeaf(shape, 71 + i, -2.f, 3.f));
    }
    inputs.push_back(RandomLeaf({c}, 75, 0.5f, 1.5f));
    inputs.push_back(RandomLeaf({c}, 76));
    const testing::TensorFn affine = [](const std::vector<Tensor>& v) {
      return Concat(SyncBatchNorm({v[0], v[1], v[2]}, v[3], v[4], Tensor(), Tensor()), 0);
    };
    for (const char* op : {"sync_batch_norm", "sync_batch_norm_stats"}) {
      testing::ExpectGradCheckCatchesHalvedBackward(affine, inputs, op);
    }
    const testing::TensorFn plain = [](const std::vector<Tensor>& v) {
      return Concat(SyncBatchNorm({v[0], v[1], v[2]}, Tensor(), Tensor(), Tensor(), Tensor(),
                                  0.9f, 1e-5f),
                    0);
    };
    inputs.resize(3);
    for (const char* op : {"sync_batch_norm", "sync_batch_norm_stats"}) {
      testing::ExpectGradCheckCatchesHalvedBackward(plain, inputs, op);
    }
  }
}

// Threads standing for processes: Gather(p, local) returns every participant's `local`,
// in participant order, once all have called it (each call is one collective step).
class ThreadGather {
 public:
  explicit ThreadGather(int participants) : parts_(participants) {}
  std::vector<double> Gather(int p, const std::vector<double>& local) {
    std::unique_lock<std::mutex> lock(mu_);
    parts_[p] = local;
    const int64_t generation = generation_;
    if (++arrived_ == static_cast<int>(parts_.size())) {
      arrived_ = 0;
      result_.clear();
      for (const auto& part : parts_) result_.insert(result_.end(), part.begin(), part.end());
      ++generation_;
      done_.notify_all();
    } else {
      done_.wait(lock, [&] { return generation_ != generation; });
    }
    return result_;
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  std::vector<std::vector<double>> parts_;
  std::vector<double> result_;
  int arrived_ = 0;
  int64_t generation_ = 0;
};

// What one process computes: its shards' outputs, x's gradients (per shard), gamma's and
// beta's per shard (tags and a sink, as data-parallel training takes them), and the
// running statistics.
struct SyncRun {
  std::vector<std::vector<float>> y, dx, dgamma, dbeta;
  std::vector<float> running_mean, running_var;
};

SyncRun RunShards(const std::vector<int>& shards, const ShardGather& gather) {
  const int64_t c = 5;
  Tensor gamma = ByFormula({c}, [](int64_t i) { return 0.7 + 0.2 * i; }).SetRequiresGrad();
  Tensor beta = ByFormula({c}, [](int64_t i) { return 0.3 - 0.1 * i; }).SetRequiresGrad();
  Tensor rm = Tensor::Zeros({c}), rv = Tensor::Ones({c});
  std::vector<Tensor> xs, losses;
  for (int j : shards) {  // shard j: 2 + j rows of 3x3 images of c channels
    Tensor x = ByFormula({2 + j, 3, 3, c},
                         [](int64_t i) { return std::sin(0.41 * i + 0.3) * 3 + 1; });
    x = AddScalar(x, 0.5f * j).Detach().SetRequiresGrad();
    xs.push_back(x);
  }
  ShardGradientSink sink;
  std::vector<Tensor> ys = SyncBatchNorm(xs, gamma, beta, rm, rv, 0.9f, 1e-3f, gather, shards);
  for (size_t i = 0; i < shards.size(); ++i) {
    ShardTagScope scope(shards[i]);
    const Tensor w = ByFormula(ys[i].shape(), [](int64_t k) { return std::cos(0.29 * k); });
    losses.push_back(Sum(Mul(Relu(ys[i]), w)));
  }
  Stack(losses, 0).Backward(Tensor::Ones({static_cast<int64_t>(shards.size())}));
  SyncRun run;
  for (size_t i = 0; i < shards.size(); ++i) {
    run.y.push_back(ys[i].ToVector());
    run.dx.push_back(xs[i].grad().ToVector());
    run.dgamma.push_back(sink.grad(gamma, shards[i]).ToVector());
    run.dbeta.push_back(sink.grad(beta, shards[i]).ToVector());
  }
  run.running_mean = rm.ToVector();
  run.running_var = rv.ToVector();
  return run;
}

// The property data-parallel training rests on: however the batch's shards are spread over
// processes (threads here, exchanging through ThreadGather), each shard's outputs and
// gradients, and the running statistics, are the same bits as in one process holding them
// all.
TEST(NnFunctionsTest, SyncBatchNormIsTheSameBitsForAnySplitOfTheShards) {
  const std::vector<int> all = {0, 1, 2, 3};
  const SyncRun whole = RunShards(all, nullptr);
  for (int processes : {2, 4}) {
    SCOPED_TRACE(std::to_string(processes) + " processes");
    ThreadGather exchange(processes);
    std::vector<SyncRun> runs(processes);
    std::vector<std::thread> threads;
    const int per = 4 / processes;
    for (int p = 0; p < processes; ++p) {
      threads.emplace_back([&, p] {
        const std::vector<int> mine(all.begin() + p * per, all.begin() + (p + 1) * per);
        runs[p] = RunShards(mine, [&exchange, p](const std::vector<double>& local, int64_t) {
          return exchange.Gather(p, local);
        });
      });
    }
    for (std::thread& t : threads) t.join();
    for (int p = 0; p < processes; ++p) {
      EXPECT_EQ(runs[p].running_mean, whole.running_mean);
      EXPECT_EQ(runs[p].running_var, whole.running_var);
      for (int i = 0; i < per; ++i) {
        const int j = p * per + i;
        EXPECT_EQ(runs[p].y[i], whole.y[j]) << "shard " << j;
        EXPECT_EQ(runs[p].dx[i], whole.dx[j]) << "shard " << j;
        EXPECT_EQ(runs[p].dgamma[i], whole.dgamma[j]) << "shard " << j;
        EXPECT_EQ(runs[p].dbeta[i], whole.dbeta[j]) << "shard " << j;
      }
    }
  }
}

TEST(NnFunctionsTest, SyncBatchNormErrors) {
  const Tensor rm = Tensor::Zeros({3}), rv = Tensor::Ones({3});
  const Tensor a = Tensor::Zeros({2, 3}), b = Tensor::Zeros({4, 3});
  EXPECT_EQ(ErrorOf([&] { SyncBatchNorm({}, Tensor(), Tensor(), rm, rv); }),
            "sync_batch_norm: no shards");
  EXPECT_EQ(ErrorOf([&] {
              SyncBatchNorm({a, Tensor::Zeros({2, 4})}, Tensor(), Tensor(), Tensor(), Tensor());
            }),
            "sync_batch_norm: shards 0 and 1 have shapes (2, 3) and (2, 4); the shards of a "
            "batch differ only in rows");
  EXPECT_EQ(ErrorOf([&] { SyncBatchNorm({a, b}, Tensor::Ones({4}), Tensor(), rm, rv); }),
            "sync_batch_norm: gamma of shape (4,) does not match input of shape (2, 3) with 3 "
            "channels");
  EXPECT_EQ(ErrorOf([&] {
              SyncBatchNorm({a, Tensor::Zeros({0, 3})}, Tensor(), Tensor(), rm, rv);
            }),
            "sync_batch_norm: training needs at least one value per channel, got input of "
            "shape (0, 3)");
  EXPECT_EQ(ErrorOf([&] {
              SyncBatchNorm({a, b}, Tensor(), Tensor(), rm, rv, 0.99f, 1e-3f, nullptr, {1});
            }),
            "sync_batch_norm: 1 shard tags for 2 shards");
  EXPECT_EQ(ErrorOf([&] {
              ShardTagScope scope(2);
              SyncBatchNorm({a}, Tensor(), Tensor(), rm, rv);
            }),
            "sync_batch_norm: called inside ShardTagScope(2); call it outside: it records the "
            "shards' op in each shard's scope (shard_tags) and the statistics in none");
  const ShardGather short_gather = [](const std::vector<double>& local, int64_t) {
    return std::vector<double>(local.begin(), local.end() - 1);
  };
  EXPECT_EQ(ErrorOf([&] {
              SyncBatchNorm({a}, Tensor(), Tensor(), rm, rv, 0.99f, 1e-3f, short_gather);
            }),
            "sync_batch_norm: the shards' gather returned 6 values, not a positive multiple of "
            "7 (one part per shard)");
}

}  // namespace
}  // namespace gradway
