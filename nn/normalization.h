// Normalisation layers (Keras' layers.BatchNormalization and layers.LayerNormalization).
#ifndef GRADWAY_NN_NORMALIZATION_H_
#define GRADWAY_NN_NORMALIZATION_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/nn_functions.h"
#include "autograd/tensor.h"
#include "nn/init.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

// ---------------------------------------------------------------------------------------
// BatchNormalization (Keras' options, defaults and semantics): normalises each channel
// (the last axis) of x [N, C] or [N, H, W, C] with autograd's BatchNorm (nn_functions.h):
//   training (Fit, TrainStep; Train() mode): y = gamma * (x - mean) / sqrt(var + epsilon)
//     + beta with the batch's mean and (biased) variance, over every axis but the last;
//     the layer then updates its moving statistics in place:
//     moving = moving * momentum + batch * (1 - momentum), with the batch's unbiased
//     variance (Bessel's correction, as PyTorch and tf.keras 2's fused batch norm; Keras'
//     unfused path, which it takes for 2-D inputs, uses the biased one);
//   inference (Eval mode: Evaluate, Predict, Fit's validation): the moving mean and
//     variance instead, left unchanged.
// As in Keras 2, a frozen layer (SetTrainable(false)) runs in inference mode even while
// training, so fine-tuning does not move its statistics.
// Weights, in Keras' names and order: gamma [C] (when scale; gamma_initializer, Ones),
// beta [C] (when center; Zeros), moving_mean [C] (Zeros) and moving_variance [C] (Ones).
// The moving statistics are non-trainable weights: the optimiser never sees them and
// Summary counts them as "Non-trainable params", but checkpoints (Save, SaveWeights,
// BackupAndRestore), GetWeights and SetWeights hold them like the others.
// Only the last axis is supported (axis -1, channels last, gradway's layout; the index of
// the last axis counting the batch, e.g. 3 for [N, H, W, C], means the same): another axis
// throws Error when the layer is built, as does an input that is not (None, C) or
// (None, H, W, C). momentum must be in [0, 1] and epsilon positive (Error otherwise).
// ONNX: exported in inference form (BatchNormalization with the moving statistics), in
// NCHW for images.
// Data-parallel Fit (FitOptions::collective, nn/data_parallel.h) normalises over the whole
// global batch, as PyTorch's SyncBatchNorm: each rank runs its micro-shards through the
// model layer by layer, and this layer normalises them all (ForwardShards) with the mean
// and variance of every micro-shard of every rank (autograd's SyncBatchNorm), and updates
// the moving statistics once per step from them, the same on every rank. Training is then
// bit-identical for any rank count dividing the micro-shards; it is not bit-identical to
// a single-process Fit (whose batches are made up differently). The model, and every
// model nested in it on the way to the layer, must be a Sequential or a functional model,
// not a subclass (which may run its layers in a Forward of its own): data-parallel Fit
// throws Error naming the model and the layer otherwise, unless the layer is frozen.
struct BatchNormalizationOptions {
  int axis = -1;
  float momentum = 0.99f;
  float epsilon = 1e-3f;
  bool center = true;  // add beta
  bool scale = true;   // multiply by gamma
  Initializer beta_initializer = Zeros();
  Initializer gamma_initializer = Ones();
  Initializer moving_mean_initializer = Zeros();
  Initializer moving_variance_initializer = Ones();
  std::optional<Shape> input_shape;
  std::string name;

  BatchNormalizationOptions& Axis(int v) { axis = v; return *this; }
  BatchNormalizationOptions& Momentum(float v) { momentum = v; return *this; }
  BatchNormalizationOptions& Epsilon(float v) { epsilon = v; return *this; }
  BatchNormalizationOptions& Center(bool v) { center = v; return *this; }
  BatchNormalizationOptions& Scale(bool v) { scale = v; return *this; }
  BatchNormalizationOptions& BetaInitializer(Initializer v) {
    beta_initializer = std::move(v);
    return *this;
  }
  BatchNormalizationOptions& GammaInitializer(Initializer v) {
    gamma_initializer = std::move(v);
    return *this;
  }
  BatchNormalizationOptions& MovingMeanInitializer(Initializer v) {
    moving_mean_initializer = std::move(v);
    return *this;
  }
  BatchNormalizationOptions& MovingVarianceInitializer(Initializer v) {
    moving_variance_initializer = std::move(v);
    return *this;
  }
  // The per-sample input shape, for the first layer of a Sequential: InputShape({28, 28, 3}).
  BatchNormalizationOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  BatchNormalizationOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class BatchNormalization : public Layer<BatchNormalization> {
 public:
  // nn::BatchNormalization() with Keras' defaults; names "batch_normalization",
  // "batch_normalization_1", ...
  explicit BatchNormalization(BatchNormalizationOptions options = {});
  Tensor Forward(const Tensor& x) override;
  // Relu(operator()(x)) as one fused op (BatchNormRelu): what nn::Model and nn::Sequential
  // run when the layer's output goes only to a ReLU (nn/layer_fusion.h). Bit-identical to
  // the two layers.
  Tensor CallWithRelu(const Tensor& x);
  // Data-parallel training (nn/data_parallel.cc): the layer on several micro-shards of one
  // global batch at once, xs[i] being micro-shard shard_tags[i]'s input (each recorded in
  // its ShardTagScope). In training, when trainable, every shard is normalised with the
  // statistics of the whole global batch (SyncBatchNorm, exchanging with the other ranks
  // through `gather`) and the moving statistics are updated once; otherwise each shard
  // with the moving statistics. Checks each input as operator() does (Error naming the
  // layer).
  std::vector<Tensor> ForwardShards(const std::vector<Tensor>& xs,
                                    const std::vector<int>& shard_tags,
                                    const ShardGather& gather);
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const BatchNormalizationOptions& options() const { return options_; }
  // [C] each, once built; gamma / beta undefined without scale / center.
  Tensor gamma() const { return gamma_; }
  Tensor beta() const { return beta_; }
  Tensor moving_mean() const { return moving_mean_; }
  Tensor moving_variance() const { return moving_variance_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  BatchNormalizationOptions options_;
  Tensor gamma_, beta_, moving_mean_, moving_variance_;
};

// ---------------------------------------------------------------------------------------
// LayerNormalization (Keras' options, defaults and semantics): normalises each sample's
// last-axis vector of x [N, ..., C] with its own mean and (biased) variance, autograd's
// LayerNorm (nn_functions.h), the same in training and inference:
//   y = gamma * (x - mean) / sqrt(var + epsilon) + beta.
// Weights, in Keras' names and order: gamma [C] (when scale; gamma_initializer, Ones) and
// beta [C] (when center; Zeros). Only the last axis (axis -1, or its index counting the
// batch): another axis throws Error when the layer is built; epsilon must be positive.
// PyTorch's nn.LayerNorm(C, eps=epsilon) with weight = gamma and bias = beta gives the
// same numbers (PyTorch's default eps is 1e-5, Keras' 1e-3).
// ONNX: ReduceMean over the last axis, Sub, Mul, ReduceMean, Add, Sqrt, Div, then the affine
// Mul / Add, in NHWC for images, as torch.onnx writes layer_norm below opset 17 (where the
// LayerNormalization operator arrives). ONNX Runtime runs it; OpenCV 4.6 cannot (its
// importer does not reduce the last axis).
struct LayerNormalizationOptions {
  int axis = -1;
  float epsilon = 1e-3f;
  bool center = true;  // add beta
  bool scale = true;   // multiply by gamma
  Initializer beta_initializer = Zeros();
  Initializer gamma_initializer = Ones();
  std::optional<Shape> input_shape;
  std::string name;

  LayerNormalizationOptions& Axis(int v) { axis = v; return *this; }
  LayerNormalizationOptions& Epsilon(float v) { epsilon = v; return *this; }
  LayerNormalizationOptions& Center(bool v) { center = v; return *this; }
  LayerNormalizationOptions& Scale(bool v) { scale = v; return *this; }
  LayerNormalizationOptions& BetaInitializer(Initializer v) {
    beta_initializer = std::move(v);
    return *this;
  }
  LayerNormalizationOptions& GammaInitializer(Initializer v) {
    gamma_initializer = std::move(v);
    return *this;
  }
  LayerNormalizationOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  LayerNormalizationOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class LayerNormalization : public Layer<LayerNormalization> {
 public:
  // nn::LayerNormalization() with Keras' defaults; names "layer_normalization",
  // "layer_normalization_1", ...
  explicit LayerNormalization(LayerNormalizationOptions options = {});
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const LayerNormalizationOptions& options() const { return options_; }
  // [C] each, once built; undefined without scale / center.
  Tensor gamma() const { return gamma_; }
  Tensor beta() const { return beta_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  LayerNormalizationOptions options_;
  Tensor gamma_, beta_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_NORMALIZATION_H_
