#include "nn/functional.h"

#include <atomic>
#include <map>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "base/shape_string.h"
#include "nn/module.h"

namespace gradway {
namespace nn {
namespace {

std::atomic<int64_t> g_call_order{0};

}  // namespace

Shape SymbolicTensor::shape() const {
  GRADWAY_CHECK(defined(), "SymbolicTensor: undefined (not the output of Input or of a layer)");
  GRADWAY_CHECK(call_->shape_known, "SymbolicTensor: the shape of ", name(),
                "'s output is known once a Model containing it is made (layers are built "
                "there)");
  return call_->shape;
}

std::string SymbolicTensor::name() const {
  if (!defined()) return "(undefined)";
  return call_->layer ? call_->layer->name() : call_->input_name;
}

SymbolicTensor Input(Shape shape, std::string name) {
  if (name.empty()) name = UniqueModuleName("input_layer");
  for (int64_t d : shape) {
    GRADWAY_CHECK(d > 0, "Input ", name, ": invalid shape ", BatchShapeString(shape));
  }
  auto call = std::make_shared<internal::LayerCall>();
  call->shape = std::move(shape);
  call->shape_known = true;
  call->input_name = std::move(name);
  call->order = g_call_order++;
  return SymbolicTensor(std::move(call));
}

namespace internal {

SymbolicTensor RecordCall(std::shared_ptr<Module> layer, std::vector<SymbolicTensor> inputs) {
  GRADWAY_CHECK(!inputs.empty(), layer->Description(), ": called on no symbolic tensors");
  for (size_t i = 0; i < inputs.size(); ++i) {
    GRADWAY_CHECK(inputs[i].defined(), layer->Description(), ": symbolic input ", i,
                  " is undefined (not the output of Input or of a layer)");
  }
  auto call = std::make_shared<LayerCall>();
  call->layer = std::move(layer);
  call->inputs = std::move(inputs);
  call->order = g_call_order++;
  return SymbolicTensor(std::move(call));
}

}  // namespace internal

SymbolicTensor Module::operator()(const SymbolicTensor& x) & {
  std::shared_ptr<Module> self = weak_from_this().lock();
  GRADWAY_CHECK(self != nullptr, Description(),
                ": called on a symbolic tensor but not held by a std::shared_ptr; call a "
                "temporary (nn::Dense(10)(x)) or a layer made with std::make_shared, which "
                "the model can share");
  return internal::RecordCall(std::move(self), {x});
}

SymbolicTensor Module::operator()(const SymbolicTensor& x) && {
  if (std::shared_ptr<Module> self = weak_from_this().lock()) {
    return internal::RecordCall(std::move(self), {x});
  }
  return internal::RecordCall(std::move(*this).MoveToShared(), {x});
}

std::shared_ptr<Module> Module::MoveToShared() && {
  Fail(Description(), ": a temporary ", type_name(),
       " cannot be called on a symbolic tensor: hold it in a std::shared_ptr (std::make_shared)"
       " and call that, or derive its class from nn::Layer<T> (nn/module.h)");
}

namespace internal {

void ThrowSlicedTemporary(const Module& module) {
  Fail(module.Description(), ": a temporary of a class derived from ", module.type_name(),
       " cannot be called on a symbolic tensor: it would be moved as a ", module.type_name(),
       "; derive the class from nn::Layer<YourClass, ", module.type_name(),
       ">, or hold it in a std::shared_ptr and call that");
}

}  // namespace internal

}  // namespace nn
}  // namespace gradway
