#include "nn/onnx_export.h"

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "data/file_util.h"

namespace gradway {
namespace nn {

absl::Status SaveOnnx(const Model& model, const std::string& path, const OnnxOptions& options) {
  if (!model.built()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": cannot export ", model.Description(), " to ONNX: the model is not built"));
  }
  if (options.opset < 13 || options.opset > 17) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ONNX opset ", options.opset, " is not one gradway writes (13 to 17)"));
  }
  std::string bytes;
  try {
    OnnxGraph graph;
    const std::string input = graph.AddInput("input", model.input_shape());
    const std::string output = model.ExportOnnx(graph, input);
    graph.SetOutput(output, "output");
    bytes = graph.Serialize(options.graph_name.empty() ? model.name() : options.graph_name,
                            options.opset);
  } catch (const Error& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  } catch (const std::exception& e) {  // from a layer of your own's ExportOnnx
    return absl::InternalError(absl::StrCat(path, ": ONNX export failed: ", e.what()));
  }
  return data::WriteFileAtomically(path, bytes);
}

}  // namespace nn
}  // namespace gradway
