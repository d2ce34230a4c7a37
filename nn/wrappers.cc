#include "nn/wrappers.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "base/shape_string.h"
#include "nn/onnx_graph.h"

namespace gradway {
namespace nn {

TimeDistributed::TimeDistributed(std::shared_ptr<Module> layer)
    : Layer("TimeDistributed", "time_distributed"), layer_(std::move(layer)) {
  GRADWAY_CHECK(layer_ != nullptr, "TimeDistributed: no layer to wrap");
  RegisterModule(layer_->name(), layer_);
}

Shape TimeDistributed::DoBuild(const Shape& in) {
  GRADWAY_CHECK(in.size() >= 2, Description(), ": expects input (None, steps, ...), got ",
                BatchShapeString(in));
  const Shape step(in.begin() + 1, in.end());
  if (!layer_->built()) {
    layer_->Build(step);
  } else {
    GRADWAY_CHECK(layer_->input_shape() == step, Description(), ": its layer ",
                  layer_->Description(), " is built for input ",
                  BatchShapeString(layer_->input_shape()), ", not the steps of ",
                  BatchShapeString(in));
  }
  Shape out = {in[0]};
  out.insert(out.end(), layer_->output_shape().begin(), layer_->output_shape().end());
  return out;
}

Tensor TimeDistributed::Forward(const Tensor& x) {
  Shape steps = x.shape();
  steps.erase(steps.begin(), steps.begin() + 2);
  steps.insert(steps.begin(), x.size(0) * x.size(1));
  const Tensor y = (*layer_)(x.Reshape(steps));
  Shape out = y.shape();
  out.erase(out.begin());
  out.insert(out.begin(), {x.size(0), x.size(1)});
  return y.Reshape(out);
}

std::string TimeDistributed::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const auto kNhwc = OnnxGraph::Layout::kNhwc;
  const std::string x = graph.ToLayout(input, kNhwc, name() + "/to_nhwc");
  const Shape& in = input_shape();
  const Shape step(in.begin() + 1, in.end());
  std::vector<int64_t> flat = {-1};
  flat.insert(flat.end(), step.begin(), step.end());
  const std::string steps = graph.Node(
      "Reshape", {x, graph.Int64Initializer(name() + "/steps_shape", flat)}, name() + "/steps",
      step, kNhwc);
  const std::string y = graph.ToLayout(layer_->ExportOnnx(graph, steps), kNhwc,
                                       name() + "/from_layer");
  std::vector<int64_t> back = {-1};
  back.insert(back.end(), output_shape().begin(), output_shape().end());
  return graph.Node("Reshape", {y, graph.Int64Initializer(name() + "/shape", back)},
                    name() + "/sequence", output_shape(), kNhwc);
}

}  // namespace nn
}  // namespace gradway
