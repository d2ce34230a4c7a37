// OnnxGraph: the ONNX graph SaveOnnx (nn/onnx_export.h) writes, as each layer's
// Module::ExportOnnx appends its nodes to it. The ONNX messages come from the generated
// protobuf classes of Debian's libonnx-dev (onnx/onnx-ml.pb.h), kept out of this header.
#ifndef GRADWAY_NN_ONNX_GRAPH_H_
#define GRADWAY_NN_ONNX_GRAPH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "autograd/shape.h"
#include "autograd/tensor.h"

namespace gradway {
namespace nn {

// An attribute value of an ONNX node: an int, a float, ints, or a string.
using OnnxAttribute = std::variant<int64_t, float, std::vector<int64_t>, std::string>;
using OnnxAttributes = std::vector<std::pair<std::string, OnnxAttribute>>;

// The graph SaveOnnx is writing, as a layer's ExportOnnx sees it. Values are named by
// strings. Each value has gradway's per-sample shape (NHWC for images: {28, 28, 1}) and a
// layout: kNhwc (gradway's) or kNchw (after an ONNX Conv or pool; the same values, with the
// channel axis moved to 1). Elementwise nodes keep their first input's layout.
class OnnxGraph {
 public:
  enum class Layout { kNhwc, kNchw };

  OnnxGraph();
  ~OnnxGraph();
  OnnxGraph(const OnnxGraph&) = delete;
  OnnxGraph& operator=(const OnnxGraph&) = delete;

  // Appends a node `op_type` (an ONNX operator of the default domain) on `inputs` and
  // returns the name of its one output, whose per-sample shape is `shape` and layout
  // `layout`. `name` names the node (and, with a suffix, its output); made unique.
  std::string Node(const std::string& op_type, const std::vector<std::string>& inputs,
                   const std::string& name, const Shape& shape, Layout layout,
                   const OnnxAttributes& attributes = {});
  // The same with the first input's shape and layout (elementwise ops: Add, Mul, Relu...).
  std::string Elementwise(const std::string& op_type, const std::vector<std::string>& inputs,
                          const std::string& name, const OnnxAttributes& attributes = {});
  // A constant float tensor (a weight), named `name` (made unique); returns its name.
  std::string Initializer(const std::string& name, const Tensor& value);
  // A constant 1-D int64 tensor (an operand such as Pad's pads), named `name` (made
  // unique); returns its name.
  std::string Int64Initializer(const std::string& name, const std::vector<int64_t>& values);
  // `value` in `layout`: itself, or a Transpose to it (4-D values only).
  std::string ToLayout(const std::string& value, Layout layout, const std::string& name);
  // Softmax over gradway's last axis (the channels of an image: axis 1 in kNchw).
  std::string Softmax(const std::string& value, const std::string& name);

  // Per-sample shape (gradway's NHWC order) and layout of a value. Throws Error for a name
  // that is not a value of the graph.
  const Shape& shape(const std::string& value) const;
  Layout layout(const std::string& value) const;

  // Used by SaveOnnx: the graph's input and output, and the finished model's bytes.
  std::string AddInput(const std::string& name, const Shape& shape);
  void SetOutput(const std::string& value, const std::string& name);
  std::string Serialize(const std::string& graph_name, int64_t opset) const;

 private:
  struct Impl;  // the ONNX protobuf messages (onnx/onnx-ml.pb.h), kept out of this header
  std::unique_ptr<Impl> impl_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_ONNX_GRAPH_H_
