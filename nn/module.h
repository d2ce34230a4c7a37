// Module: the base of every layer and model (like torch::nn::Module, with Keras' deferred
// build).
//
// A module owns parameters and sub-modules registered by name (RegisterParameter,
// RegisterModule); NamedParameters() walks them recursively and joins names with '/', so a
// Sequential's Dense layer named "dense_1" has parameters "dense_1/kernel" and
// "dense_1/bias" (the names checkpoints use).
//
// Deferred build (Keras): a layer does not know its input size when constructed. Build()
// receives the per-sample input shape (no batch dimension: {28, 28, 1} for a 28x28 grey
// image, {784} for a vector), creates the parameters and returns the per-sample output
// shape. Calling a module (operator()) on a batch builds it on first use from the batch's
// shape and checks the shape on every later call.
//
// Random numbers (initial weights, dropout seeds) come from the Generator the owning model
// hands to its layers (SetGenerator), so one model seed fixes them all.
#ifndef GRADWAY_NN_MODULE_H_
#define GRADWAY_NN_MODULE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "autograd/generator.h"
#include "autograd/shape.h"
#include "autograd/tensor.h"
#include "base/shape_string.h"  // BatchShapeString, as layers print their shapes

namespace gradway {
namespace nn {

class OnnxGraph;       // nn/onnx_graph.h
class SymbolicTensor;  // nn/functional.h

// A list of (name, tensor) pairs in registration order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  // `type_name` is the class name shown by Summary ("Conv2D"); `base_name` the snake_case
  // stem of the module's name, unique in the process as in Keras: the first Conv2D made
  // is "conv2d", the next "conv2d_1", and so on (ClearSession() starts them again).
  Module(std::string type_name, std::string base_name);
  virtual ~Module();
  // Not copyable: a copy would share the parameters' storage but not their registration,
  // silently. Hold modules by reference or shared_ptr; moving one is fine.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // ---- Identity.
  // The module's name, unique in the process unless set explicitly. A model stores an
  // unnamed layer's parameters under a key unique in that model instead ("dense/kernel",
  // "dense_1/kernel" in the order the model holds them), so checkpoints do not depend on
  // what else the process built; an explicitly named layer's key is its name.
  const std::string& name() const { return name_; }
  void set_name(std::string name) {
    name_ = std::move(name);
    explicit_name_ = true;
  }
  bool has_explicit_name() const { return explicit_name_; }
  const std::string& type_name() const { return type_name_; }
  const std::string& base_name() const { return base_name_; }
  // "dense_1 (Dense)": how errors and Summary name the module.
  std::string Description() const;

  // ---- Build.
  // Creates the parameters for per-sample input `input_shape` and returns the per-sample
  // output shape. Throws Error (naming the layer and the shape) for inputs it cannot take.
  // Subclasses override DoBuild; Build records the shapes and marks the module built.
  // Sub-modules are built too, wherever they were registered: when DoBuild leaves any
  // unbuilt (registered in the constructor, or in DoBuild), one forward pass in eval mode
  // on a zero sample builds those it reaches (all but children used only in training) and
  // gives the module's output shape.
  Shape Build(const Shape& input_shape);
  bool built() const { return built_; }
  // Per-sample shapes; valid once built.
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }
  // The input shape declared by the layer's options (Keras input_shape=), if any.
  const std::optional<Shape>& declared_input_shape() const { return declared_input_shape_; }

  // ---- Forward.
  // The computation on a batch x [batch, input_shape...]; assumes the module is built.
  virtual Tensor Forward(const Tensor& x) = 0;
  // Builds on first use from x's shape, checks x's shape against input_shape() (throwing
  // Error "dense_1 (Dense): expected input (None, 784), got (32, 28, 28, 1)"), then Forward.
  Tensor operator()(const Tensor& x);
  // Functional API (nn/functional.h): records this module called on a symbolic tensor and
  // returns its symbolic output. The module must be held by a std::shared_ptr (the model
  // shares it), or be a temporary of a class derived from Layer<T> (below), which is moved
  // into one: nn::Dense(10)(x). Otherwise throws Error saying so.
  SymbolicTensor operator()(const SymbolicTensor& x) &;
  SymbolicTensor operator()(const SymbolicTensor& x) &&;
  // Moves this module into a new std::shared_ptr of its own type, for a temporary called on
  // a symbolic tensor. Layer<T> implements it; the default throws Error naming the module.
  virtual std::shared_ptr<Module> MoveToShared() &&;

  // ---- ONNX export (SaveOnnx, nn/onnx_export.h).
  // Appends this module's inference computation to `graph`: `input` names the value the
  // module reads; returns the name of the value it outputs. gradway's layers and Sequential
  // override it; a module of your own overrides it with `graph`'s nodes and its children's
  // ExportOnnx. The default throws Error: "cannot export my_layer (MyLayer) to ONNX: it does
  // not override Module::ExportOnnx".
  virtual std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const;

  // ---- Parameters and sub-modules.
  // Registers `tensor` (made a leaf that requires grad when trainable) under `name` and
  // returns it. Throws Error on a duplicate name. A parameter registered non-trainable
  // (Keras' non-trainable weights: statistics a layer updates itself, such as
  // BatchNormalization's moving mean and variance) stays so whatever SetTrainable says; it
  // is saved and restored with the others.
  Tensor RegisterParameter(const std::string& name, Tensor tensor, bool trainable = true);
  // Registers `module` under `name` (its parameters appear as "name/...").
  std::shared_ptr<Module> RegisterModule(const std::string& name,
                                         std::shared_ptr<Module> module);
  // All parameters, recursively, named "child/param" (registration order); a tensor
  // reached by two paths (a layer inside a nested model and also called on its own) once,
  // under its first name.
  NamedTensors NamedParameters() const;
  // Only the trainable ones (what optimisers update).
  NamedTensors NamedTrainableParameters() const;
  std::vector<Tensor> Parameters() const;
  // Total element count of all / trainable parameters.
  int64_t ParameterCount() const;
  int64_t TrainableParameterCount() const;
  // Direct sub-modules, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  // Freezes (false) or unfreezes this module's parameters, recursively (Keras trainable);
  // unfreezing leaves the parameters registered non-trainable as they are.
  void SetTrainable(bool trainable);
  bool trainable() const { return trainable_; }
  // Forgets every parameter's gradient, recursively.
  void ZeroGrad();

  // ---- Modes. Train() and Eval() apply recursively; Dropout acts only in training.
  void Train(bool on = true);
  void Eval() { Train(false); }
  bool is_training() const { return training_; }

  // ---- Randomness.
  // Sets the generator used by Build (initialisers, dropout seeds), recursively.
  void SetGenerator(std::shared_ptr<Generator> generator);
  // The generator set by the owner, or a private one seeded with 0.
  Generator& generator();

 protected:
  // Builds the layer (creating parameters with generator()); returns the output shape.
  // The default passes the shape through (layers without parameters that keep the shape).
  virtual Shape DoBuild(const Shape& input_shape) { return input_shape; }
  // operator()'s build-and-check step; returns nothing, throws on a bad shape.
  void CheckInput(const Tensor& x);
  void set_declared_input_shape(std::optional<Shape> s) { declared_input_shape_ = std::move(s); }
  // For containers that grow after building (Sequential::Add).
  void set_output_shape(Shape s) { output_shape_ = std::move(s); }

 private:
  struct Param {
    std::string name;
    Tensor tensor;
    bool trainable;
    bool registered_trainable;  // false: never trainable (RegisterParameter)
  };
  void CollectParameters(const std::string& prefix, bool trainable_only,
                         NamedTensors* out) const;
  bool HasUnbuiltChild() const;

  std::string type_name_;
  std::string base_name_;
  std::string name_;
  bool explicit_name_ = false;
  bool built_ = false;
  bool training_ = true;
  bool trainable_ = true;
  Shape input_shape_;
  Shape output_shape_;
  std::optional<Shape> declared_input_shape_;
  std::vector<Param> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::shared_ptr<Generator> generator_;
};

// The base of a layer class T that can be called as a temporary on symbolic tensors
// (nn::Dense(10)(x)): class MyLayer : public nn::Layer<MyLayer> { ... }, constructed with
// Layer("MyLayer", "my_layer"). Base is Module, an abstract layer base (MergeLayer), or a
// layer to extend: class Doubling : public nn::Layer<Doubling, nn::Dense>. A temporary of a
// class that derives from a layer without naming itself here throws Error when called on
// a symbolic tensor (it would be moved as the base class, losing its overrides).
namespace internal {
// Throws Error: `module` is of a class derived from a layer without deriving from
// Layer<itself, ...>, so moving it as that layer would drop what it adds.
[[noreturn]] void ThrowSlicedTemporary(const Module& module);
}  // namespace internal

template <typename T, typename Base = Module>
class Layer : public Base {
 public:
  using Base::Base;
  std::shared_ptr<Module> MoveToShared() && override {
    if (typeid(*this) != typeid(T)) internal::ThrowSlicedTemporary(*this);
    return std::make_shared<T>(std::move(static_cast<T&>(*this)));
  }
};

// The next process-unique name made from `base` ("dense", "dense_1", ...), as modules get
// theirs; also names functional Inputs ("input_layer", ...).
std::string UniqueModuleName(const std::string& base);

// Starts the process-wide module names afresh (Keras' clear_session): the next Dense
// made is "dense" again. Names already given are kept. Also restarts the calling thread's
// count of random steps taken outside a RandomStepScope (below).
void ClearSession();

// While alive, CurrentRandomStep() on this thread returns `step` (scopes nest; the
// innermost wins). Model::ComputeGradients opens one around its forward pass with the model's
// train_step(); a hand-written loop that calls the model directly may open its own.
class RandomStepScope {
 public:
  explicit RandomStepScope(int64_t step);
  ~RandomStepScope();
  RandomStepScope(const RandomStepScope&) = delete;
  RandomStepScope& operator=(const RandomStepScope&) = delete;

 private:
  std::optional<int64_t> previous_;
};

// The step stochastic layers (Dropout) mix into their seeds: the innermost
// RandomStepScope's step; outside any scope, a per-thread count of such calls (0, 1, 2,
// ...), so masks still differ from call to call. ClearSession() starts the calling
// thread's count again from 0.
int64_t CurrentRandomStep();

// Holds a shared_ptr<Base>; converts implicitly from a shared_ptr to a subclass or from a
// subclass value (moved into a new shared_ptr). It lets the API take either
// `model.Add(nn::Dense(...))` or `model.Add(my_shared_dense)`.
template <typename Base>
class Ref {
 public:
  template <typename D, typename = std::enable_if_t<std::is_base_of_v<Base, D>>>
  Ref(std::shared_ptr<D> p) : ptr_(std::move(p)) {}  // NOLINT(runtime/explicit)
  template <typename D, typename V = std::decay_t<D>,
            typename = std::enable_if_t<std::is_base_of_v<Base, V>>>
  Ref(D&& value)  // NOLINT(runtime/explicit)
      : ptr_(std::make_shared<V>(std::forward<D>(value))) {
    static_assert(!std::is_lvalue_reference_v<D> || !std::is_base_of_v<Module, V>,
                  "modules are not copyable: pass a temporary (model.Add(nn::Dense(10))), "
                  "std::move(layer), or a std::shared_ptr to share it");
  }
  const std::shared_ptr<Base>& get() const { return ptr_; }
  Base* operator->() const { return ptr_.get(); }

 private:
  std::shared_ptr<Base> ptr_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_MODULE_H_
