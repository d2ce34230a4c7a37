// Differentiable recurrent loops: a SimpleRNN, GRU (reset_after) or LSTM run over a whole
// batch of sequences as one recorded op, forward and backward (ops/recurrent.h: one GEMM
// and one fused gate kernel per step, not one graph node per gate per step).
#ifndef GRADWAY_AUTOGRAD_RECURRENT_H_
#define GRADWAY_AUTOGRAD_RECURRENT_H_

#include "autograd/tensor.h"

namespace gradway {

// The cell, with Keras' gate layouts (ops/recurrent.h gives the equations):
//   kSimpleRnn  h' = tanh(x·W + h·U + b)
//   kGru        gates z, r, h; reset_after (PyTorch's GRU); bias [2, 3 units]
//   kLstm       gates i, f, c, o (PyTorch's order); bias [4 units]
enum class RecurrentCell { kSimpleRnn, kGru, kLstm };

// What Recurrent does besides the cell. go_backwards: steps run from the last to the
// first, and the outputs stay in that processing order (as Keras'). zero_output_for_mask:
// a masked step outputs zeros instead of the previous output (Keras' Bidirectional sets it
// when it returns sequences).
struct RecurrentOptions {
  RecurrentCell cell = RecurrentCell::kLstm;
  bool go_backwards = false;
  bool zero_output_for_mask = false;
};

// Recurrent's results: every step's output [B, T, H], and the final states [B, H] (c is
// undefined but for the LSTM).
struct RecurrentOutputs {
  Tensor sequence;
  Tensor h;
  Tensor c;
};

// Runs the cell over x [B, T, D] from the initial states h0 and c0 ([B, H]; undefined:
// zeros; c0 for the LSTM only) with kernel [D, G*H], recurrent_kernel [H, G*H] and bias
// ([G*H], [2, 3H] for the GRU, or undefined: none), G the gate count (1, 3, 4). mask
// [B, T] (undefined: all steps valid; nonzero = valid) skips steps per sequence as Keras'
// mask: a masked step keeps the states and repeats the previous output (0 before the
// first valid step). Gradients for x, the weights and the initial states; none for the
// mask. Recorded as "simple_rnn", "gru" or "lstm"; the same bits for any thread count.
// Throws Error naming the op and the shapes when they do not fit.
RecurrentOutputs Recurrent(const Tensor& x, const Tensor& kernel,
                           const Tensor& recurrent_kernel, const Tensor& bias,
                           const Tensor& h0, const Tensor& c0, const Tensor& mask,
                           const RecurrentOptions& options);

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_RECURRENT_H_
