#include "nn/optimizers.h"

#include <map>

#include "autograd/error.h"
#include "ops/adam.h"

namespace gradway {
namespace nn {

Optimizer::Optimizer(std::string name, double learning_rate)
    : name_(std::move(name)), learning_rate_(learning_rate) {
  GRADWAY_CHECK(learning_rate >= 0, name_, ": learning rate must be >= 0, got ",
                learning_rate);
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

void Optimizer::Step() {
  const int64_t step = iterations_ + 1;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].second;
    Tensor g = p.grad();
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
    : Optimizer(std::move(name), options.learning_rate), options_(options) {
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
SGD::SGD(SGDOptions options) : Optimizer("SGD", options.learning_rate), options_(options) {
  GRADWAY_CHECK(options.momentum >= 0 && options.momentum <= 1,
                "SGD: momentum must be in [0, 1], got ", options.momentum);
}

std::vector<std::string> SGD::SlotNames() const {
  if (options_.momentum == 0) return {};
  return {"momentum"};
}

void SGD::Update(float* param, const float* grad, const std::vector<float*>& slots,
                 int64_t n, int64_t) {
  ops::SgdUpdate(param, grad, slots.empty() ? nullptr : slots[0], n,
                 static_cast<float>(learning_rate()), static_cast<float>(options_.momentum),
                 options_.nesterov);
}

}  // namespace nn
}  // namespace gradway
