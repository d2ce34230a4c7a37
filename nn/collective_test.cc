#include "nn/collective.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "gtest/gtest.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::Bars;

// One rank of `size` (the others never answer: only size 1 can train with it).
class LoneCollective : public Collective {
 public:
  explicit LoneCollective(int size = 1, int rank = 0) : size_(size), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void AllReduceTreeSum(float*, int64_t) override { ++reductions; }
  void AllGather(const double* in, int64_t n, double* out) override {
    std::copy(in, in + n, out);
  }
  [[noreturn]] void Abort(const std::string& message) override { Fail(message); }
  int reductions = 0;

 private:
  int size_, rank_;
};

std::pair<int64_t, int64_t> Rows(int64_t first, int64_t end) { return {first, end}; }

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CollectiveTest, TrainRowsCoverTheSetInRankOrder) {
  EXPECT_EQ(TrainRowsOfRank(60000, 8, 0, 2), Rows(0, 30000));
  EXPECT_EQ(TrainRowsOfRank(60000, 8, 1, 2), Rows(30000, 60000));
  EXPECT_EQ(TrainRowsOfRank(1003, 8, 3, 8), Rows(376, 501));
  for (int ranks : {1, 2, 4, 8}) {
    int64_t next = 0;
    for (int r = 0; r < ranks; ++r) {
      auto [first, end] = TrainRowsOfRank(1003, 8, r, ranks);
      EXPECT_EQ(first, next) << ranks;
      next = end;
    }
    EXPECT_EQ(next, 1003) << ranks;
  }
  EXPECT_NE(ErrorOf([] { TrainRowsOfRank(100, 8, 0, 3); }).find("power-of-two rank count"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { TrainRowsOfRank(100, 8, 0, 16); }).find("got 16 ranks"),
            std::string::npos);
}

TEST(CollectiveTest, EvalRowsSplitWholeBatches) {
  // 13 batches of 40 (the last of 10) over 4 ranks: 3, 3, 3 and 4 batches.
  EXPECT_EQ(EvalRowsOfRank(490, 40, 0, 4), Rows(0, 120));
  EXPECT_EQ(EvalRowsOfRank(490, 40, 2, 4), Rows(240, 360));
  EXPECT_EQ(EvalRowsOfRank(490, 40, 3, 4), Rows(360, 490));
  EXPECT_EQ(EvalRowsOfRank(30, 40, 0, 2), Rows(0, 0));
  EXPECT_EQ(EvalRowsOfRank(30, 40, 1, 2), Rows(0, 30));
}

struct SmallRun {
  explicit SmallRun(const FitOptions& options) : model(5) {
    model.Add(Conv2D(Conv2DOptions(4, 3).Activation(kRelu).InputShape({8, 8, 1})));
    model.Add(Dropout(DropoutOptions(0.25)));
    model.Add(Flatten());
    model.Add(Dense(DenseOptions(2).Activation(kSoftmax)));
    model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.01)),
                  {"accuracy"});
    auto [x, y] = Bars(90, 8, 1);
    auto [xv, yv] = Bars(50, 8, 2);
    FitOptions o = options;
    history = model.Fit(x, y, o.Epochs(3).BatchSize(16).Verbose(0).ValidationData(xv, yv));
    val = model.Evaluate(xv, yv, 16);
  }
  Sequential model;
  History history;
  Logs val;
};

// With one micro-shard and no shuffling, the data-parallel path takes the same batches,
// dropout masks and loss as the single-process one: the same run, bit for bit.
TEST(CollectiveTest, OneRankOneMicroShardTrainsAsOneProcess) {
  auto lone = std::make_shared<LoneCollective>();
  SmallRun plain(FitOptions().Shuffle(false));
  SmallRun parallel(FitOptions().Shuffle(false).Distributed(lone).MicroShards(1));
  EXPECT_EQ(lone->reductions, 3 * 6);  // every step reduces its gradients
  std::vector<Tensor> a = plain.model.GetWeights(), b = parallel.model.GetWeights();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].ToVector(), b[i].ToVector()) << i;
  for (const auto& [key, values] : plain.history.history) {
    if (key != "seconds") {
      EXPECT_EQ(values, parallel.history.history[key]) << key;
    }
  }
  // Validation in Fit, split by batches and combined in order, equals Evaluate.
  EXPECT_EQ(parallel.history.val_loss.back(), parallel.val.Get("loss"));
  EXPECT_EQ(parallel.history.val_accuracy.back(), parallel.val.Get("accuracy"));
}

// More micro-shards change the batches' make-up, not what is learned: close, not equal.
TEST(CollectiveTest, MicroShardsTrainAsWell) {
  SmallRun plain{FitOptions()};
  SmallRun parallel(FitOptions().Distributed(std::make_shared<LoneCollective>()).MicroShards(8));
  EXPECT_NE(plain.history.loss, parallel.history.loss);
  EXPECT_NEAR(plain.history.val_loss.back(), parallel.history.val_loss.back(), 0.1);
  EXPECT_EQ(parallel.history.size(), 3u);
}

// Records, in training mode, the random (dropout) step and the rows (x holds each row's
// index) of every forward pass.
class RowRecorder : public Module {
 public:
  RowRecorder() : Module("RowRecorder", "row_recorder") {}
  Tensor Forward(const Tensor& x) override {
    if (is_training()) {
      std::vector<int> rows;
      for (float v : x.ToVector()) rows.push_back(static_cast<int>(v));
      seen.emplace_back(CurrentRandomStep(), rows);
    }
    return x;
  }
  std::vector<std::pair<int64_t, std::vector<int>>> seen;
};

// The micro-shard plan, as each micro-shard sees it: a batch of 12 in 8 micro-shards
// takes 1, 2, 1, 2, ... samples ((j + 1) * 12 / 8 - j * 12 / 8) from the 8 parts of 3 rows,
// and micro-shard j of training step s draws its dropout masks as step s * 8 + j.
TEST(CollectiveTest, MicroShardsSeeTheirRowsAndRandomSteps) {
  Sequential model(3);
  auto recorder = std::make_shared<RowRecorder>();
  model.Add(recorder);
  model.Add(Dense(DenseOptions(2).Activation(kSoftmax)));
  model.Compile(CategoricalCrossentropy(), SGD());
  std::vector<float> rows(24), labels(48, 0.f);
  for (int i = 0; i < 24; ++i) {
    rows[i] = static_cast<float>(i);
    labels[2 * i + i % 2] = 1.f;
  }
  model.Fit(Tensor::FromVector(rows, {24, 1}), Tensor::FromVector(labels, {24, 2}),
            FitOptions().Epochs(1).BatchSize(12).Shuffle(false).Verbose(0).MicroShards(8)
                .Distributed(std::make_shared<LoneCollective>()));
  using Seen = std::vector<std::pair<int64_t, std::vector<int>>>;
  const Seen expected = {
      // step 0
      {0, {0}}, {1, {3, 4}}, {2, {6}}, {3, {9, 10}},
      {4, {12}}, {5, {15, 16}}, {6, {18}}, {7, {21, 22}},
      // step 1: the 2-sample micro-shards have one row left
      {8, {1}}, {9, {5}}, {10, {7}}, {11, {11}},
      {12, {13}}, {13, {17}}, {14, {19}}, {15, {23}},
      // step 2: only the 1-sample micro-shards have rows left
      {16, {2}}, {18, {8}}, {20, {14}}, {22, {20}},
  };
  EXPECT_EQ(recorder->seen, expected);
}

TEST(CollectiveTest, RejectsRowsThatDoNotCoverTheRanksShare) {
  Sequential model(1);
  model.Add(Dense(DenseOptions(2).Activation(kSoftmax).InputShape({2})));
  model.Compile(CategoricalCrossentropy(), Adam());
  Tensor x = Tensor::Zeros({50, 2}), y = Tensor::Zeros({50, 2});
  auto fit = [&](const FitOptions& o) {
    return ErrorOf([&] { model.Fit(x, y, FitOptions(o).Verbose(0)); });
  };
  // Rank 1 of 2 needs rows [50, 100) of 100.
  EXPECT_NE(fit(FitOptions().Distributed(std::make_shared<LoneCollective>(2, 1))
                    .TrainRows(40, 100))
                .find("rank 1 of 2 needs training rows [50, 100) of 100 but x holds rows "
                      "[40, 90)"),
            std::string::npos);
  EXPECT_NE(fit(FitOptions().Distributed(std::make_shared<LoneCollective>(3)))
                .find("power-of-two rank count"),
            std::string::npos);
  EXPECT_NE(fit(FitOptions().Distributed(std::make_shared<LoneCollective>()).MicroShards(6))
                .find("micro_shards must be a power of two"),
            std::string::npos);
  EXPECT_NE(fit(FitOptions().TrainRows(0, 100)).find("one process trains on the whole"),
            std::string::npos);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
