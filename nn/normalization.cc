#include "nn/normalization.h"

#include <string>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/graph.h"
#include "autograd/nn_functions.h"
#include "nn/onnx_graph.h"

namespace gradway {
namespace nn {

BatchNormalization::BatchNormalization(BatchNormalizationOptions options)
    : Layer("BatchNormalization", "batch_normalization"), options_(std::move(options)) {
  GRADWAY_CHECK(options_.momentum >= 0.f && options_.momentum <= 1.f,
                "BatchNormalization: momentum must be in [0, 1], got ", options_.momentum);
  GRADWAY_CHECK(options_.epsilon > 0.f, "BatchNormalization: epsilon must be positive, got ",
                options_.epsilon);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape BatchNormalization::DoBuild(const Shape& in) {
  GRADWAY_CHECK(in.size() == 1 || in.size() == 3, Description(),
                ": expects input (None, features) or (None, height, width, channels), got ",
                BatchShapeString(in));
  // Keras counts the batch axis: the last axis is -1 or in.size().
  const int last = static_cast<int>(in.size());
  GRADWAY_CHECK(options_.axis == -1 || options_.axis == last, Description(), ": axis ",
                options_.axis, " is not supported for input ", BatchShapeString(in),
                ": only the last axis (-1, channels last) is");
  const Shape c = {in.back()};
  const BatchNormalizationOptions& o = options_;
  if (o.scale) {
    gamma_ = RegisterParameter("gamma", MakeParameter(c, o.gamma_initializer, generator()));
  }
  if (o.center) {
    beta_ = RegisterParameter("beta", MakeParameter(c, o.beta_initializer, generator()));
  }
  moving_mean_ = RegisterParameter(
      "moving_mean", MakeParameter(c, o.moving_mean_initializer, generator()), false);
  moving_variance_ = RegisterParameter(
      "moving_variance", MakeParameter(c, o.moving_variance_initializer, generator()), false);
  return in;
}

Tensor BatchNormalization::Forward(const Tensor& x) {
  // Keras 2: a frozen layer normalises with its moving statistics, even in training.
  const bool training = is_training() && trainable();
  return BatchNorm(x, gamma_, beta_, moving_mean_, moving_variance_, training,
                   options_.momentum, options_.epsilon);
}

Tensor BatchNormalization::CallWithRelu(const Tensor& x) {
  CheckInput(x);
  const bool training = is_training() && trainable();
  return BatchNormRelu(x, gamma_, beta_, moving_mean_, moving_variance_, training,
                       options_.momentum, options_.epsilon);
}

std::vector<Tensor> BatchNormalization::ForwardShards(const std::vector<Tensor>& xs,
                                                      const std::vector<int>& shard_tags,
                                                      const ShardGather& gather) {
  GRADWAY_CHECK(xs.size() == shard_tags.size(), Description(), ": ", xs.size(),
                " micro-shards but ", shard_tags.size(), " shard tags");
  for (const Tensor& x : xs) CheckInput(x);
  if (is_training() && trainable()) {
    return SyncBatchNorm(xs, gamma_, beta_, moving_mean_, moving_variance_, options_.momentum,
                         options_.epsilon, gather, shard_tags);
  }
  std::vector<Tensor> ys;
  for (size_t i = 0; i < xs.size(); ++i) {
    ShardTagScope scope(shard_tags[i]);
    ys.push_back(BatchNorm(xs[i], gamma_, beta_, moving_mean_, moving_variance_, false,
                           options_.momentum, options_.epsilon));
  }
  return ys;
}

std::string BatchNormalization::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  // ONNX's BatchNormalization takes the channels at axis 1: images go NCHW (a Transpose
  // unless a Conv or pool left them so); (N, C) is already.
  const bool image = graph.shape(input).size() == 3;
  const OnnxGraph::Layout layout = image ? OnnxGraph::Layout::kNchw : OnnxGraph::Layout::kNhwc;
  const std::string x = image ? graph.ToLayout(input, layout, name() + "/to_nchw") : input;
  const Shape c = {input_shape().back()};
  const std::vector<std::string> inputs = {
      x, graph.Initializer(name() + "/gamma", gamma_.defined() ? gamma_ : Tensor::Ones(c)),
      graph.Initializer(name() + "/beta", beta_.defined() ? beta_ : Tensor::Zeros(c)),
      graph.Initializer(name() + "/moving_mean", moving_mean_),
      graph.Initializer(name() + "/moving_variance", moving_variance_)};
  return graph.Node("BatchNormalization", inputs, name() + "/BatchNormalization",
                    output_shape(), layout, {{"epsilon", options_.epsilon}});
}

// ---- LayerNormalization.

LayerNormalization::LayerNormalization(LayerNormalizationOptions options)
    : Layer("LayerNormalization", "layer_normalization"), options_(std::move(options)) {
  GRADWAY_CHECK(options_.epsilon > 0.f, "LayerNormalization: epsilon must be positive, got ",
                options_.epsilon);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape LayerNormalization::DoBuild(const Shape& in) {
  GRADWAY_CHECK(!in.empty() && in.back() > 0, Description(),
                ": expects input (None, ..., features) with features > 0, got ",
                BatchShapeString(in));
  const int last = static_cast<int>(in.size());
  GRADWAY_CHECK(options_.axis == -1 || options_.axis == last, Description(), ": axis ",
                options_.axis, " is not supported for input ", BatchShapeString(in),
                ": only the last axis (-1) is");
  const Shape c = {in.back()};
  if (options_.scale) {
    gamma_ = RegisterParameter("gamma",
                               MakeParameter(c, options_.gamma_initializer, generator()));
  }
  if (options_.center) {
    beta_ = RegisterParameter("beta", MakeParameter(c, options_.beta_initializer, generator()));
  }
  return in;
}

Tensor LayerNormalization::Forward(const Tensor& x) {
  return LayerNorm(x, gamma_, beta_, options_.epsilon);
}

std::string LayerNormalization::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  // What torch.onnx writes for layer_norm below opset 17 (where the LayerNormalization
  // operator arrives): mean and variance by ReduceMean over the last axis.
  const auto kNhwc = OnnxGraph::Layout::kNhwc;
  const std::string x = graph.ToLayout(input, kNhwc, name() + "/to_nhwc");
  const Shape& shape = input_shape();
  Shape reduced = shape;
  reduced.back() = 1;
  const OnnxAttributes last = {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}};
  const std::string mean = graph.Node("ReduceMean", {x}, name() + "/mean", reduced, kNhwc, last);
  const std::string centred = graph.Node("Sub", {x, mean}, name() + "/centred", shape, kNhwc);
  const std::string square = graph.Elementwise("Mul", {centred, centred}, name() + "/square");
  const std::string var =
      graph.Node("ReduceMean", {square}, name() + "/var", reduced, kNhwc, last);
  const std::string eps =
      graph.Initializer(name() + "/epsilon", Tensor::Full({1}, options_.epsilon));
  const std::string std_dev = graph.Elementwise(
      "Sqrt", {graph.Elementwise("Add", {var, eps}, name() + "/var_eps")}, name() + "/std");
  std::string y = graph.Node("Div", {centred, std_dev}, name() + "/normalised", shape, kNhwc);
  if (gamma_.defined()) {
    y = graph.Elementwise("Mul", {y, graph.Initializer(name() + "/gamma", gamma_)},
                          name() + "/scale");
  }
  if (beta_.defined()) {
    y = graph.Elementwise("Add", {y, graph.Initializer(name() + "/beta", beta_)},
                          name() + "/center");
  }
  return y;
}

}  // namespace nn
}  // namespace gradway
