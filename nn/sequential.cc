#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "nn/layer_fusion.h"
#include "nn/mask_propagation.h"
#include "nn/model.h"

namespace gradway {
namespace nn {

Sequential::Sequential(uint64_t seed) : Model(seed, "Sequential", "sequential") {}

Module& Sequential::layer(size_t i) const {
  GRADWAY_CHECK(i < size(), Description(), ": layer index ", i, " out of range (", size(),
                " layers)");
  return *children()[i].second;
}

void Sequential::ThrowWrongLayerType(size_t i, const char* type) const {
  Fail(Description(), ": layer ", i, " is ", layer(i).Description(), ", not a ", type);
}

void Sequential::AddModule(std::shared_ptr<Module> layer) {
  GRADWAY_CHECK(layer != nullptr, Description(), ": Add got a null layer");
  GRADWAY_CHECK(layer.get() != this, Description(), ": cannot add a model to itself");
  const std::string key = NewLayerKey(*layer);
  if (built()) {
    layer->SetGenerator(init_generator());
    Shape out;
    if (layer->built()) {
      GRADWAY_CHECK(layer->input_shape() == output_shape(), Description(), ": ",
                    layer->Description(), " was built for input ",
                    BatchShapeString(layer->input_shape()), " but follows output ",
                    BatchShapeString(output_shape()));
      out = layer->output_shape();
    } else {
      out = layer->Build(output_shape());
    }
    RegisterModule(key, layer);
    set_output_shape(out);
  } else {
    RegisterModule(key, layer);
    if (size() == 1 && layer->declared_input_shape()) Build(*layer->declared_input_shape());
  }
}

Shape Sequential::DoBuild(const Shape& input_shape) {
  GRADWAY_CHECK(size() > 0, Description(), ": no layers; Add some before building");
  Shape shape = input_shape;
  for (const auto& [name, layer] : children()) {
    if (layer->built()) {
      GRADWAY_CHECK(layer->input_shape() == shape, Description(), ": ", layer->Description(),
                    " was built for input ", BatchShapeString(layer->input_shape()),
                    " but receives ", BatchShapeString(shape));
      shape = layer->output_shape();
    } else {
      shape = layer->Build(shape);
    }
  }
  return shape;
}

Tensor Sequential::Forward(const Tensor& x) {
  Tensor h = x, mask;  // the mask layers make and pass on (nn/masking.h)
  const auto& layers = children();
  for (size_t i = 0; i < layers.size(); ++i) {
    Module& layer = *layers[i].second;
    // A layer followed by a plain ReLU runs it fused (nn/layer_fusion.h).
    if (i + 1 < layers.size() && internal::AbsorbsRelu(layer, 1) &&
        internal::IsPlainRelu(*layers[i + 1].second)) {
      h = internal::CallWithRelu(layer, {h});
      if (!internal::PassesMask(layer)) mask = Tensor();
      ++i;
      continue;
    }
    MaskedTensor out = internal::CallLayer(layer, h, mask);
    h = std::move(out.value);
    mask = std::move(out.mask);
  }
  return h;
}

std::vector<std::vector<Tensor>> Sequential::ForwardShards(const std::vector<Tensor>& xs,
                                                           const LayerShardsFn& run) {
  std::vector<std::vector<Tensor>> hs;
  for (const Tensor& x : xs) {
    CheckInput(x);
    hs.push_back({x});
  }
  for (const auto& c : children()) {
    const std::vector<Tensor> out = run(*c.second, hs);
    for (size_t s = 0; s < hs.size(); ++s) hs[s] = {out[s]};
  }
  return hs;
}

std::string Sequential::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  std::string value = input;
  for (const auto& c : children()) value = c.second->ExportOnnx(graph, value);
  return value;
}

const Module& Sequential::InputLayer() const {
  return size() > 0 ? *children().front().second : static_cast<const Module&>(*this);
}

}  // namespace nn
}  // namespace gradway
