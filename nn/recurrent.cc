#include "nn/recurrent.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"

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

std::string RecurrentLayer::ExportOnnx(OnnxGraph&, const std::string&) const {
  Fail("cannot export ", Description(), " to ONNX: ", type_name(),
       " has no ONNX export yet");
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
