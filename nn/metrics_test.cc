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
  EXPECT_THROW(acc.Update(pred, Tensor::Zeros({3, 5})), Error);
}

TEST(MetricsTest, ErrorsAndNames) {
  auto mse = MakeMetric("mse");
  mse->Update(Tensor::FromVector({1, 2}, {2}), Tensor::FromVector({0, 0}, {2}));
  EXPECT_DOUBLE_EQ(mse->Result(), 2.5);
  auto mae = MakeMetric("mean_absolute_error");
  EXPECT_EQ(mae->name(), "mean_absolute_error");
  mae->Update(Tensor::FromVector({1, -2}, {2}), Tensor::FromVector({0, 0}, {2}));
  EXPECT_DOUBLE_EQ(mae->Result(), 1.5);
  EXPECT_EQ(MakeMetric("acc")->name(), "acc");
  EXPECT_THROW(MakeMetric("auc"), Error);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
