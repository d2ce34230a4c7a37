#include "nn/layer_fusion.h"

#include <typeinfo>

#include "autograd/error.h"
#include "nn/layers.h"
#include "nn/merge.h"
#include "nn/normalization.h"

namespace gradway {
namespace nn {
namespace internal {

bool IsPlainRelu(const Module& layer) {
  if (typeid(layer) == typeid(ReLU)) return true;
  return typeid(layer) == typeid(Activation) &&
         static_cast<const Activation&>(layer).function() == kRelu;
}

bool AbsorbsRelu(const Module& layer, size_t inputs) {
  return (typeid(layer) == typeid(BatchNormalization) && inputs == 1) ||
         (typeid(layer) == typeid(Add) && inputs >= 2);
}

Tensor CallWithRelu(Module& layer, const std::vector<Tensor>& inputs) {
  if (typeid(layer) == typeid(Add)) return static_cast<Add&>(layer).CallWithRelu(inputs);
  GRADWAY_CHECK(typeid(layer) == typeid(BatchNormalization) && inputs.size() == 1,
                layer.Description(), ": cannot run a ReLU fused into it on ", inputs.size(),
                " inputs");
  return static_cast<BatchNormalization&>(layer).CallWithRelu(inputs[0]);
}

}  // namespace internal
}  // namespace nn
}  // namespace gradway
