#include "autograd/recurrent.h"

#include <cstdint>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/internal/node.h"
#include "ops/recurrent.h"

namespace gradway {
namespace {

ops::RnnCell OpsCell(RecurrentCell cell) {
  switch (cell) {
    case RecurrentCell::kSimpleRnn: return ops::RnnCell::kSimpleRnn;
    case RecurrentCell::kGru: return ops::RnnCell::kGru;
    case RecurrentCell::kLstm: return ops::RnnCell::kLstm;
  }
  return ops::RnnCell::kLstm;
}

const char* OpName(RecurrentCell cell) {
  switch (cell) {
    case RecurrentCell::kSimpleRnn: return "simple_rnn";
    case RecurrentCell::kGru: return "gru";
    case RecurrentCell::kLstm: return "lstm";
  }
  return "rnn";
}

const float* OrNull(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// Checks the shapes; returns the sizes.
ops::RnnSizes CheckRecurrent(const Tensor& x, const Tensor& kernel, const Tensor& recurrent,
                             const Tensor& bias, const Tensor& h0, const Tensor& c0,
                             const Tensor& mask, RecurrentCell cell) {
  const char* op = OpName(cell);
  GRADWAY_CHECK(x.defined() && x.rank() == 3 && x.shape()[2] > 0, op,
                ": expected an input [batch, steps, features] with features > 0, got shape ",
                x.defined() ? ShapeToString(x.shape()) : "(undefined)");
  const ops::RnnSizes s{OpsCell(cell), x.shape()[0], x.shape()[1], x.shape()[2],
                        recurrent.defined() && recurrent.rank() == 2 ? recurrent.shape()[0] : 0};
  const int64_t GH = ops::RnnGateCount(s.cell) * s.units;
  const Shape recurrent_shape{s.units, GH}, kernel_shape{s.features, GH};
  GRADWAY_CHECK(s.units > 0 && recurrent.shape() == recurrent_shape, op,
                ": the recurrent kernel must be [units, ", ops::RnnGateCount(s.cell),
                " * units] with units > 0, got ",
                recurrent.defined() ? ShapeToString(recurrent.shape()) : "(undefined)");
  GRADWAY_CHECK(kernel.defined() && kernel.shape() == kernel_shape, op,
                ": the kernel must be [", s.features, ", ", GH, "] for input of shape ",
                ShapeToString(x.shape()), " and ", s.units, " units, got ",
                kernel.defined() ? ShapeToString(kernel.shape()) : "(undefined)");
  const Shape bias_shape = cell == RecurrentCell::kGru ? Shape{2, GH} : Shape{GH};
  GRADWAY_CHECK(!bias.defined() || bias.shape() == bias_shape, op, ": the bias must be ",
                ShapeToString(bias_shape), ", got ", ShapeToString(bias.shape()));
  const Shape state{s.batch, s.units};
  GRADWAY_CHECK(!h0.defined() || h0.shape() == state, op, ": the initial state h must be ",
                ShapeToString(state), ", got ", ShapeToString(h0.shape()));
  GRADWAY_CHECK(!c0.defined() || (cell == RecurrentCell::kLstm && c0.shape() == state), op,
                cell == RecurrentCell::kLstm ? ": the initial state c must be " : "",
                cell == RecurrentCell::kLstm ? ShapeToString(state) : ": has no state c",
                ", got ", ShapeToString(c0.shape()));
  const Shape mask_shape{s.batch, s.steps};
  GRADWAY_CHECK(!mask.defined() || mask.shape() == mask_shape, op, ": the mask must be ",
                ShapeToString(mask_shape), " for input of shape ", ShapeToString(x.shape()),
                ", got ", ShapeToString(mask.shape()));
  return s;
}

}  // namespace

RecurrentOutputs Recurrent(const Tensor& x, const Tensor& kernel,
                           const Tensor& recurrent_kernel, const Tensor& bias,
                           const Tensor& h0, const Tensor& c0, const Tensor& mask,
                           const RecurrentOptions& options) {
  const ops::RnnSizes s =
      CheckRecurrent(x, kernel, recurrent_kernel, bias, h0, c0, mask, options.cell);
  const int64_t S = ops::RnnStateCount(s.cell), T = s.steps;
  const ops::RnnOptions o{options.go_backwards, options.zero_output_for_mask};
  const ops::RnnWeights w{kernel.data(), recurrent_kernel.data(), OrNull(bias)};
  Tensor packed = Tensor::Empty({s.batch, T + S, s.units});
  Tensor workspace = Tensor::Empty({ops::RnnWorkspaceSize(s)});
  ops::RnnForward(s, w, x.data(), OrNull(h0), OrNull(c0), OrNull(mask), o, packed.data(),
                  workspace.data());
  const std::vector<Tensor> inputs{x, kernel, recurrent_kernel, bias, h0, c0};
  if (ShouldRecord(inputs)) {
    std::vector<bool> wants;
    for (const Tensor& t : inputs) wants.push_back(t.defined() && t.requires_grad());
    packed = RecordOp(
        OpName(options.cell), packed, inputs, Save(kernel, recurrent_kernel, bias, workspace),
        [s, o, wants](const Tensor& g, const Tensor& kernel, const Tensor& recurrent,
                      const Tensor& bias, const Tensor& workspace) -> std::vector<Tensor> {
          std::vector<Tensor> grads(6);
          const Tensor* like[6] = {nullptr, &kernel, &recurrent, &bias, nullptr, nullptr};
          const Shape shapes[6] = {{s.batch, s.steps, s.features}, {}, {}, {},
                                   {s.batch, s.units}, {s.batch, s.units}};
          for (int i = 0; i < 6; ++i) {
            if (wants[i]) grads[i] = Tensor::Empty(like[i] ? like[i]->shape() : shapes[i]);
          }
          const auto ptr = [&](int i) { return wants[i] ? grads[i].data() : nullptr; };
          ops::RnnBackward(s, {kernel.data(), recurrent.data(), OrNull(bias)}, g.data(), o,
                           workspace.data(),
                           {ptr(0), ptr(1), ptr(2), ptr(3), ptr(4), ptr(5)});
          return grads;
        });
  }
  RecurrentOutputs out;
  out.sequence = Slice(packed, 1, 0, T);
  out.h = Reshape(Slice(packed, 1, T, T + 1), {s.batch, s.units});
  if (S == 2) out.c = Reshape(Slice(packed, 1, T + 1, T + 2), {s.batch, s.units});
  return out;
}

}  // namespace gradway
