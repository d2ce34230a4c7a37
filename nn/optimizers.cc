#include "nn/optimizers.h"

#include <cmath>
#include <map>
#include <utility>

#include "autograd/error.h"
#include "ops/adam.h"
#include "ops/elementwise.h"

namespace gradway {
namespace nn {

namespace {

// Throws unless the clipping options are each >= 0 (not NaN) and at most one is set.
void CheckClipping(const std::string& name, const GradientClipping& c) {
  for (auto [key, value] : {std::pair<const char*, double>{"clipnorm", c.clipnorm},
                            {"clipvalue", c.clipvalue},
                            {"global_clipnorm", c.global_clipnorm}}) {
    GRADWAY_CHECK(value >= 0, name, ": ", key, " must be >= 0 (0: no clipping), got ",
                  value);
  }
  GRADWAY_CHECK(c.clipnorm == 0 || c.global_clipnorm == 0, name,
                ": only one of clipnorm and global_clipnorm can be set, got clipnorm=",
                c.clipnorm, " and global_clipnorm=", c.global_clipnorm);
  GRADWAY_CHECK(c.clipvalue == 0 || (c.clipnorm == 0 && c.global_clipnorm == 0), name,
                ": clipvalue cannot be combined with clipnorm or global_clipnorm (Keras "
                "would ignore clipvalue), got clipvalue=", c.clipvalue, ", clipnorm=",
                c.clipnorm, ", global_clipnorm=", c.global_clipnorm);
}

// The factor that brings a gradient (or all of them) of squared norm `sum_of_squares`
// within `limit`: 1 when it is within, NaN when the norm is not finite.
double ClipScale(double sum_of_squares, double limit) {
  const double norm = std::sqrt(sum_of_squares);
  if (!std::isfinite(norm)) return std::nan("");
  return norm > limit ? limit / norm : 1.0;
}

// g scaled by `scale` into a new tensor, or g itself when scale is 1.
Tensor Scaled(const Tensor& g, double scale) {
  if (scale == 1.0) return g;
  Tensor out = Tensor::Empty(g.shape());
  ops::Scale(g.data(), static_cast<float>(scale), out.data(), g.numel());
  return out;
}

}  // namespace

Optimizer::Optimizer(std::string name, double learning_rate)
    : Optimizer(std::move(name), learning_rate, nullptr, GradientClipping()) {}

Optimizer::Optimizer(std::string name, double learning_rate,
                     std::shared_ptr<const StepSchedule> schedule, GradientClipping clipping)
    : name_(std::move(name)),
      learning_rate_(learning_rate),
      step_schedule_(std::move(schedule)),
      clipping_(clipping) {
  GRADWAY_CHECK(learning_rate >= 0, name_, ": learning rate must be >= 0, got ",
                learning_rate);
  CheckClipping(name_, clipping_);
}

void Optimizer::Attach(const NamedTensors& params) {
  std::map<std::string, std::vector<Tensor>> old;
  for (size_t i = 0; i < params_.size(); ++i) old[params_[i].first] = slots_[i];
  const size_t num_slots = SlotNames().size();
  NamedTensors new_params;
  std::vector<std::vector<Tensor>> new_slots;
  for (const auto& [name, t] : params) {
    for (const auto& p : new_params) {
      GRADWAY_CHECK(p.first != name, name_, ": parameter '", name, "' attached twice");
    }
    auto it = old.find(name);
    if (it != old.end() && !it->second.empty() && it->second[0].shape() == t.shape()) {
      new_slots.push_back(it->second);
    } else {
      std::vector<Tensor> s;
      for (size_t k = 0; k < num_slots; ++k) s.push_back(Tensor::Zeros(t.shape()));
      new_slots.push_back(std::move(s));
    }
    new_params.emplace_back(name, t);
  }
  params_ = std::move(new_params);
  slots_ = std::move(new_slots);
}

double Optimizer::learning_rate() const {
  return step_schedule_ ? (*step_schedule_)(iterations_) : learning_rate_;
}

void Optimizer::set_learning_rate(double lr) {
  GRADWAY_CHECK(step_schedule_ == nullptr, name_, ": its learning rate is the schedule ",
                step_schedule_->name(), ", which sets it at every step, so it cannot be "
                "set; create the optimiser with a number learning rate to set it");
  learning_rate_ = lr;
}

void Optimizer::SetSchedule(LearningRateSchedule schedule) {
  GRADWAY_CHECK(step_schedule_ == nullptr || !schedule, name_,
                ": its learning rate is the step schedule ", step_schedule_->name(),
                "; a per-epoch schedule cannot set it too");
  schedule_ = std::move(schedule);
}

std::vector<Tensor> Optimizer::ClippedGradients() const {
  std::vector<Tensor> grads;
  for (const auto& [name, p] : params_) grads.push_back(p.grad());
  const GradientClipping& c = clipping_;
  if (!c.enabled()) return grads;
  if (c.clipvalue > 0) {
    for (Tensor& g : grads) {
      if (!g.defined()) continue;
      Tensor clipped = Tensor::Empty(g.shape());
      ops::ClipByValue(std::as_const(g).data(), static_cast<float>(c.clipvalue), clipped.data(),
                       g.numel());
      g = clipped;
    }
  } else if (c.clipnorm > 0) {
    for (Tensor& g : grads) {
      if (!g.defined()) continue;
      g = Scaled(g, ClipScale(ops::SumOfSquares(std::as_const(g).data(), g.numel()), c.clipnorm));
    }
  } else {
    double sum = 0;  // in attached order
    for (const Tensor& g : grads) {
      if (g.defined()) sum += ops::SumOfSquares(g.data(), g.numel());
    }
    const double scale = ClipScale(sum, c.global_clipnorm);
    for (Tensor& g : grads) {
      if (g.defined()) g = Scaled(g, scale);
    }
  }
  return grads;
}

void Optimizer::Step() {
  const int64_t step = iterations_ + 1;
  if (step_schedule_) {
    const double lr = learning_rate();
    GRADWAY_CHECK(std::isfinite(lr) && lr >= 0, name_, ": the learning-rate schedule ",
                  step_schedule_->name(), " gave ", lr, " at step ", iterations_,
                  "; a learning rate must be a finite number >= 0");
  }
  const std::vector<Tensor> grads = ClippedGradients();
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].second;
    const Tensor& g = grads[i];
    if (!g.defined()) continue;
    std::vector<float*> slots;
    for (Tensor& s : slots_[i]) slots.push_back(s.data());
    Update(p.data(), g.data(), slots, p.numel(), step);
  }
  iterations_ = step;
}

void Optimizer::OnEpochBegin(int epoch) {
  if (schedule_) {
    double lr = schedule_(epoch, learning_rate_);
    GRADWAY_CHECK(lr >= 0, name_, ": the schedule returned learning rate ", lr,
                  " for epoch ", epoch);
    learning_rate_ = lr;
  }
}

NamedTensors Optimizer::StateTensors() const {
  NamedTensors out;
  std::vector<std::string> names = SlotNames();
  for (size_t k = 0; k < names.size(); ++k) {
    for (size_t i = 0; i < params_.size(); ++i) {
      out.emplace_back(names[k] + "/" + params_[i].first, slots_[i][k]);
    }
  }
  return out;
}

void Optimizer::ZeroGrad() {
  for (auto& [name, t] : params_) t.ZeroGrad();
}

// ---- Adam.
Adam::Adam(AdamOptions options) : Adam("Adam", options) {}

Adam::Adam(std::string name, AdamOptions options)
    : Optimizer(std::move(name), options.learning_rate, options.learning_rate_schedule,
                options.clipping),
      options_(options) {
  GRADWAY_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 &&
                    options.beta2 < 1 && options.epsilon >= 0 && options.weight_decay >= 0,
                this->name(), ": need 0 <= beta1, beta2 < 1 and epsilon, weight_decay >= 0; got ",
                options.beta1, ", ", options.beta2, ", ", options.epsilon, ", ",
                options.weight_decay);
}

void Adam::Update(float* param, const float* grad, const std::vector<float*>& slots,
                  int64_t n, int64_t step) {
  ops::AdamParams p;
  p.lr = static_cast<float>(learning_rate());
  p.beta1 = static_cast<float>(options_.beta1);
  p.beta2 = static_cast<float>(options_.beta2);
  p.epsilon = static_cast<float>(options_.epsilon);
  p.weight_decay = static_cast<float>(options_.weight_decay);
  p.step = step;
  ops::AdamUpdate(param, grad, slots[0], slots[1], n, p);
}

AdamW::AdamW(AdamOptions options) : Adam("AdamW", options) {}

// ---- SGD.
SGD::SGD(SGDOptions options)
    : Optimizer("SGD", options.learning_rate, options.learning_rate_schedule, options.clipping),
      options_(options) {
  GRADWAY_CHECK(options.momentum >= 0 && options.momentum <= 1,
                "SGD: momentum must be in [0, 1], got ", options.momentum);
  GRADWAY_CHECK(options.weight_decay >= 0, "SGD: weight_decay must be >= 0, got ",
                options.weight_decay);
}

std::vector<std::string> SGD::SlotNames() const {
  if (options_.momentum == 0) return {};
  return {"momentum"};
}

void SGD::Update(float* param, const float* grad, const std::vector<float*>& slots,
                 int64_t n, int64_t) {
  ops::SgdParams p;
  p.lr = static_cast<float>(learning_rate());
  p.momentum = static_cast<float>(options_.momentum);
  p.nesterov = options_.nesterov;
  p.weight_decay = static_cast<float>(options_.weight_decay);
  ops::SgdUpdate(param, grad, slots.empty() ? nullptr : slots[0], n, p);
}

}  // namespace nn
}  // namespace gradway
