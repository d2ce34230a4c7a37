// Optimisers (Keras' keras.optimizers): thin wrappers over the fused kernels of ops/adam.h
// that keep per-parameter state ("slots": Adam's m and v, SGD's momentum).
//
//   model.Compile(nn::CategoricalCrossentropy(), nn::Adam(nn::AdamOptions().LearningRate(3e-4)));
//
// The model attaches its trainable parameters at its first TrainStep (after building), and
// again whenever they change; a hand-written loop calls Attach itself. Each
// Step() updates every attached parameter that has a gradient, then counts one iteration.
// A learning-rate schedule (Keras' LearningRateScheduler) sets the rate at each epoch start.
// For checkpoints, StateTensors() names each slot "<slot>/<param>" (e.g. "m/dense/kernel")
// and shares its storage (loading into it restores the state); iterations() is the step
// count.
#ifndef GRADWAY_NN_OPTIMIZERS_H_
#define GRADWAY_NN_OPTIMIZERS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

// new_lr = schedule(epoch (0-based), current lr).
using LearningRateSchedule = std::function<double(int epoch, double lr)>;

class Optimizer {
 public:
  Optimizer(std::string name, double learning_rate);
  virtual ~Optimizer() = default;
  const std::string& name() const { return name_; }  // "Adam"

  // Binds to `params` (names and tensors), creating zero slots. Re-attaching keeps the
  // slots of parameters with the same name and shape. Throws Error on duplicate names.
  void Attach(const NamedTensors& params);
  bool attached() const { return !params_.empty(); }
  const NamedTensors& parameters() const { return params_; }

  // Applies one update to every attached parameter with a defined gradient; iterations+1.
  void Step();
  // Forgets the gradient of every attached parameter (PyTorch's zero_grad), so the next
  // backward starts from zero.
  void ZeroGrad();
  int64_t iterations() const { return iterations_; }
  void set_iterations(int64_t n) { iterations_ = n; }

  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double lr) { learning_rate_ = lr; }
  void SetSchedule(LearningRateSchedule schedule) { schedule_ = std::move(schedule); }
  // Applies the schedule, if any, for `epoch` (0-based). Model::Fit calls it.
  void OnEpochBegin(int epoch);

  // The slot names of this optimiser ({"m", "v"} for Adam, {"momentum"} for SGD with
  // momentum, {} for plain SGD).
  virtual std::vector<std::string> SlotNames() const = 0;
  // All slots as "<slot>/<param>" tensors sharing the optimiser's storage.
  NamedTensors StateTensors() const;

 protected:
  // One update of n floats; slots[i] is SlotNames()[i]'s buffer. `step` is 1-based.
  virtual void Update(float* param, const float* grad, const std::vector<float*>& slots,
                      int64_t n, int64_t step) = 0;

 private:
  std::string name_;
  double learning_rate_;
  int64_t iterations_ = 0;
  LearningRateSchedule schedule_;
  NamedTensors params_;
  std::vector<std::vector<Tensor>> slots_;  // [param][slot]
};

// Adam with Keras' defaults (and Keras 2 semantics: epsilon is added to sqrt(v), the bias
// correction folded into the step size). WeightDecay > 0 makes it AdamW (decoupled).
struct AdamOptions {
  double learning_rate = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
  double weight_decay = 0;
  AdamOptions& LearningRate(double v) { learning_rate = v; return *this; }
  AdamOptions& Beta1(double v) { beta1 = v; return *this; }
  AdamOptions& Beta2(double v) { beta2 = v; return *this; }
  AdamOptions& Epsilon(double v) { epsilon = v; return *this; }
  AdamOptions& WeightDecay(double v) { weight_decay = v; return *this; }
};

class Adam : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});
  std::vector<std::string> SlotNames() const override { return {"m", "v"}; }
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::string name, AdamOptions options);
  void Update(float* param, const float* grad, const std::vector<float*>& slots, int64_t n,
              int64_t step) override;

 private:
  AdamOptions options_;
};

// AdamW: Adam with decoupled weight decay (Keras' default 0.004 unless set).
class AdamW : public Adam {
 public:
  explicit AdamW(AdamOptions options = AdamOptions().WeightDecay(0.004));
};

// SGD (Keras): v = momentum * v - lr * g; w += v (Nesterov: w += momentum * v - lr * g).
struct SGDOptions {
  SGDOptions(double learning_rate = 0.01) : learning_rate(learning_rate) {}  // NOLINT
  double learning_rate;
  double momentum = 0;
  bool nesterov = false;
  SGDOptions& LearningRate(double v) { learning_rate = v; return *this; }
  SGDOptions& Momentum(double v) { momentum = v; return *this; }
  SGDOptions& Nesterov(bool v) { nesterov = v; return *this; }
};

class SGD : public Optimizer {
 public:
  SGD(SGDOptions options = {});  // NOLINT(runtime/explicit)
  std::vector<std::string> SlotNames() const override;
  const SGDOptions& options() const { return options_; }

 protected:
  void Update(float* param, const float* grad, const std::vector<float*>& slots, int64_t n,
              int64_t step) override;

 private:
  SGDOptions options_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_OPTIMIZERS_H_
