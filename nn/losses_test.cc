#include "nn/losses.h"

#include <cmath>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/nn_functions.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

TEST(LossesTest, CrossEntropyFusedEqualsProbabilityForm) {
  Generator gen(1);
  Tensor logits = Tensor::Normal({4, 5}, 0, 2, gen);
  Tensor onehot = Tensor::Zeros({4, 5});
  Tensor labels = Tensor::FromVector({0, 3, 4, 1}, {4});
  for (int i = 0; i < 4; ++i) onehot.set({i, static_cast<int64_t>(labels.at({i}))}, 1);
  Tensor probs = ::gradway::Softmax(logits);
  // A copy of the probabilities has no logits: the clipped probability form.
  Tensor copied = probs.Clone();
  CategoricalCrossentropy cce;
  SparseCategoricalCrossentropy scce;
  float a = cce(probs, onehot).item();
  float b = cce(copied, onehot).item();
  float c = scce(probs, labels).item();
  float d = scce(copied, labels.Reshape({4, 1})).item();
  float e = CategoricalCrossentropy(/*from_logits=*/true)(logits, onehot).item();
  double want = 0;
  for (int i = 0; i < 4; ++i) want -= std::log(probs.at({i, static_cast<int64_t>(labels.at({i}))}));
  want /= 4;
  for (float v : {a, b, c, d, e}) EXPECT_NEAR(v, want, 1e-5);
  // The fused form is exactly SoftmaxCrossEntropy of the logits.
  EXPECT_EQ(a, SoftmaxCrossEntropy(logits, onehot).item());
  EXPECT_EQ(c, SparseSoftmaxCrossEntropy(logits, labels).item());
}

TEST(LossesTest, FusionSendsTheGradientStraightToTheLogits) {
  // Probabilities that saturate: softmax's own gradient underflows, the fused one does not.
  Tensor logits = Tensor::FromVector({200, 0, -200, 0, 200, -200}, {2, 3}).SetRequiresGrad();
  Tensor onehot = Tensor::FromVector({0, 0, 1, 1, 0, 0}, {2, 3});
  CategoricalCrossentropy cce;
  Tensor loss = cce(::gradway::Softmax(logits), onehot);
  EXPECT_NEAR(loss.item(), 400.f / 2 + 200.f / 2, 1e-3);  // not -log(1e-7): not clipped
  loss.Backward();
  // d/dz mean CE = (softmax(z) - t) / N.
  const std::vector<float> want = {0.5f, 0, -0.5f, -0.5f, 0.5f, 0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(logits.grad().ToVector()[i], want[i], 1e-6) << i;
  // Through a Softmax layer or any module that calls Softmax: the same.
  EXPECT_TRUE(SoftmaxLogits(::gradway::Softmax(logits)).defined());
  EXPECT_FALSE(SoftmaxLogits(logits).defined());
  EXPECT_FALSE(SoftmaxLogits(::gradway::Softmax(logits).Detach()).defined());
}

TEST(LossesTest, ClipsLikeKeras) {
  CategoricalCrossentropy cce;
  Tensor p = Tensor::FromVector({1, 0, 0, 1}, {2, 2});
  Tensor t = Tensor::FromVector({0, 1, 0, 1}, {2, 2});
  // Row 0 predicts 0 for the true class: -log(1e-7) / 2 after clipping.
  EXPECT_NEAR(cce(p, t).item(), -std::log(1e-7) / 2, 1e-3);
  Tensor x = Tensor::FromVector({-1, 0.5f, 2}, {3}).SetRequiresGrad();
  Tensor y = Sum(Clip(x, 0, 1));
  y.Backward();
  EXPECT_EQ(x.grad().ToVector(), (std::vector<float>{0, 1, 0}));
}

TEST(LossesTest, GradCheckProbabilityForms) {
  Generator gen(2);
  Tensor logits = Tensor::Normal({3, 4}, 0, 1, gen).SetRequiresGrad();
  Tensor onehot = Tensor::FromVector({1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0}, {3, 4});
  CategoricalCrossentropy cce;
  GradCheckResult r = GradCheck(
      [&](const std::vector<Tensor>& in) { return cce(::gradway::Softmax(in[0]), onehot); },
      {logits});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0) << r.message;
  Tensor pred = Tensor::Normal({3, 4}, 0, 1, gen).SetRequiresGrad();
  MeanSquaredError mse;
  GradCheckResult r2 = GradCheck(
      [&](const std::vector<Tensor>& in) { return mse(in[0], onehot); }, {pred});
  EXPECT_TRUE(r2.ok) << r2.message;
  EXPECT_GT(r2.checked, 0) << r2.message;
}

TEST(LossesTest, MeanSquaredErrorAndErrors) {
  MeanSquaredError mse;
  EXPECT_FLOAT_EQ(mse(Tensor::FromVector({1, 2}, {2, 1}), Tensor::FromVector({0, 4}, {2, 1})).item(),
                  2.5f);
  EXPECT_THROW(mse(Tensor::Zeros({2, 1}), Tensor::Zeros({2})), Error);
  CategoricalCrossentropy cce;
  EXPECT_THROW(cce(Tensor::Zeros({2, 3}), Tensor::Zeros({2, 4})), Error);
  SparseCategoricalCrossentropy scce;
  try {
    scce(Tensor::Full({2, 3}, 1.f / 3), Tensor::FromVector({0, 3}, {2}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 3 at row 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(scce(Tensor::Zeros({2, 3}), Tensor::Zeros({3})), Error);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
