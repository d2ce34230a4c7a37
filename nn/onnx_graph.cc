#include "nn/onnx_graph.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "base/version.h"
#include "onnx/onnx_pb.h"  // onnx-ml.pb.h with the ONNX_API it needs

namespace gradway {
namespace nn {

struct OnnxGraph::Impl {
  struct Value {
    Shape shape;  // per sample, gradway's order
    Layout layout;
  };
  onnx::GraphProto graph;
  std::map<std::string, Value> values;
  std::set<std::string> names;  // every value, node and initializer name given

  // `base`, or `base_1`, `base_2`, ... the first not yet given.
  std::string Unique(const std::string& base) {
    std::string name = base;
    for (int i = 1; names.count(name); ++i) name = absl::StrCat(base, "_", i);
    names.insert(name);
    return name;
  }
};

namespace {

void SetAttribute(onnx::NodeProto* node, const std::string& name, const OnnxAttribute& value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  if (const int64_t* i = std::get_if<int64_t>(&value)) {
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(*i);
  } else if (const float* f = std::get_if<float>(&value)) {
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(*f);
  } else if (const auto* ints = std::get_if<std::vector<int64_t>>(&value)) {
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : *ints) a->add_ints(v);
  } else {
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(std::get<std::string>(value));
  }
}

// A float tensor value [batch, per_sample...] with a dynamic batch dimension.
void SetBatchTensorType(onnx::ValueInfoProto* info, const std::string& name,
                        const Shape& per_sample) {
  info->set_name(name);
  onnx::TypeProto_Tensor* type = info->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* shape = type->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int64_t d : per_sample) shape->add_dim()->set_dim_value(d);
}

}  // namespace

OnnxGraph::OnnxGraph() : impl_(std::make_unique<Impl>()) {}
OnnxGraph::~OnnxGraph() = default;

std::string OnnxGraph::Node(const std::string& op_type, const std::vector<std::string>& inputs,
                            const std::string& name, const Shape& shape, Layout layout,
                            const OnnxAttributes& attributes) {
  for (const std::string& input : inputs) {
    GRADWAY_CHECK(impl_->values.count(input) || impl_->names.count(input), "onnx: node ",
                  name, " (", op_type, ") reads '", input, "', which is not in the graph");
  }
  const std::string output = impl_->Unique(name);
  onnx::NodeProto* node = impl_->graph.add_node();
  node->set_op_type(op_type);
  node->set_name(output);
  for (const std::string& input : inputs) node->add_input(input);
  node->add_output(output);
  for (const auto& [key, value] : attributes) SetAttribute(node, key, value);
  impl_->values[output] = {shape, layout};
  return output;
}

std::string OnnxGraph::Elementwise(const std::string& op_type,
                                   const std::vector<std::string>& inputs,
                                   const std::string& name, const OnnxAttributes& attributes) {
  GRADWAY_CHECK(!inputs.empty(), "onnx: node ", name, " (", op_type, ") has no input");
  return Node(op_type, inputs, name, shape(inputs[0]), layout(inputs[0]), attributes);
}

std::string OnnxGraph::Initializer(const std::string& name, const Tensor& value) {
  const std::string unique = impl_->Unique(name);
  onnx::TensorProto* t = impl_->graph.add_initializer();
  t->set_name(unique);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : value.shape()) t->add_dims(d);
  const std::vector<float> data = value.ToVector();
  // raw_data is little-endian, as x86-64's floats.
  t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()),
                              data.size() * sizeof(float)));
  return unique;
}

std::string OnnxGraph::Int64Initializer(const std::string& name,
                                        const std::vector<int64_t>& values) {
  const std::string unique = impl_->Unique(name);
  onnx::TensorProto* t = impl_->graph.add_initializer();
  t->set_name(unique);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(values.size()));
  // raw_data is little-endian, as x86-64's integers.
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()),
                              values.size() * sizeof(int64_t)));
  return unique;
}

std::string OnnxGraph::ToLayout(const std::string& value, Layout to, const std::string& name) {
  const Shape& s = shape(value);
  if (s.size() != 3 || layout(value) == to) return value;
  std::vector<int64_t> perm = to == Layout::kNchw ? std::vector<int64_t>{0, 3, 1, 2}
                                                  : std::vector<int64_t>{0, 2, 3, 1};
  return Node("Transpose", {value}, name, s, to, {{"perm", perm}});
}

std::string OnnxGraph::Softmax(const std::string& value, const std::string& name) {
  const int64_t axis = layout(value) == Layout::kNchw ? 1 : -1;
  return Elementwise("Softmax", {value}, name, {{"axis", axis}});
}

const Shape& OnnxGraph::shape(const std::string& value) const {
  auto it = impl_->values.find(value);
  GRADWAY_CHECK(it != impl_->values.end(), "onnx: '", value, "' is not a value of the graph");
  return it->second.shape;
}

OnnxGraph::Layout OnnxGraph::layout(const std::string& value) const {
  auto it = impl_->values.find(value);
  GRADWAY_CHECK(it != impl_->values.end(), "onnx: '", value, "' is not a value of the graph");
  return it->second.layout;
}

std::string OnnxGraph::AddInput(const std::string& name, const Shape& shape) {
  const std::string unique = impl_->Unique(name);
  SetBatchTensorType(impl_->graph.add_input(), unique, shape);
  impl_->values[unique] = {shape, Layout::kNhwc};
  return unique;
}

void OnnxGraph::SetOutput(const std::string& value, const std::string& name) {
  // The output in gradway's layout, under its own name (an Identity when it has another).
  std::string out = ToLayout(value, Layout::kNhwc, name);
  if (out != name) {
    GRADWAY_CHECK(!impl_->names.count(name), "onnx: the output name '", name, "' is taken");
    onnx::NodeProto* node = impl_->graph.add_node();
    node->set_op_type("Identity");
    node->set_name(name);
    node->add_input(out);
    node->add_output(name);
    impl_->names.insert(name);
  }
  SetBatchTensorType(impl_->graph.add_output(), name, shape(value));
}

std::string OnnxGraph::Serialize(const std::string& graph_name, int64_t opset) const {
  onnx::ModelProto model;
  model.set_ir_version(opset >= 15 ? 8 : 7);  // the IR version that came with the opset
  model.set_producer_name("gradway");
  model.set_producer_version(VersionString());
  onnx::OperatorSetIdProto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  *model.mutable_graph() = impl_->graph;
  model.mutable_graph()->set_name(graph_name);
  std::string bytes;
  GRADWAY_CHECK(model.SerializeToString(&bytes), "onnx: the model could not be serialised");
  return bytes;
}

}  // namespace nn
}  // namespace gradway
