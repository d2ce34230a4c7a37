// Recurrent layers (Keras' layers.SimpleRNN, layers.GRU and layers.LSTM) on autograd's
// Recurrent op: the whole sequence is one op, its time loop one GEMM and one fused gate
// kernel a step (ops/recurrent.h).
#ifndef GRADWAY_NN_RECURRENT_H_
#define GRADWAY_NN_RECURRENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/recurrent.h"
#include "autograd/tensor.h"
#include "nn/init.h"
#include "nn/masking.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

// The options of SimpleRNN, GRU and LSTM, with Keras' defaults. Only Keras' default
// activations are supported (tanh, and sigmoid for the gates): the fused kernels compute
// them. Not supported: dropout and recurrent_dropout (put a Dropout before the layer),
// stateful, unroll, and GRU's reset_after = False.
struct RNNOptions {
  explicit RNNOptions(int64_t units) : units(units) {}
  int64_t units;
  bool use_bias = true;
  bool return_sequences = false;  // every step's output [N, T, units], not the last [N, units]
  bool go_backwards = false;      // process the steps last to first (outputs in that order)
  bool unit_forget_bias = true;   // LSTM: the forget gate's bias starts at 1
  // A masked step outputs zeros, not the previous output (Bidirectional sets it with
  // return_sequences, as Keras').
  bool zero_output_for_mask = false;
  Initializer kernel_initializer = GlorotUniform();
  Initializer recurrent_initializer = Orthogonal();
  Initializer bias_initializer = Zeros();
  std::optional<Shape> input_shape;
  std::string name;

  RNNOptions& UseBias(bool v) { use_bias = v; return *this; }
  RNNOptions& ReturnSequences(bool v) { return_sequences = v; return *this; }
  RNNOptions& GoBackwards(bool v) { go_backwards = v; return *this; }
  RNNOptions& UnitForgetBias(bool v) { unit_forget_bias = v; return *this; }
  RNNOptions& ZeroOutputForMask(bool v) { zero_output_for_mask = v; return *this; }
  RNNOptions& KernelInitializer(Initializer v) { kernel_initializer = std::move(v); return *this; }
  RNNOptions& RecurrentInitializer(Initializer v) {
    recurrent_initializer = std::move(v);
    return *this;
  }
  RNNOptions& BiasInitializer(Initializer v) { bias_initializer = std::move(v); return *this; }
  RNNOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  RNNOptions& Name(std::string v) { name = std::move(v); return *this; }
};

// What Run returns: the layer's output (as Forward's) and its final states, Keras'
// return_state = True list [output, h] (SimpleRNN, GRU) or [output, h, c] (LSTM).
struct RecurrentResult {
  Tensor output;
  std::vector<Tensor> states;
};

// The base of SimpleRNN, GRU and LSTM: x [N, T, features] -> [N, units], the last step's
// output, or [N, T, units] with return_sequences. Weights, in Keras' names, order and
// layouts (ops/recurrent.h has the equations): kernel [features, G * units],
// recurrent_kernel [units, G * units], bias [G * units] ([2, 3 * units] for the GRU, input
// then recurrent bias) when use_bias; G = 1, 3 (z, r, h), 4 (i, f, c, o). PyTorch's
// nn.RNN/GRU/LSTM (batch_first) give the same numbers with weight_ih = kernelᵀ and
// weight_hh = recurrent_kernelᵀ, the GRU's gates reordered (r, z, n) and the LSTM's bias
// split as bias_ih = bias, bias_hh = 0 (nn/testdata/recurrent_pytorch.py).
// Errors (gradway::Error naming the layer): units < 1, or an input that is not
// (None, T, features).
// Masks (nn/masking.h): the layer skips the masked steps of its input's mask, and passes the
// mask on with return_sequences.
class RecurrentLayer : public Module, public MaskingLayer {
 public:
  Tensor Forward(const Tensor& x) override;
  MaskedTensor CallWithMask(const Tensor& x, const Tensor& mask) override;
  // The layer on x with a mask [N, T] (1 valid, 0 padding; undefined: every step valid;
  // Keras' mask: a masked step keeps the states and repeats the previous output) and
  // initial states ([N, units] each: h, and c for the LSTM; empty: zeros). Builds on first
  // use; throws Error naming the layer for shapes that do not fit.
  RecurrentResult Run(const Tensor& x, const Tensor& mask = Tensor(),
                      const std::vector<Tensor>& initial_state = {});
  // ONNX: the LSTM, GRU (linear_before_reset) or RNN operator, on the steps in processing
  // order (reversed by a Slice for go_backwards), time-major between Transposes; the last
  // step's output, or all of them with return_sequences. A model with masks is refused
  // where the mask is made (Embedding with mask_zero, Masking).
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const RNNOptions& options() const { return options_; }
  RecurrentCell cell() const { return cell_; }
  // Once built; bias undefined without use_bias.
  Tensor kernel() const { return kernel_; }
  Tensor recurrent_kernel() const { return recurrent_kernel_; }
  Tensor bias() const { return bias_; }

 protected:
  RecurrentLayer(std::string type_name, std::string base_name, RecurrentCell cell,
                 RNNOptions options);
  Shape DoBuild(const Shape& input_shape) override;

 private:
  RecurrentCell cell_;
  RNNOptions options_;
  Tensor kernel_, recurrent_kernel_, bias_;
};

// SimpleRNN: h' = tanh(x·W + h·U + b). Names "simple_rnn", "simple_rnn_1", ...
class SimpleRNN : public Layer<SimpleRNN, RecurrentLayer> {
 public:
  explicit SimpleRNN(RNNOptions options);
  explicit SimpleRNN(int64_t units) : SimpleRNN(RNNOptions(units)) {}
};

// GRU with reset_after = True (Keras' default since 2.0 and PyTorch's GRU). Names "gru", ...
class GRU : public Layer<GRU, RecurrentLayer> {
 public:
  explicit GRU(RNNOptions options);
  explicit GRU(int64_t units) : GRU(RNNOptions(units)) {}
};

// LSTM (unit_forget_bias by default). Names "lstm", "lstm_1", ...
class LSTM : public Layer<LSTM, RecurrentLayer> {
 public:
  explicit LSTM(RNNOptions options);
  explicit LSTM(int64_t units) : LSTM(RNNOptions(units)) {}
};

// A new SimpleRNN, GRU or LSTM (as `cell`) with these options (Bidirectional makes its
// backward layer so).
std::shared_ptr<RecurrentLayer> MakeRecurrentLayer(RecurrentCell cell, RNNOptions options);

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_RECURRENT_H_
