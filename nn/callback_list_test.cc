#include "nn/callback_list.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nn/model.h"
#include "nn/training_state.h"

namespace gradway {
namespace nn {
namespace {

// Records "<name> <hook> <argument>" in a shared log at every hook.
class Recorder : public Callback {
 public:
  Recorder(std::string name, int order, std::vector<std::string>* log)
      : name_(std::move(name)), order_(order), log_(log) {}
  int order() const override { return order_; }
  void OnTrainBegin(const Logs&) override { Add("TrainBegin", 0); }
  void OnTrainEnd(const Logs&) override { Add("TrainEnd", 0); }
  void OnEpochBegin(int epoch, const Logs&) override { Add("EpochBegin", epoch); }
  void OnEpochEnd(int epoch, const Logs&) override { Add("EpochEnd", epoch); }
  void OnBatchBegin(int64_t batch, const Logs&) override { Add("BatchBegin", batch); }
  void OnBatchEnd(int64_t batch, const Logs&) override { Add("BatchEnd", batch); }
  const std::string& name() const { return name_; }

 private:
  void Add(const char* hook, int64_t arg) {
    log_->push_back(name_ + " " + hook + " " + std::to_string(arg));
  }
  std::string name_;
  int order_;
  std::vector<std::string>* log_;
};

class FakeRun : public TrainingRun {
 public:
  RunState Capture() const override { return RunState(); }
  void Restore(const RunState&) override {}
};

// Calls every hook once, with distinct arguments.
void CallEveryHook(CallbackList* list) {
  Logs logs;
  list->OnTrainBegin(logs);
  list->OnEpochBegin(3, logs);
  list->OnBatchBegin(7, logs);
  list->OnBatchEnd(7, logs);
  list->OnEpochEnd(3, logs);
  list->OnTrainEnd(logs);
}

// What CallEveryHook logs when the callbacks run in `order`.
std::vector<std::string> Expected(const std::vector<std::string>& order) {
  std::vector<std::string> out;
  for (const char* hook : {"TrainBegin 0", "EpochBegin 3", "BatchBegin 7", "BatchEnd 7",
                           "EpochEnd 3", "TrainEnd 0"}) {
    for (const std::string& name : order) out.push_back(name + " " + hook);
  }
  return out;
}

TEST(CallbackListTest, CallsEveryHookInAscendingOrderKeepingTheGivenOrderAmongEquals) {
  std::vector<std::string> log;
  std::vector<std::shared_ptr<Callback>> callbacks = {
      std::make_shared<Recorder>("a", 0, &log), std::make_shared<Recorder>("b", 5, &log),
      std::make_shared<Recorder>("c", 0, &log), std::make_shared<Recorder>("d", -2, &log),
      std::make_shared<Recorder>("e", 5, &log), std::make_shared<Recorder>("f", 0, &log)};
  CallbackList list(callbacks, nullptr, TrainParams(), nullptr);
  CallEveryHook(&list);
  EXPECT_EQ(log, Expected({"d", "a", "c", "f", "b", "e"}));
}

TEST(CallbackListTest, RunLastRunsAfterAllOthersEvenWhenGivenFirst) {
  std::vector<std::string> log;
  std::vector<std::shared_ptr<Callback>> callbacks = {
      std::make_shared<Recorder>("last", Callback::kRunLast, &log),
      std::make_shared<Recorder>("a", 0, &log), std::make_shared<Recorder>("b", 7, &log),
      std::make_shared<Recorder>("c", 0, &log)};
  CallbackList list(callbacks, nullptr, TrainParams(), nullptr);
  CallEveryHook(&list);
  EXPECT_EQ(log, Expected({"a", "c", "b", "last"}));
}

TEST(CallbackListTest, GivesEachCallbackTheModelParamsAndRunUntilDestroyed) {
  std::vector<std::string> log;
  std::vector<std::shared_ptr<Callback>> callbacks = {
      std::make_shared<Recorder>("a", Callback::kRunLast, &log),
      std::make_shared<Recorder>("b", 0, &log), std::make_shared<Recorder>("c", 1, &log)};
  Sequential model(1);
  FakeRun run;
  TrainParams params;
  params.epochs = 4;
  params.initial_epoch = 1;
  params.steps = 9;
  params.samples = 300;
  params.batch_size = 34;
  params.verbose = 0;
  params.seed = 18446744073709551557ull;
  params.rank = 1;
  params.ranks = 2;
  params.micro_shards = 8;
  auto list = std::make_unique<CallbackList>(callbacks, &model, params, &run);
  for (const auto& c : callbacks) {
    SCOPED_TRACE(static_cast<const Recorder&>(*c).name());
    EXPECT_EQ(c->model(), &model);
    EXPECT_EQ(c->run(), &run);
    EXPECT_EQ(c->params().epochs, 4);
    EXPECT_EQ(c->params().initial_epoch, 1);
    EXPECT_EQ(c->params().steps, 9);
    EXPECT_EQ(c->params().samples, 300);
    EXPECT_EQ(c->params().batch_size, 34);
    EXPECT_EQ(c->params().verbose, 0);
    EXPECT_EQ(c->params().seed, 18446744073709551557ull);
    EXPECT_EQ(c->params().rank, 1);
    EXPECT_EQ(c->params().ranks, 2);
    EXPECT_EQ(c->params().micro_shards, 8);
  }
  list.reset();  // the run is over
  for (const auto& c : callbacks) EXPECT_EQ(c->run(), nullptr);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
