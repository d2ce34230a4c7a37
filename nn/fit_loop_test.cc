#include "nn/fit_loop.h"

#include <memory>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "gtest/gtest.h"
#include "nn/callbacks.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/test_util.h"
#include "nn/training_state.h"

namespace gradway {
namespace nn {
namespace {

using testing::Bars;

// A callback that captures the run's state when training begins and tries to restore it
// at the start of epoch `restore_at` (-1: never).
class CaptureAndRestore : public Callback {
 public:
  explicit CaptureAndRestore(int restore_at) : restore_at_(restore_at) {}
  void OnTrainBegin(const Logs&) override { at_start = run()->Capture(); }
  void OnEpochBegin(int epoch, const Logs&) override {
    if (epoch == restore_at_) run()->Restore(at_start);
  }
  RunState at_start;

 private:
  int restore_at_;
};

Sequential SmallModel() {
  Sequential model(7);
  model.Add(Dense(DenseOptions(2).Activation(kSoftmax).InputShape({8 * 8})));
  model.Compile(CategoricalCrossentropy(), Adam());
  return model;
}

// Capture gives a copy: training after it does not change the captured weights; and a
// callback's run() is null once Fit has ended.
TEST(FitLoopTest, CaptureIsACopyAndRunEndsWithFit) {
  Sequential model = SmallModel();
  auto [x, y] = Bars(40, 8, 1);
  x = x.Reshape({40, 64});
  auto cb = std::make_shared<CaptureAndRestore>(-1);
  model.Fit(x, y, FitOptions().Epochs(2).BatchSize(10).Verbose(0).Callbacks({cb}));
  const Tensor& before = cb->at_start.model_tensors.at(0).second;
  const Tensor after = model.NamedParameters().at(0).second;
  ASSERT_EQ(cb->at_start.model_tensors.at(0).first, model.NamedParameters().at(0).first);
  EXPECT_NE(before.ToVector(), after.ToVector());
  EXPECT_EQ(cb->run(), nullptr);
  EXPECT_EQ(cb->at_start.epoch, 0);
  EXPECT_EQ(cb->at_start.steps, 4);
}

// Restoring once the epochs have begun would mix two positions: refused.
TEST(FitLoopTest, RestoreAfterTheFirstEpochStartsIsRefused) {
  Sequential model = SmallModel();
  auto [x, y] = Bars(40, 8, 1);
  x = x.Reshape({40, 64});
  try {
    model.Fit(x, y, FitOptions().Epochs(2).BatchSize(10).Verbose(0).Callbacks(
                        {std::make_shared<CaptureAndRestore>(1)}));
    FAIL() << "Restore at epoch 1 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only before its first epoch starts"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace nn
}  // namespace gradway
