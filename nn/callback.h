// The Callback interface (Keras' keras.callbacks.Callback) and the Logs passed to it.
// Concrete callbacks (ModelCheckpoint, EarlyStopping, CSVLogger, ...) are in
// nn/callbacks.h; the progress bar is in nn/progress.h.
//
// Model::Fit calls, in order: OnTrainBegin; per epoch OnEpochBegin, then per batch
// OnBatchBegin / OnBatchEnd, then OnEpochEnd; finally OnTrainEnd. Epochs and batches are
// 0-based here (as in Keras); printed messages say "Epoch 00003" for epoch index 2.
// A callback stops training by setting model()->stop_training = true.
#ifndef GRADWAY_NN_CALLBACK_H_
#define GRADWAY_NN_CALLBACK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gradway {
namespace nn {

class Model;

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

  // Set by Fit before OnTrainBegin.
  void SetModel(Model* model) { model_ = model; }
  void SetParams(const TrainParams& params) { params_ = params; }
  Model* model() const { return model_; }
  const TrainParams& params() const { return params_; }

 private:
  Model* model_ = nullptr;
  TrainParams params_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_CALLBACK_H_
