// Keras' standard callbacks: ModelCheckpoint, EarlyStopping, CSVLogger, TerminateOnNaN,
// LearningRateScheduler, ReduceLROnPlateau and LambdaCallback (BackupAndRestore is in
// nn/backup_and_restore.h, the checkpoint filepath templates in nn/filepath_template.h;
// both are included here).
// Pass them to Fit as values, or as shared_ptrs when you want to read their state
// afterwards (EarlyStopping::stopped_epoch()):
//
//   auto stop = std::make_shared<nn::EarlyStopping>(nn::EarlyStoppingOptions().Patience(3));
//   model.Fit(x, y, nn::FitOptions().Callbacks({stop, nn::TerminateOnNaN()}));
//
// Messages go to the model's output stream (Model::SetOutput, default std::cout) and are
// Keras' own, e.g. "\nEpoch 00003: val_loss improved from 0.08447 to 0.07896, saving model
// to ./model/03-0.0790". Epoch numbers in messages and files are 1-based.
#ifndef GRADWAY_NN_CALLBACKS_H_
#define GRADWAY_NN_CALLBACKS_H_

#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "nn/backup_and_restore.h"
#include "nn/callback.h"
#include "nn/filepath_template.h"
#include "nn/optimizers.h"

namespace gradway {
namespace nn {

// Whether a monitored quantity should go down (kMin) or up (kMax); kAuto picks kMax for
// names containing "acc" and kMin otherwise (Keras).
enum class MonitorMode { kAuto, kMin, kMax };

struct ModelCheckpointOptions {
  ModelCheckpointOptions(std::string filepath)  // NOLINT(runtime/explicit)
      : filepath(std::move(filepath)) {}
  std::string filepath;
  std::string monitor = "val_loss";
  MonitorMode mode = MonitorMode::kAuto;
  bool save_best_only = false;
  bool save_weights_only = false;
  int verbose = 1;  // Keras defaults to 0; 1 prints the messages above

  ModelCheckpointOptions& Monitor(std::string v) { monitor = std::move(v); return *this; }
  ModelCheckpointOptions& Mode(MonitorMode v) { mode = v; return *this; }
  ModelCheckpointOptions& SaveBestOnly(bool v) { save_best_only = v; return *this; }
  ModelCheckpointOptions& SaveWeightsOnly(bool v) { save_weights_only = v; return *this; }
  ModelCheckpointOptions& Verbose(int v) { verbose = v; return *this; }
};

// Saves the model at the end of each epoch (or only when `monitor` improves) to the
// formatted filepath, creating parent directories. save_weights_only writes
// Model::SaveWeights, otherwise Model::Save (weights + optimiser state); both safetensors,
// written atomically. Never saves non-finite weights or a non-finite monitored value (it
// prints "Epoch 00005: loss is nan, not saving the model" instead), so a diverged run
// cannot overwrite the last good checkpoint. A failed write throws gradway::Error with the
// file error. At the start of training it removes the temporaries that a killed process
// left in the checkpoints' folder (data::RemoveStaleTemporaries).
class ModelCheckpoint : public Callback {
 public:
  ModelCheckpoint(ModelCheckpointOptions options);  // NOLINT(runtime/explicit)
  void OnTrainBegin(const Logs& logs) override;
  void OnEpochEnd(int epoch, const Logs& logs) override;
  double best() const { return best_; }
  // The last file written ("" if none).
  const std::string& last_saved() const { return last_saved_; }
  // best and last_saved.
  void SaveState(CallbackState* state) const override;
  void RestoreState(const CallbackState& state) override;

 private:
  void SaveTo(const std::string& path);
  ModelCheckpointOptions options_;
  FilepathTemplate template_;
  bool maximize_;
  double best_;
  std::string last_saved_;
};

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0;  // improvements smaller than this do not count
  int patience = 0;      // epochs without improvement before stopping
  MonitorMode mode = MonitorMode::kAuto;
  bool restore_best_weights = false;
  int verbose = 1;  // Keras defaults to 0; 1 prints "Epoch 00013: early stopping"

  EarlyStoppingOptions& Monitor(std::string v) { monitor = std::move(v); return *this; }
  EarlyStoppingOptions& MinDelta(double v) { min_delta = v; return *this; }
  EarlyStoppingOptions& Patience(int v) { patience = v; return *this; }
  EarlyStoppingOptions& Mode(MonitorMode v) { mode = v; return *this; }
  EarlyStoppingOptions& RestoreBestWeights(bool v) { restore_best_weights = v; return *this; }
  EarlyStoppingOptions& Verbose(int v) { verbose = v; return *this; }
};

// Stops training when `monitor` has not improved by min_delta for `patience` epochs
// (Keras 2.4 semantics); optionally restores the weights of the best epoch.
class EarlyStopping : public Callback {
 public:
  EarlyStopping(EarlyStoppingOptions options = {});  // NOLINT(runtime/explicit)
  void OnTrainBegin(const Logs& logs) override;
  void OnEpochEnd(int epoch, const Logs& logs) override;
  void OnTrainEnd(const Logs& logs) override;
  // The 0-based epoch at which training stopped, or -1.
  int stopped_epoch() const { return stopped_epoch_; }
  double best() const { return best_; }
  // wait, best, stopped_epoch and the best epoch's weights.
  void SaveState(CallbackState* state) const override;
  void RestoreState(const CallbackState& state) override;

 private:
  EarlyStoppingOptions options_;
  bool maximize_;
  double best_ = 0;
  int wait_ = 0;
  int stopped_epoch_ = -1;
  std::vector<Tensor> best_weights_;
};

// Writes one CSV row per epoch: "epoch,loss,accuracy,val_loss,val_accuracy,seconds" with
// the logs' keys in their order. Epochs are 1-based (Keras writes 0-based ones). Values are
// written with the shortest round-trip decimal. append=true continues an existing file
// (without a second header). File errors throw gradway::Error naming the file. Its saved
// state is the file's text, which a resumed run writes back before appending.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, bool append = false, char separator = ',');
  CSVLogger(const CSVLogger& other);
  void OnTrainBegin(const Logs& logs) override;
  void OnEpochEnd(int epoch, const Logs& logs) override;
  void OnTrainEnd(const Logs& logs) override;
  void SaveState(CallbackState* state) const override;
  void RestoreState(const CallbackState& state) override;

 private:
  void Open(bool append);
  std::string filename_;
  bool append_;
  char separator_;
  std::string text_;  // what the file holds: earlier text (append) and the rows written
  std::ofstream file_;
};

// Stops training at the first batch whose (running) loss is NaN or infinite, printing
// "Batch 12: Invalid loss, terminating training" (0-based batch index, as Keras).
class TerminateOnNaN : public Callback {
 public:
  void OnBatchEnd(int64_t batch, const Logs& logs) override;
};

// Sets the optimiser's learning rate at each epoch start to schedule(epoch, lr).
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(LearningRateSchedule schedule, int verbose = 0)
      : schedule_(std::move(schedule)), verbose_(verbose) {}
  void OnEpochBegin(int epoch, const Logs& logs) override;

 private:
  LearningRateSchedule schedule_;
  int verbose_;
};

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;    // new_lr = max(lr * factor, min_lr); 0 <= factor < 1
  int patience = 10;      // epochs without improvement before a reduction
  MonitorMode mode = MonitorMode::kAuto;
  double min_delta = 1e-4;  // an improvement must beat the best by more than this
  int cooldown = 0;       // epochs after a reduction before `wait` counts again
  double min_lr = 0;      // the learning rate never goes below this
  // 1 prints "\nEpoch 00012: ReduceLROnPlateau reducing learning rate to 0.001." (Keras 2's).
  int verbose = 0;

  ReduceLROnPlateauOptions& Monitor(std::string v) { monitor = std::move(v); return *this; }
  ReduceLROnPlateauOptions& Factor(double v) { factor = v; return *this; }
  ReduceLROnPlateauOptions& Patience(int v) { patience = v; return *this; }
  ReduceLROnPlateauOptions& Mode(MonitorMode v) { mode = v; return *this; }
  ReduceLROnPlateauOptions& MinDelta(double v) { min_delta = v; return *this; }
  ReduceLROnPlateauOptions& Cooldown(int v) { cooldown = v; return *this; }
  ReduceLROnPlateauOptions& MinLR(double v) { min_lr = v; return *this; }
  ReduceLROnPlateauOptions& Verbose(int v) { verbose = v; return *this; }
};

// Keras' ReduceLROnPlateau (Keras' defaults and semantics): at each epoch end, when
// `monitor` has not improved on the best value by more than min_delta (mode kMin: below
// best - min_delta; kMax: above best + min_delta) for `patience` epochs, sets the
// optimiser's learning rate to max(lr * factor, min_lr), if lr > min_lr, then waits
// `cooldown` epochs before counting again. When `monitor` is not in the logs it says so
// once per Fit (Keras warns) and does nothing.
// The learning rate must be a number: a step schedule (nn/schedules.h) sets it at every
// step, and Keras refuses to set such a rate, so Fit throws gradway::Error at the start of
// training (Keras only when it first reduces). Its state (best, wait, cooldown counter) is
// saved by BackupAndRestore; the reduced rate is the optimiser's, saved with it. Keras also
// adds "learning_rate" to the epoch's logs; gradway's logs are read-only for callbacks, so
// read it from model()->optimizer()->learning_rate(). Throws Error for factor outside
// [0, 1), a negative patience, cooldown or min_lr, or a NaN min_delta.
class ReduceLROnPlateau : public Callback {
 public:
  ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});  // NOLINT(runtime/explicit)
  void OnTrainBegin(const Logs& logs) override;
  void OnEpochEnd(int epoch, const Logs& logs) override;
  double best() const { return best_; }
  int wait() const { return wait_; }
  int cooldown_counter() const { return cooldown_counter_; }
  // best, wait and cooldown_counter.
  void SaveState(CallbackState* state) const override;
  void RestoreState(const CallbackState& state) override;

 private:
  bool Improved(double current) const;
  void Reduce(int epoch);
  ReduceLROnPlateauOptions options_;
  bool maximize_;
  double best_ = 0;
  int wait_ = 0;
  int cooldown_counter_ = 0;
  bool warned_ = false;
};

// A callback from lambdas: nn::LambdaCallback().EpochEnd([](int epoch, const nn::Logs& l) {...}).
class LambdaCallback : public Callback {
 public:
  using TrainFn = std::function<void(const Logs&)>;
  using EpochFn = std::function<void(int epoch, const Logs&)>;
  using BatchFn = std::function<void(int64_t batch, const Logs&)>;
  LambdaCallback& TrainBegin(TrainFn f) { train_begin_ = std::move(f); return *this; }
  LambdaCallback& TrainEnd(TrainFn f) { train_end_ = std::move(f); return *this; }
  LambdaCallback& EpochBegin(EpochFn f) { epoch_begin_ = std::move(f); return *this; }
  LambdaCallback& EpochEnd(EpochFn f) { epoch_end_ = std::move(f); return *this; }
  LambdaCallback& BatchBegin(BatchFn f) { batch_begin_ = std::move(f); return *this; }
  LambdaCallback& BatchEnd(BatchFn f) { batch_end_ = std::move(f); return *this; }

  void OnTrainBegin(const Logs& l) override { if (train_begin_) train_begin_(l); }
  void OnTrainEnd(const Logs& l) override { if (train_end_) train_end_(l); }
  void OnEpochBegin(int e, const Logs& l) override { if (epoch_begin_) epoch_begin_(e, l); }
  void OnEpochEnd(int e, const Logs& l) override { if (epoch_end_) epoch_end_(e, l); }
  void OnBatchBegin(int64_t b, const Logs& l) override { if (batch_begin_) batch_begin_(b, l); }
  void OnBatchEnd(int64_t b, const Logs& l) override { if (batch_end_) batch_end_(b, l); }

 private:
  TrainFn train_begin_, train_end_;
  EpochFn epoch_begin_, epoch_end_;
  BatchFn batch_begin_, batch_end_;
};


}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_CALLBACKS_H_
