#include "nn/mask_propagation.h"

#include <algorithm>
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

MaskedTensor CallMergeLayer(MergeLayer& layer, const std::vector<Tensor>& inputs,
                            const std::vector<Tensor>& masks) {
  auto* mha = dynamic_cast<MultiHeadAttention*>(&layer);
  const bool any = std::any_of(masks.begin(), masks.end(),
                               [](const Tensor& m) { return m.defined(); });
  if (mha == nullptr || !any) return {layer(inputs), MergedMask(layer, masks)};
  const Tensor& query = inputs[0];
  const Tensor& value = inputs[1];
  const int64_t N = query.shape()[0], T = query.shape()[1], S = value.shape()[1];
  CheckMask(mha->Description() + " (query)", query, masks[0]);
  for (size_t i = 1; i < masks.size(); ++i) {
    CheckMask(mha->Description() + (i == 1 ? " (value)" : " (key)"), inputs[i], masks[i]);
  }
  // Keras: the key's mask is the value's unless the key has its own.
  const Tensor& value_mask = masks[1];
  const Tensor& key_mask = masks.size() > 2 && masks[2].defined() ? masks[2] : value_mask;
  Tensor attend = Tensor::Zeros({N, T, S});
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t t = 0; t < T; ++t) {
      const bool q = !masks[0].defined() || masks[0].data()[n * T + t] != 0.f;
      for (int64_t s = 0; s < S; ++s) {
        const bool v = !value_mask.defined() || value_mask.data()[n * S + s] != 0.f;
        const bool k = !key_mask.defined() || key_mask.data()[n * S + s] != 0.f;
        attend.data()[(n * T + t) * S + s] = q && v && k ? 1.f : 0.f;
      }
    }
  }
  return {mha->Attend(query, value, inputs.size() > 2 ? inputs[2] : Tensor(), attend),
          masks[0]};
}

}  // namespace internal
}  // namespace nn
}  // namespace gradway
