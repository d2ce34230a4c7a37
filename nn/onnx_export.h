// ONNX export: a model built from gradway's layers as an ONNX file (https://onnx.ai), for
// ONNX Runtime, OpenCV's DNN module, a browser or a phone.
//
//   absl::Status st = nn::SaveOnnx(model, "model.onnx");
//
// The file (opset 13, IR version 7) has one input, "input", of the model's input shape with
// a dynamic batch dimension ("batch"): NHWC images [batch, 28, 28, 1], as the model was
// trained, or vectors [batch, 784]; and one output, "output", as Model::Predict gives it.
// It has inference semantics: Dropout is left out (the identity). Convolutions and pools run
// in ONNX's NCHW layout between a Transpose in and a Transpose out; Flatten sees NHWC, as in
// gradway, so the flattened order (and the following Dense's kernel) is unchanged.
//
// Each layer writes its own nodes (Module::ExportOnnx). gradway's layers map to the standard
// ops: Dense -> Gemm, Conv2D -> Conv, MaxPooling2D -> MaxPool, AveragePooling2D ->
// AveragePool (count_include_pad 0, as Keras), GlobalAveragePooling2D / GlobalMaxPooling2D
// -> GlobalAveragePool / GlobalMaxPool (then Flatten unless keepdims), ZeroPadding2D -> Pad
// (constant, in the layout it is given), Flatten -> Flatten, activations -> Relu, Sigmoid,
// Tanh, Softmax, Elu, LeakyRelu, HardSigmoid (alpha 1/6, beta 1/2), GELU as
// x * (1 + Erf(x / sqrt(2))) * 0.5 and SiLU as x * Sigmoid(x) (no operator for either before
// opset 20), LeakyReLU -> LeakyRelu, ELU -> Elu; Sequential chains its layers. A layer of
// your own overrides ExportOnnx with OnnxGraph's nodes and its children's ExportOnnx
// (README, "ONNX export"); one that does not makes SaveOnnx fail with an error naming it.
#ifndef GRADWAY_NN_ONNX_EXPORT_H_
#define GRADWAY_NN_ONNX_EXPORT_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "nn/model.h"
#include "nn/onnx_graph.h"  // OnnxGraph, for layers of your own

namespace gradway {
namespace nn {

struct OnnxOptions {
  int64_t opset = 13;             // 13 to 17 (the operators used are the same in all)
  std::string graph_name;         // default: the model's name
  OnnxOptions& Opset(int64_t v) { opset = v; return *this; }
  OnnxOptions& GraphName(std::string v) { graph_name = std::move(v); return *this; }
};

// Writes `model` (built) to `path` as ONNX, atomically (as checkpoints are). Errors: the
// model is not built, a layer cannot be exported (naming it, e.g. "cannot export
// my_layer (MyLayer) to ONNX: it does not override Module::ExportOnnx"), an opset outside
// 13..17, or the file cannot be written.
absl::Status SaveOnnx(const Model& model, const std::string& path,
                      const OnnxOptions& options = {});

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_ONNX_EXPORT_H_
