#include "nn/merge.h"

#include <utility>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "base/shape_string.h"
#include "nn/onnx_graph.h"

namespace gradway {
namespace nn {
namespace {

std::string ShapesString(const std::vector<Shape>& shapes) {
  std::string out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    out += (i > 0 ? " and " : "") + BatchShapeString(shapes[i]);
  }
  return out;
}

}  // namespace

MergeLayer::MergeLayer(std::string type_name, std::string base_name)
    : Module(std::move(type_name), std::move(base_name)) {}

Shape MergeLayer::BuildMerge(const std::vector<Shape>& shapes) {
  GRADWAY_CHECK(shapes.size() >= 2, Description(), ": needs at least 2 inputs, got ",
                shapes.size());
  for (const Shape& s : shapes) {
    for (int64_t d : s) {
      GRADWAY_CHECK(d > 0, Description(), ": invalid input shape ", BatchShapeString(s));
    }
  }
  merged_ = MergedShape(shapes);
  shapes_ = shapes;
  return Build(shapes.front());
}

Shape MergeLayer::DoBuild(const Shape& input_shape) {
  GRADWAY_CHECK(!shapes_.empty() && input_shape == shapes_.front(), Description(),
                ": takes a list of inputs ({a, b}), not one tensor");
  return merged_;
}

Tensor MergeLayer::operator()(const std::vector<Tensor>& inputs) {
  CheckInputs(inputs);
  return Merge(inputs);
}

void MergeLayer::CheckInputs(const std::vector<Tensor>& inputs) {
  std::vector<Shape> shapes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    GRADWAY_CHECK(x.defined() && x.rank() >= 1, Description(), ": input ", i,
                  " is undefined or has no batch dimension");
    GRADWAY_CHECK(x.size(0) == inputs[0].size(0), Description(), ": input ", i, " has ",
                  x.size(0), " samples but input 0 has ", inputs[0].size(0));
    shapes.emplace_back(x.shape().begin() + 1, x.shape().end());
  }
  if (!built()) BuildMerge(shapes);
  GRADWAY_CHECK(shapes == shapes_, Description(), ": built for inputs ", ShapesString(shapes_),
                ", got ", ShapesString(shapes));
}

SymbolicTensor MergeLayer::operator()(const std::vector<SymbolicTensor>& inputs) & {
  std::shared_ptr<Module> self = weak_from_this().lock();
  GRADWAY_CHECK(self != nullptr, Description(),
                ": called on symbolic tensors but not held by a std::shared_ptr; call a "
                "temporary (nn::Add()({a, b})) or a layer made with std::make_shared");
  return internal::RecordCall(std::move(self), inputs);
}

SymbolicTensor MergeLayer::operator()(const std::vector<SymbolicTensor>& inputs) && {
  if (std::shared_ptr<Module> self = weak_from_this().lock()) {
    return internal::RecordCall(std::move(self), inputs);
  }
  return internal::RecordCall(std::move(*this).MoveToShared(), inputs);
}

Tensor MergeLayer::Forward(const Tensor&) {
  Fail(Description(), ": takes a list of inputs ({a, b}), not one tensor");
}

// ---- Add and Multiply: inputs of one shape.
namespace {

// The elementwise node `op` over all inputs, each in the first one's layout.
std::string ExportElementwise(OnnxGraph& graph, const std::vector<std::string>& inputs,
                              const std::string& op, const std::string& name) {
  std::vector<std::string> same = {inputs[0]};
  for (size_t i = 1; i < inputs.size(); ++i) {
    same.push_back(graph.ToLayout(inputs[i], graph.layout(inputs[0]),
                                  absl::StrCat(name, "/input_", i)));
  }
  std::string value = same[0];
  for (size_t i = 1; i < same.size(); ++i) {
    value = graph.Elementwise(op, {value, same[i]}, absl::StrCat(name, "/", op));
  }
  return value;
}

Shape SameShape(const Module& layer, const std::vector<Shape>& shapes) {
  for (const Shape& s : shapes) {
    GRADWAY_CHECK(s == shapes.front(), layer.Description(),
                  ": inputs must have the same shape, got ", ShapesString(shapes));
  }
  return shapes.front();
}

}  // namespace

Add::Add() : Layer("Add", "add") {}

Shape Add::MergedShape(const std::vector<Shape>& shapes) const {
  return SameShape(*this, shapes);
}

Tensor Add::Merge(const std::vector<Tensor>& inputs) {
  Tensor sum = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) sum = ::gradway::Add(sum, inputs[i]);
  return sum;
}

Tensor Add::CallWithRelu(const std::vector<Tensor>& inputs) {
  CheckInputs(inputs);
  return inputs.size() == 2 ? AddRelu(inputs[0], inputs[1]) : Relu(Merge(inputs));
}

std::string Add::ExportOnnxMerge(OnnxGraph& graph, const std::vector<std::string>& inputs) const {
  return ExportElementwise(graph, inputs, "Add", name());
}

Multiply::Multiply() : Layer("Multiply", "multiply") {}

std::string Multiply::ExportOnnxMerge(OnnxGraph& graph,
                                      const std::vector<std::string>& inputs) const {
  return ExportElementwise(graph, inputs, "Mul", name());
}

Shape Multiply::MergedShape(const std::vector<Shape>& shapes) const {
  return SameShape(*this, shapes);
}

Tensor Multiply::Merge(const std::vector<Tensor>& inputs) {
  Tensor product = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) product = Mul(product, inputs[i]);
  return product;
}

// ---- Concatenate.
Concatenate::Concatenate(int axis) : Layer("Concatenate", "concatenate"), axis_(axis) {}

int Concatenate::SampleAxis(size_t rank) const {
  const int batch_rank = static_cast<int>(rank) + 1;
  const int a = axis_ < 0 ? axis_ + batch_rank : axis_;
  GRADWAY_CHECK(a >= 1 && a < batch_rank, Description(), ": axis ", axis_,
                " is out of range for inputs of rank ", batch_rank,
                " (the batch axis 0 cannot be concatenated)");
  return a - 1;
}

Shape Concatenate::MergedShape(const std::vector<Shape>& shapes) const {
  const Shape& first = shapes.front();
  const int a = SampleAxis(first.size());
  Shape out = first;
  out[a] = 0;
  for (const Shape& s : shapes) {
    bool fits = s.size() == first.size();
    for (size_t d = 0; fits && d < s.size(); ++d) {
      fits = static_cast<int>(d) == a || s[d] == first[d];
    }
    GRADWAY_CHECK(fits, Description(), ": inputs must agree on every axis but ", axis_,
                  ", got ", ShapesString(shapes));
    out[a] += s[a];
  }
  return out;
}

std::string Concatenate::ExportOnnxMerge(OnnxGraph& graph,
                                         const std::vector<std::string>& inputs) const {
  const OnnxGraph::Layout layout = graph.layout(inputs[0]);
  std::vector<std::string> same = {inputs[0]};
  for (size_t i = 1; i < inputs.size(); ++i) {
    same.push_back(graph.ToLayout(inputs[i], layout, absl::StrCat(name(), "/input_", i)));
  }
  // ONNX's axis counts the batch; in NCHW a per-sample NHWC axis h, w, c is 2, 3, 1.
  int64_t axis = SampleAxis(input_shapes()[0].size()) + 1;
  if (layout == OnnxGraph::Layout::kNchw) axis = axis == 3 ? 1 : axis + 1;
  return graph.Node("Concat", same, name() + "/Concat", output_shape(), layout,
                    {{"axis", axis}});
}

Tensor Concatenate::Merge(const std::vector<Tensor>& inputs) {
  return Concat(inputs, SampleAxis(inputs[0].rank() - 1) + 1);
}

}  // namespace nn
}  // namespace gradway
