// Data-parallel training of models holding BatchNormalization (synchronised batch norm,
// nn/data_parallel.h), with ranks as threads of this process exchanging through shared
// memory: the same bits for 1, 2, 4 and 8 ranks (weights, moving statistics, history),
// including steps in which some ranks have no sample; the moving statistics of the whole
// global batch; and the Error for a model that cannot run layer by layer.
#include "nn/data_parallel.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "autograd/autograd.h"
#include "gtest/gtest.h"
#include "nn/collective.h"
#include "nn/layers.h"
#include "nn/merge.h"
#include "nn/model.h"
#include "nn/normalization.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::Bars;

// Where the threads standing for ranks meet: Exchange returns every rank's part, in rank
// order, once all have called it (each call is one collective step).
class Hub {
 public:
  explicit Hub(int size) : parts_(size) {}
  int size() const { return static_cast<int>(parts_.size()); }
  std::vector<std::vector<double>> Exchange(int rank, std::vector<double> part) {
    std::unique_lock<std::mutex> lock(mu_);
    parts_[rank] = std::move(part);
    const int64_t generation = generation_;
    if (++arrived_ == size()) {
      arrived_ = 0;
      result_ = parts_;
      ++generation_;
      done_.notify_all();
    } else if (!done_.wait_for(lock, std::chrono::minutes(2),
                               [&] { return generation_ != generation; })) {
      Fail("Hub: rank ", rank, " waited 2 minutes for the others");
    }
    return result_;
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  std::vector<std::vector<double>> parts_, result_;
  int arrived_ = 0;
  int64_t generation_ = 0;
};

// One rank over a Hub; the all-reduce adds in float along the fixed tree over the ranks
// (ranks 2i and 2i + 1 first, ...), as MpiCollective does.
class ThreadCollective : public Collective {
 public:
  ThreadCollective(std::shared_ptr<Hub> hub, int rank) : hub_(std::move(hub)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return hub_->size(); }
  void AllReduceTreeSum(float* data, int64_t n) override {
    std::vector<std::vector<double>> parts = hub_->Exchange(rank_, {data, data + n});
    std::vector<std::vector<float>> sums(parts.size());
    for (size_t r = 0; r < parts.size(); ++r) sums[r].assign(parts[r].begin(), parts[r].end());
    for (size_t stride = 1; stride < sums.size(); stride *= 2) {
      for (size_t i = 0; i + stride < sums.size(); i += 2 * stride) {
        for (int64_t k = 0; k < n; ++k) sums[i][k] += sums[i + stride][k];
      }
    }
    std::copy(sums[0].begin(), sums[0].end(), data);
  }
  void AllGather(const double* in, int64_t n, double* out) override {
    for (const std::vector<double>& part : hub_->Exchange(rank_, {in, in + n})) {
      out = std::copy(part.begin(), part.end(), out);
    }
  }
  [[noreturn]] void Abort(const std::string& message) override { Fail(message); }

 private:
  std::shared_ptr<Hub> hub_;
  int rank_;
};

using MakeModel = std::function<std::unique_ptr<Model>(uint64_t seed)>;

// A Sequential: Conv-BN-ReLU, dropout, then Dense-BN and a softmax.
std::unique_ptr<Model> ConvBnModel(uint64_t seed) {
  auto model = std::make_unique<Sequential>(seed);
  model->Add(Conv2D(Conv2DOptions(4, 3).InputShape({8, 8, 1})));
  model->Add(BatchNormalization());
  model->Add(ReLU());
  model->Add(Dropout(DropoutOptions(0.25)));
  model->Add(Flatten());
  model->Add(Dense(6));
  model->Add(BatchNormalization(BatchNormalizationOptions().Momentum(0.9f)));
  model->Add(Dense(DenseOptions(2).Activation(kSoftmax)));
  return model;
}

// A functional residual model; the residual branch is a nested Sequential (Conv-BN).
std::unique_ptr<Model> ResidualModel(uint64_t seed) {
  auto image = Input({8, 8, 1});
  auto x = Conv2D(Conv2DOptions(4, 3).Padding(Padding::kSame))(image);
  x = ReLU()(BatchNormalization()(x));
  auto branch = std::make_shared<Sequential>();
  branch->Add(Conv2D(Conv2DOptions(4, 3).Padding(Padding::kSame).UseBias(false)));
  branch->Add(BatchNormalization());
  x = ReLU()(Add()({(*branch)(x), x}));
  x = GlobalAveragePooling2D()(x);
  auto probabilities = Dense(DenseOptions(2).Activation(kSoftmax))(x);
  return std::make_unique<Model>(image, probabilities, seed);
}

// What one rank ends with.
struct RankResult {
  std::vector<std::vector<float>> weights;  // every weight, moving statistics included
  History history;
  std::string error;  // what Fit threw, if it did
};

// Trains make_model(7) data-parallel on `ranks` threads, each holding only its rows of x,
// with 8 micro-shards; every rank's result.
std::vector<RankResult> TrainOnRanks(int ranks, const MakeModel& make_model, const Tensor& x,
                                     const Tensor& y, const Tensor& xv, const Tensor& yv,
                                     int64_t batch_size, int epochs) {
  auto hub = std::make_shared<Hub>(ranks);
  std::vector<std::unique_ptr<Model>> models;
  for (int r = 0; r < ranks; ++r) {  // made here: layer names are drawn in order
    models.push_back(make_model(7));
    models.back()->Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.02)),
                           {"accuracy"});
  }
  std::vector<RankResult> results(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
      const auto [first, end] = TrainRowsOfRank(x.size(0), 8, r, ranks);
      Model& model = *models[r];
      results[r].history = model.Fit(
          x.Narrow(0, first, end - first), y.Narrow(0, first, end - first),
          FitOptions()
              .Epochs(epochs)
              .BatchSize(batch_size)
              .Verbose(0)
              .Distributed(std::make_shared<ThreadCollective>(hub, r))
              .TrainRows(first, x.size(0))
              .ValidationData(xv, yv)
              .CheckReplicasEvery(1));
      for (const Tensor& w : model.GetWeights()) results[r].weights.push_back(w.ToVector());
      } catch (const Error& e) {
        results[r].error = e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

void ExpectSameRun(const RankResult& a, const RankResult& b, const std::string& what) {
  EXPECT_EQ(a.error, "") << what;
  EXPECT_EQ(b.error, "") << what;
  EXPECT_EQ(a.weights, b.weights) << what;
  EXPECT_EQ(a.history.epoch, b.history.epoch) << what;
  for (const auto& [key, values] : a.history.history) {
    if (key == "seconds") continue;
    EXPECT_EQ(values, b.history.history.at(key)) << what << ": " << key;
  }
}

// 195 rows in 8 parts of 24 or 25, batches of 32 (4 a micro-shard): the last step of each
// epoch has one sample in micro-shards 2, 5 and 7 only, so with 4 or 8 ranks some ranks
// have none and run a placeholder.
void ExpectBitIdenticalForAnyRankCount(const MakeModel& make_model) {
  auto [x, y] = Bars(195, 8, 1);
  auto [xv, yv] = Bars(40, 8, 2);
  const std::vector<RankResult> one = TrainOnRanks(1, make_model, x, y, xv, yv, 32, 2);
  ASSERT_EQ(one[0].history.epoch.size(), 2u);
  for (int ranks : {2, 4, 8}) {
    const std::vector<RankResult> many = TrainOnRanks(ranks, make_model, x, y, xv, yv, 32, 2);
    for (int r = 0; r < ranks; ++r) {
      ExpectSameRun(one[0], many[r], std::to_string(ranks) + " ranks, rank " + std::to_string(r));
    }
  }
}

TEST(SyncBatchNormTest, SequentialTrainsBitIdenticallyOn1248Ranks) {
  ExpectBitIdenticalForAnyRankCount(ConvBnModel);
}

TEST(SyncBatchNormTest, ResidualFunctionalModelTrainsBitIdenticallyOn1248Ranks) {
  ExpectBitIdenticalForAnyRankCount(ResidualModel);
}

// One step over the whole data set (one batch of 64): the moving statistics every rank
// holds are those of normalising the whole global batch at once in one process (the
// first convolution's outputs for all 64 images, with the initial weights), to float
// rounding.
TEST(SyncBatchNormTest, MovingStatisticsAreThoseOfTheWholeBatch) {
  auto [x, y] = Bars(64, 8, 3);
  std::unique_ptr<Model> reference = ConvBnModel(7);
  Tensor mean = Tensor::Zeros({4}), variance = Tensor::Ones({4});
  {
    NoGradGuard no_grad;
    const Tensor conv = dynamic_cast<Sequential&>(*reference).layer(0)(x);
    BatchNorm(conv, Tensor(), Tensor(), mean, variance, /*training=*/true, 0.99f);
  }
  for (int ranks : {1, 2, 4}) {
    const std::vector<RankResult> results = TrainOnRanks(ranks, ConvBnModel, x, y, x, y, 64, 1);
    // Weights: conv kernel, conv bias, then the batch norm's gamma, beta, moving mean and
    // moving variance.
    for (int r = 0; r < ranks; ++r) {
      ASSERT_EQ(results[r].error, "");
      const std::vector<float>& got_mean = results[r].weights[4];
      const std::vector<float>& got_variance = results[r].weights[5];
      ASSERT_EQ(got_mean.size(), 4u);
      for (int c = 0; c < 4; ++c) {
        EXPECT_NEAR(got_mean[c], mean.at({c}), 1e-6) << ranks << " ranks, channel " << c;
        EXPECT_NEAR(got_variance[c], variance.at({c}), 1e-6) << ranks << " ranks, channel " << c;
      }
      EXPECT_NE(got_mean, std::vector<float>(4, 0.f));  // they did move
    }
  }
}

// A model of its own (Forward overridden) cannot run layer by layer: data-parallel Fit
// names it and the layer rather than train with per-micro-shard statistics. Frozen, the
// layer normalises with its moving statistics and the model trains.
class OwnForward : public Model {
 public:
  OwnForward() : Model(3, "OwnForward", "own_forward") {
    bn_ = std::make_shared<BatchNormalization>(BatchNormalizationOptions().Name("my_bn"));
    dense_ = std::make_shared<Dense>(DenseOptions(3).Activation(kSoftmax));
    RegisterModule("my_bn", bn_);
    RegisterModule("dense", dense_);
  }
  Tensor Forward(const Tensor& x) override { return (*dense_)((*bn_)(x)); }
  std::shared_ptr<BatchNormalization> bn_;
  std::shared_ptr<Dense> dense_;
};

// One rank of one (a LoneCollective of collective_test.cc, reduced to what this needs).
class OneRank : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void AllReduceTreeSum(float*, int64_t) override {}
  void AllGather(const double* in, int64_t n, double* out) override {
    std::copy(in, in + n, out);
  }
  [[noreturn]] void Abort(const std::string& message) override { Fail(message); }
};

TEST(SyncBatchNormTest, AModelWithItsOwnForwardIsRefused) {
  auto [x, y] = testing::Blobs(32, 1);
  OwnForward model;
  model.Compile(CategoricalCrossentropy(), SGD());
  const FitOptions options =
      FitOptions().Epochs(1).BatchSize(16).Verbose(0).Distributed(std::make_shared<OneRank>());
  std::string error = "(no error)";
  try {
    model.Fit(x, y, options);
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_EQ(error,
            "Fit: data-parallel training normalises my_bn (BatchNormalization) over the whole "
            "batch, which needs the model's layers run one at a time on every micro-shard; "
            "own_forward (OwnForward) is not a Sequential or a functional model, whose layers "
            "can be run so (a subclass may run them in a Forward of its own): make it one, "
            "freeze the layer with SetTrainable(false), or train in one process");
  model.bn_->SetTrainable(false);
  const std::vector<float> before = model.bn_->moving_mean().ToVector();
  EXPECT_NO_THROW(model.Fit(x, y, options));
  EXPECT_EQ(model.bn_->moving_mean().ToVector(), before);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
