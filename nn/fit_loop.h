// The loop behind Model::Fit (Keras' Trainer.fit): epochs of batches from a batch source
// (nn/epoch_iterator.h), a TrainStep per batch (or a data-parallel step, nn/data_parallel.h),
// validation at each epoch end, and the callbacks (nn/callback_list.h) at every hook. It is
// the TrainingRun its callbacks see: its state (nn/training_state.h) can be captured and
// restored.
#ifndef GRADWAY_NN_FIT_LOOP_H_
#define GRADWAY_NN_FIT_LOOP_H_

#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "nn/callback.h"
#include "nn/callback_list.h"
#include "nn/data_parallel.h"
#include "nn/dataset.h"
#include "nn/epoch_iterator.h"
#include "nn/model.h"
#include "nn/training_state.h"

namespace gradway {
namespace nn {

class FitLoop : public TrainingRun {
 public:
  // `model` is compiled and built for `data`; `validation` may be null. All must outlive
  // this. Throws Error for options that do not fit the data (see Model::Fit).
  FitLoop(Model& model, const Dataset& data, std::shared_ptr<const Dataset> validation,
          const FitOptions& options);
  ~FitLoop() override;
  FitLoop(const FitLoop&) = delete;
  FitLoop& operator=(const FitLoop&) = delete;

  // Trains epochs [options.initial_epoch, options.epochs), or from where a callback's
  // Restore moved the run; the history of the epochs run.
  History Run();

  RunState Capture() const override;
  // Throws Error once the first epoch has started: only OnTrainBegin may restore.
  void Restore(const RunState& state) override;

 private:
  // One epoch from the current position; its logs (with validation and "seconds").
  Logs RunEpoch();
  // Trains batch `step`; `previous` are the last batch's logs (OnBatchBegin's).
  Logs TrainBatch(int64_t step, const Logs& previous);
  Logs Validate();

  Model& model_;
  const Dataset& data_;
  std::shared_ptr<const Dataset> validation_;
  const FitOptions& options_;
  Collective* comm_;  // null: one process
  std::optional<EpochIterator> batches_;
  std::optional<ShardedEpochIterator> shards_;
  std::optional<DataParallelTrainer> parallel_;
  TrainParams params_;
  std::unique_ptr<CallbackList> callbacks_;
  std::ostream* saved_out_;  // the model's output, restored at the end (ranks > 0 print none)
  std::ostream null_out_{nullptr};
  bool was_training_;  // the model's mode, restored at the end
  bool started_ = false;  // the epochs have begun: Restore is refused
  // The position: epoch being trained, its batches done, its starting learning rate.
  int epoch_;
  int64_t batch_ = 0;
  double epoch_learning_rate_ = 0;
  History history_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_FIT_LOOP_H_
