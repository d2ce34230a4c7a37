// Merge layers (Keras' keras.layers.Add, Multiply, Concatenate): layers that take several
// inputs, for models that are graphs (nn/functional.h):
//
//   auto sum = nn::Add()({x, shortcut});
//   auto both = nn::Concatenate()({image_features, text_features});
//
// On tensors they take a list too: nn::Add add; Tensor y = add({a, b});
// Inputs are batches [N, per-sample shape...] with the same N. Errors (fewer than two
// inputs, shapes that do not fit) throw gradway::Error naming the layer and the shapes.
#ifndef GRADWAY_NN_MERGE_H_
#define GRADWAY_NN_MERGE_H_

#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "nn/functional.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

// The base of layers that take several inputs. It builds from the list of per-sample
// input shapes (BuildMerge) and checks them on every later call.
class MergeLayer : public Module {
 public:
  MergeLayer(std::string type_name, std::string base_name);
  using Module::operator();
  // Merges a batch: builds on first use from the inputs' shapes, checks them afterwards.
  Tensor operator()(const std::vector<Tensor>& inputs);
  // operator()'s checks alone: builds on first use, then throws Error naming the layer for
  // inputs of other shapes or batch sizes.
  void CheckInputs(const std::vector<Tensor>& inputs);
  // Functional API: records the layer called on several symbolic tensors.
  SymbolicTensor operator()(const std::vector<SymbolicTensor>& inputs) &;
  SymbolicTensor operator()(const std::vector<SymbolicTensor>& inputs) &&;
  // Builds for these per-sample input shapes and returns the output's; throws Error naming
  // the layer when they do not fit, or when it is already built for others.
  Shape BuildMerge(const std::vector<Shape>& shapes);
  // The per-sample input shapes it was built for (empty until built).
  const std::vector<Shape>& input_shapes() const { return shapes_; }
  // A merge layer takes a list: throws Error saying so.
  Tensor Forward(const Tensor& x) override;
  // The computation on inputs whose shapes have been checked.
  virtual Tensor Merge(const std::vector<Tensor>& inputs) = 0;
  // ONNX export (nn/onnx_export.h) of the merge of the values `inputs`; returns the output
  // value. The one-input ExportOnnx throws, as Forward does.
  virtual std::string ExportOnnxMerge(OnnxGraph& graph,
                                      const std::vector<std::string>& inputs) const = 0;

 protected:
  // The per-sample output shape for these input shapes; throws Error naming the layer.
  virtual Shape MergedShape(const std::vector<Shape>& shapes) const = 0;
  Shape DoBuild(const Shape& input_shape) override;

 private:
  std::vector<Shape> shapes_;
  Shape merged_;
};

// Elementwise sum of inputs of one shape (Keras' Add; left to right: (a + b) + c).
// Unlike Keras 3 it does not broadcast between different per-sample shapes.
class Add : public Layer<Add, MergeLayer> {
 public:
  Add();
  Tensor Merge(const std::vector<Tensor>& inputs) override;
  // Relu(operator()(inputs)), two inputs in one pass (AddRelu, autograd/functions.h): what
  // nn::Model runs when the sum goes only to a ReLU (nn/layer_fusion.h). Bit-identical to
  // the two layers.
  Tensor CallWithRelu(const std::vector<Tensor>& inputs);
  std::string ExportOnnxMerge(OnnxGraph& graph,
                              const std::vector<std::string>& inputs) const override;

 protected:
  Shape MergedShape(const std::vector<Shape>& shapes) const override;
};

// Elementwise product of inputs of one shape (Keras' Multiply), left to right.
class Multiply : public Layer<Multiply, MergeLayer> {
 public:
  Multiply();
  Tensor Merge(const std::vector<Tensor>& inputs) override;
  std::string ExportOnnxMerge(OnnxGraph& graph,
                              const std::vector<std::string>& inputs) const override;

 protected:
  Shape MergedShape(const std::vector<Shape>& shapes) const override;
};

// Joins inputs along `axis` (Keras' Concatenate, default -1: the channels of NHWC images,
// the features of vectors). The axis counts the batch dimension as Keras does (axis 1 is
// the first per-sample dimension; negative counts from the end); it cannot be the batch
// axis. The inputs agree on every other dimension.
class Concatenate : public Layer<Concatenate, MergeLayer> {
 public:
  explicit Concatenate(int axis = -1);
  Tensor Merge(const std::vector<Tensor>& inputs) override;
  std::string ExportOnnxMerge(OnnxGraph& graph,
                              const std::vector<std::string>& inputs) const override;
  int axis() const { return axis_; }

 protected:
  Shape MergedShape(const std::vector<Shape>& shapes) const override;

 private:
  // The per-sample axis for per-sample shapes of `rank` dimensions; throws naming the layer.
  int SampleAxis(size_t rank) const;
  int axis_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_MERGE_H_
