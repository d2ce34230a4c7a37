#include "nn/callback_list.h"

#include <algorithm>
#include <utility>

namespace gradway {
namespace nn {

CallbackList::CallbackList(std::vector<std::shared_ptr<Callback>> callbacks, Model* model,
                           const TrainParams& params, TrainingRun* run)
    : callbacks_(std::move(callbacks)) {
  std::stable_sort(callbacks_.begin(), callbacks_.end(),
                   [](const std::shared_ptr<Callback>& a, const std::shared_ptr<Callback>& b) {
                     return a->order() < b->order();
                   });
  for (auto& c : callbacks_) c->SetFit(model, params, run);
}

CallbackList::~CallbackList() {
  for (auto& c : callbacks_) c->SetFit(c->model(), c->params(), nullptr);
}

void CallbackList::OnTrainBegin(const Logs& logs) {
  for (auto& c : callbacks_) c->OnTrainBegin(logs);
}

void CallbackList::OnTrainEnd(const Logs& logs) {
  for (auto& c : callbacks_) c->OnTrainEnd(logs);
}

void CallbackList::OnEpochBegin(int epoch, const Logs& logs) {
  for (auto& c : callbacks_) c->OnEpochBegin(epoch, logs);
}

void CallbackList::OnEpochEnd(int epoch, const Logs& logs) {
  for (auto& c : callbacks_) c->OnEpochEnd(epoch, logs);
}

void CallbackList::OnBatchBegin(int64_t batch, const Logs& logs) {
  for (auto& c : callbacks_) c->OnBatchBegin(batch, logs);
}

void CallbackList::OnBatchEnd(int64_t batch, const Logs& logs) {
  for (auto& c : callbacks_) c->OnBatchEnd(batch, logs);
}

}  // namespace nn
}  // namespace gradway
