// Writes the committed checkpoints of nn/testdata/checkpoints/ (README.md there says which
// is which), and prints what nn/checkpoint_compat_test.cc checks the backup against.
//
//   bazel run //nn:write_checkpoints -- DIR TAG
//
// writes DIR/mlp_adam-TAG.safetensors, DIR/cnn_weights-TAG.safetensors and
// DIR/backup-TAG.safetensors (DIR must exist). Deterministic: fixed seeds and closed-form
// data (nn/testdata/checkpoint_models.h). It was run once per writer, on 2026-12-06:
//   - at commit f75d5e1 (gradway before format versions), in a temporary worktree with this
//     file, checkpoint_models.{h,cc} and the two BUILD targets copied in, TAG=f75d5e1;
//   - on branch `version` with gradway 1.0.0 (format version 1), TAG=1.0.0.
// The files are never written again: a new format version adds new files (README.md).
//
// The model checkpoints hold closed-form values (Pattern), not trained ones, so that the
// test can recompute every tensor exactly on any CPU: the MLP is trained for two steps (so
// that Adam has its slots, step and learning rate), then its weights and slots are
// overwritten. The backup holds a real run's state; what depends on the CPU's arithmetic
// (the history, the weights) is printed here and pasted into the test as constants.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nn/nn.h"
#include "nn/testdata/checkpoint_models.h"

namespace gradway {
namespace nn {
namespace checkpoints {
namespace {

// Thrown at the end of kBackupCrashStep: the process dies there.
struct Crashed {};

void Check(const absl::Status& st) {
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    std::exit(1);
  }
}

void WriteMlp(const std::string& path) {
  Sequential model = MakeMlp(kMlpLearningRate);
  auto [x, y] = MlpData();
  for (int64_t i = 0; i < kMlpSteps; ++i) model.TrainStep(x, y);
  SetPatternWeights(model);
  Check(model.Save(path));
}

void WriteCnn(const std::string& path) {
  Sequential model = MakeCnn();
  SetPatternWeights(model);
  Check(model.SaveWeights(path));
}

// Runs the backup's Fit into DIR/backup-TAG/ until the crash, then moves the backup to
// `path`.
void WriteBackup(const std::string& dir, const std::string& path) {
  Sequential model = MakeBackupModel();
  auto [x, y] = BackupData(kBackupSamples, 0);
  auto [xv, yv] = BackupData(6, 100);
  LambdaCallback crash;
  crash.BatchEnd([&model](int64_t, const Logs&) {
    if (model.train_step() == kBackupCrashStep) throw Crashed{};
  });
  try {
    model.Fit(x, y, FitOptions()
                        .Epochs(kBackupEpochs)
                        .BatchSize(kBackupBatchSize)
                        .Seed(kBackupSeed)
                        .Verbose(0)
                        .ValidationData(xv, yv)
                        .Callbacks({EarlyStopping(BackupEarlyStopping()), crash,
                                    BackupAndRestore(BackupAndRestoreOptions(dir).SaveFreq(1))}));
    std::fprintf(stderr, "the run did not crash\n");
    std::exit(1);
  } catch (const Crashed&) {
  }
  if (std::rename((dir + "/backup.safetensors").c_str(), path.c_str()) != 0 ||
      std::remove(dir.c_str()) != 0) {
    std::fprintf(stderr, "cannot move the backup out of %s\n", dir.c_str());
    std::exit(1);
  }
}

// What the test compares the backup with: its metadata as written, and the fingerprints
// of its tensors.
void PrintBackup(const std::string& path) {
  absl::StatusOr<SafetensorsContents> c = ReadSafetensors(path);
  Check(c.status());
  std::printf("%s:\n", path.c_str());
  for (const auto& [key, value] : c->metadata) {
    std::printf("  %s = %s\n", key.c_str(), value.c_str());
  }
  NamedTensors model, callback;
  for (const auto& [name, t] : c->tensors) {
    (name.rfind("callback/", 0) == 0 ? callback : model).emplace_back(name, t);
  }
  std::printf("  model tensors: %zu, Fingerprint 0x%016llxull\n", model.size(),
              static_cast<unsigned long long>(Fingerprint(model)));  // NOLINT(runtime/int)
  std::printf("  callback tensors: %zu, Fingerprint 0x%016llxull\n", callback.size(),
              static_cast<unsigned long long>(Fingerprint(callback)));  // NOLINT(runtime/int)
}

}  // namespace
}  // namespace checkpoints
}  // namespace nn
}  // namespace gradway

int main(int argc, char** argv) {
  using namespace gradway::nn::checkpoints;  // NOLINT(build/namespaces)
  if (argc != 3) {
    std::fprintf(stderr, "usage: write_checkpoints DIR TAG\n");
    return 2;
  }
  const std::string dir = argv[1], tag = argv[2];
  WriteMlp(dir + "/mlp_adam-" + tag + ".safetensors");
  WriteCnn(dir + "/cnn_weights-" + tag + ".safetensors");
  WriteBackup(dir + "/backup-" + tag, dir + "/backup-" + tag + ".safetensors");
  PrintBackup(dir + "/backup-" + tag + ".safetensors");
  return 0;
}
