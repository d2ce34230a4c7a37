// The callbacks of one Fit, called together (Keras' callbacks/callback_list.py).
//
// Order: callbacks run in ascending Callback::order() at every hook, in the order given
// among equal ones. Fit adds the progress bar first (order 0, before the user's); a
// callback that must see the others' updated state runs with a higher order
// (BackupAndRestore: Callback::kRunLast).
#ifndef GRADWAY_NN_CALLBACK_LIST_H_
#define GRADWAY_NN_CALLBACK_LIST_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/callback.h"

namespace gradway {
namespace nn {

class CallbackList {
 public:
  // Sorts `callbacks` by order() (stable) and gives each the model, params and run.
  CallbackList(std::vector<std::shared_ptr<Callback>> callbacks, Model* model,
               const TrainParams& params, TrainingRun* run);
  // Sets each callback's run() back to null: the run is over.
  ~CallbackList();
  CallbackList(const CallbackList&) = delete;
  CallbackList& operator=(const CallbackList&) = delete;
  void OnTrainBegin(const Logs& logs);
  void OnTrainEnd(const Logs& logs);
  void OnEpochBegin(int epoch, const Logs& logs);
  void OnEpochEnd(int epoch, const Logs& logs);
  void OnBatchBegin(int64_t batch, const Logs& logs);
  void OnBatchEnd(int64_t batch, const Logs& logs);

 private:
  std::vector<std::shared_ptr<Callback>> callbacks_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_CALLBACK_LIST_H_
