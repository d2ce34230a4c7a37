// Built-in ops on Tensors: arithmetic with NumPy broadcasting, elementwise functions,
// comparisons and selection, reductions, matrix multiplication, layout and padding. Each
// differentiable op records its backward when an input requires a gradient
// (autograd/graph.h) and is covered by the gradient check; comparisons and Argmax return
// tensors that never require grad. Shape errors throw gradway::Error naming the op and the
// shapes.
#ifndef GRADWAY_AUTOGRAD_FUNCTIONS_H_
#define GRADWAY_AUTOGRAD_FUNCTIONS_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {

// ---- Arithmetic with NumPy broadcasting: the output shape is the broadcast of the two
// input shapes ("add: shapes (2, 3) and (4, 3) cannot be broadcast" otherwise).
Tensor Add(const Tensor& a, const Tensor& b);
Tensor Sub(const Tensor& a, const Tensor& b);
Tensor Mul(const Tensor& a, const Tensor& b);
Tensor Div(const Tensor& a, const Tensor& b);
// With a scalar: x + s, x * s.
Tensor AddScalar(const Tensor& x, float s);
Tensor MulScalar(const Tensor& x, float s);

// ---- Elementwise functions (same shape out as in).
Tensor Neg(const Tensor& x);
Tensor Exp(const Tensor& x);
Tensor Log(const Tensor& x);    // natural log; log(0) = -inf as in PyTorch
Tensor Sqrt(const Tensor& x);
Tensor Pow(const Tensor& x, float exponent);
Tensor Relu(const Tensor& x);
Tensor Sigmoid(const Tensor& x);
Tensor Tanh(const Tensor& x);
// |x|, with PyTorch's gradient sign(x): 0 at x = 0.
Tensor Abs(const Tensor& x);
// min(max(x, lo), hi), with tf.clip_by_value's gradient: 1 where lo <= x <= hi, else 0.
// Throws Error when lo > hi.
Tensor Clip(const Tensor& x, float lo, float hi);
// PyTorch's name for the same op (recorded as "clip"): torch.clamp(x, lo, hi) has the same
// values and the same gradient, 1 where lo <= x <= hi (bounds included), else 0. One
// difference: torch.clamp with lo > hi returns hi everywhere, where Clamp throws Error.
inline Tensor Clamp(const Tensor& x, float lo, float hi) { return Clip(x, lo, hi); }

// ---- Elementwise minimum / maximum with NumPy broadcasting (torch.minimum/maximum): NaN
// if either is NaN. The gradient goes to the chosen input; on ties it is split half and
// half between the two, as in PyTorch.
Tensor Minimum(const Tensor& a, const Tensor& b);
Tensor Maximum(const Tensor& a, const Tensor& b);

// ---- Comparisons with NumPy broadcasting: masks of 1.f where a op b holds, else 0.f
// (IEEE: every comparison with NaN is false except NotEqual). Not differentiable: the
// result never requires grad, whatever the inputs.
Tensor Greater(const Tensor& a, const Tensor& b);       // a > b
Tensor GreaterEqual(const Tensor& a, const Tensor& b);  // a >= b
Tensor Less(const Tensor& a, const Tensor& b);          // a < b
Tensor LessEqual(const Tensor& a, const Tensor& b);     // a <= b
Tensor Equal(const Tensor& a, const Tensor& b);         // a == b
Tensor NotEqual(const Tensor& a, const Tensor& b);      // a != b
// a where condition != 0, else b (torch.where), the three broadcast together. The gradient
// goes to a where the condition holds and to b elsewhere; none to the condition (a mask).
Tensor Where(const Tensor& condition, const Tensor& a, const Tensor& b);

// ---- Reductions.
// The sum / mean of all elements: a scalar (shape {}).
Tensor Sum(const Tensor& x);
Tensor Mean(const Tensor& x);
// Over one axis (negative counts from the end). keepdim keeps it as size 1.
Tensor Sum(const Tensor& x, int axis, bool keepdim = false);
Tensor Mean(const Tensor& x, int axis, bool keepdim = false);

// The index of the largest element along `axis` (negative counts from the end), as floats;
// the first one on ties, and the first NaN if any (as PyTorch). keepdim keeps the axis as
// size 1. Not differentiable: the result never requires grad.
Tensor Argmax(const Tensor& x, int axis, bool keepdim = false);

// ---- Linear algebra.
// (m x k) · (k x n) -> (m x n). "matmul: shapes (3, 2) and (3, 2) cannot be multiplied".
Tensor MatMul(const Tensor& a, const Tensor& b);

// ---- Layout (also available as Tensor methods).
Tensor Reshape(const Tensor& x, const Shape& shape);
Tensor Flatten(const Tensor& x, int start_dim = 0);
Tensor Transpose(const Tensor& x);
// The dimensions reordered (a copy): output dimension i is input dimension dims[i], as
// PyTorch's permute; Permute(x, {0, 3, 1, 2}) turns NHWC into NCHW. dims must be a
// permutation of 0..rank-1 (negative values count from the end).
Tensor Permute(const Tensor& x, const std::vector<int>& dims);

// Joins tensors along an existing axis (torch.cat): all of the same rank and the same
// sizes except along `axis` (negative counts from the end). Each gets its part of the
// gradient. Throws Error naming the op and the shapes that do not fit.
Tensor Concat(const std::vector<Tensor>& xs, int axis);
// Joins tensors of one shape along a new axis (torch.stack): axis in [-(rank + 1), rank];
// Stack({a, b}, 0) of two (3, 4) tensors is (2, 3, 4).
Tensor Stack(const std::vector<Tensor>& xs, int axis);

// Constant padding (numpy.pad(x, pads, constant_values=value), tf.pad): pads[d] =
// (before, after) cells of `value` added before and after axis d, one pair for each axis of
// x (any rank; (0, 0) leaves an axis alone), each >= 0. y.size(d) = x.size(d) + before +
// after. The gradient is the part of the incoming gradient that lies over x (the padding's
// gets none). torch.nn.functional.pad lists the pairs the other way round, from the last
// axis, flattened: Pad(x, {{a0, b0}, ..., {a_last, b_last}}, v) is
// F.pad(x, (a_last, b_last, ..., a0, b0), value=v); ZeroPadding2D's pad of an NHWC image
// is Pad(x, {{0, 0}, {top, bottom}, {left, right}, {0, 0}}). Throws Error naming "pad" and
// the shape when there is not one pair per axis or a pad is negative (no cropping).
Tensor Pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads,
           float value = 0.f);

// Operators: the same ops.
inline Tensor operator+(const Tensor& a, const Tensor& b) { return Add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return Sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return Mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return Div(a, b); }
inline Tensor operator-(const Tensor& x) { return Neg(x); }
inline Tensor operator+(const Tensor& x, float s) { return AddScalar(x, s); }
inline Tensor operator+(float s, const Tensor& x) { return AddScalar(x, s); }
inline Tensor operator-(const Tensor& x, float s) { return AddScalar(x, -s); }
inline Tensor operator-(float s, const Tensor& x) { return AddScalar(Neg(x), s); }
inline Tensor operator*(const Tensor& x, float s) { return MulScalar(x, s); }
inline Tensor operator*(float s, const Tensor& x) { return MulScalar(x, s); }
inline Tensor operator/(const Tensor& x, float s) { return MulScalar(x, 1.f / s); }

// In-place arithmetic (PyTorch's add_, sub_, mul_, div_): writes a op b into a's storage
// (and so into every view sharing it), b broadcast to a's shape; throws Error naming the
// op when the broadcast result would not have a's shape. They record nothing, so they are
// allowed only where no graph would be recorded: with grad mode off (NoGradGuard) or when
// neither operand requires grad; otherwise they throw Error ("add_: cannot modify a tensor
// in place while it, or the other operand, requires grad ..."). The write bumps the
// storage's version, so a later backward through an op that saved a throws Error naming
// that op, as for any in-place change (autograd/graph.h).
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, const Tensor& b);
Tensor& operator+=(Tensor& a, float s);
Tensor& operator-=(Tensor& a, float s);
Tensor& operator*=(Tensor& a, float s);
Tensor& operator/=(Tensor& a, float s);

// Internal helpers shared by ops and layers.
// Sums a broadcast gradient `g` back down to `shape` (the input's shape).
Tensor SumToShape(const Tensor& g, const Shape& shape);
// Broadcasts x to `shape` (a copy; not recorded).
Tensor BroadcastTo(const Tensor& x, const Shape& shape);

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_FUNCTIONS_H_
