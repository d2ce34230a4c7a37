// Optimisers (Keras' keras.optimizers): thin wrappers over the fused kernels of ops/adam.h
// that keep per-parameter state ("slots": Adam's m and v, SGD's momentum).
//
//   model.Compile(nn::CategoricalCrossentropy(), nn::Adam(nn::AdamOptions().LearningRate(3e-4)));
//
// The model attaches its trainable parameters at its first TrainStep (after building), and
// again whenever they change; a hand-written loop calls Attach itself. Each
// Step() updates every attached parameter that has a gradient, then counts one iteration.
//
// The learning rate is a number, or a schedule of the step (nn/schedules.h, Keras'
// keras.optimizers.schedules) passed in its place:
//   nn::SGD(nn::SGDOptions().LearningRate(nn::ExponentialDecay(0.1, 1000, 0.96)))
// A per-epoch schedule (Keras' LearningRateScheduler, SetSchedule below) sets a number
// learning rate at each epoch start; a step schedule cannot be combined with it.
//
// Every optimiser also takes Keras' base-optimiser options (in AdamOptions and
// SGDOptions): gradient clipping (GradientClipping) and decoupled weight decay. One Step
// applies, as Keras 3 does: the gradients clipped (copies: Tensor::grad() is left as
// backward made it), then w -= lr * weight_decay * w, then the optimiser's update, all
// with the same learning rate, the one in effect at that step.
//
// For checkpoints, StateTensors() names each slot "<slot>/<param>" (e.g. "m/dense/kernel")
// and shares its storage (loading into it restores the state); iterations() is the step
// count, from which a step schedule's rate follows (nothing else of it is saved).
#ifndef GRADWAY_NN_OPTIMIZERS_H_
#define GRADWAY_NN_OPTIMIZERS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "nn/module.h"
#include "nn/schedules.h"

namespace gradway {
namespace nn {

// new_lr = schedule(epoch (0-based), current lr): a per-epoch schedule
// (LearningRateScheduler, Optimizer::SetSchedule). A per-step schedule is a StepSchedule
// (nn/schedules.h).
using LearningRateSchedule = std::function<double(int epoch, double lr)>;

// Keras' gradient clipping options (clipnorm, clipvalue, global_clipnorm), each off at 0.
// Applied to the gradients before each update:
//   clipnorm:        each parameter's gradient g becomes g * clipnorm / norm(g) when its
//                    L2 norm exceeds clipnorm (Keras: g * clipnorm / max(norm, clipnorm);
//                    PyTorch's clip_grad_norm_ on that one parameter divides by
//                    norm + 1e-6 instead);
//   global_clipnorm: every gradient scaled by global_clipnorm / N when the L2 norm N of
//                    all gradients together exceeds it (Keras' clip_by_global_norm;
//                    PyTorch's clip_grad_norm_ over all parameters, but for its 1e-6);
//   clipvalue:       each element clamped to [-clipvalue, clipvalue] (Keras'
//                    clipvalue, PyTorch's clip_grad_value_).
// A gradient within the limit is used unchanged. Norms are summed in float within fixed
// chunks, in double across chunks and parameters (in attached order), so the result does
// not depend on the thread count. A non-finite norm makes the clipped gradients NaN, as
// Keras' clip_by_global_norm does, so divergence shows instead of being hidden.
// At most one may be set: Keras refuses clipnorm with global_clipnorm, and with either of
// them it would silently ignore clipvalue, which gradway refuses too (gradway::Error).
struct GradientClipping {
  double clipnorm = 0;
  double clipvalue = 0;
  double global_clipnorm = 0;
  bool enabled() const { return clipnorm > 0 || clipvalue > 0 || global_clipnorm > 0; }
};

class Optimizer {
 public:
  Optimizer(std::string name, double learning_rate);
  // With a step schedule (replacing learning_rate when not null) and gradient clipping
  // (Keras' base optimizer arguments), as Adam and SGD pass on their options'. Throws
  // Error for a learning rate < 0 and for clipping options that are negative, NaN or
  // combined (GradientClipping).
  Optimizer(std::string name, double learning_rate,
            std::shared_ptr<const StepSchedule> schedule, GradientClipping clipping);
  virtual ~Optimizer() = default;
  const std::string& name() const { return name_; }  // "Adam"

  // Binds to `params` (names and tensors), creating zero slots. Re-attaching keeps the
  // slots of parameters with the same name and shape. Throws Error on duplicate names.
  void Attach(const NamedTensors& params);
  bool attached() const { return !params_.empty(); }
  const NamedTensors& parameters() const { return params_; }

  // Applies one update to every attached parameter with a defined gradient (the gradients
  // clipped first, see GradientClipping); iterations+1. Throws Error when a step schedule
  // gives a rate that is negative or not finite (naming it and the step).
  void Step();
  // Forgets the gradient of every attached parameter (PyTorch's zero_grad), so the next
  // backward starts from zero.
  void ZeroGrad();
  int64_t iterations() const { return iterations_; }
  void set_iterations(int64_t n) { iterations_ = n; }

  // The learning rate in effect: the step schedule's value at iterations() (the rate of
  // the next step, as Keras' optimizer.learning_rate), else the number set.
  double learning_rate() const;
  // Sets the number learning rate. Throws Error when the rate is a step schedule (as Keras
  // refuses to set it: the schedule sets it at every step).
  void set_learning_rate(double lr);
  // The step schedule, or null for a number learning rate.
  const StepSchedule* learning_rate_schedule() const { return step_schedule_.get(); }
  const GradientClipping& clipping() const { return clipping_; }
  // A per-epoch schedule; Error with a step schedule (two schedules for one rate).
  void SetSchedule(LearningRateSchedule schedule);
  // Applies the per-epoch schedule, if any, for `epoch` (0-based). Model::Fit calls it.
  void OnEpochBegin(int epoch);

  // The slot names of this optimiser ({"m", "v"} for Adam, {"momentum"} for SGD with
  // momentum, {} for plain SGD).
  virtual std::vector<std::string> SlotNames() const = 0;
  // All slots as "<slot>/<param>" tensors sharing the optimiser's storage.
  NamedTensors StateTensors() const;

 protected:
  // One update of n floats; slots[i] is SlotNames()[i]'s buffer. `step` is 1-based.
  // learning_rate() is the rate of this step.
  virtual void Update(float* param, const float* grad, const std::vector<float*>& slots,
                      int64_t n, int64_t step) = 0;

 private:
  // The attached parameters' gradients after clipping (undefined where a parameter has
  // none); the gradients themselves when nothing needs clipping.
  std::vector<Tensor> ClippedGradients() const;
  std::string name_;
  double learning_rate_;
  int64_t iterations_ = 0;
  LearningRateSchedule schedule_;
  std::shared_ptr<const StepSchedule> step_schedule_;
  GradientClipping clipping_;
  NamedTensors params_;
  std::vector<std::vector<Tensor>> slots_;  // [param][slot]
};

// Adam with Keras' defaults (and Keras 2 semantics: epsilon is added to sqrt(v), the bias
// correction folded into the step size). WeightDecay > 0 makes it AdamW (decoupled).
// LearningRate takes a number or a step schedule (nn/schedules.h); the Clip* options are
// GradientClipping's.
struct AdamOptions {
  double learning_rate = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
  double weight_decay = 0;
  // When set, the learning rate at each step (learning_rate is then unused).
  std::shared_ptr<const StepSchedule> learning_rate_schedule;
  GradientClipping clipping;
  AdamOptions& LearningRate(double v) {
    learning_rate = v;
    learning_rate_schedule = nullptr;
    return *this;
  }
  AdamOptions& LearningRate(Ref<StepSchedule> v) {
    learning_rate_schedule = v.get();
    return *this;
  }
  AdamOptions& Beta1(double v) { beta1 = v; return *this; }
  AdamOptions& Beta2(double v) { beta2 = v; return *this; }
  AdamOptions& Epsilon(double v) { epsilon = v; return *this; }
  AdamOptions& WeightDecay(double v) { weight_decay = v; return *this; }
  AdamOptions& ClipNorm(double v) { clipping.clipnorm = v; return *this; }
  AdamOptions& ClipValue(double v) { clipping.clipvalue = v; return *this; }
  AdamOptions& GlobalClipNorm(double v) { clipping.global_clipnorm = v; return *this; }
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
// WeightDecay > 0 first decays the weights, w -= lr * weight_decay * w (Keras 3's
// decoupled weight_decay, as AdamW; PyTorch's SGD weight_decay adds wd * w to the gradient
// instead). LearningRate takes a number or a step schedule (nn/schedules.h); the Clip*
// options are GradientClipping's.
struct SGDOptions {
  SGDOptions(double learning_rate = 0.01) : learning_rate(learning_rate) {}  // NOLINT
  double learning_rate;
  double momentum = 0;
  bool nesterov = false;
  double weight_decay = 0;
  // When set, the learning rate at each step (learning_rate is then unused).
  std::shared_ptr<const StepSchedule> learning_rate_schedule;
  GradientClipping clipping;
  SGDOptions& LearningRate(double v) {
    learning_rate = v;
    learning_rate_schedule = nullptr;
    return *this;
  }
  SGDOptions& LearningRate(Ref<StepSchedule> v) {
    learning_rate_schedule = v.get();
    return *this;
  }
  SGDOptions& Momentum(double v) { momentum = v; return *this; }
  SGDOptions& Nesterov(bool v) { nesterov = v; return *this; }
  SGDOptions& WeightDecay(double v) { weight_decay = v; return *this; }
  SGDOptions& ClipNorm(double v) { clipping.clipnorm = v; return *this; }
  SGDOptions& ClipValue(double v) { clipping.clipvalue = v; return *this; }
  SGDOptions& GlobalClipNorm(double v) { clipping.global_clipnorm = v; return *this; }
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
