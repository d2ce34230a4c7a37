// Learning rates that change at every optimiser step (Keras' keras.optimizers.schedules).
// Pass one as an optimiser's learning rate instead of a number:
//
//   nn::Adam(nn::AdamOptions().LearningRate(
//       nn::CosineDecay(/*initial_learning_rate=*/0.0, /*decay_steps=*/1000, /*alpha=*/0.0,
//                       /*warmup_target=*/1e-3, /*warmup_steps=*/100)));
//   nn::SGD(nn::SGDOptions().LearningRate(nn::ExponentialDecay(0.1, 1000, 0.96)));
//
// Optimiser step k (0-based: the optimiser's iterations() before the step, as Keras passes
// `iterations`) uses the rate schedule(k), and Optimizer::learning_rate() reports the rate
// the next step will use. A schedule is a pure function of the step, evaluated in double
// (Keras evaluates in the initial rate's dtype, usually float32); it holds no state of its
// own, so the optimiser's step count, which checkpoints and BackupAndRestore save, is all a
// resumed run needs. Schedules are immutable and may be shared by several optimisers.
//
// Naming: Keras' base class is keras.optimizers.schedules.LearningRateSchedule, but
// nn::LearningRateSchedule has named, since gradway 1.0.0, the per-epoch
// std::function<double(int epoch, double lr)> of LearningRateScheduler and
// Optimizer::SetSchedule (nn/optimizers.h); renaming it would break code written for 1.0.
// The per-step base class is therefore StepSchedule: its name says how it differs.
#ifndef GRADWAY_NN_SCHEDULES_H_
#define GRADWAY_NN_SCHEDULES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gradway {
namespace nn {

// A learning rate as a function of the 0-based optimiser step (Keras'
// LearningRateSchedule). Subclass it for a schedule of your own: operator() must return a
// finite rate >= 0 (Optimizer::Step throws gradway::Error naming the schedule and the step
// otherwise) and depend on nothing but `step`, so that a resumed run is identical.
class StepSchedule {
 public:
  virtual ~StepSchedule() = default;
  // The learning rate at optimiser step `step` (>= 0).
  virtual double operator()(int64_t step) const = 0;
  // The schedule's name in messages ("CosineDecay").
  virtual std::string name() const { return "StepSchedule"; }
};

// initial_learning_rate * decay_rate ^ (step / decay_steps); with staircase the exponent
// is floor(step / decay_steps), so the rate drops every decay_steps steps (Keras'
// ExponentialDecay). Throws gradway::Error for decay_steps <= 0, or an initial rate or
// decay rate that is negative or not finite.
class ExponentialDecay : public StepSchedule {
 public:
  ExponentialDecay(double initial_learning_rate, int64_t decay_steps, double decay_rate,
                   bool staircase = false);
  double operator()(int64_t step) const override;
  std::string name() const override { return "ExponentialDecay"; }

 private:
  double initial_learning_rate_;
  int64_t decay_steps_;
  double decay_rate_;
  bool staircase_;
};

// values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <=
// boundaries[i], values.back() once step > boundaries.back() (Keras'
// PiecewiseConstantDecay). Throws gradway::Error unless there is one value more than
// boundaries, the boundaries strictly increase (as Keras documents) and the values are
// finite and >= 0.
class PiecewiseConstantDecay : public StepSchedule {
 public:
  PiecewiseConstantDecay(std::vector<int64_t> boundaries, std::vector<double> values);
  double operator()(int64_t step) const override;
  std::string name() const override { return "PiecewiseConstantDecay"; }

 private:
  std::vector<int64_t> boundaries_;
  std::vector<double> values_;
};

// Cosine decay with an optional linear warm-up (Keras 3's CosineDecay). Without
// warmup_target, for s = min(step, decay_steps):
//   initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha).
// With warmup_target, s = min(step, warmup_steps + decay_steps); while s < warmup_steps the
// rate rises linearly, initial_learning_rate + (warmup_target - initial_learning_rate) *
// s / warmup_steps, then decays as above from warmup_target over the next decay_steps
// steps (s - warmup_steps in place of s). It ends at alpha times the rate it decays from.
// Throws gradway::Error for decay_steps <= 0, warmup_steps < 0, or an initial rate, alpha
// or warmup_target that is negative or not finite.
class CosineDecay : public StepSchedule {
 public:
  CosineDecay(double initial_learning_rate, int64_t decay_steps, double alpha = 0,
              std::optional<double> warmup_target = std::nullopt, int64_t warmup_steps = 0);
  double operator()(int64_t step) const override;
  std::string name() const override { return "CosineDecay"; }

 private:
  double initial_learning_rate_;
  int64_t decay_steps_;
  double alpha_;
  std::optional<double> warmup_target_;
  int64_t warmup_steps_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_SCHEDULES_H_
