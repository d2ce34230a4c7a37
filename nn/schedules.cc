#include "nn/schedules.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_join.h"
#include "autograd/error.h"

namespace gradway {
namespace nn {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Throws unless `value` (the argument `what` of `schedule`) is finite and >= 0.
void CheckRate(const char* schedule, const char* what, double value) {
  GRADWAY_CHECK(std::isfinite(value) && value >= 0, schedule, ": ", what,
                " must be a finite number >= 0, got ", value);
}

}  // namespace

// ---- ExponentialDecay.
ExponentialDecay::ExponentialDecay(double initial_learning_rate, int64_t decay_steps,
                                   double decay_rate, bool staircase)
    : initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      decay_rate_(decay_rate),
      staircase_(staircase) {
  CheckRate("ExponentialDecay", "initial_learning_rate", initial_learning_rate);
  GRADWAY_CHECK(decay_steps > 0, "ExponentialDecay: decay_steps must be > 0, got ",
                decay_steps);
  CheckRate("ExponentialDecay", "decay_rate", decay_rate);
}

double ExponentialDecay::operator()(int64_t step) const {
  double p = static_cast<double>(step) / static_cast<double>(decay_steps_);
  if (staircase_) p = std::floor(p);
  return initial_learning_rate_ * std::pow(decay_rate_, p);
}

// ---- PiecewiseConstantDecay.
PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<int64_t> boundaries,
                                               std::vector<double> values)
    : boundaries_(std::move(boundaries)), values_(std::move(values)) {
  GRADWAY_CHECK(values_.size() == boundaries_.size() + 1,
                "PiecewiseConstantDecay: the length of boundaries should be 1 less than the "
                "length of values; got boundaries [",
                absl::StrJoin(boundaries_, ", "), "] of length ", boundaries_.size(),
                " and values [", absl::StrJoin(values_, ", "), "] of length ",
                values_.size());
  for (size_t i = 1; i < boundaries_.size(); ++i) {
    GRADWAY_CHECK(boundaries_[i - 1] < boundaries_[i],
                  "PiecewiseConstantDecay: boundaries must strictly increase, got [",
                  absl::StrJoin(boundaries_, ", "), "]");
  }
  for (double v : values_) CheckRate("PiecewiseConstantDecay", "each value", v);
}

double PiecewiseConstantDecay::operator()(int64_t step) const {
  // The first boundary >= step closes step's interval; past the last, the last value.
  const size_t i = static_cast<size_t>(
      std::lower_bound(boundaries_.begin(), boundaries_.end(), step) - boundaries_.begin());
  return values_[i];
}

// ---- CosineDecay.
CosineDecay::CosineDecay(double initial_learning_rate, int64_t decay_steps, double alpha,
                         std::optional<double> warmup_target, int64_t warmup_steps)
    : initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      alpha_(alpha),
      warmup_target_(warmup_target),
      warmup_steps_(warmup_steps) {
  CheckRate("CosineDecay", "initial_learning_rate", initial_learning_rate);
  GRADWAY_CHECK(decay_steps > 0, "CosineDecay: decay_steps must be > 0, got ", decay_steps);
  CheckRate("CosineDecay", "alpha", alpha);
  if (warmup_target) CheckRate("CosineDecay", "warmup_target", *warmup_target);
  GRADWAY_CHECK(warmup_steps >= 0, "CosineDecay: warmup_steps must be >= 0, got ",
                warmup_steps);
}

double CosineDecay::operator()(int64_t step) const {
  const double decay_steps = static_cast<double>(decay_steps_);
  // Keras' _decay_function: from `from` to alpha * from over decay_steps.
  auto decay = [&](double s, double from) {
    const double cosine_decayed = 0.5 * (1.0 + std::cos(kPi * (s / decay_steps)));
    return from * ((1 - alpha_) * cosine_decayed + alpha_);
  };
  if (!warmup_target_) {
    return decay(std::min(static_cast<double>(step), decay_steps), initial_learning_rate_);
  }
  const double warmup_steps = static_cast<double>(warmup_steps_);
  const double s = std::min(static_cast<double>(step), decay_steps + warmup_steps);
  if (s < warmup_steps) {
    return (*warmup_target_ - initial_learning_rate_) * (s / warmup_steps) +
           initial_learning_rate_;
  }
  return decay(s - warmup_steps, *warmup_target_);
}

}  // namespace nn
}  // namespace gradway
