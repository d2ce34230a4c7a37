// Model's functional side (nn/functional.h): building a model from its inputs and
// outputs, running its layer calls, and the vector forms of Fit, Evaluate and Predict.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "autograd/functions.h"
#include "base/shape_string.h"
#include "nn/layer_fusion.h"
#include "nn/mask_propagation.h"
#include "nn/merge.h"
#include "nn/model.h"

namespace gradway {
namespace nn {
namespace {

using CallPtr = std::shared_ptr<internal::LayerCall>;

// Copies columns [offset, offset + width) of every row of `packed` [N, total] into a new
// tensor [N, shape...] (no graph: packed model inputs are data).
Tensor Columns(const Tensor& packed, int64_t offset, const Shape& shape) {
  const int64_t n = packed.size(0), total = packed.numel() / std::max<int64_t>(n, 1);
  const int64_t width = NumElements(shape);
  Shape full = shape;
  full.insert(full.begin(), n);
  Tensor out = Tensor::Empty(full);
  const float* from = packed.data();
  float* to = out.data();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(to + i * width, from + i * total + offset, width * sizeof(float));
  }
  return out;
}

// The calls whose output goes only to a plain ReLU layer, which then runs fused into them
// (nn/layer_fusion.h): the ReLU's one input, used by nothing else and not a model output.
std::set<const internal::LayerCall*> ReluFusedCalls(const std::vector<CallPtr>& graph,
                                                    const std::vector<CallPtr>& outputs) {
  std::map<const internal::LayerCall*, int> uses;
  for (const CallPtr& call : graph) {
    for (const SymbolicTensor& in : call->inputs) ++uses[in.call().get()];
  }
  for (const CallPtr& out : outputs) ++uses[out.get()];
  std::set<const internal::LayerCall*> fused;
  for (const CallPtr& call : graph) {
    if (call->inputs.size() != 1 || !internal::IsPlainRelu(*call->layer)) continue;
    const internal::LayerCall* producer = call->inputs[0].call().get();
    if (producer->layer != nullptr && uses[producer] == 1 &&
        internal::AbsorbsRelu(*producer->layer, producer->inputs.size())) {
      fused.insert(producer);
    }
  }
  return fused;
}

}  // namespace

Tensor PackRows(const std::vector<Tensor>& tensors) {
  GRADWAY_CHECK(!tensors.empty(), "PackRows: no tensors");
  std::vector<Tensor> flat;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    GRADWAY_CHECK(t.defined() && t.rank() >= 1, "PackRows: tensor ", i,
                  " is undefined or a scalar");
    GRADWAY_CHECK(t.size(0) == tensors[0].size(0), "PackRows: tensor ", i, " has ", t.size(0),
                  " rows but tensor 0 has ", tensors[0].size(0));
    flat.push_back(t.Reshape({t.size(0), t.numel() / std::max<int64_t>(t.size(0), 1)}));
  }
  if (flat.size() == 1) return flat[0];
  return Concat(flat, 1);
}

Model::Model(const std::vector<SymbolicTensor>& inputs, const std::vector<SymbolicTensor>& outputs,
             uint64_t seed)
    : Model(seed, "Functional", "functional") {
  GRADWAY_CHECK(!inputs.empty() && !outputs.empty(), Description(),
                ": a functional model needs inputs and outputs");
  std::set<internal::LayerCall*> input_set;
  for (const SymbolicTensor& in : inputs) {
    GRADWAY_CHECK(in.defined() && in.call()->layer == nullptr, Description(), ": input ",
                  in.name(), " is not made by nn::Input");
    GRADWAY_CHECK(input_set.insert(in.call().get()).second, Description(), ": input ",
                  in.name(), " is listed twice");
    graph_inputs_.push_back(in.call());
  }
  // The calls the outputs need, found from the outputs back.
  std::map<int64_t, CallPtr> needed;
  std::vector<CallPtr> stack;
  for (const SymbolicTensor& out : outputs) {
    GRADWAY_CHECK(out.defined(), Description(), ": an output is undefined");
    graph_outputs_.push_back(out.call());
    stack.push_back(out.call());
  }
  while (!stack.empty()) {
    CallPtr call = stack.back();
    stack.pop_back();
    if (!needed.emplace(call->order, call).second) continue;
    if (call->layer == nullptr) {
      GRADWAY_CHECK(input_set.count(call.get()) > 0, Description(), ": graph disconnected: ",
                    "the outputs need input ", call->input_name,
                    ", which is not among the model's inputs");
      continue;
    }
    GRADWAY_CHECK(call->layer.get() != this, Description(), ": contains itself");
    for (const SymbolicTensor& in : call->inputs) stack.push_back(in.call());
  }
  for (const auto& [order, call] : needed) {
    if (call->layer != nullptr) graph_.push_back(call);
  }
  Shape packed = {0};
  for (const CallPtr& in : graph_inputs_) packed[0] += NumElements(in->shape);
  Build(inputs.size() == 1 ? graph_inputs_[0]->shape : packed);
}

std::string Model::NewLayerKey(const Module& layer) {
  std::string key = layer.name();
  if (!layer.has_explicit_name()) {
    const std::string& base = layer.base_name();
    for (;;) {
      const int k = key_counts_[base]++;
      key = k == 0 ? base : absl::StrCat(base, "_", k);
      bool used = false;
      for (const auto& c : children()) used = used || c.first == key;
      if (!used) break;
    }
  }
  for (const auto& c : children()) {
    GRADWAY_CHECK(c.first != key, Description(), ": duplicate layer name '", key, "'");
  }
  return key;
}

Shape Model::DoBuild(const Shape& input_shape) {
  if (!functional()) return Module::DoBuild(input_shape);
  BuildGraph();
  if (graph_outputs_.size() == 1) return graph_outputs_[0]->shape;
  Shape packed = {0};
  for (const CallPtr& out : graph_outputs_) packed[0] += NumElements(out->shape);
  return packed;
}

// Builds each layer in call order from the shapes its inputs give, registering it as a
// child the first time it appears.
void Model::BuildGraph() {
  std::set<const Module*> registered;
  for (const CallPtr& call : graph_) {
    Module& layer = *call->layer;
    std::vector<Shape> shapes;
    for (const SymbolicTensor& in : call->inputs) shapes.push_back(in.call()->shape);
    if (registered.insert(&layer).second) {
      RegisterModule(NewLayerKey(layer), call->layer);
      if (!layer.built()) layer.SetGenerator(init_generator());
    }
    auto* merge = dynamic_cast<MergeLayer*>(&layer);
    GRADWAY_CHECK(merge != nullptr || shapes.size() == 1, layer.Description(),
                  ": called on ", shapes.size(), " inputs; it takes one");
    if (!layer.built()) {
      merge ? merge->BuildMerge(shapes) : layer.Build(shapes[0]);
    } else if (merge ? merge->input_shapes() != shapes : layer.input_shape() != shapes[0]) {
      const std::vector<Shape> built = merge ? merge->input_shapes()
                                             : std::vector<Shape>{layer.input_shape()};
      std::string was, is;
      for (size_t i = 0; i < shapes.size(); ++i) {
        absl::StrAppend(&is, i ? " and " : "", BatchShapeString(shapes[i]));
      }
      for (size_t i = 0; i < built.size(); ++i) {
        absl::StrAppend(&was, i ? " and " : "", BatchShapeString(built[i]));
      }
      Fail(layer.Description(), " is built for input ", was, " but is called on ", is);
    }
    call->shape = layer.output_shape();
    call->shape_known = true;
  }
}

std::vector<Tensor> Model::RunGraph(const Tensor& x) {
  std::map<const internal::LayerCall*, Tensor> values;
  if (graph_inputs_.size() == 1) {
    values[graph_inputs_[0].get()] = x;
  } else {
    // Each input's columns of the packed rows, through autograd ops: a model nested in
    // another passes the gradient on to what feeds it.
    int64_t offset = 0;
    for (const CallPtr& in : graph_inputs_) {
      const int64_t width = NumElements(in->shape);
      Shape full = in->shape;
      full.insert(full.begin(), x.size(0));
      values[in.get()] = Slice(x, 1, offset, offset + width).Reshape(full);
      offset += width;
    }
  }
  const std::set<const internal::LayerCall*> fused = ReluFusedCalls(graph_, graph_outputs_);
  // The masks layers make and pass on (nn/masking.h); none for the inputs.
  std::map<const internal::LayerCall*, Tensor> masks;
  for (const CallPtr& call : graph_) {
    std::vector<Tensor> ins, in_masks;
    for (const SymbolicTensor& in : call->inputs) {
      ins.push_back(values.at(in.call().get()));
      in_masks.push_back(masks[in.call().get()]);
    }
    Tensor& out = values[call.get()];
    Tensor& mask = masks[call.get()];
    auto* merge = dynamic_cast<MergeLayer*>(call->layer.get());
    if (call->inputs.size() == 1 && fused.count(call->inputs[0].call().get()) > 0) {
      out = ins[0];  // a ReLU that its input's layer has applied
      mask = in_masks[0];
    } else if (fused.count(call.get()) > 0) {
      out = internal::CallWithRelu(*call->layer, ins);
      mask = merge ? internal::MergedMask(*merge, in_masks)
                   : internal::PassesMask(*call->layer) ? in_masks[0] : Tensor();
    } else if (merge != nullptr) {
      MaskedTensor r = internal::CallMergeLayer(*merge, ins, in_masks);
      out = std::move(r.value);
      mask = std::move(r.mask);
    } else {
      MaskedTensor r = internal::CallLayer(*call->layer, ins[0], in_masks[0]);
      out = std::move(r.value);
      mask = std::move(r.mask);
    }
  }
  std::vector<Tensor> outputs;
  for (const CallPtr& out : graph_outputs_) outputs.push_back(values.at(out.get()));
  return outputs;
}

std::vector<std::vector<Tensor>> Model::ForwardShards(const std::vector<Tensor>& xs,
                                                      const LayerShardsFn& run) {
  GRADWAY_CHECK(functional(), Description(),
                " runs its layers in a Forward of its own: it cannot run them one at a time on "
                "several micro-shards");
  const size_t shards = xs.size();
  // Per layer call (or input): its value for each shard.
  std::map<const internal::LayerCall*, std::vector<Tensor>> values;
  for (size_t s = 0; s < shards; ++s) {
    CheckInput(xs[s]);
    int64_t offset = 0;
    for (const CallPtr& in : graph_inputs_) {
      values[in.get()].push_back(graph_inputs_.size() == 1 ? xs[s]
                                                           : Columns(xs[s], offset, in->shape));
      offset += NumElements(in->shape);
    }
  }
  for (const CallPtr& call : graph_) {
    std::vector<std::vector<Tensor>> ins(shards);
    for (const SymbolicTensor& in : call->inputs) {
      const std::vector<Tensor>& v = values.at(in.call().get());
      for (size_t s = 0; s < shards; ++s) ins[s].push_back(v[s]);
    }
    values[call.get()] = run(*call->layer, ins);
  }
  std::vector<std::vector<Tensor>> outputs(shards);
  for (const CallPtr& out : graph_outputs_) {
    for (size_t s = 0; s < shards; ++s) outputs[s].push_back(values.at(out.get())[s]);
  }
  return outputs;
}

Tensor Model::Forward(const Tensor& x) {
  GRADWAY_CHECK(functional(), Description(),
                ": a Model made without inputs and outputs must be subclassed, with Forward "
                "overridden (or use Sequential, or nn::Model(inputs, outputs))");
  std::vector<Tensor> outputs = RunGraph(x);
  return outputs.size() == 1 ? outputs[0] : PackRows(outputs);
}

std::vector<Tensor> Model::ForwardOutputs(const Tensor& x) {
  if (!functional()) return {(*this)(x)};
  CheckInput(x);
  return RunGraph(x);
}

Tensor Model::ComputeLoss(const std::vector<Tensor>& y_pred, const Tensor& y,
                          std::vector<Tensor>* losses, std::vector<Tensor>* ys) {
  losses->clear();
  ys->clear();
  if (y_pred.size() == 1) {
    ys->push_back(y);
    Tensor loss = (*loss_)(y_pred[0], y);
    return loss_weights_.empty() ? loss : loss * static_cast<float>(loss_weights_[0]);
  }
  // The targets' per-sample shapes: as the vector form of Fit gave them, else each like
  // its output, else class indices.
  const int64_t n = y.size(0), columns = y.numel() / std::max<int64_t>(n, 1);
  std::vector<Shape> shapes = target_shapes_;
  int64_t total = 0;
  for (const Shape& s : shapes) total += NumElements(s);
  if (shapes.size() != y_pred.size() || total != columns) {
    shapes.clear();
    total = 0;
    for (const CallPtr& out : graph_outputs_) {
      shapes.push_back(out->shape);
      total += NumElements(out->shape);
    }
    if (total != columns) shapes.assign(y_pred.size(), Shape{});
    GRADWAY_CHECK(total == columns || columns == static_cast<int64_t>(y_pred.size()),
                  Description(), ": targets of ", columns, " values a sample fit neither its ",
                  y_pred.size(), " outputs (", total, " values) nor one class index each");
  }
  Tensor sum;
  int64_t offset = 0;
  for (size_t k = 0; k < y_pred.size(); ++k) {
    ys->push_back(Columns(y, offset, shapes[k]));
    offset += NumElements(shapes[k]);
    Loss& loss = *losses_[losses_.size() == 1 ? 0 : k];
    losses->push_back(loss(y_pred[k], ys->back()));
    Tensor weighted = loss_weights_.empty() ? losses->back()
                                            : losses->back() * static_cast<float>(loss_weights_[k]);
    sum = sum.defined() ? sum + weighted : weighted;
  }
  return sum;
}

std::string Model::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  if (!functional()) return Module::ExportOnnx(graph, input);
  GRADWAY_CHECK(graph_inputs_.size() == 1 && graph_outputs_.size() == 1, "cannot export ",
                Description(), " to ONNX: it has ", graph_inputs_.size(), " inputs and ",
                graph_outputs_.size(), " outputs (one of each can be exported)");
  std::map<const internal::LayerCall*, std::string> values = {{graph_inputs_[0].get(), input}};
  for (const CallPtr& call : graph_) {
    std::vector<std::string> ins;
    for (const SymbolicTensor& in : call->inputs) ins.push_back(values.at(in.call().get()));
    const auto* merge = dynamic_cast<const MergeLayer*>(call->layer.get());
    values[call.get()] = merge ? merge->ExportOnnxMerge(graph, ins)
                               : call->layer->ExportOnnx(graph, ins[0]);
  }
  return values.at(graph_outputs_[0].get());
}

std::vector<std::string> Model::OutputNames() const {
  std::vector<std::string> names;
  if (!functional()) return {name()};
  for (const CallPtr& out : graph_outputs_) {
    std::string n = out->layer ? out->layer->name() : out->input_name;
    if (std::find(names.begin(), names.end(), n) != names.end()) {
      n = absl::StrCat(n, "_", names.size());
    }
    names.push_back(n);
  }
  return names;
}

Tensor Model::PackedInputs(const std::vector<Tensor>& xs, const char* what) const {
  GRADWAY_CHECK(static_cast<int>(xs.size()) == num_inputs(), what, ": ", Description(),
                " takes ", num_inputs(), " inputs, got ", xs.size());
  for (size_t i = 0; functional() && i < xs.size(); ++i) {
    GRADWAY_CHECK(xs[i].defined() && xs[i].rank() >= 1, what, ": input ", i, " is undefined");
    GRADWAY_CHECK(xs[i].size(0) == xs[0].size(0), what, ": input ", graph_inputs_[i]->input_name,
                  " has ", xs[i].size(0), " rows, input ", graph_inputs_[0]->input_name, " ",
                  xs[0].size(0));
    Shape sample(xs[i].shape().begin() + 1, xs[i].shape().end());
    GRADWAY_CHECK(sample == graph_inputs_[i]->shape, what, ": input ",
                  graph_inputs_[i]->input_name, " expects ",
                  BatchShapeString(graph_inputs_[i]->shape), ", got ",
                  ShapeToString(xs[i].shape()));
  }
  return xs.size() == 1 ? xs[0] : PackRows(xs);
}

Tensor Model::PackedTargets(const std::vector<Tensor>& ys, const char* what) {
  GRADWAY_CHECK(static_cast<int>(ys.size()) == num_outputs(), what, ": ", Description(),
                " has ", num_outputs(), " outputs, got ", ys.size(), " targets");
  const std::vector<std::string> names = OutputNames();
  target_shapes_.clear();
  for (size_t k = 0; k < ys.size(); ++k) {
    GRADWAY_CHECK(ys[k].defined() && ys[k].rank() >= 1, what, ": the target of output ",
                  names[k], " is undefined or a scalar");
    GRADWAY_CHECK(ys[k].size(0) == ys[0].size(0), what, ": the target of output ", names[k],
                  " has ", ys[k].size(0), " rows, that of ", names[0], " ", ys[0].size(0));
    target_shapes_.emplace_back(ys[k].shape().begin() + 1, ys[k].shape().end());
  }
  return ys.size() == 1 ? ys[0] : PackRows(ys);
}

Logs Model::TrainStep(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys) {
  Tensor y = PackedTargets(ys, "TrainStep");
  return TrainStep(PackedInputs(xs, "TrainStep"), y);
}

History Model::Fit(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                   const FitOptions& options) {
  Tensor y = PackedTargets(ys, "Fit");
  return Fit(PackedInputs(xs, "Fit"), y, options);
}

Logs Model::Evaluate(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                     int64_t batch_size) {
  Tensor y = PackedTargets(ys, "Evaluate");
  return Evaluate(PackedInputs(xs, "Evaluate"), y, batch_size);
}

std::vector<Tensor> Model::Predict(const std::vector<Tensor>& xs, int64_t batch_size) {
  Tensor packed = Predict(PackedInputs(xs, "Predict"), batch_size);
  if (num_outputs() == 1) return {packed};
  std::vector<Tensor> outputs;
  int64_t offset = 0;
  for (const CallPtr& out : graph_outputs_) {
    outputs.push_back(Columns(packed, offset, out->shape));
    offset += NumElements(out->shape);
  }
  return outputs;
}

}  // namespace nn
}  // namespace gradway
