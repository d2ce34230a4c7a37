#include "nn/losses.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "autograd/nn_functions.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

// The message of the gradway::Error `f` throws, or "(no error)".
std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

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

// Keras' binary cross-entropy on probabilities, in double: clip to [1e-7, 1 - 1e-7], then
// the mean over all elements of -(t log p + (1 - t) log(1 - p)).
double BinaryCrossentropyReference(const Tensor& p, const Tensor& t) {
  const float lo = 1e-7f, hi = 1.f - 1e-7f;
  double sum = 0;
  for (int64_t i = 0; i < p.numel(); ++i) {
    const double q = std::min(std::max(p.data()[i], lo), hi);
    sum -= t.data()[i] * std::log(q) + (1 - t.data()[i]) * std::log(1 - q);
  }
  return sum / p.numel();
}

TEST(LossesTest, BinaryCrossentropyAgainstAReference) {
  BinaryCrossentropy bce;
  EXPECT_EQ(bce.name(), "binary_crossentropy");
  Generator gen(3);
  for (const Shape& s : std::vector<Shape>{{1}, {7}, {5, 1}, {4, 3}}) {
    SCOPED_TRACE(ShapeToString(s));
    // Away from the clipping bounds by more than the finite-difference steps.
    Tensor p = Tensor::Uniform(s, 0.1f, 0.9f, gen);
    Tensor t = Tensor::Uniform(s, 0.f, 1.f, gen);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = t.data()[i] < 0.5f ? 0.f : 1.f;
    EXPECT_NEAR(bce(p, t).item(), BinaryCrossentropyReference(p, t), 1e-6);
    GradCheckResult r = GradCheck([&](const std::vector<Tensor>& in) { return bce(in[0], t); },
                                  {p.SetRequiresGrad()});
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_GT(r.checked, 0) << r.message;
  }
  // Keras' clipping: a confident wrong prediction costs about -log(1e-7) per element, not
  // inf (p = 0 is clipped to 1e-7; p = 1 to the float 1 - 1e-7, 1 - 1.19e-7 exactly).
  Tensor p = Tensor::FromVector({1, 0, 0, 1}, {4});
  Tensor t = Tensor::FromVector({0, 1, 0, 1}, {4});
  const double hi = 1.f - 1e-7f;
  EXPECT_NEAR(bce(p, t).item(), (-std::log(1 - hi) - std::log(1e-7f)) / 4, 1e-5);
  // Labels (N) fit predictions (N, 1) and the other way round, as Keras squeezes.
  Tensor p1 = Tensor::FromVector({0.2f, 0.7f, 0.9f}, {3, 1});
  Tensor t1 = Tensor::FromVector({0, 1, 1}, {3});
  const float want = bce(p1, t1.Reshape({3, 1})).item();
  EXPECT_EQ(bce(p1, t1).item(), want);
  EXPECT_EQ(bce(p1.Reshape({3}), t1.Reshape({3, 1})).item(), want);
  EXPECT_EQ(ErrorOf([&] { bce(Tensor::Zeros({4, 2}), Tensor::Zeros({4})); }),
            "binary_crossentropy: y_pred and y_true shapes differ: (4, 2) and (4,)");
  EXPECT_EQ(ErrorOf([&] { bce(Tensor::Zeros({2, 2, 2}), Tensor::Zeros({2, 2, 2})); }),
            "binary_crossentropy: y_pred must be (N) or (N, k) probabilities, got (2, 2, 2)");
}

TEST(LossesTest, BinaryCrossentropyFusesWithASigmoid) {
  BinaryCrossentropy bce;
  BinaryCrossentropy from_logits(/*from_logits=*/true);
  Generator gen(4);
  // Moderate logits: the fused loss equals the probability form.
  Tensor z = Tensor::Normal({6, 2}, 0, 2, gen);
  Tensor t = Tensor::FromVector({0, 1, 1, 1, 0, 0, 1, 0, 0.3f, 0.8f, 1, 0}, {6, 2});
  Tensor probs = ::gradway::Sigmoid(z);
  const float fused = bce(probs, t).item();
  EXPECT_EQ(fused, SigmoidBinaryCrossEntropy(z, t).item());  // the fused op itself
  EXPECT_EQ(fused, from_logits(z, t).item());
  EXPECT_NEAR(fused, BinaryCrossentropyReference(probs.Clone(), t), 1e-5);
  EXPECT_NEAR(bce(probs.Clone(), t).item(), fused, 1e-5);  // a copy: the probability form
  // Gradient checks through the fused path and from logits.
  for (const BinaryCrossentropy* loss : {&bce, &from_logits}) {
    GradCheckResult r = GradCheck(
        [&](const std::vector<Tensor>& in) {
          return loss == &bce ? bce(::gradway::Sigmoid(in[0]), t) : from_logits(in[0], t);
        },
        {z.Clone().SetRequiresGrad()});
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_GT(r.checked, 0) << r.message;
  }
  // Saturating logits: sigmoid(±30) is 1 / 0 in float, so the probability form clips to
  // -log(1e-7) ~ 16.1 per wrong element and its gradient vanishes; the fused loss stays
  // exact, and its gradient (sigmoid(z) - t) / n goes straight to the logits.
  Tensor big = Tensor::FromVector({30, -30, 30, -30}, {4, 1}).SetRequiresGrad();
  Tensor labels = Tensor::FromVector({0, 1, 1, 0}, {4});
  Tensor loss = bce(::gradway::Sigmoid(big), labels);
  EXPECT_TRUE(std::isfinite(loss.item()));
  EXPECT_NEAR(loss.item(), (30 + 30) / 4.0, 1e-5);
  const Tensor saturated = ::gradway::Sigmoid(big).Clone();
  const float clipped = bce(saturated, labels).item();
  EXPECT_NEAR(clipped, BinaryCrossentropyReference(saturated, labels), 1e-5);
  EXPECT_LT(clipped, 8.1f);  // about -2 log(1e-7) / 4, far from the true 15
  loss.Backward();
  const std::vector<float> want = {0.25f, -0.25f, 0, 0};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(big.grad().ToVector()[i], want[i], 1e-7) << i;
  // Extreme logits where the probability form would be clipped heavily: still finite.
  Tensor huge = Tensor::FromVector({1000, -1000}, {2});
  EXPECT_NEAR(bce(::gradway::Sigmoid(huge), Tensor::FromVector({0, 1}, {2})).item(), 1000,
              1e-3);
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

// The masked sparse cross-entropy over sequences: the mean of -log softmax over the
// positions whose label is not ignore_class (PyTorch's CrossEntropyLoss(ignore_index=0)),
// from logits, from a softmax's output (fused) and from plain probabilities; the ignored
// positions get no gradient; a batch of padding only gives 0; errors.
TEST(LossesTest, MaskedSparseCrossentropyIgnoresPadding) {
  Generator gen(8);
  Tensor logits = Tensor::Uniform({2, 3, 5}, -2.f, 2.f, gen);
  logits.SetRequiresGrad();
  const Tensor labels = Tensor::FromVector({3, 1, 0, 4, 0, 0}, {2, 3});
  double want = 0;
  int kept = 0;
  for (int64_t r = 0; r < 6; ++r) {
    const int64_t label = static_cast<int64_t>(labels.data()[r]);
    if (label == 0) continue;
    double m = -1e30, sum = 0;
    for (int c = 0; c < 5; ++c) m = std::max<double>(m, logits.data()[r * 5 + c]);
    for (int c = 0; c < 5; ++c) sum += std::exp(logits.data()[r * 5 + c] - m);
    want += -(logits.data()[r * 5 + label] - m - std::log(sum));
    ++kept;
  }
  want /= kept;
  const Tensor from_logits = MaskedSparseCategoricalCrossentropy(0, true)(logits, labels);
  EXPECT_NEAR(from_logits.item(), want, 1e-6);
  from_logits.Backward();
  const std::vector<float> g = logits.grad().ToVector();
  for (int64_t r : {2, 4, 5}) {
    for (int c = 0; c < 5; ++c) EXPECT_EQ(g[r * 5 + c], 0.f) << r;
  }
  // Row 0: (softmax - onehot) / 3.
  double m = -1e30, sum = 0;
  for (int c = 0; c < 5; ++c) m = std::max<double>(m, logits.data()[c]);
  for (int c = 0; c < 5; ++c) sum += std::exp(logits.data()[c] - m);
  for (int c = 0; c < 5; ++c) {
    const double p = std::exp(logits.data()[c] - m) / sum;
    EXPECT_NEAR(g[c], (p - (c == 3 ? 1 : 0)) / 3, 1e-6) << c;
  }
  const Tensor probs = Softmax(logits.Detach(), -1);
  EXPECT_NEAR(MaskedSparseCategoricalCrossentropy()(probs, labels).item(), want, 1e-6);
  const Tensor plain = Tensor::FromVector(probs.ToVector(), probs.shape());  // not fused
  EXPECT_NEAR(MaskedSparseCategoricalCrossentropy()(plain, labels.Reshape({2, 3, 1})).item(),
              want, 1e-5);
  EXPECT_EQ(MaskedSparseCategoricalCrossentropy()(probs, Tensor::Zeros({2, 3})).item(), 0.f);
  EXPECT_THROW(MaskedSparseCategoricalCrossentropy()(probs, Tensor::Full({2, 3}, 5.f)), Error);
  EXPECT_THROW(MaskedSparseCategoricalCrossentropy()(probs, Tensor::Zeros({3, 2})), Error);
  EXPECT_EQ(MaskedSparseCategoricalCrossentropy(7).ignore_class(), 7);
  // With ignore_class -1 nothing is ignored: the plain sparse cross-entropy of the rows.
  EXPECT_NEAR(
      MaskedSparseCategoricalCrossentropy(-1, true)(logits.Detach(), labels).item(),
      SparseCategoricalCrossentropy(true)(logits.Detach().Reshape({6, 5}), labels.Reshape({6}))
          .item(),
      1e-6);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
