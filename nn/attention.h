// Attention layers (Keras' layers.MultiHeadAttention) and the position embedding an
// encoder block adds to its tokens' (KerasHub's layers.PositionEmbedding).
#ifndef GRADWAY_NN_ATTENTION_H_
#define GRADWAY_NN_ATTENTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"
#include "nn/init.h"
#include "nn/merge.h"

namespace gradway {
namespace nn {

// ---------------------------------------------------------------------------------------
// MultiHeadAttention (Keras' options, weights and semantics): scaled dot-product attention
// with num_heads heads, called on {query, value} (key = value) or {query, value, key}:
// query [N, T, dim_q], value [N, S, dim_v], key [N, S, dim_k] -> [N, T, output_dim].
//   q = query · Wq + bq, k = key · Wk + bk  (each head key_dim wide),
//   v = value · Wv + bv                      (value_dim wide),
//   each head: softmax(q kᵀ / sqrt(key_dim)) v, the probabilities through dropout in
//   training; the heads joined and projected by Wo + bo.
// Weights, in Keras 3's names and layouts: query/kernel [dim_q, heads, key_dim],
// query/bias [heads, key_dim], key/kernel [dim_k, heads, key_dim], key/bias, value/kernel
// [dim_v, heads, value_dim], value/bias, attention_output/kernel [heads, value_dim,
// output_dim], attention_output/bias [output_dim] (biases when use_bias; kernels
// GlorotUniform with Keras' fans, biases Zeros). PyTorch's nn.MultiheadAttention with
// embed_dim = heads * key_dim gives the same numbers with its in_proj_weight rows and
// out_proj transposed into these layouts (nn/testdata/attention_pytorch.py).
// Masks: use_causal_mask (Keras passes it per call) lets query i attend to keys j <= i;
// Attend takes an attention mask (1 attends, 0 does not; Keras' attention_mask), e.g. a
// padding mask. A query that may attend to nothing gets zeros from the heads (then the
// output bias). Inputs are sequences (per-sample rank 2). ONNX: MatMul, Reshape and
// Transpose per projection, the scores' MatMul, the causal mask added as -inf above the
// diagonal, Softmax, then the heads joined and projected (attention masks are not exported:
// a model that makes masks is refused where they are made).
struct MultiHeadAttentionOptions {
  MultiHeadAttentionOptions(int64_t num_heads, int64_t key_dim)
      : num_heads(num_heads), key_dim(key_dim) {}
  int64_t num_heads;
  int64_t key_dim;
  int64_t value_dim = 0;   // 0: key_dim
  double dropout = 0.0;    // on the attention probabilities, in training
  bool use_bias = true;
  int64_t output_dim = 0;  // 0: the query's last dimension (Keras' output_shape)
  bool use_causal_mask = false;
  Initializer kernel_initializer = GlorotUniform();
  Initializer bias_initializer = Zeros();
  std::optional<uint64_t> seed;  // the dropout's; from the model's seed when absent
  std::string name;

  MultiHeadAttentionOptions& ValueDim(int64_t v) { value_dim = v; return *this; }
  MultiHeadAttentionOptions& Dropout(double v) { dropout = v; return *this; }
  MultiHeadAttentionOptions& UseBias(bool v) { use_bias = v; return *this; }
  MultiHeadAttentionOptions& OutputDim(int64_t v) { output_dim = v; return *this; }
  MultiHeadAttentionOptions& UseCausalMask(bool v) { use_causal_mask = v; return *this; }
  MultiHeadAttentionOptions& KernelInitializer(Initializer v) {
    kernel_initializer = std::move(v);
    return *this;
  }
  MultiHeadAttentionOptions& BiasInitializer(Initializer v) {
    bias_initializer = std::move(v);
    return *this;
  }
  MultiHeadAttentionOptions& Seed(uint64_t v) { seed = v; return *this; }
  MultiHeadAttentionOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class MultiHeadAttention : public Layer<MultiHeadAttention, MergeLayer> {
 public:
  // Throws Error for num_heads or key_dim < 1, negative value_dim or output_dim, or a
  // dropout outside [0, 1).
  explicit MultiHeadAttention(MultiHeadAttentionOptions options);
  MultiHeadAttention(int64_t num_heads, int64_t key_dim)
      : MultiHeadAttention(MultiHeadAttentionOptions(num_heads, key_dim)) {}
  // {query, value} or {query, value, key}.
  Tensor Merge(const std::vector<Tensor>& inputs) override;
  // The layer with an attention mask (undefined: none) broadcastable to [N, T, S] ([N, 1,
  // S] for key padding), 1 where a query may attend to a key, 0 where not; key undefined
  // means value. Builds and checks the inputs as operator() does.
  Tensor Attend(const Tensor& query, const Tensor& value, const Tensor& key,
                const Tensor& attention_mask);
  std::string ExportOnnxMerge(OnnxGraph& graph,
                              const std::vector<std::string>& inputs) const override;
  const MultiHeadAttentionOptions& options() const { return options_; }

 protected:
  Shape MergedShape(const std::vector<Shape>& shapes) const override;
  Shape DoBuild(const Shape& input_shape) override;

 private:
  // [N, L, dim] -> [N, heads, L, width] through kernel [dim, heads, width] and bias.
  Tensor Project(const Tensor& x, const Tensor& kernel, const Tensor& bias) const;
  // The attention on checked inputs, with a mask broadcastable to [N, heads, T, S].
  Tensor Compute(const std::vector<Tensor>& inputs, const Tensor& mask);

  MultiHeadAttentionOptions options_;
  uint64_t seed_ = 0;
  Tensor query_kernel_, query_bias_, key_kernel_, key_bias_, value_kernel_, value_bias_,
      output_kernel_, output_bias_;
};

// PositionEmbedding (KerasHub's layer): learned embeddings of the positions 0, 1, ... of a
// sequence, as Transformers add them to the token embeddings:
//   auto tokens = nn::Embedding(vocabulary, 64)(ids);
//   auto x = nn::Add()({tokens, nn::PositionEmbedding(max_length)(tokens)});
// x [N, T, D] -> the first T rows of the table [sequence_length, D] (GlorotUniform),
// broadcast to [N, T, D] (the input's values are not read, only its shape). An input
// longer than sequence_length, or not (None, T, D), is an Error naming the layer.
struct PositionEmbeddingOptions {
  explicit PositionEmbeddingOptions(int64_t sequence_length)
      : sequence_length(sequence_length) {}
  int64_t sequence_length;
  Initializer initializer = GlorotUniform();
  std::string name;

  PositionEmbeddingOptions& EmbeddingsInitializer(Initializer v) {
    initializer = std::move(v);
    return *this;
  }
  PositionEmbeddingOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class PositionEmbedding : public Layer<PositionEmbedding> {
 public:
  // Throws Error for sequence_length < 1.
  explicit PositionEmbedding(PositionEmbeddingOptions options);
  explicit PositionEmbedding(int64_t sequence_length)
      : PositionEmbedding(PositionEmbeddingOptions(sequence_length)) {}
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  Tensor embeddings() const { return embeddings_; }  // [sequence_length, D]

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  PositionEmbeddingOptions options_;
  Tensor embeddings_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_ATTENTION_H_
