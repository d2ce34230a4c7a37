// Layer fusion (nn/layer_fusion.h): a BatchNormalization or an Add whose output goes only
// to a ReLU runs the pair fused, in functional models and in Sequential, bit-identical to
// the same model whose ReLUs do not fuse; and only where the pattern holds.
#include "nn/layer_fusion.h"

#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "gtest/gtest.h"
#include "nn/nn.h"

namespace gradway {
namespace nn {
namespace {

// nn::ReLU's computation in a subclass: not a plain ReLU, so nothing fuses into it.
class UnfusedReLU : public ReLU {};

template <class R>
SymbolicTensor CallRelu(const SymbolicTensor& x) {
  return (*std::make_shared<R>())(x);
}

SymbolicTensor ConvBn(const SymbolicTensor& x) {
  return BatchNormalization()(
      Conv2D(Conv2DOptions(4, 3).Padding(Padding::kSame).UseBias(false))(x));
}

// A residual block, its ReLUs of class R: Conv-BN-ReLU, Conv-BN, Add with the first ReLU's
// output, ReLU; then a head.
template <class R>
std::unique_ptr<Model> BlockModel() {
  auto in = Input({6, 5, 3});
  auto a = CallRelu<R>(ConvBn(in));
  auto b = ConvBn(a);
  auto c = CallRelu<R>(Add()({a, b}));
  auto out = Dense(3, kSoftmax)(GlobalAveragePooling2D()(c));
  return std::make_unique<Model>(in, out, /*seed=*/7);
}

Tensor RandomData(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::Uniform(shape, -1.f, 1.f, gen);
}

// The model's output and every parameter's gradient for one training-mode step on x.
std::vector<std::vector<float>> OutputAndGradients(Model& model, const Tensor& x) {
  model.Train();
  for (Tensor& p : model.Parameters()) p.ZeroGrad();
  Tensor y = model(x);
  y.Backward(RandomData(y.shape(), 11));
  std::vector<std::vector<float>> got = {y.ToVector()};
  for (const Tensor& p : model.Parameters()) {
    if (p.requires_grad()) got.push_back(p.grad().ToVector());
  }
  return got;
}

TEST(LayerFusionTest, FunctionalModelFusesBatchNormAndAddIntoTheirReLUs) {
  ClearSession();
  const Tensor x = RandomData({8, 6, 5, 3}, 1);
  auto fused = BlockModel<ReLU>();
  auto unfused = BlockModel<UnfusedReLU>();
  const auto want = OutputAndGradients(*unfused, x);
  EXPECT_EQ(OutputAndGradients(*fused, x), want);
  // Inference (moving statistics) and Predict: the same bits.
  fused->Eval();
  unfused->Eval();
  EXPECT_EQ((*fused)(x).ToVector(), (*unfused)(x).ToVector());
}

TEST(LayerFusionTest, TrainingIsBitIdenticalToTheUnfusedModel) {
  ClearSession();
  const Tensor x = RandomData({48, 6, 5, 3}, 2);
  Tensor y = Tensor::Zeros({48, 3});
  for (int64_t i = 0; i < 48; ++i) y.data()[i * 3 + (x.data()[i * 90] > 0 ? 1 : 0)] = 1.f;
  std::vector<std::vector<double>> losses;
  std::vector<std::vector<std::vector<float>>> weights;
  for (bool fuse : {true, false}) {
    auto model = fuse ? BlockModel<ReLU>() : BlockModel<UnfusedReLU>();
    model->Compile(CategoricalCrossentropy(), Adam(), {"accuracy"});
    History h = model->Fit(x, y, FitOptions().Epochs(2).BatchSize(16).Verbose(0).Seed(3));
    losses.push_back(h.history.at("loss"));
    weights.emplace_back();
    for (const Tensor& p : model->Parameters()) weights.back().push_back(p.ToVector());
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(weights[0], weights[1]);  // moving statistics included
}

// The op that computed a model's output, as recorded for the backward pass.
std::string LastOp(Model& model, const Tensor& x, int output = 0) {
  model.Train();
  return model.ForwardOutputs(x)[output].grad_fn_name();
}

// The fused ops run exactly where a BN's or an Add's output goes only to a plain ReLU: not
// when it is used twice or is a model output, nor for another activation.
TEST(LayerFusionTest, FusesOnlyWhereTheReluIsTheOnlyUse) {
  ClearSession();
  const Tensor x = RandomData({6, 5}, 4);
  auto in = Input({5});
  auto d = Dense(4)(in);
  auto bn = BatchNormalization()(d);
  Model bn_relu(in, ReLU()(bn), 3);
  EXPECT_EQ(LastOp(bn_relu, x), "batch_norm_relu");
  Model bn_activation(in, Activation("relu")(BatchNormalization()(d)), 3);
  EXPECT_EQ(LastOp(bn_activation, x), "batch_norm_relu");
  Model add_relu(in, ReLU()(Add()({d, Dense(4)(in)})), 3);
  EXPECT_EQ(LastOp(add_relu, x), "add_relu");
  Model three_inputs(in, ReLU()(Add()({d, d, d})), 3);
  EXPECT_EQ(LastOp(three_inputs, x), "relu");
  auto r = ReLU()(bn);
  Model two_uses(in, Add()({r, bn}), 3);
  EXPECT_EQ(LastOp(two_uses, x), "add");
  Model both_outputs({in}, {r, bn}, 3);
  EXPECT_EQ(LastOp(both_outputs, x, 0), "relu");
  EXPECT_EQ(LastOp(both_outputs, x, 1), "batch_norm");
  Model unfused(in, CallRelu<UnfusedReLU>(BatchNormalization()(d)), 3);
  EXPECT_EQ(LastOp(unfused, x), "relu");
  Model tanh(in, Activation("tanh")(BatchNormalization()(d)), 3);
  EXPECT_EQ(LastOp(tanh, x), "tanh");
}

TEST(LayerFusionTest, SequentialFusesBatchNormAndReLU) {
  ClearSession();
  const Tensor x = RandomData({9, 7}, 5);
  std::vector<std::vector<float>> got[2];
  for (int k = 0; k < 2; ++k) {
    Sequential model(/*seed=*/4);
    model.Add(Dense(DenseOptions(6).InputShape({7})));
    model.Add(BatchNormalization());
    if (k == 0) {
      model.Add(Activation("relu"));
    } else {
      model.Add(std::make_shared<UnfusedReLU>());
    }
    model.Add(Dense(2, kSoftmax));
    got[k] = OutputAndGradients(model, x);
  }
  EXPECT_EQ(got[0], got[1]);
  Sequential last(/*seed=*/4);
  last.Add(Dense(DenseOptions(6).InputShape({7})));
  last.Add(BatchNormalization());
  last.Add(ReLU());
  last.Train();
  EXPECT_EQ(last(x).grad_fn_name(), "batch_norm_relu");
}

TEST(LayerFusionTest, WhichLayersFuse) {
  EXPECT_TRUE(internal::IsPlainRelu(ReLU()));
  EXPECT_TRUE(internal::IsPlainRelu(Activation("relu")));
  EXPECT_FALSE(internal::IsPlainRelu(Activation("tanh")));
  EXPECT_FALSE(internal::IsPlainRelu(UnfusedReLU()));
  EXPECT_FALSE(internal::IsPlainRelu(LeakyReLU()));
  EXPECT_TRUE(internal::AbsorbsRelu(BatchNormalization(), 1));
  EXPECT_TRUE(internal::AbsorbsRelu(Add(), 2));
  EXPECT_FALSE(internal::AbsorbsRelu(Add(), 1));
  EXPECT_FALSE(internal::AbsorbsRelu(Dense(3), 1));
}

}  // namespace
}  // namespace nn
}  // namespace gradway
