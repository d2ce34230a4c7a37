#include "nn/wrappers.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "base/shape_string.h"
#include "nn/onnx_graph.h"

namespace gradway {
namespace nn {

TimeDistributed::TimeDistributed(std::shared_ptr<Module> layer)
    : Layer("TimeDistributed", "time_distributed"), layer_(std::move(layer)) {
  GRADWAY_CHECK(layer_ != nullptr, "TimeDistributed: no layer to wrap");
  RegisterModule(layer_->name(), layer_);
}

Shape TimeDistributed::DoBuild(const Shape& in) {
  GRADWAY_CHECK(in.size() >= 2, Description(), ": expects input (None, steps, ...), got ",
                BatchShapeString(in));
  const Shape step(in.begin() + 1, in.end());
  if (!layer_->built()) {
    layer_->Build(step);
  } else {
    GRADWAY_CHECK(layer_->input_shape() == step, Description(), ": its layer ",
                  layer_->Description(), " is built for input ",
                  BatchShapeString(layer_->input_shape()), ", not the steps of ",
                  BatchShapeString(in));
  }
  Shape out = {in[0]};
  out.insert(out.end(), layer_->output_shape().begin(), layer_->output_shape().end());
  return out;
}

Tensor TimeDistributed::Forward(const Tensor& x) {
  Shape steps = x.shape();
  steps.erase(steps.begin(), steps.begin() + 2);
  steps.insert(steps.begin(), x.size(0) * x.size(1));
  const Tensor y = (*layer_)(x.Reshape(steps));
  Shape out = y.shape();
  out.erase(out.begin());
  out.insert(out.begin(), {x.size(0), x.size(1)});
  return y.Reshape(out);
}

std::string TimeDistributed::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const auto kNhwc = OnnxGraph::Layout::kNhwc;
  const std::string x = graph.ToLayout(input, kNhwc, name() + "/to_nhwc");
  const Shape& in = input_shape();
  const Shape step(in.begin() + 1, in.end());
  std::vector<int64_t> flat = {-1};
  flat.insert(flat.end(), step.begin(), step.end());
  const std::string steps = graph.Node(
      "Reshape", {x, graph.Int64Initializer(name() + "/steps_shape", flat)}, name() + "/steps",
      step, kNhwc);
  const std::string y = graph.ToLayout(layer_->ExportOnnx(graph, steps), kNhwc,
                                       name() + "/from_layer");
  std::vector<int64_t> back = {-1};
  back.insert(back.end(), output_shape().begin(), output_shape().end());
  return graph.Node("Reshape", {y, graph.Int64Initializer(name() + "/shape", back)},
                    name() + "/sequence", output_shape(), kNhwc);
}

// ---- Bidirectional.

namespace {

// The wrapped layer's options for one direction.
RNNOptions DirectionOptions(const RecurrentLayer& layer, const char* direction,
                            bool flip) {
  RNNOptions o = layer.options();
  o.name = std::string(direction) + layer.name();
  o.input_shape.reset();
  if (flip) o.go_backwards = !o.go_backwards;
  if (o.return_sequences) o.zero_output_for_mask = true;
  return o;
}

}  // namespace

Bidirectional::Bidirectional(const RecurrentLayer& layer, std::string merge_mode)
    : Layer("Bidirectional", "bidirectional"), merge_mode_(std::move(merge_mode)) {
  GRADWAY_CHECK(merge_mode_ == "concat" || merge_mode_ == "sum" || merge_mode_ == "mul" ||
                    merge_mode_ == "ave",
                Description(), ": merge_mode must be \"concat\", \"sum\", \"mul\" or \"ave\", "
                "got \"", merge_mode_, "\"");
  GRADWAY_CHECK(!layer.built(), Description(), ": wraps ", layer.Description(),
                ", which is already built; pass a new layer (only its options are used)");
  forward_ = MakeRecurrentLayer(layer.cell(), DirectionOptions(layer, "forward_", false));
  backward_ = MakeRecurrentLayer(layer.cell(), DirectionOptions(layer, "backward_", true));
  set_declared_input_shape(layer.options().input_shape);
  RegisterModule(forward_->name(), forward_);
  RegisterModule(backward_->name(), backward_);
}

Shape Bidirectional::DoBuild(const Shape& in) {
  Shape out = forward_->Build(in);
  backward_->Build(in);
  if (merge_mode_ == "concat") out.back() *= 2;
  return out;
}

RecurrentResult Bidirectional::Run(const Tensor& x, const Tensor& mask,
                                   const std::vector<Tensor>& initial_state) {
  CheckInput(x);
  const size_t half = initial_state.size() / 2;
  GRADWAY_CHECK(initial_state.size() % 2 == 0, Description(),
                ": expects the forward layer's initial states then the backward layer's, got ",
                initial_state.size(), " states");
  const std::vector<Tensor> fs(initial_state.begin(), initial_state.begin() + half);
  const std::vector<Tensor> bs(initial_state.begin() + half, initial_state.end());
  RecurrentResult f = forward_->Run(x, mask, fs);
  RecurrentResult b = backward_->Run(x, mask, bs);
  Tensor y = b.output;
  if (forward_->options().return_sequences) {
    std::vector<int64_t> reversed(static_cast<size_t>(x.shape()[1]));
    for (size_t t = 0; t < reversed.size(); ++t) reversed[t] = x.shape()[1] - 1 - t;
    y = Gather(y, reversed, 1);
  }
  RecurrentResult out;
  if (merge_mode_ == "concat") {
    out.output = Concat({f.output, y}, -1);
  } else if (merge_mode_ == "sum") {
    out.output = gradway::Add(f.output, y);
  } else if (merge_mode_ == "mul") {
    out.output = Mul(f.output, y);
  } else {
    out.output = MulScalar(gradway::Add(f.output, y), 0.5f);
  }
  out.states = std::move(f.states);
  out.states.insert(out.states.end(), b.states.begin(), b.states.end());
  return out;
}

Tensor Bidirectional::Forward(const Tensor& x) { return Run(x).output; }

MaskedTensor Bidirectional::CallWithMask(const Tensor& x, const Tensor& mask) {
  return {Run(x, mask).output, forward_->options().return_sequences ? mask : Tensor()};
}

std::string Bidirectional::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const auto kNhwc = OnnxGraph::Layout::kNhwc;
  const std::string forward = forward_->ExportOnnx(graph, input);
  std::string backward = backward_->ExportOnnx(graph, input);
  const Shape& one = forward_->output_shape();
  if (forward_->options().return_sequences) {  // back in step order
    backward = graph.Node("Slice",
                          {backward, graph.Int64Initializer(name() + "/starts", {-1}),
                           graph.Int64Initializer(name() + "/ends", {INT64_MIN}),
                           graph.Int64Initializer(name() + "/axes", {1}),
                           graph.Int64Initializer(name() + "/steps", {-1})},
                          name() + "/backward_in_order", one, kNhwc);
  }
  if (merge_mode_ == "concat") {
    return graph.Node("Concat", {forward, backward}, name() + "/concat", output_shape(), kNhwc,
                      {{"axis", int64_t{-1}}});
  }
  if (merge_mode_ == "mul") return graph.Elementwise("Mul", {forward, backward}, name() + "/mul");
  const std::string sum = graph.Elementwise("Add", {forward, backward}, name() + "/sum");
  if (merge_mode_ == "sum") return sum;
  return graph.Elementwise("Mul", {sum, graph.Initializer(name() + "/half", Tensor::Full({1}, 0.5f))},
                           name() + "/ave");
}

}  // namespace nn
}  // namespace gradway
