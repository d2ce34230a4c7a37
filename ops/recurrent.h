// Recurrent kernels: the whole time loop of a SimpleRNN, GRU or LSTM over a batch of
// sequences, forward and backward (backpropagation through time), as one call each.
//
// Layouts are Keras' (so that weights map to Keras' one for one): the input x is
// batch-major [batch, steps, features]; kernel [features, G * units] and recurrent_kernel
// [units, G * units] hold the G gates side by side,
//   SimpleRNN  G = 1:  h = tanh(x·W + h·U + b)                     bias [units]
//   LSTM       G = 4:  gates i, f, c, o (PyTorch's i, f, g, o)      bias [4 * units]
//       c' = sigmoid(f) * c + sigmoid(i) * tanh(g),  h' = sigmoid(o) * tanh(c')
//   GRU        G = 3:  gates z, r, h (reset_after = True: PyTorch's GRU, gates r, z, n)
//       z = sigmoid(x·Wz + bz + h·Uz + rbz),  r = sigmoid(x·Wr + br + h·Ur + rbr),
//       n = tanh(x·Wh + bh + r * (h·Uh + rbh)),  h' = z * h + (1 - z) * n
//                                    bias [2, 3 * units]: input bias, then recurrent bias
//
// The input's product x·W of every step is one GEMM before the loop; each step then runs
// one GEMM with the recurrent kernel and one fused gate kernel (Highway SIMD along the
// units, oneTBB-parallel over rows). The backward runs the loop in reverse with one GEMM
// and one fused kernel a step, then computes the weight gradients and dx as three GEMMs
// over all steps at once.
//
// Masking (Keras' `mask`): where mask[b, t] is 0 the step is skipped for sequence b: its
// state (h, and c for the LSTM) carries over unchanged, and its output is the previous
// step's output (0 before any valid step), or 0 with zero_output_for_mask.
//
// Determinism: every sum has a fixed order (the GEMMs' contract); nothing depends on the
// thread count.
#ifndef GRADWAY_OPS_RECURRENT_H_
#define GRADWAY_OPS_RECURRENT_H_

#include <cstdint>

namespace gradway {
namespace ops {

enum class RnnCell { kSimpleRnn, kGru, kLstm };

// The cell's gate count G: 1, 3 or 4.
int64_t RnnGateCount(RnnCell cell);
// The cell's state count S: 2 for the LSTM (h and c), 1 otherwise.
int64_t RnnStateCount(RnnCell cell);

// The problem's sizes: batch B, steps T, features D, units H.
struct RnnSizes {
  RnnCell cell = RnnCell::kLstm;
  int64_t batch = 0, steps = 0, features = 0, units = 0;
};

// What the loop does besides the cell: steps in reverse order (Keras' go_backwards: the
// s-th output is the output of input step T - 1 - s, and outputs stay in that processing
// order), and zeros as the output of a masked step (Keras' zero_output_for_mask).
struct RnnOptions {
  bool go_backwards = false;
  bool zero_output_for_mask = false;
};

// The weights, as above; bias may be null (use_bias = False).
struct RnnWeights {
  const float* kernel = nullptr;
  const float* recurrent_kernel = nullptr;
  const float* bias = nullptr;
};

// Floats of the workspace RnnForward fills and RnnBackward reads.
int64_t RnnWorkspaceSize(const RnnSizes& sizes);

// Runs the loop. x [B, T, D]; h0 and c0 [B, H] the initial states (null: zeros; c0 is
// read by the LSTM only); mask [B, T] (null: every step valid; nonzero means valid).
// Writes out [B, T + S, H]: out[:, s] the s-th step's output for s < T, then the final
// states: out[:, T] = h, and out[:, T + 1] = c for the LSTM. workspace holds
// RnnWorkspaceSize floats and keeps what the backward needs. Throws std::invalid_argument
// for negative sizes, units or features < 1, or missing weights.
void RnnForward(const RnnSizes& sizes, const RnnWeights& weights, const float* x,
                const float* h0, const float* c0, const float* mask,
                const RnnOptions& options, float* out, float* workspace);

// The gradients RnnBackward writes; each may be null when not wanted. Shapes as the
// forward's: dx [B, T, D], dkernel [D, G*H], drecurrent_kernel [H, G*H], dbias as bias,
// dh0 and dc0 [B, H].
struct RnnGradients {
  float* dx = nullptr;
  float* dkernel = nullptr;
  float* drecurrent_kernel = nullptr;
  float* dbias = nullptr;
  float* dh0 = nullptr;
  float* dc0 = nullptr;
};

// Backpropagation through time: dout [B, T + S, H] is the gradient of RnnForward's out
// (its outputs and final states), workspace what that forward left (it holds the mask;
// same sizes, weights and options). Writes the gradients (overwriting, not accumulating).
void RnnBackward(const RnnSizes& sizes, const RnnWeights& weights, const float* dout,
                 const RnnOptions& options, const float* workspace,
                 const RnnGradients& grads);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_RECURRENT_H_
