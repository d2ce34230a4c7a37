#include "nn/layers.h"

#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/nn_functions.h"
#include "gtest/gtest.h"
#include "nn/wrappers.h"

namespace gradway {
namespace nn {
namespace {

Tensor Iota(const Shape& shape) {
  Tensor t = Tensor::Empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

void ExpectValues(const Tensor& t, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(t.data()[i], want[i], tol) << "at " << i;
}

TEST(DenseTest, ForwardWithSetWeights) {
  Dense d(DenseOptions(3));
  EXPECT_EQ(d.Build({2}), (Shape{3}));
  d.kernel().CopyFrom(Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3}));
  d.bias().CopyFrom(Tensor::FromVector({0.1f, 0.2f, 0.3f}, {3}));
  Tensor y = d(Tensor::FromVector({1, 1, 2, 0}, {2, 2}));
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  ExpectValues(y, {5.1f, 7.2f, 9.3f, 2.1f, 4.2f, 6.3f});
}

TEST(DenseTest, ActivationsAndNoBias) {
  Dense d(DenseOptions(2).Activation(kRelu).UseBias(false));
  d.Build({2});
  EXPECT_FALSE(d.bias().defined());
  EXPECT_EQ(d.ParameterCount(), 4);
  d.kernel().CopyFrom(Tensor::FromVector({1, -1, 1, -1}, {2, 2}));
  ExpectValues(d(Tensor::FromVector({1, 2}, {1, 2})), {3, 0});

  Dense s(DenseOptions(2).Activation(kSoftmax).KernelInitializer(Zeros()));
  Tensor p = s(Tensor::FromVector({1, 2}, {1, 2}));
  ExpectValues(p, {0.5f, 0.5f});
  ExpectValues(SoftmaxLogits(p), {0, 0});  // what a cross-entropy loss fuses with
}

TEST(DenseTest, GradCheck) {
  Generator gen(1);
  Dense d(DenseOptions(3).Activation(kTanh).BiasInitializer(RandomNormal(0, 1)));
  d.Build({4});
  Tensor x = Tensor::Normal({2, 4}, 0, 1, gen).SetRequiresGrad();
  GradCheckResult r = GradCheck([&](const std::vector<Tensor>& in) { return d(in[0]); },
                                {x, d.kernel(), d.bias()});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0) << r.message;
}

// As Keras: an input of more axes is multiplied along its last one, every position by the
// same kernel: the same numbers as its rows through the layer (values and gradients, with
// the fused ReLU and a softmax over the last axis); the gradient check passes.
TEST(DenseTest, MultipliesTheLastAxisOfLongerInputs) {
  ClearSession();
  Generator gen(2);
  for (ActivationFunction f : {kRelu, kSoftmax, kLinear}) {
    Dense d(DenseOptions(3).Activation(f).BiasInitializer(RandomNormal(0, 1)));
    d.Build({5, 4});
    EXPECT_EQ(d.output_shape(), (Shape{5, 3}));
    EXPECT_EQ(d.kernel().shape(), (Shape{4, 3}));
    Tensor x = Tensor::Normal({2, 5, 4}, 0, 1, gen).SetRequiresGrad();
    Tensor y = d(x);
    EXPECT_EQ(y.shape(), (Shape{2, 5, 3}));
    Tensor w = Tensor::Normal(y.shape(), 0, 1, gen);
    Sum(Mul(y, w)).Backward();
    const std::vector<float> dx = x.grad().ToVector(), dk = d.kernel().grad().ToVector();
    Tensor rows = x.Detach().Reshape({10, 4}).SetRequiresGrad();
    d.kernel().ZeroGrad();
    Tensor y2 = f == kRelu      ? LinearRelu(rows, d.kernel(), d.bias())
                : f == kSoftmax ? ::gradway::Softmax(Linear(rows, d.kernel(), d.bias()))
                                : Linear(rows, d.kernel(), d.bias());
    Sum(Mul(y2, w.Reshape({10, 3}))).Backward();
    EXPECT_EQ(y.ToVector(), y2.ToVector());
    EXPECT_EQ(dx, rows.grad().ToVector());
    EXPECT_EQ(dk, d.kernel().grad().ToVector());
    d.kernel().ZeroGrad();
    GradCheckResult r = GradCheck([&](const std::vector<Tensor>& in) { return d(in[0]); },
                                  {Tensor::Normal({2, 5, 4}, 0, 1, gen).SetRequiresGrad(),
                                   d.kernel(), d.bias()},
                                  GradCheckOptions().SkipNonsmooth(f == kRelu));
    EXPECT_TRUE(r.ok) << r.message;
  }
  Dense ok(DenseOptions(3));
  ok(Tensor::Zeros({2, 5}));
  EXPECT_THROW(ok(Tensor::Zeros({2, 6})), Error);
  EXPECT_THROW(ok(Tensor::Zeros({2, 4, 5})), Error);
}

// ---- Begin of the output of nn/testdata/conv1d_pytorch.py.
const std::vector<float> kConv1DSameY = {
    0.145231873f, 0.194229871f, 0.202744722f, 0.185940862f, -0.357951313f, -0.330799162f,
    -0.257102251f, -0.132500559f, -0.0178012997f, 0.0683811009f, 0.134940878f,
    0.187420994f, -0.290783554f, -0.237655163f, -0.153421462f, -0.0354688466f,
    0.0306352526f, 0.183812186f, 0.298232794f, 0.37150681f, -0.159335732f, -0.137824714f,
    -0.101755992f, -0.0405324399f, 0.0212506354f, 0.221671626f, 0.377060801f,
    0.478236854f, -0.0124255866f, -0.0435769409f, -0.0757929832f, -0.0871577263f,
};
const std::vector<float> kConv1DSameDx = {
    1.29284048f, 0.656114221f, -1.38357902f, -0.180451229f, 1.41498017f, -0.0152361849f,
    0.0715664998f, 0.269874424f, -0.108889304f, -0.908061087f, 1.28167176f, 0.730809867f,
    -1.20612752f, -0.329123437f, 1.25164425f, -0.919792414f, 0.137945056f, 0.900714874f,
    -1.53295934f, -0.668653727f, 1.62543201f, -0.651267707f, -0.481044292f, 0.717794657f,
    0.669714272f, -1.48835695f, -0.463879108f, 0.743857086f, 0.0858010426f, -0.755723119f,
    1.01784897f, -0.688821197f, -0.922587097f, 1.55255497f, 0.58500427f, -1.63345921f,
    0.563552678f, 0.65375334f, -0.653964758f, 1.13728106f, 0.623013735f, -1.22344184f,
};
const std::vector<float> kConv1DCausalY = {
    0.216988325f, 0.251655191f, 0.236320198f, 0.190101087f, 0.145231873f, 0.194229871f,
    0.202744722f, 0.185940862f, -0.24975577f, -0.117090017f, 0.0266964529f, 0.174345702f,
    -0.357951313f, -0.330799162f, -0.257102251f, -0.132500559f, -0.23518008f,
    -0.232631132f, -0.199809566f, -0.125579983f, -0.0178012997f, 0.0683811009f,
    0.134940878f, 0.187420994f, 0.0527474135f, 0.237910166f, 0.375349462f, 0.458859265f,
    0.0388928056f, 0.275319248f, 0.457821369f, 0.572723627f, 0.0306352526f, 0.183812186f,
    0.298232794f, 0.37150681f, -0.340367794f, -0.334831327f, -0.282081693f, -0.174286723f,
    -0.159335732f, -0.137824714f, -0.101755992f, -0.0405324399f, 0.032065317f,
    0.156726792f, 0.247121572f, 0.304841816f, 0.0212506354f, 0.221671626f, 0.377060801f,
    0.478236854f, -0.179768175f, -0.0151229277f, 0.143741101f, 0.287066817f,
};
const std::vector<float> kConv1DCausalDx = {
    -1.04644871f, 2.85527182f, 0.651573598f, -2.53676057f, 1.22617304f, 2.36718416f,
    -2.02719212f, -1.36959112f, 2.21660256f, 0.0805325434f, -2.88562489f, 0.318540454f,
    2.1247685f, -2.12674832f, -1.8306458f, 1.57126808f, 1.33813941f, -1.75632858f,
    -0.359101981f, 1.68312192f, 0.126331449f, -1.40711915f, 2.72138143f, 1.03076065f,
    -2.60189128f, 0.796467364f, 2.4917419f, -1.74543703f, -1.75634909f, 1.98833454f,
    0.487049371f, -2.92453098f, -0.0825958103f, 2.33556533f, -1.78713024f, -2.08841085f,
    1.51788652f, 1.61527252f, -1.74127364f, -0.401073247f, 1.71478879f, 0.163923264f,
};
// ---- End of the output of nn/testdata/conv1d_pytorch.py.

// Conv1D against PyTorch's conv1d (same padding with stride 2, and causal), values and
// input gradients within 1e-5; Keras' kernel layout; causality; gradient check; errors.
TEST(Conv1DTest, SameAndCausalMatchPyTorch) {
  ClearSession();
  Tensor x = Tensor::Empty({2, 7, 3});
  for (int64_t i = 0; i < 42; ++i) x.data()[i] = static_cast<float>(std::sin(0.37 * i + 0.1));
  struct Case {
    Conv1DOptions options;
    const std::vector<float>&y, &dx;
  };
  const Case cases[] = {
      {Conv1DOptions(4, 3).Padding(Padding::kSame).Strides(2), kConv1DSameY, kConv1DSameDx},
      {Conv1DOptions(4, 3).Causal(), kConv1DCausalY, kConv1DCausalDx}};
  for (const Case& c : cases) {
    Conv1D conv(c.options);
    conv.Build({7, 3});
    ASSERT_EQ(conv.kernel().shape(), (Shape{3, 3, 4}));
    for (int64_t i = 0; i < 36; ++i) {
      conv.kernel().data()[i] = static_cast<float>(std::cos(0.41 * i + 0.3) * 0.5);
    }
    for (int64_t i = 0; i < 4; ++i) conv.bias().data()[i] = static_cast<float>(0.1 * i - 0.15);
    Tensor in = x.Clone().SetRequiresGrad();
    Tensor y = conv(in);
    ASSERT_EQ(y.numel(), static_cast<int64_t>(c.y.size()));
    Tensor w = Tensor::Empty(y.shape());
    for (int64_t i = 0; i < w.numel(); ++i) {
      w.data()[i] = static_cast<float>(std::cos(0.23 * i + 0.2));
    }
    Sum(Mul(y, w)).Backward();
    const std::vector<float> got = y.ToVector(), dx = in.grad().ToVector();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], c.y[i], 1e-5) << i;
    for (size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], c.dx[i], 1e-5) << i;
    const GradCheckResult r = GradCheck(
        [&](const std::vector<Tensor>& v) { return conv(v[0]); },
        {x.Clone().SetRequiresGrad(), conv.kernel(), conv.bias()});
    EXPECT_TRUE(r.ok) << r.message;
  }
  // Causal: changing a later step leaves every earlier output unchanged.
  Conv1D causal(Conv1DOptions(2, 4).Causal().Activation(kRelu));
  Tensor a = x.Clone();
  const std::vector<float> before = causal(a).ToVector();
  a.data()[5 * 3 + 1] += 1.f;  // sample 0, step 5
  const std::vector<float> after = causal(a).ToVector();
  for (int64_t t = 0; t < 5; ++t) {
    for (int64_t f = 0; f < 2; ++f) {
      EXPECT_EQ(after[t * 2 + f], before[t * 2 + f]) << t;
    }
  }
  EXPECT_NE(std::vector<float>(after.begin() + 10, after.begin() + 14),
            std::vector<float>(before.begin() + 10, before.begin() + 14));  // steps 5 and 6
  EXPECT_EQ(causal.output_shape(), (Shape{7, 2}));
  try {
    Conv1D(4, 3)(Tensor::Zeros({2, 4, 4, 1}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "conv1d_3 (Conv1D): expects input (None, steps, channels), got (None, 4, 4, 1)");
  }
}

// TimeDistributed(Dense): every step through the same Dense, the same bits as its rows;
// the wrapped layer's weights are the wrapper's children; gradient check; errors.
TEST(TimeDistributedTest, AppliesTheLayerToEveryStep) {
  ClearSession();
  Generator gen(8);
  TimeDistributed td(
      Dense(DenseOptions(3).Activation(kTanh).BiasInitializer(RandomNormal(0, 1))));
  const Tensor x = Tensor::Normal({2, 4, 5}, 0, 1, gen).SetRequiresGrad();
  const Tensor y = td(x);
  EXPECT_EQ(y.shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(td.output_shape(), (Shape{4, 3}));
  auto& dense = static_cast<Dense&>(td.layer());
  EXPECT_EQ(y.ToVector(),
            Tanh(Linear(x.Reshape({8, 5}), dense.kernel(), dense.bias())).ToVector());
  const NamedTensors p = td.NamedParameters();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].first, "dense/kernel");
  const GradCheckResult r = GradCheck([&](const std::vector<Tensor>& in) { return td(in[0]); },
                                      {x, dense.kernel(), dense.bias()});
  EXPECT_TRUE(r.ok) << r.message;
  try {
    TimeDistributed(Dense(2))(Tensor::Zeros({3, 4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "time_distributed_1 (TimeDistributed): expects input (None, steps, ...), got "
              "(None, 4)");
  }
}

// Embedding: rows of the table for integer ids (any input rank), the table's gradient
// adding repeated ids' rows, the gradient check; ids that are not integers in range are
// errors naming the layer.
TEST(EmbeddingTest, LooksUpRowsAndScattersGradients) {
  ClearSession();
  Embedding emb(EmbeddingOptions(6, 3).EmbeddingsInitializer(RandomNormal(0, 1)));
  EXPECT_EQ(emb.name(), "embedding");
  const Tensor ids = Tensor::FromVector({4, 0, 4, 5, 2, 4}, {2, 3});
  Tensor y = emb(ids);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 3}));
  EXPECT_EQ(emb.output_shape(), (Shape{3, 3}));
  ASSERT_EQ(emb.embeddings().shape(), (Shape{6, 3}));
  const std::vector<float> table = emb.embeddings().ToVector(), got = y.ToVector();
  for (int64_t i = 0; i < 6; ++i) {
    const int64_t id = static_cast<int64_t>(ids.data()[i]);
    for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(got[i * 3 + c], table[id * 3 + c]);
  }
  Generator gen(3);
  const Tensor w = Tensor::Normal(y.shape(), 0, 1, gen);
  Sum(Mul(y, w)).Backward();
  std::vector<float> want(18, 0.f);
  for (int64_t i = 0; i < 6; ++i) {
    for (int64_t c = 0; c < 3; ++c) {
      want[static_cast<int64_t>(ids.data()[i]) * 3 + c] += w.data()[i * 3 + c];
    }
  }
  EXPECT_EQ(emb.embeddings().grad().ToVector(), want);  // ids 1 and 3 get zeros
  const GradCheckResult r = GradCheck(
      [&](const std::vector<Tensor>& v) { return emb(ids) * v[0]; },
      {Tensor::Normal({2, 3, 3}, 0, 1, gen).SetRequiresGrad()});
  EXPECT_TRUE(r.ok) << r.message;
  const GradCheckResult table_check = GradCheck(
      [&](const std::vector<Tensor>&) { return emb(ids); }, {emb.embeddings()});
  EXPECT_TRUE(table_check.ok) << table_check.message;
  for (float bad : {6.f, -1.f, 1.5f, NAN}) {
    try {
      emb(Tensor::FromVector({0, 1, 2, 3, bad, 4}, {2, 3}));
      FAIL() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("embedding (Embedding): id "), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("at position 4 of input (2, 3) is not an integer in "
                                           "[0, 6)"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(Conv2DTest, OneChannel3x3On4x4) {
  Conv2D valid(Conv2DOptions(1, 3).KernelInitializer(Ones()));
  Tensor x = Iota({1, 4, 4, 1});
  Tensor y = valid(x);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 1}));
  ExpectValues(y, {45, 54, 81, 90});

  Conv2D same(Conv2DOptions(1, 3).KernelInitializer(Ones()).BiasInitializer(Constant(1))
                  .Padding(Padding::kSame));
  Tensor z = same(x);
  EXPECT_EQ(z.shape(), (Shape{1, 4, 4, 1}));
  EXPECT_FLOAT_EQ(z.at({0, 0, 0, 0}), 0 + 1 + 4 + 5 + 1);
  EXPECT_FLOAT_EQ(z.at({0, 1, 1, 0}), 45 + 1);
}

TEST(Conv2DTest, ShapesAndErrors) {
  Conv2D a(Conv2DOptions(8, 3).Strides(2).Padding(Padding::kSame));
  EXPECT_EQ(a.Build({28, 28, 3}), (Shape{14, 14, 8}));
  EXPECT_EQ(a.kernel().shape(), (Shape{3, 3, 3, 8}));
  EXPECT_EQ(a.ParameterCount(), 3 * 3 * 3 * 8 + 8);
  Conv2D b(Conv2DOptions(8, 3).Strides(2));
  EXPECT_EQ(b.Build({28, 28, 3}), (Shape{13, 13, 8}));
  Conv2D c(Conv2DOptions(8, 5));
  try {
    c.Build({4, 4, 1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit input (None, 4, 4, 1)"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(Conv2D(Conv2DOptions(0, 3)), Error);
}

TEST(Conv2DTest, GradCheck) {
  Generator gen(2);
  Conv2D conv(Conv2DOptions(2, 3).Padding(Padding::kSame).Strides(2)
                  .BiasInitializer(RandomNormal(0, 1)));
  conv.Build({5, 5, 2});
  Tensor x = Tensor::Normal({2, 5, 5, 2}, 0, 1, gen).SetRequiresGrad();
  GradCheckResult r = GradCheck([&](const std::vector<Tensor>& in) { return conv(in[0]); },
                                {x, conv.kernel(), conv.bias()});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0) << r.message;
}

TEST(PoolingTest, MaxAndAverage) {
  Tensor x = Iota({1, 4, 4, 1});
  MaxPooling2D mp(2);
  ExpectValues(mp(x), {5, 7, 13, 15});
  AveragePooling2D ap(2);
  ExpectValues(ap(x), {2.5f, 4.5f, 10.5f, 12.5f});
  MaxPooling2D strided(Pooling2DOptions(3).Strides(1));
  EXPECT_EQ(strided(x).shape(), (Shape{1, 2, 2, 1}));
  EXPECT_EQ(mp.ParameterCount(), 0);
}

TEST(PoolingTest, GradCheck) {
  Generator gen(3);
  Tensor x = Tensor::Normal({2, 4, 4, 3}, 0, 1, gen).SetRequiresGrad();
  MaxPooling2D mp(2);
  AveragePooling2D ap(Pooling2DOptions(3).Strides(1).Padding(Padding::kSame));
  GradCheckResult r1 = GradCheck([&](const std::vector<Tensor>& in) { return mp(in[0]); }, {x},
                                 GradCheckOptions().SkipNonsmooth(true));
  EXPECT_TRUE(r1.ok) << r1.message;
  EXPECT_GT(r1.checked, 0) << r1.message;
  GradCheckResult r2 = GradCheck([&](const std::vector<Tensor>& in) { return ap(in[0]); }, {x});
  EXPECT_TRUE(r2.ok) << r2.message;
  EXPECT_GT(r2.checked, 0) << r2.message;
}

// ---- Global pooling and ZeroPadding2D.

// sin(0.37 i + 0.1) * 2 (a * i + b, times scale), or the cosine, at flat index i: the
// formulas of nn/testdata/pooling_padding_layers_pytorch.py.
Tensor Formula(const Shape& shape, double a, double b, double scale, bool sine) {
  Tensor t = Tensor::Empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double u = a * static_cast<double>(i) + b;
    t.data()[i] = static_cast<float>((sine ? std::sin(u) : std::cos(u)) * scale);
  }
  return t;
}

// The message of the Error f throws ("(no error)" if none).
std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The layers' numbers against PyTorch's (F.pad, adaptive_avg_pool2d, adaptive_max_pool2d on
// the NCHW image), by nn/testdata/pooling_padding_layers_pytorch.py (torch 1.13).
TEST(GlobalPoolingTest, ZeroPaddingThenGlobalPoolingMatchPyTorch) {
  const std::vector<float> kPadded = {
      0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.199666828f,
      0.905772567f, 1.48928618f, 1.87123203f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 1.99991524f,
      1.85791945f, 1.46446288f, 0.872798145f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.163004309f,
      -0.568851411f, -1.22371578f, -1.71295595f, 0.f, 0.f,
  };
  const std::vector<float> kAverage = {
      0.204631001f, 0.161295742f,
  };
  const std::vector<float> kMaximum = {
      1.99991524f, 1.87123203f,
  };
  const std::vector<float> kMaximumDx = {
      0.f, 0.f, 0.f, 0.862807095f, 0.955336511f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  };
  Tensor x = Formula({1, 3, 2, 2}, 0.37, 0.1, 2, true).SetRequiresGrad();
  ZeroPadding2D pad({{1, 0}, {2, 1}});
  Tensor padded = pad(x);
  EXPECT_EQ(padded.shape(), (Shape{1, 4, 5, 2}));
  ExpectValues(padded, kPadded);
  GlobalAveragePooling2D average;
  ExpectValues(average(padded), kAverage);
  GlobalMaxPooling2D maximum;
  Tensor y = maximum(padded);
  ExpectValues(y, kMaximum);
  y.Backward(Formula({1, 2}, 0.23, 0.3, 1, false));
  ExpectValues(x.grad(), kMaximumDx);
}

TEST(GlobalPoolingTest, ShapesNamesAndKeepdims) {
  ClearSession();
  GlobalAveragePooling2D average;
  GlobalMaxPooling2D maximum;
  EXPECT_EQ(average.name(), "global_average_pooling2d");
  EXPECT_EQ(maximum.name(), "global_max_pooling2d");
  EXPECT_EQ(average.Build({5, 7, 3}), (Shape{3}));
  EXPECT_EQ(maximum.Build({5, 7, 3}), (Shape{3}));
  EXPECT_EQ(average.ParameterCount(), 0);
  GlobalAveragePooling2D kept(GlobalPooling2DOptions().Keepdims(true).Name("gap"));
  GlobalMaxPooling2D kept_max(GlobalPooling2DOptions().Keepdims(true));
  EXPECT_EQ(kept.name(), "gap");
  EXPECT_EQ(kept.Build({5, 7, 3}), (Shape{1, 1, 3}));
  EXPECT_EQ(kept_max.Build({5, 7, 3}), (Shape{1, 1, 3}));
  // The values are those of the ops, kept as [N, 1, 1, C].
  Tensor x = Formula({2, 5, 7, 3}, 0.37, 0.1, 2, true);
  EXPECT_EQ(average(x).ToVector(), GlobalAvgPool2D(x).ToVector());
  EXPECT_EQ(maximum(x).ToVector(), GlobalMaxPool2D(x).ToVector());
  EXPECT_EQ(kept(x).shape(), (Shape{2, 1, 1, 3}));
  EXPECT_EQ(kept(x).ToVector(), GlobalAvgPool2D(x).ToVector());
  EXPECT_EQ(kept_max(x).ToVector(), GlobalMaxPool2D(x).ToVector());
  // Iota: the mean of each channel's 4 positions, and its last (largest) value.
  Tensor iota = Iota({1, 2, 2, 2});  // channel 0: 0, 2, 4, 6; channel 1: 1, 3, 5, 7
  ExpectValues(GlobalAveragePooling2D()(iota), {3, 4});
  ExpectValues(GlobalMaxPooling2D()(iota), {6, 7});
}

TEST(GlobalPoolingTest, ErrorsNameTheLayer) {
  ClearSession();
  GlobalAveragePooling2D average;
  EXPECT_EQ(ErrorOf([&] { average.Build({5}); }),
            "global_average_pooling2d (GlobalAveragePooling2D): expects input (None, height, "
            "width, channels), got (None, 5)");
  GlobalMaxPooling2D maximum;
  EXPECT_EQ(ErrorOf([&] { maximum(Tensor::Zeros({4, 5, 6})); }),
            "global_max_pooling2d (GlobalMaxPooling2D): expects input (None, height, width, "
            "channels), got (None, 5, 6)");
  GlobalMaxPooling2D empty;
  EXPECT_EQ(ErrorOf([&] { empty.Build({0, 3, 2}); }),
            "global_max_pooling2d_1 (GlobalMaxPooling2D): invalid input shape (None, 0, 3, 2)");
}

TEST(GlobalPoolingTest, GradCheck) {
  Generator gen(4);
  Tensor x = Tensor::Normal({2, 3, 5, 3}, 0, 1, gen).SetRequiresGrad();
  GlobalAveragePooling2D average(GlobalPooling2DOptions().Keepdims(true));
  GlobalMaxPooling2D maximum;
  GradCheckResult r1 =
      GradCheck([&](const std::vector<Tensor>& in) { return average(in[0]); }, {x});
  EXPECT_TRUE(r1.ok) << r1.message;
  EXPECT_GT(r1.checked, 0) << r1.message;
  GradCheckResult r2 = GradCheck([&](const std::vector<Tensor>& in) { return maximum(in[0]); },
                                 {x}, GradCheckOptions().SkipNonsmooth(true));
  EXPECT_TRUE(r2.ok) << r2.message;
  EXPECT_GT(r2.checked, 0) << r2.message;
}

// GlobalAveragePooling1D / GlobalMaxPooling1D: torch.mean(x, 1) and torch.amax(x, 1) of a
// sequence, computed here by hand; keepdims; the gradient check; errors and names.
TEST(GlobalPooling1DTest, MeanAndMaxOverStepsAndTheirGradients) {
  ClearSession();
  Generator gen(7);
  const Tensor x = Tensor::Uniform({2, 5, 3}, -1.f, 1.f, gen).SetRequiresGrad();
  GlobalAveragePooling1D avg;
  GlobalMaxPooling1D max(GlobalPooling1DOptions().Keepdims(true));
  EXPECT_EQ(avg.name(), "global_average_pooling1d");
  EXPECT_EQ(max.name(), "global_max_pooling1d");
  const std::vector<float> a = avg(x).ToVector(), m = max(x).ToVector();
  EXPECT_EQ(avg.output_shape(), (Shape{3}));
  EXPECT_EQ(max.output_shape(), (Shape{1, 3}));
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t c = 0; c < 3; ++c) {
      double sum = 0;
      float best = -INFINITY;
      for (int64_t t = 0; t < 5; ++t) {
        const float v = x.data()[(n * 5 + t) * 3 + c];
        sum += v;
        best = std::max(best, v);
      }
      EXPECT_NEAR(a[n * 3 + c], sum / 5, 1e-6);
      EXPECT_EQ(m[n * 3 + c], best);
    }
  }
  for (Module* layer : {static_cast<Module*>(&avg), static_cast<Module*>(&max)}) {
    const GradCheckResult r =
        GradCheck([&](const std::vector<Tensor>& in) { return (*layer)(in[0]); }, {x});
    EXPECT_TRUE(r.ok) << layer->name() << ": " << r.message;
  }
  try {
    GlobalAveragePooling1D()(Tensor::Zeros({2, 4, 4, 1}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "global_average_pooling1d_1 (GlobalAveragePooling1D): expects input (None, "
              "steps, features), got (None, 4, 4, 1)");
  }
}

TEST(ZeroPadding2DTest, KerasFormsShapesAndValues) {
  ClearSession();
  ZeroPadding2D all_round;  // Keras' default: 1 on every side
  EXPECT_EQ(all_round.name(), "zero_padding2d");
  EXPECT_EQ(all_round.Build({5, 7, 3}), (Shape{7, 9, 3}));
  EXPECT_EQ(all_round.ParameterCount(), 0);
  ZeroPadding2D two(2);
  EXPECT_EQ(two.Build({5, 7, 3}), (Shape{9, 11, 3}));
  ZeroPadding2D symmetric({1, 3});  // (symmetric_height_pad, symmetric_width_pad)
  EXPECT_EQ(symmetric.Build({5, 7, 3}), (Shape{7, 13, 3}));
  ZeroPadding2D sides({{2, 0}, {1, 4}});  // ((top, bottom), (left, right))
  EXPECT_EQ(sides.Build({5, 7, 3}), (Shape{7, 12, 3}));
  ZeroPadding2D named(ZeroPadding2DOptions(0, 1).Name("pad").InputShape({2, 2, 1}));
  EXPECT_EQ(named.name(), "pad");
  // [[0, 1], [2, 3]] with one zero column each side.
  ExpectValues(named(Iota({1, 2, 2, 1})), {0, 0, 1, 0, 0, 2, 3, 0});
  Tensor x = Formula({2, 5, 7, 3}, 0.37, 0.1, 2, true);
  Tensor y = sides(x);
  for (int64_t h = 0; h < 7; ++h) {
    for (int64_t w = 0; w < 12; ++w) {
      const bool inside = h >= 2 && w >= 1 && w < 8;
      EXPECT_EQ(y.at({1, h, w, 2}), inside ? x.at({1, h - 2, w - 1, 2}) : 0.f) << h << "," << w;
    }
  }
}

TEST(ZeroPadding2DTest, ErrorsAndGradCheck) {
  ClearSession();
  EXPECT_EQ(ErrorOf([] { ZeroPadding2D({{1, -1}, {0, 0}}); }),
            "ZeroPadding2D: padding must be non-negative, got ((1, -1), (0, 0))");
  ZeroPadding2D pad;  // the refused one above took "zero_padding2d", as in Keras
  EXPECT_EQ(ErrorOf([&] { pad(Tensor::Zeros({4, 6})); }),
            "zero_padding2d_1 (ZeroPadding2D): expects input (None, height, width, channels), "
            "got (None, 6)");
  Generator gen(5);
  ZeroPadding2D sides({{2, 1}, {0, 3}});
  Tensor x = Tensor::Normal({2, 3, 5, 3}, 0, 1, gen).SetRequiresGrad();
  GradCheckResult r = GradCheck([&](const std::vector<Tensor>& in) { return sides(in[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0) << r.message;
}

TEST(DropoutTest, ScalesInTrainingAndIsIdentityInEval) {
  Dropout d(DropoutOptions(0.25).Seed(7));
  Tensor x = Tensor::Ones({100, 100});
  Tensor y;
  {
    RandomStepScope step(5);
    y = d(x);
  }
  int64_t zeros = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    float v = y.data()[i];
    ASSERT_TRUE(v == 0.f || std::fabs(v - 1.f / 0.75f) < 1e-6f) << v;
    zeros += v == 0.f;
  }
  EXPECT_NEAR(zeros / 10000.0, 0.25, 0.03);
  d.Eval();
  Tensor e = d(x);
  ExpectValues(e, x.ToVector());
  // The mask is a function of (seed, step): another layer with the same seed at the same
  // step draws the same one, at the next step another.
  Dropout d2(DropoutOptions(0.25).Seed(7));
  Tensor y2, y3;
  {
    RandomStepScope step(5);
    y2 = d2(x);
  }
  {
    RandomStepScope step(6);
    y3 = d2(x);
  }
  EXPECT_EQ(y.ToVector(), y2.ToVector());
  EXPECT_NE(y.ToVector(), y3.ToVector());
  // Outside any scope each call is a new step.
  EXPECT_NE(d2(x).ToVector(), d2(x).ToVector());
  EXPECT_THROW(Dropout(1.0), Error);
}

TEST(DropoutTest, GradCheck) {
  Generator gen(4);
  Tensor x = Tensor::Normal({4, 6}, 0, 1, gen).SetRequiresGrad();
  Dropout d(DropoutOptions(0.5).Seed(3));
  d.Build({6});
  GradCheckResult r = GradCheck(
      [&](const std::vector<Tensor>& in) {
        RandomStepScope step(0);  // the same mask for every evaluation
        return d(in[0]);
      },
      {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0) << r.message;
}

TEST(FlattenReluSoftmaxTest, Forward) {
  Flatten f;
  Tensor y = f(Iota({2, 2, 2, 3}));
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(y.at({1, 0}), 12);
  ReLU r;
  ExpectValues(r(Tensor::FromVector({-1, 2}, {1, 2})), {0, 2});
  Softmax s;
  ExpectValues(s(Tensor::FromVector({0, std::log(3.f)}, {1, 2})), {0.25f, 0.75f});
  EXPECT_TRUE(SoftmaxLogits(s(Tensor::FromVector({0, 1}, {1, 2}))).defined());
  Activation tanh_layer("tanh");
  ExpectValues(tanh_layer(Tensor::FromVector({0, 100}, {1, 2})), {0, 1});
  EXPECT_EQ(Activation(kRelu).function(), kRelu);
  EXPECT_THROW(Activation("mish"), Error);
}

TEST(ActivationTest, Names) {
  EXPECT_STREQ(ActivationName(kTanh), "tanh");
  EXPECT_EQ(ActivationFromName("softmax"), kSoftmax);
  ExpectValues(ApplyActivation(kSigmoid, Tensor::Zeros({1, 1})), {0.5f});
  // Keras' strings, each the inverse of the other, and "swish" for silu.
  const std::vector<std::pair<ActivationFunction, const char*>> names = {
      {kLinear, "linear"}, {kRelu, "relu"}, {kSigmoid, "sigmoid"}, {kTanh, "tanh"},
      {kSoftmax, "softmax"}, {kElu, "elu"}, {kGelu, "gelu"}, {kSilu, "silu"},
      {kHardSigmoid, "hard_sigmoid"}, {kLeakyRelu, "leaky_relu"}};
  for (const auto& [a, name] : names) {
    EXPECT_STREQ(ActivationName(a), name);
    EXPECT_EQ(ActivationFromName(name), a);
    EXPECT_EQ(Activation(name).function(), a);
  }
  EXPECT_EQ(ActivationFromName("swish"), kSilu);
  try {
    ActivationFromName("mish");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "activation: unknown name 'mish' (expected linear, relu, sigmoid, tanh, softmax, "
              "elu, gelu, silu (or swish), hard_sigmoid or leaky_relu)");
  }
}

// The new activations apply the ops of autograd/functions.h (whose numbers are checked
// against PyTorch's in autograd/functions_pytorch_test.cc) with Keras' defaults: ELU's
// alpha 1, GELU's exact form, leaky_relu's slope 0.2.
TEST(ActivationTest, KerasFunctionsAndTheirDefaults) {
  Generator gen(5);
  const Tensor x = Tensor::Uniform({3, 7}, -4.f, 4.f, gen);
  const std::vector<std::pair<ActivationFunction, Tensor>> cases = {
      {kElu, Elu(x, 1.f)},
      {kGelu, Gelu(x, /*approximate=*/false)},
      {kSilu, Mul(x, Sigmoid(x))},
      {kHardSigmoid, Div(Clip(AddScalar(x, 3.f), 0.f, 6.f), Tensor::Scalar(6.f))},
      {kLeakyRelu, Where(Greater(x, Tensor::Scalar(0.f)), x, MulScalar(x, 0.2f))},
  };
  for (const auto& [a, want] : cases) {
    SCOPED_TRACE(ActivationName(a));
    ExpectValues(ApplyActivation(a, x), want.ToVector(), 1e-6f);
    ExpectValues(Activation(a)(x), want.ToVector(), 1e-6f);
  }
  ExpectValues(ApplyActivation(kLeakyRelu, Tensor::FromVector({-1, 2}, {2})), {-0.2f, 2});
  EXPECT_EQ(kLeakyReluActivationSlope, 0.2f);
}

// Dense and Conv2D take the new activations after their affine part.
TEST(ActivationTest, DenseAndConv2DApplyThem) {
  for (ActivationFunction a : {kElu, kGelu, kSilu, kHardSigmoid, kLeakyRelu}) {
    SCOPED_TRACE(ActivationName(a));
    Dense d(DenseOptions(3).Activation(a).BiasInitializer(RandomNormal(0, 1)));
    Generator gen(6);
    const Tensor x = Tensor::Normal({2, 4}, 0, 1, gen);
    const Tensor y = d(x);
    ExpectValues(y, ApplyActivation(a, Linear(x, d.kernel(), d.bias())).ToVector(), 0);
    Conv2D c(Conv2DOptions(2, 3).Activation(a).Padding(Padding::kSame));
    const Tensor image = Tensor::Normal({1, 4, 5, 2}, 0, 1, gen);
    const Tensor z = c(image);
    ExpectValues(z, ApplyActivation(a, ::gradway::Conv2D(image, c.kernel(), c.bias(), 1, 1,
                                                         Padding::kSame)).ToVector(), 0);
  }
}

TEST(LeakyReLUTest, KerasDefaultsNamesAndErrors) {
  ClearSession();
  LeakyReLU layer;  // Keras' negative_slope 0.3
  EXPECT_EQ(layer.name(), "leaky_re_lu");
  EXPECT_EQ(layer.Description(), "leaky_re_lu (LeakyReLU)");
  EXPECT_EQ(layer.options().negative_slope, 0.3f);
  const Tensor x = Tensor::FromVector({-2, -0.5f, 0, 1.5f, 3, -1}, {2, 3});
  const Tensor y = layer(x);
  EXPECT_EQ(y.shape(), x.shape());
  ExpectValues(y, {-0.6f, -0.15f, 0, 1.5f, 3, -0.3f});
  EXPECT_EQ(layer.ParameterCount(), 0);
  EXPECT_EQ(LeakyReLU().name(), "leaky_re_lu_1");
  LeakyReLU named(LeakyReLUOptions(0.1f).Name("slope").InputShape({3}));
  EXPECT_EQ(named.name(), "slope");
  ExpectValues(named(x), LeakyRelu(x, 0.1f).ToVector(), 0);
  EXPECT_EQ(LeakyReLU(0.f)(x).ToVector(), Relu(x).ToVector());
  try {
    LeakyReLU bad(-0.1f);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "LeakyReLU: negative_slope must be finite and >= 0, got -0.1");
  }
  EXPECT_THROW(LeakyReLU(std::nanf("")), Error);
}

TEST(ELUTest, KerasDefaultsNamesAndErrors) {
  ClearSession();
  ELU layer;  // Keras' alpha 1.0
  EXPECT_EQ(layer.name(), "elu");
  EXPECT_EQ(layer.Description(), "elu (ELU)");
  EXPECT_EQ(layer.options().alpha, 1.f);
  Generator gen(7);
  const Tensor x = Tensor::Uniform({4, 5}, -3.f, 3.f, gen);
  ExpectValues(layer(x), Elu(x, 1.f).ToVector(), 0);
  ExpectValues(ELU()(Tensor::FromVector({-1, 2}, {1, 2})), {std::expm1(-1.f), 2});
  ELU half(ELUOptions().Alpha(0.5f).Name("half_elu"));
  EXPECT_EQ(half.name(), "half_elu");
  ExpectValues(half(x), Elu(x, 0.5f).ToVector(), 0);
  EXPECT_EQ(ELU(0.5f).options().alpha, 0.5f);
  EXPECT_EQ(layer.ParameterCount(), 0);
  try {
    ELU bad(INFINITY);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "ELU: alpha must be finite, got inf");
  }
}

// The layers' gradients are their ops' (checked in autograd/functions_test.cc); here, that
// a layer's backward reaches its input.
TEST(LeakyReLUTest, GradCheck) {
  Generator gen(8);
  Tensor x = Tensor::Normal({3, 5}, 0, 1, gen).SetRequiresGrad();
  LeakyReLU leaky(0.25f);
  ELU elu(0.7f);
  for (Module* m : std::vector<Module*>{&leaky, &elu}) {
    GradCheckResult r = GradCheck([&](const std::vector<Tensor>& in) { return (*m)(in[0]); },
                                  {x}, GradCheckOptions().SkipNonsmooth(true));
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_GT(r.checked, 0) << r.message;
  }
}

}  // namespace
}  // namespace nn
}  // namespace gradway
