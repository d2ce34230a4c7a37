// The layers' ONNX export (Module::ExportOnnx overrides for nn/layers.h; SaveOnnx in
// nn/onnx_export.h). Images are NHWC in gradway and NCHW in ONNX's Conv and pools: a layer
// that needs NCHW asks the graph for it (a Transpose only when the value is not already
// NCHW), so consecutive convolutions and pools share one Transpose in; Flatten and the
// graph's output go back to NHWC.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/graph.h"
#include "base/padding.h"
#include "nn/layers.h"
#include "nn/onnx_graph.h"

namespace gradway {
namespace nn {
namespace {

using Layout = OnnxGraph::Layout;

// GELU has no ONNX operator before opset 20: x * (1 + Erf(x / sqrt(2))) * 0.5.
std::string ExportGelu(OnnxGraph& graph, const std::string& x, const std::string& name) {
  const auto constant = [&](const char* what, float v) {
    return graph.Initializer(name + "/Gelu/" + what, Tensor::Scalar(v));
  };
  const std::string scaled = graph.Elementwise(
      "Mul", {x, constant("sqrt_half", 0.70710678118654752440f)}, name + "/Gelu/Mul");
  const std::string erf = graph.Elementwise("Erf", {scaled}, name + "/Gelu/Erf");
  const std::string cdf2 =
      graph.Elementwise("Add", {erf, constant("one", 1.f)}, name + "/Gelu/Add");
  const std::string y = graph.Elementwise("Mul", {x, cdf2}, name + "/Gelu/Mul");
  return graph.Elementwise("Mul", {y, constant("half", 0.5f)}, name + "/Gelu/Mul");
}

// SiLU (ONNX has no operator for it): x * Sigmoid(x).
std::string ExportSilu(OnnxGraph& graph, const std::string& x, const std::string& name) {
  const std::string s = graph.Elementwise("Sigmoid", {x}, name + "/Silu/Sigmoid");
  return graph.Elementwise("Mul", {x, s}, name + "/Silu/Mul");
}

std::string ExportActivation(OnnxGraph& graph, ActivationFunction activation,
                             const std::string& value, const std::string& name) {
  switch (activation) {
    case ActivationFunction::kLinear:
      return value;
    case ActivationFunction::kRelu:
      return graph.Elementwise("Relu", {value}, name + "/Relu");
    case ActivationFunction::kSigmoid:
      return graph.Elementwise("Sigmoid", {value}, name + "/Sigmoid");
    case ActivationFunction::kTanh:
      return graph.Elementwise("Tanh", {value}, name + "/Tanh");
    case ActivationFunction::kSoftmax:
      return graph.Softmax(value, name + "/Softmax");
    case ActivationFunction::kElu:
      return graph.Elementwise("Elu", {value}, name + "/Elu", {{"alpha", 1.f}});
    case ActivationFunction::kGelu:
      return ExportGelu(graph, value, name);
    case ActivationFunction::kSilu:
      return ExportSilu(graph, value, name);
    case ActivationFunction::kHardSigmoid:  // max(0, min(1, x / 6 + 1 / 2))
      return graph.Elementwise("HardSigmoid", {value}, name + "/HardSigmoid",
                               {{"alpha", 1.f / 6.f}, {"beta", 0.5f}});
    case ActivationFunction::kLeakyRelu:
      return graph.Elementwise("LeakyRelu", {value}, name + "/LeakyRelu",
                               {{"alpha", kLeakyReluActivationSlope}});
  }
  Fail("onnx: unknown activation in ", name);
}

// ONNX's 2-D window attributes for a gradway window over an NHWC value of per-sample
// shape {H, W, C}: kernel_shape, strides and pads [top, left, bottom, right].
OnnxAttributes WindowAttributes(const Shape& in, int64_t kh, int64_t kw, int64_t sh,
                                int64_t sw, Padding padding) {
  std::vector<int64_t> pads(4);
  const int64_t sizes[2] = {kh, kw}, strides[2] = {sh, sw};
  for (int i = 0; i < 2; ++i) {
    const int64_t out = WindowOutputSize(in[i], sizes[i], strides[i], padding);
    const int64_t before = WindowPadBefore(in[i], sizes[i], strides[i], padding);
    const int64_t total = std::max<int64_t>((out - 1) * strides[i] + sizes[i] - in[i], 0);
    pads[i] = before;
    pads[i + 2] = padding == Padding::kValid ? 0 : total - before;
  }
  return {{"kernel_shape", std::vector<int64_t>{kh, kw}},
          {"strides", std::vector<int64_t>{sh, sw}},
          {"pads", pads}};
}

}  // namespace

std::string Dense::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  if (graph.shape(input).size() > 1) {  // (N, ..., in): MatMul over the last axis
    const std::string x = graph.ToLayout(input, Layout::kNhwc, name() + "/to_nhwc");
    std::string y = graph.Node("MatMul", {x, graph.Initializer(name() + "/kernel", kernel_)},
                               name() + "/MatMul", output_shape(), Layout::kNhwc);
    if (options_.use_bias) {
      y = graph.Elementwise("Add", {y, graph.Initializer(name() + "/bias", bias_)},
                            name() + "/bias_add");
    }
    return ExportActivation(graph, options_.activation, y, name());
  }
  // Gemm(x, W^T, b) with W^T [units, in] and transB = 1, as PyTorch exports a Linear: the
  // form every runtime reads (OpenCV 4.6 refuses Gemm's transB = 0 with a bias).
  Tensor kernel_t;
  {
    NoGradGuard no_grad;
    kernel_t = Transpose(kernel_);
  }
  std::vector<std::string> inputs = {input, graph.Initializer(name() + "/kernel", kernel_t)};
  if (options_.use_bias) inputs.push_back(graph.Initializer(name() + "/bias", bias_));
  const std::string y = graph.Node("Gemm", inputs, name() + "/Gemm", output_shape(),
                                   Layout::kNhwc, {{"transB", int64_t{1}}});
  return ExportActivation(graph, options_.activation, y, name());
}

std::string Conv2D::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const std::string x = graph.ToLayout(input, Layout::kNchw, name() + "/to_nchw");
  Tensor oihw;  // HWIO -> ONNX's OIHW
  {
    NoGradGuard no_grad;
    oihw = Permute(kernel_, {3, 2, 0, 1});
  }
  std::vector<std::string> inputs = {x, graph.Initializer(name() + "/kernel", oihw)};
  if (options_.use_bias) inputs.push_back(graph.Initializer(name() + "/bias", bias_));
  const std::string y = graph.Node(
      "Conv", inputs, name() + "/Conv", output_shape(), Layout::kNchw,
      WindowAttributes(input_shape(), options_.kernel_h, options_.kernel_w, options_.stride_h,
                       options_.stride_w, options_.padding));
  return ExportActivation(graph, options_.activation, y, name());
}

// The ids (float inputs) cast to int64, then Gather of the table's rows.
std::string Embedding::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  // The graph would run the layers after it without the mask they skip padding by.
  GRADWAY_CHECK(!options_.mask_zero, "cannot export ", Description(),
                " to ONNX: its mask (mask_zero) is not exported yet, and the layers after it "
                "would read the padding");
  const std::string x = graph.ToLayout(input, Layout::kNhwc, name() + "/to_nhwc");
  const std::string ids = graph.Node("Cast", {x}, name() + "/ids", input_shape(),
                                     Layout::kNhwc, {{"to", int64_t{7}}});  // INT64
  return graph.Node("Gather",
                    {graph.Initializer(name() + "/embeddings", embeddings_), ids},
                    name() + "/Gather", output_shape(), Layout::kNhwc, {{"axis", int64_t{0}}});
}

// (N, steps, channels) -> Transpose (N, channels, steps) -> 1-D Conv (weights [filters,
// channels, kernel_size]; causal: kernel_size - 1 pads before) -> Transpose back.
std::string Conv1D::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const Conv1DOptions& o = options_;
  const Shape& in = input_shape();
  const std::vector<int64_t> swap = {0, 2, 1};
  const std::string x = graph.ToLayout(input, Layout::kNhwc, name() + "/to_nhwc");
  const std::string t = graph.Node("Transpose", {x}, name() + "/to_ncw", {in[1], in[0]},
                                   Layout::kNhwc, {{"perm", swap}});
  Tensor fck;  // [k, C, F] -> ONNX's [F, C, k]
  {
    NoGradGuard no_grad;
    fck = Permute(kernel_, {2, 1, 0});
  }
  std::vector<std::string> inputs = {t, graph.Initializer(name() + "/kernel", fck)};
  if (o.use_bias) inputs.push_back(graph.Initializer(name() + "/bias", bias_));
  OnnxAttributes attributes;
  if (o.causal) {
    attributes = {{"kernel_shape", std::vector<int64_t>{o.kernel_size}},
                  {"strides", std::vector<int64_t>{o.strides}},
                  {"pads", std::vector<int64_t>{o.kernel_size - 1, 0}}};
  } else {  // the 2-D attributes of a 1 x steps image, keeping the steps' entries
    const OnnxAttributes two_d =
        WindowAttributes({1, in[0]}, 1, o.kernel_size, 1, o.strides, o.padding);
    const auto& pads = std::get<std::vector<int64_t>>(two_d[2].second);
    attributes = {{"kernel_shape", std::vector<int64_t>{o.kernel_size}},
                  {"strides", std::vector<int64_t>{o.strides}},
                  {"pads", std::vector<int64_t>{pads[1], pads[3]}}};
  }
  const Shape& out = output_shape();
  const std::string y = graph.Node("Conv", inputs, name() + "/Conv", {out[1], out[0]},
                                   Layout::kNhwc, attributes);
  const std::string back = graph.Node("Transpose", {y}, name() + "/to_nwc", out, Layout::kNhwc,
                                      {{"perm", swap}});
  return ExportActivation(graph, o.activation, back, name());
}

std::string MaxPooling2D::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const std::string x = graph.ToLayout(input, Layout::kNchw, name() + "/to_nchw");
  const int64_t sh = options_.stride_h ? options_.stride_h : options_.pool_h;
  const int64_t sw = options_.stride_w ? options_.stride_w : options_.pool_w;
  return graph.Node("MaxPool", {x}, name() + "/MaxPool", output_shape(), Layout::kNchw,
                    WindowAttributes(input_shape(), options_.pool_h, options_.pool_w, sh, sw,
                                     options_.padding));
}

std::string AveragePooling2D::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const std::string x = graph.ToLayout(input, Layout::kNchw, name() + "/to_nchw");
  const int64_t sh = options_.stride_h ? options_.stride_h : options_.pool_h;
  const int64_t sw = options_.stride_w ? options_.stride_w : options_.pool_w;
  OnnxAttributes attributes = WindowAttributes(input_shape(), options_.pool_h, options_.pool_w,
                                               sh, sw, options_.padding);
  attributes.emplace_back("count_include_pad", int64_t{0});  // Keras: padding left out
  return graph.Node("AveragePool", {x}, name() + "/AveragePool", output_shape(),
                    Layout::kNchw, attributes);
}

namespace {

// GlobalAveragePool / GlobalMaxPool (NCHW in, [N, C, 1, 1] out), then Flatten to [N, C]
// unless the layer keeps the dimensions ([N, C, 1, 1] in NCHW is gradway's [N, 1, 1, C]).
std::string ExportGlobalPool(OnnxGraph& graph, const std::string& input, const Module& layer,
                             const std::string& op_type, bool keepdims) {
  const std::string x = graph.ToLayout(input, Layout::kNchw, layer.name() + "/to_nchw");
  const Shape pooled = {1, 1, layer.input_shape()[2]};
  const std::string y =
      graph.Node(op_type, {x}, layer.name() + "/" + op_type, pooled, Layout::kNchw);
  if (keepdims) return y;
  return graph.Node("Flatten", {y}, layer.name() + "/Flatten", layer.output_shape(),
                    Layout::kNhwc, {{"axis", int64_t{1}}});
}

// (N, steps, features) -> Transpose (N, features, steps) -> Global*Pool (N, features, 1)
// -> (N, features) by Flatten, or (N, 1, features) by a Transpose back (keepdims).
std::string ExportGlobalPool1D(OnnxGraph& graph, const std::string& input, const Module& layer,
                               const std::string& op_type, bool keepdims) {
  const Shape& in = layer.input_shape();
  const std::string& name = layer.name();
  const std::string x = graph.ToLayout(input, Layout::kNhwc, name + "/to_nhwc");
  const std::string t = graph.Node("Transpose", {x}, name + "/to_ncw", {in[1], in[0]},
                                   Layout::kNhwc, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const std::string y = graph.Node(op_type, {t}, name + "/" + op_type, {in[1], 1}, Layout::kNhwc);
  if (keepdims) {
    return graph.Node("Transpose", {y}, name + "/to_nwc", layer.output_shape(), Layout::kNhwc,
                      {{"perm", std::vector<int64_t>{0, 2, 1}}});
  }
  return graph.Node("Flatten", {y}, name + "/Flatten", layer.output_shape(), Layout::kNhwc,
                    {{"axis", int64_t{1}}});
}

}  // namespace

std::string GlobalAveragePooling1D::ExportOnnx(OnnxGraph& graph,
                                               const std::string& input) const {
  return ExportGlobalPool1D(graph, input, *this, "GlobalAveragePool", options_.keepdims);
}

std::string GlobalMaxPooling1D::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  return ExportGlobalPool1D(graph, input, *this, "GlobalMaxPool", options_.keepdims);
}

std::string GlobalAveragePooling2D::ExportOnnx(OnnxGraph& graph,
                                               const std::string& input) const {
  return ExportGlobalPool(graph, input, *this, "GlobalAveragePool", options_.keepdims);
}

std::string GlobalMaxPooling2D::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  return ExportGlobalPool(graph, input, *this, "GlobalMaxPool", options_.keepdims);
}

// Pad (constant 0) in whichever layout the value is: no Transpose either way. ONNX's pads
// are [x1_begin, x2_begin, ..., x1_end, x2_end, ...] over all four axes.
std::string ZeroPadding2D::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const ZeroPadding2DOptions& o = options_;
  const std::vector<int64_t> pads =
      graph.layout(input) == Layout::kNchw
          ? std::vector<int64_t>{0, 0, o.top, o.left, 0, 0, o.bottom, o.right}
          : std::vector<int64_t>{0, o.top, o.left, 0, 0, o.bottom, o.right, 0};
  const std::string p = graph.Int64Initializer(name() + "/pads", pads);
  return graph.Node("Pad", {input, p}, name() + "/Pad", output_shape(), graph.layout(input),
                    {{"mode", std::string("constant")}});
}

// Inference: the identity.
std::string Dropout::ExportOnnx(OnnxGraph& /*graph*/, const std::string& input) const {
  return input;
}

std::string Flatten::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  if (graph.shape(input).size() == 1) return input;
  const std::string x = graph.ToLayout(input, Layout::kNhwc, name() + "/to_nhwc");
  return graph.Node("Flatten", {x}, name() + "/Flatten", output_shape(), Layout::kNhwc,
                    {{"axis", int64_t{1}}});
}

std::string ReLU::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  return ExportActivation(graph, ActivationFunction::kRelu, input, name());
}

std::string Softmax::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  return ExportActivation(graph, ActivationFunction::kSoftmax, input, name());
}

std::string Activation::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  return ExportActivation(graph, function_, input, name());
}

std::string LeakyReLU::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  return graph.Elementwise("LeakyRelu", {input}, name() + "/LeakyRelu",
                           {{"alpha", options_.negative_slope}});
}

std::string ELU::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  return graph.Elementwise("Elu", {input}, name() + "/Elu", {{"alpha", options_.alpha}});
}

}  // namespace nn
}  // namespace gradway
