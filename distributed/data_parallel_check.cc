// A small data-parallel training run for data_parallel_test.sh, started by mpirun:
//   mpirun -np N data_parallel_check OUT_DIR
// Trains a dropout CNN on synthetic images with the chapter's callbacks (ModelCheckpoint,
// EarlyStopping, CSVLogger, BackupAndRestore), each rank loading only its rows, comparing
// its weights with the other ranks' after every step. Every rank then writes its weights to
// OUT_DIR/weights.rank<R>.safetensors; rank 0 also writes OUT_DIR/history.txt (the history
// without wall times) and the callbacks' files.
// GRADWAY_TEST_DIE_RANK=R and GRADWAY_TEST_DIE_STEP=S make rank R kill itself (SIGKILL)
// after training step S.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "autograd/error.h"
#include "autograd/generator.h"
#include "autograd/tensor.h"
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

int Run(const std::string& out) {
  std::shared_ptr<nn::Collective> world = distributed::WorldCollective();
  GRADWAY_CHECK(world != nullptr, "data_parallel_check: run it under mpirun");
  const int rank = world->rank(), ranks = world->size();
  constexpr int kMicroShards = 8;
  Tensor x, y, xv, yv;
  Bars(400, 10, 1, &x, &y);
  Bars(130, 10, 2, &xv, &yv);
  // Only this rank's rows, as a rank reading its part of a file would hold.
  const auto [first, end] = nn::TrainRowsOfRank(x.size(0), kMicroShards, rank, ranks);
  const auto [vfirst, vend] = nn::EvalRowsOfRank(xv.size(0), 40, rank, ranks);
  Tensor x_mine = x.Narrow(0, first, end - first), y_mine = y.Narrow(0, first, end - first);
  Tensor xv_mine = xv.Narrow(0, vfirst, vend - vfirst);
  Tensor yv_mine = yv.Narrow(0, vfirst, vend - vfirst);

  nn::Sequential model(11);
  model.Add(nn::Conv2D(nn::Conv2DOptions(6, 3).Activation(nn::kRelu).InputShape({10, 10, 1})));
  model.Add(nn::MaxPooling2D(2));
  model.Add(nn::Dropout(nn::DropoutOptions(0.25)));
  model.Add(nn::Flatten());
  model.Add(nn::Dense(nn::DenseOptions(12).Activation(nn::kRelu)));
  model.Add(nn::Dropout(nn::DropoutOptions(0.5)));
  model.Add(nn::Dense(nn::DenseOptions(2).Activation(nn::kSoftmax)));
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
  if (argc != 2) {
    std::fprintf(stderr, "usage: mpirun -np N data_parallel_check OUT_DIR\n");
    return 2;
  }
  try {
    return gradway::Run(argv[1]);
  } catch (const gradway::Error& e) {
    std::fprintf(stderr, "data_parallel_check: %s\n", e.what());
    return 1;
  }
}
