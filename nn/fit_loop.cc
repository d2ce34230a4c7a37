#include "nn/fit_loop.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "nn/progress.h"

namespace gradway {
namespace nn {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string RunKind(int micro_shards) {
  return micro_shards ? absl::StrCat("data-parallel run with ", micro_shards, " micro-shards")
                      : std::string("single-process run");
}

}  // namespace

FitLoop::FitLoop(Model& model, const Dataset& data, std::shared_ptr<const Dataset> validation,
                 const FitOptions& options)
    : model_(model),
      data_(data),
      validation_(std::move(validation)),
      options_(options),
      comm_(options.collective.get()),
      saved_out_(&model.out()),
      was_training_(model.is_training()),
      epoch_(options.initial_epoch) {
  const int64_t bs = options.batch_size;
  params_.epochs = options.epochs;
  params_.initial_epoch = options.initial_epoch;
  params_.batch_size = bs;
  params_.verbose = options.verbose;
  params_.seed = options.seed.value_or(model.seed());
  if (comm_ != nullptr) {
    params_.samples = options.train_total_rows < 0 ? data.size() : options.train_total_rows;
    shards_.emplace(data, bs, options.shuffle, params_.seed, options.micro_shards, comm_->rank(),
                    comm_->size(), options.train_first_row, params_.samples);
    parallel_.emplace(model, *comm_);
    params_.steps = shards_->steps();
    params_.rank = comm_->rank();
    params_.ranks = comm_->size();
    params_.micro_shards = options.micro_shards;
  } else {
    auto whole = [](int64_t first, int64_t total, const Dataset& d) {
      return first == 0 && (total < 0 || total == d.size());
    };
    GRADWAY_CHECK(whole(options.train_first_row, options.train_total_rows, data) &&
                      (validation_ == nullptr ||
                       whole(options.val_first_row, options.val_total_rows, *validation_)),
                  "Fit: one process trains on the whole data set, but TrainRows / "
                  "ValidationRows say x or x_val holds only part of it");
    batches_.emplace(data, bs, options.shuffle, params_.seed);
    params_.samples = data.size();
    params_.steps = batches_->steps();
  }
  if (params_.rank != 0) model_.SetOutput(&null_out_);  // only rank 0 prints
  // The progress bar first, then the given callbacks (CallbackList orders them).
  std::vector<std::shared_ptr<Callback>> callbacks;
  if (options.verbose > 0 && params_.rank == 0) {
    callbacks.push_back(std::make_shared<ProgbarLogger>(model_.out(), IsTerminal(model_.out())));
  }
  for (const auto& c : options.callbacks) callbacks.push_back(c.get());
  callbacks_ = std::make_unique<CallbackList>(std::move(callbacks), &model_, params_, this);
}

FitLoop::~FitLoop() {
  model_.SetOutput(saved_out_);
  model_.Train(was_training_);
}

History FitLoop::Run() {
  model_.Train(true);
  model_.stop_training = false;
  const Logs empty;
  // A callback may resume a run here (BackupAndRestore calls Restore).
  callbacks_->OnTrainBegin(empty);
  if (parallel_) {
    parallel_->CheckReplicas("at the start of Fit (or after resuming from a backup)",
                             {static_cast<double>(epoch_), static_cast<double>(batch_),
                              model_.stop_training ? 1.0 : 0.0});
  }
  started_ = true;
  while (!model_.stop_training && epoch_ < options_.epochs) {
    const int epoch = epoch_;
    const Logs logs = RunEpoch();
    callbacks_->OnEpochEnd(epoch, logs);
    if (parallel_) {
      parallel_->CheckReplicas(absl::StrCat("at the end of epoch ", epoch + 1).c_str(),
                               {model_.stop_training ? 1.0 : 0.0});
    }
  }
  callbacks_->OnTrainEnd(empty);
  return std::move(history_);
}

Logs FitLoop::RunEpoch() {
  Optimizer& optimizer = *model_.optimizer();
  if (batch_ == 0) epoch_learning_rate_ = optimizer.learning_rate();
  // A number rate goes back to the epoch's start value (a run resumed mid-epoch, before the
  // per-epoch schedules run again); a step schedule follows the restored step count.
  if (optimizer.learning_rate_schedule() == nullptr) {
    optimizer.set_learning_rate(epoch_learning_rate_);
  }
  optimizer.OnEpochBegin(epoch_);
  callbacks_->OnEpochBegin(epoch_, Logs());
  if (shards_) shards_->BeginEpoch(epoch_);
  if (batches_) batches_->BeginEpoch(epoch_);
  if (batch_ == 0) model_.ResetMetrics();  // else resumed mid-epoch with its running totals
  // Epoch e's step s is training step e * steps + s, so a resumed run draws the same
  // dropout masks as an uninterrupted one.
  model_.set_train_step(static_cast<int64_t>(epoch_) * params_.steps + batch_);
  Logs batch_logs;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = batch_; step < params_.steps; ++step) {
    batch_logs = TrainBatch(step, batch_logs);
    if (model_.stop_training) break;
  }
  const double seconds = Seconds(start);
  model_.ZeroGrad();
  Logs logs = model_.MetricsLogs();
  if (validation_ != nullptr) {
    const Logs val_logs = Validate();
    for (const auto& [k, v] : val_logs.items()) logs.Set("val_" + k, v);
  }
  logs.Set("seconds", seconds);
  history_.Append(epoch_ + 1, logs);
  ++epoch_;
  batch_ = 0;
  return logs;
}

Logs FitLoop::TrainBatch(int64_t step, const Logs& previous) {
  Logs logs;
  if (parallel_) {
    callbacks_->OnBatchBegin(step, previous);
    logs = parallel_->TrainStep(data_, *shards_, step);
    batch_ = step + 1;
    const int64_t every = options_.replica_check_steps;
    if (every > 0 && model_.train_step() % every == 0) {
      parallel_->CheckReplicas("during Fit", {static_cast<double>(model_.train_step())});
    }
  } else {
    Tensor x, y;
    batches_->Batch(step, &x, &y);
    callbacks_->OnBatchBegin(step, previous);
    logs = model_.TrainStep(x, y);
    batch_ = step + 1;
  }
  callbacks_->OnBatchEnd(step, logs);
  return logs;
}

Logs FitLoop::Validate() {
  if (parallel_) {
    return parallel_->Evaluate(*validation_, options_.batch_size, options_.val_first_row,
                               options_.val_total_rows);
  }
  return model_.Evaluate(*validation_, options_.batch_size);
}

RunState FitLoop::Capture() const {
  RunState s;
  s.samples = params_.samples;
  s.batch_size = params_.batch_size;
  s.steps = params_.steps;
  s.seed = params_.seed;
  s.micro_shards = params_.micro_shards;
  s.epoch = epoch_;
  s.batch = batch_;
  s.stop_training = model_.stop_training;
  s.epoch_learning_rate = epoch_learning_rate_;
  s.metrics = model_.MetricsState();
  s.history = history_;
  // Copies: a state is a value, not a view of the weights that the next step changes.
  for (auto& [name, t] : model_.CheckpointTensors(&s.model_metadata)) {
    s.model_tensors.emplace_back(name, t.Clone());
  }
  for (const auto& c : options_.callbacks) {
    s.callbacks.emplace_back();
    c.get()->SaveState(&s.callbacks.back());
  }
  return s;
}

void FitLoop::Restore(const RunState& s) {
  GRADWAY_CHECK(!started_, "a run can be restored only before its first epoch starts (from "
                "a callback's OnTrainBegin)");
  const TrainParams& p = params_;
  GRADWAY_CHECK(s.micro_shards == p.micro_shards, "it was saved by a ",
                RunKind(s.micro_shards), " and this is a ", RunKind(p.micro_shards),
                ": the batches differ");
  GRADWAY_CHECK(s.samples == p.samples && s.batch_size == p.batch_size && s.steps == p.steps &&
                    s.seed == p.seed,
                "it was saved by a run of ", s.samples, " samples in batches of ",
                s.batch_size, " with seed ", s.seed, "; this run has ", p.samples,
                " samples in batches of ", p.batch_size, " with seed ", p.seed);
  GRADWAY_CHECK(s.callbacks.size() == options_.callbacks.size(), "it holds the state of ",
                s.callbacks.size(), " callbacks but this Fit has ", options_.callbacks.size());
  absl::Status loaded =
      model_.LoadCheckpoint("the saved model", s.model_tensors, s.model_metadata);
  if (!loaded.ok()) Fail(loaded.message());
  model_.SetMetricsState(s.metrics);
  for (size_t i = 0; i < s.callbacks.size(); ++i) {
    options_.callbacks[i].get()->RestoreState(s.callbacks[i]);
  }
  epoch_ = s.epoch;
  batch_ = s.batch;
  epoch_learning_rate_ = s.epoch_learning_rate;
  history_ = s.history;
  model_.stop_training = s.stop_training;
}

}  // namespace nn
}  // namespace gradway
