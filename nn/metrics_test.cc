#include "nn/metrics.h"

#include "autograd/error.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

TEST(MetricsTest, AccuracyOneHotSparseAndBinary) {
  Tensor pred = Tensor::FromVector({0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.7f}, {3, 2});
  Accuracy acc;
  acc.Update(pred, Tensor::FromVector({0, 1, 1, 0, 1, 0}, {3, 2}));
  EXPECT_DOUBLE_EQ(acc.Result(), 2.0 / 3);
  acc.Update(pred, Tensor::FromVector({1, 0, 1}, {3}));
  EXPECT_DOUBLE_EQ(acc.Result(), 5.0 / 6);  // 2 of 3, then 3 of 3
  acc.Reset();
  EXPECT_EQ(acc.Result(), 0);
  acc.Update(Tensor::FromVector({0.2f, 0.6f}, {2, 1}), Tensor::FromVector({0, 0}, {2, 1}));
  EXPECT_DOUBLE_EQ(acc.Result(), 0.5);
  // A vector of probabilities [N] is binary too, against labels [N] or [N, 1].
  acc.Reset();
  acc.Update(Tensor::FromVector({0.2f, 0.6f, 0.9f}, {3}), Tensor::FromVector({0, 0, 1}, {3}));
  acc.Update(Tensor::FromVector({0.7f}, {1}), Tensor::FromVector({1}, {1, 1}));
  EXPECT_DOUBLE_EQ(acc.Result(), 3.0 / 4);
  EXPECT_THROW(acc.Update(pred, Tensor::Zeros({3, 5})), Error);
}

// Precision and recall against counts by hand: predictions 0.9, 0.6, 0.4, 0.2, 0.7 for
// labels 1, 0, 1, 0, 1: TP 2 (0.9, 0.7), FP 1 (0.6), FN 1 (0.4).
TEST(MetricsTest, PrecisionAndRecall) {
  const Tensor pred = Tensor::FromVector({0.9f, 0.6f, 0.4f, 0.2f, 0.7f}, {5, 1});
  const Tensor labels = Tensor::FromVector({1, 0, 1, 0, 1}, {5});
  auto precision = MakeMetric("precision");
  auto recall = MakeMetric("recall");
  EXPECT_EQ(precision->Result(), 0);
  precision->Update(pred, labels);
  recall->Update(pred, labels);
  EXPECT_DOUBLE_EQ(precision->Result(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(recall->Result(), 2.0 / 3);
  // A batch with one more true positive and one more false negative.
  precision->Update(Tensor::FromVector({0.8f, 0.1f}, {2, 1}), Tensor::FromVector({1, 1}, {2}));
  recall->Update(Tensor::FromVector({0.8f, 0.1f}, {2, 1}), Tensor::FromVector({1, 1}, {2}));
  EXPECT_DOUBLE_EQ(precision->Result(), 3.0 / 4);
  EXPECT_DOUBLE_EQ(recall->Result(), 3.0 / 5);
  Recall restored;
  restored.SetState(recall->State());
  EXPECT_DOUBLE_EQ(restored.Result(), 3.0 / 5);
  EXPECT_EQ(restored.name(), "recall");
  EXPECT_THROW(restored.SetState({4, 3}), Error);
  EXPECT_THROW(precision->Update(pred, Tensor::Zeros({4})), Error);
}

TEST(MetricsTest, ErrorsAndNames) {
  // The same batches through both kinds: they must differ exactly as squared vs absolute.
  const Tensor pred1 = Tensor::FromVector({1, -2}, {2}), true1 = Tensor::Zeros({2});
  const Tensor pred2 = Tensor::FromVector({0.5f, 3, 4}, {3}),
               true2 = Tensor::FromVector({0, 0, 1}, {3});
  for (const char* name : {"mse", "mean_squared_error"}) {
    auto mse = MakeMetric(name);
    EXPECT_EQ(mse->name(), name);
    EXPECT_EQ(mse->Result(), 0);
    mse->Update(pred1, true1);
    EXPECT_DOUBLE_EQ(mse->Result(), 2.5);  // (1 + 4) / 2
    mse->Update(pred2, true2);
    EXPECT_DOUBLE_EQ(mse->Result(), (1 + 4 + 0.25 + 9 + 9) / 5);
    mse->Reset();
    EXPECT_EQ(mse->Result(), 0);
    EXPECT_THROW(mse->Update(pred1, true2), Error);
  }
  for (const char* name : {"mae", "mean_absolute_error"}) {
    auto mae = MakeMetric(name);
    EXPECT_EQ(mae->name(), name);
    mae->Update(pred1, true1);
    EXPECT_DOUBLE_EQ(mae->Result(), 1.5);  // (1 + 2) / 2
    mae->Update(pred2, true2);
    EXPECT_DOUBLE_EQ(mae->Result(), (1 + 2 + 0.5 + 3 + 3) / 5.0);
    mae->Reset();
    EXPECT_EQ(mae->Result(), 0);
    EXPECT_THROW(mae->Update(pred1, true2), Error);
  }
  // The class directly: default names by kind.
  EXPECT_EQ(MeanErrorMetric(MeanErrorMetric::Kind::kSquared).name(), "mse");
  EXPECT_EQ(MeanErrorMetric(MeanErrorMetric::Kind::kAbsolute).name(), "mae");
  MeanErrorMetric mae(MeanErrorMetric::Kind::kAbsolute, "l1");
  EXPECT_EQ(mae.name(), "l1");
  EXPECT_EQ(mae.kind(), MeanErrorMetric::Kind::kAbsolute);
  mae.Update(pred2, true2);
  EXPECT_DOUBLE_EQ(mae.Result(), 6.5 / 3);
  EXPECT_EQ(MakeMetric("acc")->name(), "acc");
  EXPECT_THROW(MakeMetric("auc"), Error);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
