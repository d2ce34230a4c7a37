// What a Fit produces and where it stands: History (Keras' History.history), and RunState,
// the whole state of a run in progress as one value with its own save and load, which
// BackupAndRestore writes and reads to survive a crash (nn/backup_and_restore.h).
//
// RunState's file is a safetensors file (nn/checkpoint.h) holding the model's checkpoint
// tensors (weights, optimiser slots), every callback's tensors ("callback/<i>/<name>"), and
// in __metadata__ "format": "gradway-backup" with "format_version" and "gradway_version"
// (the format version and the gradway that wrote it, as in model checkpoints, nn/checkpoint.h;
// a backup without "format_version" is format 1), the position ("epoch", "batch"), the run's
// shape ("samples", "batch_size", "steps", "seed", "micro_shards"), "stop_training",
// "epoch_learning_rate", the running "metrics", the history ("history/epoch",
// "history/logs/<key>") and the callbacks' values ("callbacks", "callback/<i>/<key>").
// Numbers are written so that they read back exactly.
#ifndef GRADWAY_NN_TRAINING_STATE_H_
#define GRADWAY_NN_TRAINING_STATE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nn/callback.h"
#include "nn/checkpoint.h"

namespace gradway {
namespace nn {

// What Fit returns: one entry per epoch run (Keras' History.history).
struct History {
  std::vector<int> epoch;  // 1-based epoch numbers
  std::vector<double> loss, accuracy, val_loss, val_accuracy;
  std::vector<double> seconds;  // training wall time of each epoch (validation excluded)
  // Every logs key per epoch, including other metrics ("mse", "val_mse").
  std::map<std::string, std::vector<double>> history;
  size_t size() const { return epoch.size(); }
  // Adds the epoch numbered `epoch_number` (1-based) with its logs (Fit, at each epoch end).
  void Append(int epoch_number, const Logs& logs);
};

// The state of a Fit in progress: everything needed to continue it bit-identically in
// another process. The training step (the dropout masks' step) is epoch * steps + batch.
struct RunState {
  // What the run is; a state restores only into a run of the same shape.
  int64_t samples = 0, batch_size = 0, steps = 0;
  uint64_t seed = 0;     // the batch-order seed
  int micro_shards = 0;  // 0 for a single-process run
  // Where it stands.
  int epoch = 0;      // the epoch being trained (0-based); between epochs, the next one
  int64_t batch = 0;  // batches of `epoch` already trained
  bool stop_training = false;
  // The optimiser's learning rate before `epoch`'s OnEpochBegin hooks (schedules) ran.
  double epoch_learning_rate = 0;
  std::vector<double> metrics;  // Model::MetricsState(): the running loss and metrics
  History history;              // the epochs completed
  // Model::CheckpointTensors: the weights and optimiser slots, and their metadata
  // ("optimizer", "step", "learning_rate").
  NamedTensors model_tensors;
  Metadata model_metadata;
  // FitOptions::callbacks' SaveState, in order.
  std::vector<CallbackState> callbacks;

  // Writes the state to `path` atomically (the file layout is in the file comment).
  absl::Status Save(const std::string& path) const;
  // Reads a state Save wrote. Errors name the file and what is wrong with it (a format
  // version newer than this gradway reads, a missing or malformed value, an epoch or batch
  // out of range, a callback tensor of no callback).
  static absl::StatusOr<RunState> Load(const std::string& path);
};

// The Fit in progress as callbacks see it (Callback::run()): its state can be taken and
// put back. BackupAndRestore saves Capture() and, to resume, Restore()s what it saved.
class TrainingRun {
 public:
  virtual ~TrainingRun() = default;
  // The state now, as a copy (later training does not change it).
  virtual RunState Capture() const = 0;
  // Continues from `state`: the weights, optimiser, metrics, callbacks, history and
  // position. Only before the first epoch starts (a callback's OnTrainBegin). Throws Error
  // saying what does not fit this run (another data set size, batch size, seed or
  // micro-shard count, another number of callbacks, another model), or when called later.
  virtual void Restore(const RunState& state) = 0;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_TRAINING_STATE_H_
