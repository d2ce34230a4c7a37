#include "nn/attention.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/graph.h"
#include "autograd/nn_functions.h"
#include "base/shape_string.h"
#include "base/splitmix.h"
#include "nn/onnx_graph.h"

namespace gradway {
namespace nn {

MultiHeadAttention::MultiHeadAttention(MultiHeadAttentionOptions options)
    : Layer("MultiHeadAttention", "multi_head_attention"), options_(std::move(options)) {
  const MultiHeadAttentionOptions& o = options_;
  GRADWAY_CHECK(o.num_heads >= 1 && o.key_dim >= 1 && o.value_dim >= 0 && o.output_dim >= 0,
                "MultiHeadAttention: num_heads and key_dim must be positive and value_dim, "
                "output_dim >= 0 (0: the default), got num_heads ", o.num_heads, ", key_dim ",
                o.key_dim, ", value_dim ", o.value_dim, ", output_dim ", o.output_dim);
  GRADWAY_CHECK(o.dropout >= 0.0 && o.dropout < 1.0,
                "MultiHeadAttention: dropout must be in [0, 1), got ", o.dropout);
  if (options_.value_dim == 0) options_.value_dim = options_.key_dim;
  if (!options_.name.empty()) set_name(options_.name);
}

Shape MultiHeadAttention::MergedShape(const std::vector<Shape>& shapes) const {
  GRADWAY_CHECK(shapes.size() == 2 || shapes.size() == 3, Description(),
                ": takes {query, value} or {query, value, key}, got ", shapes.size(),
                " inputs");
  for (const Shape& s : shapes) {
    GRADWAY_CHECK(s.size() == 2, Description(), ": expects sequences (None, length, features), ",
                  "got ", BatchShapeString(s));
  }
  const Shape &value = shapes[1], &key = shapes.size() == 3 ? shapes[2] : shapes[1];
  GRADWAY_CHECK(key[0] == value[0], Description(), ": key ", BatchShapeString(key),
                " and value ", BatchShapeString(value), " differ in length");
  return {shapes[0][0], options_.output_dim > 0 ? options_.output_dim : shapes[0][1]};
}

Shape MultiHeadAttention::DoBuild(const Shape& input_shape) {
  const Shape out = MergeLayer::DoBuild(input_shape);
  const std::vector<Shape>& in = input_shapes();
  const int64_t heads = options_.num_heads, kd = options_.key_dim, vd = options_.value_dim;
  const int64_t dim_k = (in.size() == 3 ? in[2] : in[1])[1];
  const auto kernel = [&](const char* name, const Shape& shape) {
    return RegisterParameter(name,
                             MakeParameter(shape, options_.kernel_initializer, generator()));
  };
  const auto bias = [&](const char* name, const Shape& shape) {
    return options_.use_bias
               ? RegisterParameter(name,
                                   MakeParameter(shape, options_.bias_initializer, generator()))
               : Tensor();
  };
  query_kernel_ = kernel("query/kernel", {in[0][1], heads, kd});
  query_bias_ = bias("query/bias", {heads, kd});
  key_kernel_ = kernel("key/kernel", {dim_k, heads, kd});
  key_bias_ = bias("key/bias", {heads, kd});
  value_kernel_ = kernel("value/kernel", {in[1][1], heads, vd});
  value_bias_ = bias("value/bias", {heads, vd});
  output_kernel_ = kernel("attention_output/kernel", {heads, vd, out[1]});
  output_bias_ = bias("attention_output/bias", {out[1]});
  seed_ = options_.seed ? *options_.seed : generator().NextU64();
  return out;
}

Tensor MultiHeadAttention::Project(const Tensor& x, const Tensor& kernel,
                                   const Tensor& bias) const {
  const int64_t n = x.size(0), length = x.size(1), dim = kernel.size(0),
                heads = kernel.size(1), width = kernel.size(2);
  Tensor y = MatMul(x, kernel.Reshape({dim, heads * width}));  // [N, L, heads * width]
  if (bias.defined()) y = ::gradway::Add(y, bias.Reshape({heads * width}));
  return Permute(y.Reshape({n, length, heads, width}), {0, 2, 1, 3});
}

Tensor MultiHeadAttention::Merge(const std::vector<Tensor>& inputs) {
  return Compute(inputs, Tensor());
}

Tensor MultiHeadAttention::Compute(const std::vector<Tensor>& inputs, const Tensor& mask) {
  const Tensor& query = inputs[0];
  const Tensor& value = inputs[1];
  const Tensor& key = inputs.size() == 3 ? inputs[2] : inputs[1];
  const int64_t n = query.size(0), t = query.size(1);
  const int64_t heads = options_.num_heads, vd = options_.value_dim;
  const Tensor q = Project(query, query_kernel_, query_bias_) *
                   static_cast<float>(1.0 / std::sqrt(static_cast<double>(options_.key_dim)));
  const Tensor k = Project(key, key_kernel_, key_bias_);
  const Tensor v = Project(value, value_kernel_, value_bias_);
  Tensor probs = MaskedSoftmax(MatMul(q, k, false, true), mask, options_.use_causal_mask);
  if (is_training() && options_.dropout > 0) {
    probs = ::gradway::Dropout(probs, static_cast<float>(options_.dropout), true,
                               MixSeed(seed_, static_cast<uint64_t>(CurrentRandomStep())));
  }
  const Tensor heads_out = Permute(MatMul(probs, v), {0, 2, 1, 3}).Reshape({n, t, heads * vd});
  Tensor y = MatMul(heads_out, output_kernel_.Reshape({heads * vd, output_kernel_.size(2)}));
  return output_bias_.defined() ? ::gradway::Add(y, output_bias_) : y;
}

Tensor MultiHeadAttention::Attend(const Tensor& query, const Tensor& value, const Tensor& key,
                                  const Tensor& attention_mask) {
  std::vector<Tensor> inputs = {query, value};
  if (key.defined()) inputs.push_back(key);
  CheckInputs(inputs);
  if (!attention_mask.defined()) return Merge(inputs);
  // [N, T, S] (or broadcastable) -> [N, 1, T, S]: the same mask for every head.
  GRADWAY_CHECK(attention_mask.rank() == 3, Description(), ": attention_mask must be ",
                "[batch, queries, keys] (or broadcastable, e.g. [batch, 1, keys]), got shape ",
                ShapeToString(attention_mask.shape()));
  const Shape& s = attention_mask.shape();
  return Compute(inputs, attention_mask.Detach().Reshape({s[0], 1, s[1], s[2]}));
}

namespace {

// x [N, L, dim] · kernel [dim, heads, width] + bias [heads, width] -> [N, heads, L, width].
std::string ProjectOnnx(OnnxGraph& graph, const std::string& x, const Tensor& kernel,
                        const Tensor& bias, const std::string& name) {
  const auto kNhwc = OnnxGraph::Layout::kNhwc;
  const int64_t dim = kernel.size(0), heads = kernel.size(1), width = kernel.size(2);
  const int64_t length = graph.shape(x)[0];
  std::string y = graph.Node(
      "MatMul", {x, graph.Initializer(name + "/kernel", kernel.Reshape({dim, heads * width}))},
      name + "/MatMul", {length, heads * width}, kNhwc);
  if (bias.defined()) {
    y = graph.Elementwise(
        "Add", {y, graph.Initializer(name + "/bias", bias.Reshape({heads * width}))},
        name + "/Add");
  }
  y = graph.Node("Reshape",
                 {y, graph.Int64Initializer(name + "/split_heads", {0, 0, heads, width})},
                 name + "/heads", {length, heads, width}, kNhwc);
  return graph.Node("Transpose", {y}, name + "/heads_first", {heads, length, width}, kNhwc,
                    {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

}  // namespace

std::string MultiHeadAttention::ExportOnnxMerge(OnnxGraph& graph,
                                                const std::vector<std::string>& inputs) const {
  const auto kNhwc = OnnxGraph::Layout::kNhwc;
  const std::string n = name();
  const std::string& query = inputs[0];
  const std::string& value = inputs[1];
  const std::string& key = inputs.size() == 3 ? inputs[2] : inputs[1];
  const int64_t heads = options_.num_heads, vd = options_.value_dim;
  const int64_t t = graph.shape(query)[0], s = graph.shape(value)[0];
  const std::string q = graph.Elementwise(
      "Mul",
      {ProjectOnnx(graph, query, query_kernel_, query_bias_, n + "/query"),
       graph.Initializer(n + "/scale",
                         Tensor::Full({1}, static_cast<float>(
                                               1.0 / std::sqrt(static_cast<double>(
                                                         options_.key_dim)))))},
      n + "/query_scaled");
  const std::string k = ProjectOnnx(graph, key, key_kernel_, key_bias_, n + "/key");
  const std::string v = ProjectOnnx(graph, value, value_kernel_, value_bias_, n + "/value");
  const std::string kt = graph.Node("Transpose", {k}, n + "/key_transposed",
                                    {heads, options_.key_dim, s}, kNhwc,
                                    {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  std::string scores =
      graph.Node("MatMul", {q, kt}, n + "/scores", {heads, t, s}, kNhwc);
  if (options_.use_causal_mask) {  // query i attends to keys j <= i
    Tensor causal = Tensor::Zeros({t, s});
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = i + 1; j < s; ++j) {
        causal.data()[i * s + j] = -std::numeric_limits<float>::infinity();
      }
    }
    scores = graph.Elementwise("Add", {scores, graph.Initializer(n + "/causal", causal)},
                               n + "/causal_scores");
  }
  const std::string probs = graph.Node("Softmax", {scores}, n + "/probabilities",
                                       {heads, t, s}, kNhwc, {{"axis", int64_t{-1}}});
  std::string y = graph.Node("MatMul", {probs, v}, n + "/attended", {heads, t, vd}, kNhwc);
  y = graph.Node("Transpose", {y}, n + "/steps_first", {t, heads, vd}, kNhwc,
                 {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  y = graph.Node("Reshape", {y, graph.Int64Initializer(n + "/join_heads", {0, 0, heads * vd})},
                 n + "/joined", {t, heads * vd}, kNhwc);
  const int64_t out = output_kernel_.size(2);
  y = graph.Node(
      "MatMul",
      {y, graph.Initializer(n + "/attention_output/kernel",
                            output_kernel_.Reshape({heads * vd, out}))},
      n + "/output", {t, out}, kNhwc);
  if (output_bias_.defined()) {
    y = graph.Elementwise(
        "Add", {y, graph.Initializer(n + "/attention_output/bias", output_bias_)},
        n + "/output_bias");
  }
  return y;
}

// ---- PositionEmbedding.

PositionEmbedding::PositionEmbedding(PositionEmbeddingOptions options)
    : Layer("PositionEmbedding", "position_embedding"), options_(std::move(options)) {
  GRADWAY_CHECK(options_.sequence_length >= 1,
                "PositionEmbedding: sequence_length must be positive, got ",
                options_.sequence_length);
  if (!options_.name.empty()) set_name(options_.name);
}

Shape PositionEmbedding::DoBuild(const Shape& in) {
  GRADWAY_CHECK(in.size() == 2, Description(), ": expects input (None, steps, features), got ",
                BatchShapeString(in));
  GRADWAY_CHECK(in[0] <= options_.sequence_length, Description(), ": input ",
                BatchShapeString(in), " is longer than sequence_length ",
                options_.sequence_length);
  embeddings_ = RegisterParameter(
      "embeddings",
      MakeParameter({options_.sequence_length, in[1]}, options_.initializer, generator()));
  return in;
}

Tensor PositionEmbedding::Forward(const Tensor& x) {
  const int64_t steps = x.size(1), features = x.size(2);
  const Tensor rows = Slice(embeddings_, 0, 0, steps).Reshape({1, steps, features});
  // Broadcast over the batch; the gradient sums the samples' into the table.
  return ::gradway::Add(Tensor::Zeros({x.size(0), 1, 1}), rows);
}

std::string PositionEmbedding::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const auto kNhwc = OnnxGraph::Layout::kNhwc;
  const std::string x = graph.ToLayout(input, kNhwc, name() + "/to_nhwc");
  Tensor rows;
  {
    NoGradGuard no_grad;
    rows = Slice(embeddings_, 0, 0, input_shape()[0]);
  }
  const std::string shape = graph.Node("Shape", {x}, name() + "/shape", {3}, kNhwc);
  return graph.Node("Expand", {graph.Initializer(name() + "/embeddings", rows), shape},
                    name() + "/Expand", output_shape(), kNhwc);
}

}  // namespace nn
}  // namespace gradway
