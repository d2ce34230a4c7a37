#include "nn/mask_propagation.h"

#include <vector>

#include "nn/attention.h"
#include "nn/layers.h"
#include "nn/merge.h"
#include "nn/normalization.h"
#include "nn/wrappers.h"

namespace gradway {
namespace nn {
namespace internal {

namespace {

template <class... L>
bool IsAny(const Module& layer) {
  return ((dynamic_cast<const L*>(&layer) != nullptr) || ...);
}

}  // namespace

bool PassesMask(const Module& layer) {
  return IsAny<Dense, Dropout, ReLU, Softmax, Activation, LeakyReLU, ELU, BatchNormalization,
               LayerNormalization, TimeDistributed, PositionEmbedding>(layer);
}

MaskedTensor CallLayer(Module& layer, const Tensor& x, const Tensor& mask) {
  if (auto* masking = dynamic_cast<MaskingLayer*>(&layer)) return masking->CallWithMask(x, mask);
  Tensor y = layer(x);
  if (mask.defined() && PassesMask(layer)) {
    CheckMask(layer.Description(), x, mask);
    return {y, mask};
  }
  return {y, Tensor()};
}

Tensor MergedMask(const Module& layer, const std::vector<Tensor>& masks) {
  const auto* concatenate = dynamic_cast<const Concatenate*>(&layer);
  const bool keeps_steps =
      IsAny<Add, Multiply>(layer) ||
      (concatenate != nullptr &&
       (concatenate->axis() == -1 ||
        concatenate->axis() == static_cast<int>(concatenate->input_shapes()[0].size())));
  if (!keeps_steps) return Tensor();
  Tensor merged;
  for (const Tensor& m : masks) {
    if (!m.defined()) continue;
    if (!merged.defined()) {
      merged = m;
      continue;
    }
    Tensor both = Tensor::Zeros(merged.shape());
    for (int64_t i = 0; i < both.numel(); ++i) {
      both.data()[i] = merged.data()[i] != 0.f && m.data()[i] != 0.f ? 1.f : 0.f;
    }
    merged = both;
  }
  return merged;
}

}  // namespace internal
}  // namespace nn
}  // namespace gradway
