#include "nn/optimizers.h"

#include <cmath>

#include "autograd/error.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

// One parameter with a fixed gradient each step.
void StepWith(Optimizer& opt, Tensor& w, std::vector<float> grad) {
  w.ZeroGrad();
  w.Backward(Tensor::FromVector(grad, w.shape()));  // w.grad() = grad
  opt.Step();
}

TEST(AdamTest, MatchesHandComputedKerasSteps) {
  Tensor w = Tensor::FromVector({1.0f, -2.0f}, {2}).SetRequiresGrad();
  Adam adam;  // lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7
  adam.Attach({{"w", w}});
  double p[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  const double g1[2] = {0.5, -0.1}, g2[2] = {-0.3, 0.2};
  for (int t = 1; t <= 2; ++t) {
    const double* g = t == 1 ? g1 : g2;
    StepWith(adam, w, {static_cast<float>(g[0]), static_cast<float>(g[1])});
    double lr_t = 1e-3 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
    for (int i = 0; i < 2; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      p[i] -= lr_t * m[i] / (std::sqrt(v[i]) + 1e-7);
      EXPECT_NEAR(w.data()[i], p[i], 1e-6) << "step " << t << " element " << i;
    }
  }
  EXPECT_EQ(adam.iterations(), 2);
  auto state = adam.StateTensors();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].first, "m/w");
  EXPECT_EQ(state[1].first, "v/w");
  EXPECT_NEAR(state[0].second.data()[0], m[0], 1e-7);
}

TEST(AdamTest, AdamWDecaysWeights) {
  Tensor w = Tensor::FromVector({2.0f}, {1}).SetRequiresGrad();
  AdamW adamw(AdamOptions().LearningRate(0.1).WeightDecay(0.5));
  adamw.Attach({{"w", w}});
  StepWith(adamw, w, {0.f});
  // Zero gradient: only the decay acts: w -= lr * wd * w.
  EXPECT_NEAR(w.data()[0], 2.0 - 0.1 * 0.5 * 2.0, 1e-6);
  EXPECT_EQ(adamw.name(), "AdamW");
}

TEST(SgdTest, MomentumAndNesterov) {
  Tensor w = Tensor::FromVector({1.0f}, {1}).SetRequiresGrad();
  SGD sgd(SGDOptions(0.1).Momentum(0.9));
  sgd.Attach({{"w", w}});
  StepWith(sgd, w, {1.f});  // v = -0.1, w = 0.9
  StepWith(sgd, w, {1.f});  // v = -0.19, w = 0.71
  EXPECT_NEAR(w.data()[0], 0.71, 1e-6);
  EXPECT_EQ(sgd.StateTensors()[0].first, "momentum/w");

  Tensor u = Tensor::FromVector({1.0f}, {1}).SetRequiresGrad();
  SGD nesterov(SGDOptions(0.1).Momentum(0.9).Nesterov(true));
  nesterov.Attach({{"u", u}});
  StepWith(nesterov, u, {1.f});  // v = -0.1; u += 0.9 * -0.1 - 0.1 = -0.19
  EXPECT_NEAR(u.data()[0], 0.81, 1e-6);

  Tensor plain = Tensor::FromVector({1.0f}, {1}).SetRequiresGrad();
  SGD vanilla;
  vanilla.Attach({{"p", plain}});
  StepWith(vanilla, plain, {2.f});
  EXPECT_NEAR(plain.data()[0], 0.98, 1e-6);
  EXPECT_TRUE(vanilla.StateTensors().empty());
}

TEST(OptimizerTest, AttachKeepsStateAndSkipsMissingGrads) {
  Tensor a = Tensor::FromVector({1.f}, {1}).SetRequiresGrad();
  Tensor b = Tensor::FromVector({1.f}, {1}).SetRequiresGrad();
  Adam adam;
  adam.Attach({{"a", a}, {"b", b}});
  a.Backward(Tensor::FromVector({1.f}, {1}));
  adam.Step();
  EXPECT_NE(a.data()[0], 1.f);
  EXPECT_EQ(b.data()[0], 1.f);  // no gradient: untouched
  float m = adam.StateTensors()[0].second.data()[0];
  adam.Attach({{"a", a}, {"b", b}});
  EXPECT_EQ(adam.StateTensors()[0].second.data()[0], m);
  EXPECT_THROW(adam.Attach({{"a", a}, {"a", b}}), Error);
  // ZeroGrad forgets the attached parameters' gradients.
  ASSERT_TRUE(a.grad().defined());
  adam.ZeroGrad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_THROW(Adam(AdamOptions().Beta1(1.0)), Error);
  adam.SetSchedule([](int epoch, double lr) { return lr / (epoch + 1); });
  adam.OnEpochBegin(1);
  EXPECT_DOUBLE_EQ(adam.learning_rate(), 5e-4);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
