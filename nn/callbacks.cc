#include "nn/callbacks.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "autograd/error.h"
#include "data/file_util.h"
#include "nn/checkpoint.h"
#include "nn/model.h"

namespace gradway {
namespace nn {
namespace {

bool Maximize(MonitorMode mode, const std::string& monitor) {
  if (mode == MonitorMode::kMax) return true;
  if (mode == MonitorMode::kMin) return false;
  return absl::StrContains(monitor, "acc") || absl::StartsWith(monitor, "fmeasure");
}

std::string EpochTag(int epoch) { return absl::StrFormat("Epoch %05d", epoch + 1); }

}  // namespace

// ---- ModelCheckpoint.
ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options)
    : options_(std::move(options)),
      template_(options_.filepath),
      maximize_(Maximize(options_.mode, options_.monitor)),
      best_(maximize_ ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity()) {}

void ModelCheckpoint::OnTrainBegin(const Logs&) {
  if (params().rank != 0) return;  // data-parallel: rank 0 writes the checkpoints
  // Temporaries of writes that a crash interrupted, in the checkpoints' folder when the
  // template does not vary it.
  const std::string parent =
      std::filesystem::path(options_.filepath).parent_path().string();
  if (parent.find('{') == std::string::npos) {
    data::RemoveStaleTemporaries(parent.empty() ? "." : parent);
  }
}

void ModelCheckpoint::SaveTo(const std::string& path) {
  if (params().rank != 0) {  // data-parallel: rank 0 writes, the others only keep count
    last_saved_ = path;
    return;
  }
  const std::string parent = std::filesystem::path(path).parent_path().string();
  absl::Status made = data::MakeDirs(parent);  // nothing to do for ""
  if (!made.ok()) Fail("ModelCheckpoint: ", made.message());
  absl::Status st = options_.save_weights_only ? model()->SaveWeights(path) : model()->Save(path);
  if (!st.ok()) Fail("ModelCheckpoint: ", st.message());
  last_saved_ = path;
}

void ModelCheckpoint::OnEpochEnd(int epoch, const Logs& logs) {
  std::ostream& os = model()->out();
  const bool verbose = options_.verbose > 0;
  std::optional<double> current = logs.Find(options_.monitor);
  // Never write a diverged model over a good checkpoint.
  std::optional<double> loss = logs.Find("loss");
  const char* bad_key = nullptr;
  double bad_value = 0;
  if (current && !std::isfinite(*current)) {
    bad_key = options_.monitor.c_str();
    bad_value = *current;
  } else if (loss && !std::isfinite(*loss)) {
    bad_key = "loss";
    bad_value = *loss;
  }
  if (bad_key != nullptr || !model()->WeightsFinite()) {
    if (verbose) {
      if (bad_key != nullptr) {
        os << "\n" << EpochTag(epoch) << ": " << bad_key << " is " << FloatRepr(bad_value)
           << ", not saving the model\n";
      } else {
        os << "\n" << EpochTag(epoch) << ": weights are not finite, not saving the model\n";
      }
    }
    return;
  }
  const std::string path = template_.Format(epoch, logs);
  if (!options_.save_best_only) {
    if (verbose) os << "\n" << EpochTag(epoch) << ": saving model to " << path << "\n";
    SaveTo(path);
    return;
  }
  if (!current) {
    if (verbose) {
      os << "Can save best model only with " << options_.monitor << " available, skipping. "
         << "(available: " << logs.KeysString() << ")\n";
    }
    return;
  }
  const bool improved = maximize_ ? *current > best_ : *current < best_;
  if (improved) {
    if (verbose) {
      os << "\n"
         << absl::StrFormat("%s: %s improved from %0.5f to %0.5f, saving model to %s",
                            EpochTag(epoch), options_.monitor, best_, *current, path)
         << "\n";
    }
    best_ = *current;
    SaveTo(path);
  } else if (verbose) {
    os << "\n"
       << absl::StrFormat("%s: %s did not improve from %0.5f", EpochTag(epoch),
                          options_.monitor, best_)
       << "\n";
  }
}

void ModelCheckpoint::SaveState(CallbackState* state) const {
  state->SetDouble("best", best_);
  state->values["last_saved"] = last_saved_;
}

void ModelCheckpoint::RestoreState(const CallbackState& state) {
  best_ = state.Double("best");
  last_saved_ = state.String("last_saved");
}

// ---- EarlyStopping.
EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)), maximize_(Maximize(options_.mode, options_.monitor)) {
  GRADWAY_CHECK(options_.patience >= 0, "EarlyStopping: patience must be >= 0, got ",
                options_.patience);
}

void EarlyStopping::OnTrainBegin(const Logs&) {
  wait_ = 0;
  stopped_epoch_ = -1;
  best_ = maximize_ ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  best_weights_.clear();
}

void EarlyStopping::OnEpochEnd(int epoch, const Logs& logs) {
  std::optional<double> current = logs.Find(options_.monitor);
  if (!current) {
    if (options_.verbose > 0) {
      model()->out() << "Early stopping conditioned on metric `" << options_.monitor
                     << "` which is not available. Available metrics are: "
                     << logs.KeysString() << "\n";
    }
    return;
  }
  const double delta = std::fabs(options_.min_delta);
  const bool improved = maximize_ ? *current - delta > best_ : *current + delta < best_;
  if (improved) {
    best_ = *current;
    wait_ = 0;
    if (options_.restore_best_weights) best_weights_ = model()->GetWeights();
    return;
  }
  if (++wait_ >= options_.patience) {
    stopped_epoch_ = epoch;
    model()->stop_training = true;
    if (options_.restore_best_weights && !best_weights_.empty()) {
      if (options_.verbose > 0) {
        model()->out() << "Restoring model weights from the end of the best epoch.\n";
      }
      model()->SetWeights(best_weights_);
    }
  }
}

void EarlyStopping::OnTrainEnd(const Logs&) {
  if (stopped_epoch_ >= 0 && options_.verbose > 0) {
    model()->out() << EpochTag(stopped_epoch_) << ": early stopping\n";
  }
}

void EarlyStopping::SaveState(CallbackState* state) const {
  state->SetInt("wait", wait_);
  state->SetDouble("best", best_);
  state->SetInt("stopped_epoch", stopped_epoch_);
  for (size_t i = 0; i < best_weights_.size(); ++i) {
    state->tensors.emplace_back(absl::StrCat("best_weights/", i), best_weights_[i]);
  }
}

void EarlyStopping::RestoreState(const CallbackState& state) {
  const int64_t wait = state.Int("wait"), stopped = state.Int("stopped_epoch");
  GRADWAY_CHECK(wait >= 0 && wait <= std::numeric_limits<int>::max() && stopped >= -1 &&
                    stopped <= std::numeric_limits<int>::max(),
                "EarlyStopping: saved wait ", wait, " or stopped_epoch ", stopped,
                " out of range");
  const NamedTensors params = model()->NamedParameters();
  std::vector<Tensor> weights;
  for (const auto& [name, t] : state.tensors) weights.push_back(t);
  GRADWAY_CHECK(weights.empty() || weights.size() == params.size(),
                "EarlyStopping: saved ", weights.size(), " best weights for a model with ",
                params.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    GRADWAY_CHECK(state.tensors[i].first == absl::StrCat("best_weights/", i) &&
                      weights[i].shape() == params[i].second.shape(),
                  "EarlyStopping: saved best weight '", state.tensors[i].first, "' ",
                  ShapeToString(weights[i].shape()), " does not fit '", params[i].first,
                  "' ", ShapeToString(params[i].second.shape()));
  }
  wait_ = static_cast<int>(wait);
  stopped_epoch_ = static_cast<int>(stopped);
  best_ = state.Double("best");
  best_weights_ = std::move(weights);
}

// ---- CSVLogger.
CSVLogger::CSVLogger(std::string filename, bool append, char separator)
    : filename_(std::move(filename)), append_(append), separator_(separator) {}

CSVLogger::CSVLogger(const CSVLogger& other)
    : Callback(other),
      filename_(other.filename_),
      append_(other.append_),
      separator_(other.separator_) {}

void CSVLogger::Open(bool append) {
  if (params().rank != 0) return;  // data-parallel: rank 0 writes the file
  file_.close();
  file_.clear();
  file_.open(filename_, append ? std::ios::app : std::ios::trunc);
  if (!file_) Fail("CSVLogger: cannot open '", filename_, "' for writing");
}

void CSVLogger::OnTrainBegin(const Logs&) {
  text_.clear();
  if (append_ && data::FileExists(filename_)) {
    absl::StatusOr<std::string> old = data::ReadFileToString(filename_);
    if (!old.ok()) Fail("CSVLogger: ", old.status().message());
    text_ = *std::move(old);
  }
  Open(append_);
}

void CSVLogger::OnEpochEnd(int epoch, const Logs& logs) {
  std::string rows;
  if (text_.empty()) {
    rows = "epoch";
    for (const auto& kv : logs.items()) absl::StrAppend(&rows, std::string(1, separator_), kv.first);
    rows += '\n';
  }
  absl::StrAppend(&rows, epoch + 1);
  for (const auto& kv : logs.items()) {
    absl::StrAppend(&rows, std::string(1, separator_), FloatRepr(kv.second));
  }
  rows += '\n';
  if (params().rank == 0) {
    file_ << rows;
    file_.flush();
    if (!file_) Fail("CSVLogger: writing '", filename_, "' failed");
  }
  text_ += rows;
}

void CSVLogger::OnTrainEnd(const Logs&) { file_.close(); }

void CSVLogger::SaveState(CallbackState* state) const { state->values["text"] = text_; }

void CSVLogger::RestoreState(const CallbackState& state) {
  text_ = state.String("text");
  if (params().rank != 0) return;
  absl::Status written = data::WriteFileAtomically(filename_, text_);
  if (!written.ok()) Fail("CSVLogger: ", written.message());
  Open(/*append=*/true);
}

// ---- TerminateOnNaN.
void TerminateOnNaN::OnBatchEnd(int64_t batch, const Logs& logs) {
  std::optional<double> loss = logs.Find("loss");
  if (loss && !std::isfinite(*loss)) {
    model()->out() << "Batch " << batch << ": Invalid loss, terminating training\n";
    model()->stop_training = true;
  }
}

// ---- LearningRateScheduler.
void LearningRateScheduler::OnEpochBegin(int epoch, const Logs&) {
  Optimizer* opt = model()->optimizer();
  GRADWAY_CHECK(opt != nullptr, "LearningRateScheduler: the model has no optimizer");
  double lr = schedule_(epoch, opt->learning_rate());
  GRADWAY_CHECK(std::isfinite(lr) && lr >= 0, "LearningRateScheduler: schedule returned ",
                lr, " for epoch ", epoch);
  opt->set_learning_rate(lr);
  if (verbose_ > 0) {
    model()->out() << "\n" << EpochTag(epoch) << ": LearningRateScheduler setting learning rate to "
                   << FloatRepr(lr) << ".\n";
  }
}

// ---- ReduceLROnPlateau.
ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options)
    : options_(std::move(options)), maximize_(Maximize(options_.mode, options_.monitor)) {
  const ReduceLROnPlateauOptions& o = options_;
  GRADWAY_CHECK(o.factor >= 0 && o.factor < 1,
                "ReduceLROnPlateau: factor must be in [0, 1) (it does not support a factor >= "
                "1.0), got ", o.factor);
  GRADWAY_CHECK(o.patience >= 0 && o.cooldown >= 0 && o.min_lr >= 0 && !std::isnan(o.min_delta),
                "ReduceLROnPlateau: patience, cooldown and min_lr must be >= 0 and min_delta a "
                "number; got patience ", o.patience, ", cooldown ", o.cooldown, ", min_lr ",
                o.min_lr, ", min_delta ", o.min_delta);
}

void ReduceLROnPlateau::OnTrainBegin(const Logs&) {
  const Optimizer* opt = model()->optimizer();
  GRADWAY_CHECK(opt != nullptr, "ReduceLROnPlateau: the model has no optimizer");
  if (const StepSchedule* schedule = opt->learning_rate_schedule()) {
    Fail("ReduceLROnPlateau: the optimizer's learning rate is the schedule ", schedule->name(),
         ", which sets it at every step, so it cannot be reduced (Keras refuses to set it "
         "too); compile with a number learning rate to use ReduceLROnPlateau");
  }
  best_ = maximize_ ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  wait_ = 0;
  cooldown_counter_ = 0;
  warned_ = false;
}

bool ReduceLROnPlateau::Improved(double current) const {
  return maximize_ ? current > best_ + options_.min_delta : current < best_ - options_.min_delta;
}

void ReduceLROnPlateau::OnEpochEnd(int epoch, const Logs& logs) {
  std::optional<double> current = logs.Find(options_.monitor);
  if (!current) {
    if (!warned_) {
      model()->out() << "Learning rate reduction is conditioned on metric `" << options_.monitor
                     << "` which is not available. Available metrics are: "
                     << logs.KeysString() << "\n";
      warned_ = true;
    }
    return;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (Improved(*current)) {
    best_ = *current;
    wait_ = 0;
  } else if (cooldown_counter_ == 0 && ++wait_ >= options_.patience) {
    Reduce(epoch);
  }
}

void ReduceLROnPlateau::Reduce(int epoch) {
  Optimizer* opt = model()->optimizer();
  const double old_lr = opt->learning_rate();
  if (!(old_lr > options_.min_lr)) return;  // already at the floor: wait keeps counting
  const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
  opt->set_learning_rate(new_lr);
  if (options_.verbose > 0) {
    model()->out() << "\n" << EpochTag(epoch) << ": ReduceLROnPlateau reducing learning rate to "
                   << FloatRepr(new_lr) << ".\n";
  }
  cooldown_counter_ = options_.cooldown;
  wait_ = 0;
}

void ReduceLROnPlateau::SaveState(CallbackState* state) const {
  state->SetDouble("best", best_);
  state->SetInt("wait", wait_);
  state->SetInt("cooldown_counter", cooldown_counter_);
}

void ReduceLROnPlateau::RestoreState(const CallbackState& state) {
  const int64_t wait = state.Int("wait"), cooldown = state.Int("cooldown_counter");
  const int64_t most = std::numeric_limits<int>::max();
  GRADWAY_CHECK(wait >= 0 && wait <= most && cooldown >= 0 && cooldown <= most,
                "ReduceLROnPlateau: saved wait ", wait, " or cooldown_counter ", cooldown,
                " out of range");
  best_ = state.Double("best");
  wait_ = static_cast<int>(wait);
  cooldown_counter_ = static_cast<int>(cooldown);
}

}  // namespace nn
}  // namespace gradway
