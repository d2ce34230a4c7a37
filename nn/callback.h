// The Callback interface (Keras' keras.callbacks.Callback) and the Logs passed to it.
// Concrete callbacks (ModelCheckpoint, EarlyStopping, CSVLogger, ...) are in
// nn/callbacks.h; the progress bar is in nn/progress.h.
//
// Model::Fit calls, in order: OnTrainBegin; per epoch OnEpochBegin, then per batch
// OnBatchBegin / OnBatchEnd, then OnEpochEnd; finally OnTrainEnd. Epochs and batches are
// 0-based here (as in Keras); printed messages say "Epoch 00003" for epoch index 2.
// A callback stops training by setting model()->stop_training = true.
//
// A callback whose behaviour depends on earlier epochs (EarlyStopping's wait and best,
// ModelCheckpoint's best, CSVLogger's rows) saves that state in SaveState and takes it back
// in RestoreState, so that nn::BackupAndRestore can continue a crashed run exactly.
#ifndef GRADWAY_NN_CALLBACK_H_
#define GRADWAY_NN_CALLBACK_H_

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {
namespace nn {

class Model;
class TrainingRun;

// Named scalar values in insertion order: "loss", "accuracy", "val_loss", "val_accuracy",
// and at epoch end "seconds" (that epoch's training wall time, validation excluded).
class Logs {
 public:
  // Sets `key` (appending it if new).
  void Set(const std::string& key, double value);
  bool Has(const std::string& key) const { return Find(key).has_value(); }
  std::optional<double> Find(const std::string& key) const;
  // The value of `key`; throws gradway::Error listing the available keys when missing.
  double Get(const std::string& key) const;
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  // "loss, accuracy, val_loss" (for error messages).
  std::string KeysString() const;

 private:
  std::vector<std::pair<std::string, double>> items_;
};

// What Fit tells its callbacks before training (Keras' callback.params).
struct TrainParams {
  int epochs = 0;           // the last epoch (exclusive), as passed to Fit
  int initial_epoch = 0;
  int64_t steps = 0;        // batches per epoch
  int64_t samples = 0;      // training samples
  int64_t batch_size = 0;
  int verbose = 1;
  uint64_t seed = 0;        // the batch-order seed (FitOptions::seed or the model seed)
  // Data-parallel training (nn/collective.h): this process's rank and the rank count.
  // Callbacks that write files or print do so on rank 0 only.
  int rank = 0, ranks = 1;
  int micro_shards = 0;     // FitOptions::micro_shards when data-parallel, else 0
};

// What a callback needs to continue after a crash (see Callback::SaveState): named values
// (numbers as exact decimal strings) and named tensors.
struct CallbackState {
  std::map<std::string, std::string> values;
  std::vector<std::pair<std::string, Tensor>> tensors;
  // The value of `key` as a double / an integer, or the tensor `name`; each throws
  // gradway::Error naming the key when it is missing or malformed.
  double Double(const std::string& key) const;
  int64_t Int(const std::string& key) const;
  const std::string& String(const std::string& key) const;
  void SetDouble(const std::string& key, double v);
  void SetInt(const std::string& key, int64_t v) { values[key] = std::to_string(v); }
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void OnTrainBegin(const Logs& /*logs*/) {}
  virtual void OnTrainEnd(const Logs& /*logs*/) {}
  virtual void OnEpochBegin(int /*epoch*/, const Logs& /*logs*/) {}
  virtual void OnEpochEnd(int /*epoch*/, const Logs& /*logs*/) {}
  virtual void OnBatchBegin(int64_t /*batch*/, const Logs& /*logs*/) {}
  // `logs` hold the running means over the epoch so far ("loss", metrics).
  virtual void OnBatchEnd(int64_t /*batch*/, const Logs& /*logs*/) {}

  // BackupAndRestore's hooks (see the file comment); stateless callbacks keep the defaults.
  // SaveState adds this callback's state to `state`. RestoreState runs after OnTrainBegin
  // when a run resumes and takes back what SaveState wrote; it throws gradway::Error
  // naming the key for a missing or malformed value.
  virtual void SaveState(CallbackState* /*state*/) const {}
  virtual void RestoreState(const CallbackState& /*state*/) {}
  // Callbacks run in ascending order() at every hook, in the given order among equals
  // (nn/callback_list.h). kRunLast is for a callback that must see what the others did at
  // the same hook (BackupAndRestore saves their state once they have updated it).
  static constexpr int kRunLast = std::numeric_limits<int>::max();
  virtual int order() const { return 0; }

  // Set by Fit before OnTrainBegin: the model, what Fit was asked to do, and the run
  // itself, whose state can be captured and restored (nn/training_state.h); run() is null
  // again once that Fit has ended.
  void SetFit(Model* model, const TrainParams& params, TrainingRun* run) {
    model_ = model;
    params_ = params;
    run_ = run;
  }
  Model* model() const { return model_; }
  const TrainParams& params() const { return params_; }
  TrainingRun* run() const { return run_; }

 private:
  Model* model_ = nullptr;
  TrainParams params_;
  TrainingRun* run_ = nullptr;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_CALLBACK_H_
