// Models that are graphs of layers: Keras' functional API.
//
//   auto image = nn::Input({28, 28, 1}, "image");
//   auto x = nn::Conv2D(32, 3, nn::kRelu)(image);          // a layer called on a symbolic
//   auto skip = x;                                          // tensor gives another one
//   x = nn::Conv2D(nn::Conv2DOptions(32, 3).Padding(nn::Padding::kSame))(x);
//   x = nn::Add()({x, skip});                               // merge layers take several
//   x = nn::GlobalAveragePooling2D()(x);
//   auto probs = nn::Dense(10, nn::kSoftmax)(x);
//   nn::Model model(image, probs, /*seed=*/42);             // Model(inputs, outputs)
//
// A SymbolicTensor holds no data: it stands for a layer's output inside a model still being
// described. Calling a layer on one records the call; nn::Model(inputs, outputs, seed)
// finds the layers between them, builds each in the order they were called (so that the
// seed fixes every initial weight, as for Sequential), and runs them in that order. A
// layer called more than once shares its weights between the calls. Layers are held by
// the model: a temporary (nn::Dense(10)(x)) is moved into it, and a layer held by a
// std::shared_ptr (auto shared = std::make_shared<nn::Dense>(64)) is shared.
//
// Shapes: the shape of an Input is known at once; a layer's output shape is known once a
// Model containing it has been made (layers build there, not at the call). Errors about
// shapes (a Dense given an image, an Add of (4,) and (5,)) are thrown by the Model's
// constructor and name the layer.
#ifndef GRADWAY_NN_FUNCTIONAL_H_
#define GRADWAY_NN_FUNCTIONAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/shape.h"

namespace gradway {
namespace nn {

class Module;

namespace internal {
struct LayerCall;  // one recorded call: the layer (or an Input) and its inputs
}  // namespace internal

// A value in a functional model under construction (Keras' KerasTensor).
class SymbolicTensor {
 public:
  SymbolicTensor() = default;
  explicit SymbolicTensor(std::shared_ptr<internal::LayerCall> call) : call_(std::move(call)) {}
  bool defined() const { return call_ != nullptr; }
  // The per-sample shape (no batch dimension). Known for an Input at once and for a
  // layer's output once a Model containing it is made; throws Error before that.
  Shape shape() const;
  // The name of what produces it: the Input's name or the layer's ("dense_1").
  std::string name() const;
  const std::shared_ptr<internal::LayerCall>& call() const { return call_; }

 private:
  std::shared_ptr<internal::LayerCall> call_;
};

// A model input of per-sample shape `shape` (Keras' keras.Input(shape=...)); named
// "input_layer", "input_layer_1", ... unless `name` is given. Throws Error for a
// non-positive dimension.
SymbolicTensor Input(Shape shape, std::string name = "");

namespace internal {

// One recorded call of a layer on symbolic inputs, or an Input (layer == nullptr).
struct LayerCall {
  std::shared_ptr<Module> layer;
  std::vector<SymbolicTensor> inputs;
  Shape shape;              // the output's per-sample shape, once known
  bool shape_known = false;
  std::string input_name;   // an Input's name
  int64_t order = 0;        // creation order: calls are built and run in this order
};

// Records `layer` called on `inputs` (the implementation of Module's and MergeLayer's
// symbolic operator()). Throws Error for an undefined input.
SymbolicTensor RecordCall(std::shared_ptr<Module> layer, std::vector<SymbolicTensor> inputs);

}  // namespace internal
}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_FUNCTIONAL_H_
