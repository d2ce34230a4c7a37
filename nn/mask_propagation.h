// How nn::Model and nn::Sequential carry Keras' masks from layer to layer (nn/masking.h),
// internal to nn/. With no mask anywhere, each layer is called exactly as operator() does.
#ifndef GRADWAY_NN_MASK_PROPAGATION_H_
#define GRADWAY_NN_MASK_PROPAGATION_H_

#include <vector>

#include "autograd/tensor.h"
#include "nn/masking.h"
#include "nn/merge.h"
#include "nn/module.h"

namespace gradway {
namespace nn {
namespace internal {

// Whether `layer` works on each step alone and so passes its input's mask on unchanged:
// Dense, Dropout, the activation layers, BatchNormalization, LayerNormalization,
// TimeDistributed and PositionEmbedding (and their subclasses).
bool PassesMask(const Module& layer);

// A one-input layer on x with x's mask (undefined: none): a MaskingLayer's CallWithMask;
// otherwise layer(x), with the mask passed on when PassesMask, else dropped.
MaskedTensor CallLayer(Module& layer, const Tensor& x, const Tensor& mask);

// The mask of a merge layer's output given its inputs' masks: for Add, Multiply and a
// Concatenate of the last axis, the steps every masked input keeps (undefined when no
// input has a mask); none for any other merge layer.
Tensor MergedMask(const Module& layer, const std::vector<Tensor>& masks);

// A merge layer on `inputs` with their masks: MultiHeadAttention attends where the query's
// and the value's (and key's) masks both keep the step (Keras' attention mask from
// query_mask and value_mask) and passes the query's mask on; any other merge layer is
// called as operator() does, its mask MergedMask's.
MaskedTensor CallMergeLayer(MergeLayer& layer, const std::vector<Tensor>& inputs,
                            const std::vector<Tensor>& masks);

}  // namespace internal
}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_MASK_PROPAGATION_H_
