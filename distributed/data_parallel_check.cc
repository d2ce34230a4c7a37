// A small data-parallel training run for data_parallel_test.sh, started by mpirun:
//   mpirun -np N data_parallel_check OUT_DIR [MODEL]
// Trains MODEL on synthetic images with the chapter's callbacks (ModelCheckpoint,
// EarlyStopping, CSVLogger, BackupAndRestore), each rank loading only its rows, comparing
// its weights with the other ranks' after every step. Every rank then writes its weights
// (moving statistics included) to OUT_DIR/weights.rank<R>.safetensors; rank 0 also writes
// OUT_DIR/history.txt (the history without wall times) and the callbacks' files.
// MODEL: cnn (default), a dropout CNN on 400 images; bn_cnn, a Sequential Conv-BN-ReLU,
// dropout, Dense-BN and softmax; bn_residual, a functional residual model with BN (its
// branch a nested Sequential). The BN models train on 363 images, so that in the last step
// of each epoch micro-shards 2, 5 and 7 alone have a sample (with 4 or 8 ranks, some ranks
// have none); and first check, on a fresh model trained one step on every image at once,
// that each BN layer's moving statistics are those of normalising that whole batch in one
// process (within float rounding).
// GRADWAY_TEST_DIE_RANK=R and GRADWAY_TEST_DIE_STEP=S make rank R kill itself (SIGKILL)
// after training step S.
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "autograd/autograd.h"
#include "distributed/mpi_collective.h"
#include "nn/nn.h"

namespace gradway {
namespace {

// size x size images of a horizontal (class 0) or vertical (class 1) bar plus noise:
// x [n, size, size, 1], y one-hot [n, 2].
void Bars(int64_t n, int64_t size, uint64_t seed, Tensor* x, Tensor* y) {
  Generator gen(seed);
  *x = Tensor::Zeros({n, size, size, 1});
  *y = Tensor::Zeros({n, 2});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cls = static_cast<int64_t>(gen.UniformInt(2));
    const int64_t at = static_cast<int64_t>(gen.UniformInt(static_cast<uint64_t>(size)));
    for (int64_t r = 0; r < size; ++r) {
      for (int64_t c = 0; c < size; ++c) {
        const bool on = cls == 0 ? r == at : c == at;
        x->data()[(i * size + r) * size + c] = (on ? 1.f : 0.f) + gen.Normal(0.f, 0.3f);
      }
    }
    y->data()[i * 2 + cls] = 1.f;
  }
}

// Kills this process after step `step` when it is rank `rank`.
class DieAt : public nn::Callback {
 public:
  DieAt(int rank, int64_t step) : rank_(rank), step_(step) {}
  void OnBatchEnd(int64_t, const nn::Logs&) override {
    if (params().rank == rank_ && model()->train_step() == step_) std::raise(SIGKILL);
  }

 private:
  int rank_;
  int64_t step_;
};

// kind "bn_cnn" or "bn_residual"; the BN layers, in the order they run.
std::unique_ptr<nn::Model> MakeBnModel(const std::string& kind, uint64_t seed) {
  if (kind == "bn_cnn") {
    auto model = std::make_unique<nn::Sequential>(seed);
    model->Add(nn::Conv2D(nn::Conv2DOptions(6, 3).InputShape({10, 10, 1})));
    model->Add(nn::BatchNormalization());
    model->Add(nn::ReLU());
    model->Add(nn::MaxPooling2D(2));
    model->Add(nn::Dropout(nn::DropoutOptions(0.25)));
    model->Add(nn::Flatten());
    model->Add(nn::Dense(12));
    model->Add(nn::BatchNormalization(nn::BatchNormalizationOptions().Momentum(0.9f)));
    model->Add(nn::ReLU());
    model->Add(nn::Dense(nn::DenseOptions(2).Activation(nn::kSoftmax)));
    return model;
  }
  GRADWAY_CHECK(kind == "bn_residual", "data_parallel_check: unknown model ", kind);
  auto image = nn::Input({10, 10, 1});
  auto x = nn::Conv2D(nn::Conv2DOptions(6, 3).Padding(Padding::kSame).UseBias(false))(image);
  x = nn::ReLU()(nn::BatchNormalization()(x));
  auto branch = std::make_shared<nn::Sequential>();
  branch->Add(nn::Conv2D(nn::Conv2DOptions(6, 3).Padding(Padding::kSame).UseBias(false)));
  branch->Add(nn::BatchNormalization());
  branch->Add(nn::ReLU());
  branch->Add(nn::Conv2D(nn::Conv2DOptions(6, 3).Padding(Padding::kSame).UseBias(false)));
  branch->Add(nn::BatchNormalization());
  x = nn::ReLU()(nn::Add()({(*branch)(x), x}));
  x = nn::GlobalAveragePooling2D()(x);
  auto probabilities = nn::Dense(nn::DenseOptions(2).Activation(nn::kSoftmax))(x);
  return std::make_unique<nn::Model>(image, probabilities, seed);
}

// Trains a fresh `kind` model one step on all of x (every rank its rows) and checks that
// its first BN layer's moving statistics are those of normalising the whole batch at once:
// the first convolution's outputs for every image, with the initial weights, through
// BatchNorm in one process. Throws Error when they differ by more than float rounding.
void CheckWholeBatchStatistics(const std::string& kind, const Tensor& x, const Tensor& y,
                               std::shared_ptr<nn::Collective> world) {
  const int rank = world->rank(), ranks = world->size();
  std::unique_ptr<nn::Model> model = MakeBnModel(kind, 5);
  model->Compile(nn::CategoricalCrossentropy(), nn::SGD());
  Tensor mean, variance;
  {
    NoGradGuard no_grad;
    nn::Module& conv = *model->children()[0].second;
    // The functional model's first child is its first layer; x goes straight in.
    const Tensor h = conv(x);
    mean = Tensor::Zeros({h.shape().back()});
    variance = Tensor::Ones({h.shape().back()});
    BatchNorm(h, Tensor(), Tensor(), mean, variance, /*training=*/true, 0.99f);
  }
  const auto [first, end] = nn::TrainRowsOfRank(x.size(0), 8, rank, ranks);
  model->Fit(x.Narrow(0, first, end - first), y.Narrow(0, first, end - first),
             nn::FitOptions().Epochs(1).BatchSize(x.size(0)).Distributed(world).Verbose(0)
                 .TrainRows(first, x.size(0)));
  const nn::NamedTensors weights = model->NamedParameters();
  for (const auto& [name, t] : weights) {
    const bool is_mean = name.find("moving_mean") != std::string::npos;
    if (!is_mean && name.find("moving_variance") == std::string::npos) continue;
    const Tensor& want = is_mean ? mean : variance;
    for (int64_t c = 0; c < want.numel(); ++c) {
      GRADWAY_CHECK(std::fabs(t.at({c}) - want.at({c})) <= 1e-6f + 1e-6f * std::fabs(want.at({c})),
                    "data_parallel_check: rank ", rank, " of ", ranks, ": ", name, "[", c,
                    "] is ", t.at({c}), " but normalising the whole batch gives ",
                    want.at({c}));
    }
    if (!is_mean) return;  // the first BN layer's mean and variance are checked
  }
  Fail("data_parallel_check: no moving statistics in ", model->Description());
}

int Run(const std::string& out, const std::string& kind) {
  std::shared_ptr<nn::Collective> world = distributed::WorldCollective();
  GRADWAY_CHECK(world != nullptr, "data_parallel_check: run it under mpirun");
  const int rank = world->rank(), ranks = world->size();
  constexpr int kMicroShards = 8;
  const bool bn = kind != "cnn";
  Tensor x, y, xv, yv;
  Bars(bn ? 363 : 400, 10, 1, &x, &y);
  Bars(130, 10, 2, &xv, &yv);
  if (bn) CheckWholeBatchStatistics(kind, x, y, world);
  // Only this rank's rows, as a rank reading its part of a file would hold.
  const auto [first, end] = nn::TrainRowsOfRank(x.size(0), kMicroShards, rank, ranks);
  const auto [vfirst, vend] = nn::EvalRowsOfRank(xv.size(0), 40, rank, ranks);
  Tensor x_mine = x.Narrow(0, first, end - first), y_mine = y.Narrow(0, first, end - first);
  Tensor xv_mine = xv.Narrow(0, vfirst, vend - vfirst);
  Tensor yv_mine = yv.Narrow(0, vfirst, vend - vfirst);

  std::unique_ptr<nn::Model> made;
  if (bn) {
    made = MakeBnModel(kind, 11);
  } else {
    auto cnn = std::make_unique<nn::Sequential>(11);
    cnn->Add(nn::Conv2D(nn::Conv2DOptions(6, 3).Activation(nn::kRelu).InputShape({10, 10, 1})));
    cnn->Add(nn::MaxPooling2D(2));
    cnn->Add(nn::Dropout(nn::DropoutOptions(0.25)));
    cnn->Add(nn::Flatten());
    cnn->Add(nn::Dense(nn::DenseOptions(12).Activation(nn::kRelu)));
    cnn->Add(nn::Dropout(nn::DropoutOptions(0.5)));
    cnn->Add(nn::Dense(nn::DenseOptions(2).Activation(nn::kSoftmax)));
    made = std::move(cnn);
  }
  nn::Model& model = *made;
  model.Compile(nn::CategoricalCrossentropy(), nn::Adam(nn::AdamOptions().LearningRate(0.01)),
                {"accuracy"});
  std::vector<nn::Ref<nn::Callback>> callbacks = {
      nn::ModelCheckpoint(nn::ModelCheckpointOptions(out + "/ckpt-{epoch:02d}-{val_loss:.4f}")
                              .SaveBestOnly(true)),
      nn::EarlyStopping(nn::EarlyStoppingOptions().Patience(2).RestoreBestWeights(true)),
      nn::CSVLogger(out + "/history.csv"),
      nn::BackupAndRestore(nn::BackupAndRestoreOptions(out + "/backup").SaveFreq(3))};
  // Always there (rank -1: nobody dies), so that a rerun has the same callbacks.
  const char* die_rank = std::getenv("GRADWAY_TEST_DIE_RANK");
  const char* die_step = std::getenv("GRADWAY_TEST_DIE_STEP");
  callbacks.push_back(std::make_shared<DieAt>(die_rank ? std::atoi(die_rank) : -1,
                                              die_step ? std::atoll(die_step) : -1));
  nn::History h = model.Fit(x_mine, y_mine,
                            nn::FitOptions()
                                .Epochs(8)
                                .BatchSize(40)
                                .Distributed(world)
                                .MicroShards(kMicroShards)
                                .TrainRows(first, x.size(0))
                                .ValidationData(xv_mine, yv_mine)
                                .ValidationRows(vfirst, xv.size(0))
                                .CheckReplicasEvery(1)
                                .Verbose(rank == 0 ? 2 : 0)
                                .Callbacks(callbacks));
  absl::Status saved = model.SaveWeights(out + "/weights.rank" + std::to_string(rank) +
                                         ".safetensors");
  GRADWAY_CHECK(saved.ok(), saved.message());
  if (rank == 0) {
    std::ofstream f(out + "/history.txt");
    for (size_t e = 0; e < h.size(); ++e) {
      for (const auto& [key, values] : h.history) {
        if (key == "seconds") continue;
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%a", values[e]);
        f << h.epoch[e] << " " << key << " " << buf << "\n";
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace gradway

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr,
                 "usage: mpirun -np N data_parallel_check OUT_DIR [cnn|bn_cnn|bn_residual]\n");
    return 2;
  }
  try {
    return gradway::Run(argv[1], argc == 3 ? argv[2] : "cnn");
  } catch (const gradway::Error& e) {
    std::fprintf(stderr, "data_parallel_check: %s\n", e.what());
    return 1;
  }
}
