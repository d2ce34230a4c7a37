// Layer fusion, internal to nn/: where a layer's output goes only to a plain ReLU layer,
// nn::Model and nn::Sequential run the pair as one fused op, bit-identical to the two
// layers (values, gradients, moving statistics), with fewer passes over memory:
//   BatchNormalization -> ReLU   BatchNormalization::CallWithRelu (BatchNormRelu)
//   Add                -> ReLU   Add::CallWithRelu (AddRelu)
// Only these exact classes fuse: a subclass may override Forward, and runs as written. The
// ReLU layer is then not called (it has no weights and no state); Summary, checkpoints and
// ONNX export still list both layers.
#ifndef GRADWAY_NN_LAYER_FUSION_H_
#define GRADWAY_NN_LAYER_FUSION_H_

#include <cstddef>
#include <vector>

#include "autograd/tensor.h"
#include "nn/module.h"

namespace gradway {
namespace nn {
namespace internal {

// Whether `layer` is a plain ReLU: exactly nn::ReLU, or exactly nn::Activation("relu").
bool IsPlainRelu(const Module& layer);

// Whether `layer`, called on `inputs` inputs, can run a following plain ReLU fused into
// itself.
bool AbsorbsRelu(const Module& layer, size_t inputs);

// Relu(layer(inputs)), fused; `layer` must satisfy AbsorbsRelu (one input for batch
// normalisation, a list for Add). Checks the inputs as calling the layer does.
Tensor CallWithRelu(Module& layer, const std::vector<Tensor>& inputs);

}  // namespace internal
}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_LAYER_FUSION_H_
