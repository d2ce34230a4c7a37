#include "nn/recurrent.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "nn/onnx_graph.h"

namespace gradway {
namespace nn {
namespace {

int64_t GateCount(RecurrentCell cell) {
  switch (cell) {
    case RecurrentCell::kSimpleRnn: return 1;
    case RecurrentCell::kGru: return 3;
    case RecurrentCell::kLstm: return 4;
  }
  return 1;
}

// Keras' LSTM bias with unit_forget_bias: the initializer's [units] for the input gate,
// ones for the forget gate, the initializer's [2 * units] for the cell and output gates.
Tensor ForgetBiasOne(int64_t units, const Initializer& init, Generator& gen) {
  const std::vector<float> i = MakeParameter({units}, init, gen).ToVector();
  const std::vector<float> co = MakeParameter({2 * units}, init, gen).ToVector();
  std::vector<float> all = i;
  all.insert(all.end(), static_cast<size_t>(units), 1.f);
  all.insert(all.end(), co.begin(), co.end());
  return Tensor::FromVector(all, {4 * units});
}

}  // namespace

RecurrentLayer::RecurrentLayer(std::string type_name, std::string base_name,
                               RecurrentCell cell, RNNOptions options)
    : Module(std::move(type_name), std::move(base_name)),
      cell_(cell),
      options_(std::move(options)) {
  if (!options_.name.empty()) set_name(options_.name);
  GRADWAY_CHECK(options_.units >= 1, Description(), ": units must be >= 1, got ",
                options_.units);
  set_declared_input_shape(options_.input_shape);
}

Shape RecurrentLayer::DoBuild(const Shape& in) {
  GRADWAY_CHECK(in.size() == 2 && in[0] >= 1 && in[1] >= 1, Description(),
                ": expects input (None, timesteps, features), got ", BatchShapeString(in));
  const int64_t H = options_.units, GH = GateCount(cell_) * H;
  kernel_ = RegisterParameter(
      "kernel", MakeParameter({in[1], GH}, options_.kernel_initializer, generator()));
  recurrent_kernel_ = RegisterParameter(
      "recurrent_kernel", MakeParameter({H, GH}, options_.recurrent_initializer, generator()));
  if (options_.use_bias) {
    Tensor bias;
    if (cell_ == RecurrentCell::kLstm && options_.unit_forget_bias) {
      bias = ForgetBiasOne(H, options_.bias_initializer, generator());
    } else {
      const Shape shape = cell_ == RecurrentCell::kGru ? Shape{2, GH} : Shape{GH};
      bias = MakeParameter(shape, options_.bias_initializer, generator());
    }
    bias_ = RegisterParameter("bias", bias);
  }
  return options_.return_sequences ? Shape{in[0], H} : Shape{H};
}

RecurrentResult RecurrentLayer::Run(const Tensor& x, const Tensor& mask,
                                    const std::vector<Tensor>& initial_state) {
  CheckInput(x);
  const size_t states = cell_ == RecurrentCell::kLstm ? 2 : 1;
  GRADWAY_CHECK(initial_state.empty() || initial_state.size() == states, Description(),
                ": expects ", states, " initial state", states == 1 ? "" : "s",
                " (or none), got ", initial_state.size());
  const Shape state{x.shape()[0], options_.units};
  for (const Tensor& s : initial_state) {
    GRADWAY_CHECK(s.defined() && s.shape() == state, Description(), ": an initial state must be ",
                  ShapeToString(state), ", got ",
                  s.defined() ? ShapeToString(s.shape()) : "(undefined)");
  }
  CheckMask(Description(), x, mask);
  const RecurrentOutputs r = Recurrent(
      x, kernel_, recurrent_kernel_, bias_, initial_state.empty() ? Tensor() : initial_state[0],
      states == 2 && !initial_state.empty() ? initial_state[1] : Tensor(), mask,
      {cell_, options_.go_backwards, options_.zero_output_for_mask});
  RecurrentResult result;
  const int64_t T = x.shape()[1];
  if (options_.return_sequences) {
    result.output = r.sequence;
  } else {
    // The last step's output (the final h unless the last steps were masked).
    result.output = Reshape(Slice(r.sequence, 1, T - 1, T), state);
  }
  result.states.push_back(r.h);
  if (states == 2) result.states.push_back(r.c);
  return result;
}

Tensor RecurrentLayer::Forward(const Tensor& x) { return Run(x).output; }

MaskedTensor RecurrentLayer::CallWithMask(const Tensor& x, const Tensor& mask) {
  return {Run(x, mask).output, options_.return_sequences ? mask : Tensor()};
}

namespace {

// Keras' gate blocks (columns of [rows, G * H]) in ONNX's order, transposed to [1, G*H, rows]:
// the LSTM's i, f, c, o become i, o, f, c; the GRU's z, r, h and the RNN's one gate stay.
Tensor OnnxGates(const Tensor& w, RecurrentCell cell, int64_t H) {
  const int64_t rows = w.numel() / w.shape().back(), G = w.shape().back() / H;
  const std::vector<int64_t> order =
      cell == RecurrentCell::kLstm ? std::vector<int64_t>{0, 3, 1, 2}
                                   : std::vector<int64_t>{0, 1, 2};
  Tensor out = Tensor::Zeros({1, G * H, rows});
  const float* src = w.data();
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t u = 0; u < H; ++u) {
      for (int64_t r = 0; r < rows; ++r) {
        out.data()[((g * H) + u) * rows + r] = src[r * G * H + order[g] * H + u];
      }
    }
  }
  return out;
}

}  // namespace

std::string RecurrentLayer::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  using Layout = OnnxGraph::Layout;
  const int64_t T = input_shape()[0], D = input_shape()[1], H = options_.units;
  const int64_t G = GateCount(cell_);
  const std::string n = name();
  // [N, T, D] -> [T, N, D], the steps in processing order.
  std::string x = graph.Node("Transpose", {input}, n + "/time_major", {T, D}, Layout::kNhwc,
                             {{"perm", std::vector<int64_t>{1, 0, 2}}});
  if (options_.go_backwards) {
    x = graph.Node("Slice",
                   {x, graph.Int64Initializer(n + "/starts", {-1}),
                    graph.Int64Initializer(n + "/ends", {INT64_MIN}),
                    graph.Int64Initializer(n + "/axes", {0}),
                    graph.Int64Initializer(n + "/steps", {-1})},
                   n + "/reversed", {T, D}, Layout::kNhwc);
  }
  Tensor b = Tensor::Zeros({1, 2 * G * H});
  if (bias_.defined()) {
    // Input bias, then recurrent bias (zeros but for the GRU, whose bias holds both rows).
    const int64_t rows = bias_.numel() / (G * H);
    for (int64_t r = 0; r < rows; ++r) {
      const Tensor row = OnnxGates(Slice(bias_.Reshape({rows, G * H}), 0, r, r + 1), cell_, H);
      std::copy(row.data(), row.data() + G * H, b.data() + r * G * H);
    }
  }
  OnnxAttributes attributes = {{"hidden_size", H}};
  if (cell_ == RecurrentCell::kGru) attributes.push_back({"linear_before_reset", int64_t{1}});
  const char* op = cell_ == RecurrentCell::kLstm ? "LSTM"
                   : cell_ == RecurrentCell::kGru ? "GRU" : "RNN";
  const std::string y = graph.Node(
      op,
      {x, graph.Initializer(n + "/W", OnnxGates(kernel_, cell_, H)),
       graph.Initializer(n + "/R", OnnxGates(recurrent_kernel_, cell_, H)),
       graph.Initializer(n + "/B", b)},
      n + "/Y", {T, 1, H}, Layout::kNhwc, attributes);  // [T, 1 direction, N, H]
  if (!options_.return_sequences) {
    const std::string last = graph.Node(
        "Slice",
        {y, graph.Int64Initializer(n + "/last_start", {T - 1}),
         graph.Int64Initializer(n + "/last_end", {T}), graph.Int64Initializer(n + "/last_axis", {0})},
        n + "/last_step", {1, 1, H}, Layout::kNhwc);
    return graph.Node("Reshape", {last, graph.Int64Initializer(n + "/last_shape", {-1, H})},
                      n + "/output", {H}, Layout::kNhwc);
  }
  const std::string steps = graph.Node(
      "Reshape", {y, graph.Int64Initializer(n + "/steps_shape", {0, -1, H})}, n + "/steps",
      {T, H}, Layout::kNhwc);
  return graph.Node("Transpose", {steps}, n + "/sequence", {T, H}, Layout::kNhwc,
                    {{"perm", std::vector<int64_t>{1, 0, 2}}});
}

SimpleRNN::SimpleRNN(RNNOptions options)
    : Layer("SimpleRNN", "simple_rnn", RecurrentCell::kSimpleRnn, std::move(options)) {}

GRU::GRU(RNNOptions options) : Layer("GRU", "gru", RecurrentCell::kGru, std::move(options)) {}

LSTM::LSTM(RNNOptions options)
    : Layer("LSTM", "lstm", RecurrentCell::kLstm, std::move(options)) {}

std::shared_ptr<RecurrentLayer> MakeRecurrentLayer(RecurrentCell cell, RNNOptions options) {
  switch (cell) {
    case RecurrentCell::kSimpleRnn: return std::make_shared<SimpleRNN>(std::move(options));
    case RecurrentCell::kGru: return std::make_shared<GRU>(std::move(options));
    case RecurrentCell::kLstm: return std::make_shared<LSTM>(std::move(options));
  }
  return nullptr;
}

}  // namespace nn
}  // namespace gradway
