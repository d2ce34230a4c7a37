// A check folder: an exported model with inputs and gradway's outputs for them, which
// .ci/onnx/check.py runs through other runtimes (ONNX's checker, OpenCV, ONNX Runtime).
// Written by //examples:export_onnx --check_dir and //nn:onnx_layer_cases.
#ifndef GRADWAY_NN_ONNX_CHECK_FOLDER_H_
#define GRADWAY_NN_ONNX_CHECK_FOLDER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "autograd/tensor.h"
#include "nn/model.h"
#include "nn/onnx_export.h"

namespace gradway {
namespace nn {

// Creates `dir` and writes into it
//   model.onnx     SaveOnnx(model, ..., options)
//   input.bin      x [N, input_shape...], float32 little-endian, row-major
//   expected.bin   model.Predict(x, 200), likewise
//   meta.json      {"name", "input_shape", "output_shape", "argmax", "source"}
// `argmax`: the outputs are class scores whose argmax other runtimes must reproduce;
// `source`: where the model came from (a checkpoint's path), for the reader.
// Errors name the file (or the layer SaveOnnx cannot export).
absl::Status WriteOnnxCheckFolder(Model& model, const Tensor& x, const std::string& dir,
                                  const std::string& name, bool argmax,
                                  const std::string& source, const OnnxOptions& options = {});

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_ONNX_CHECK_FOLDER_H_
