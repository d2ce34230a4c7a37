// Built-in ops on Tensors: arithmetic with NumPy broadcasting, elementwise functions,
// comparisons and selection, reductions, matrix multiplication, layout and padding. Each
// differentiable op records its backward when an input requires a gradient
// (autograd/graph.h) and is covered by the gradient check; comparisons, Argmax, Argmin and
// the indices of Max and Min are tensors that never require grad. Shape errors throw
// gradway::Error naming the op and the shapes.
#ifndef GRADWAY_AUTOGRAD_FUNCTIONS_H_
#define GRADWAY_AUTOGRAD_FUNCTIONS_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/types/span.h"
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
// Relu(Add(a, b)) in one pass (a residual block's closing ReLU): the sum's ReLU applied as
// it is stored; in the backward, one masked copy of the gradient serves both inputs.
// Bit-identical to Relu(Add(a, b)). Recorded as "add_relu"; a and b of different shapes
// (broadcasting) run the two ops.
Tensor AddRelu(const Tensor& a, const Tensor& b);
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

// ---- Activations, elementwise with PyTorch's formulas and gradients (each within 1e-5 of
// PyTorch 1.13's numbers in autograd/functions_pytorch_test.cc).
// x where x > 0, else negative_slope * x (torch's leaky_relu; Keras' leaky_relu). The
// gradient at 0 is negative_slope, as in PyTorch and TensorFlow. No default slope: PyTorch's
// is 0.01, Keras 3's function 0.2, Keras' LeakyReLU layer 0.3 (nn/layers.h).
Tensor LeakyRelu(const Tensor& x, float negative_slope);
// x where x > 0, else alpha * (e^x - 1) (torch's elu, Keras' elu).
Tensor Elu(const Tensor& x, float alpha = 1.f);
// x * Phi(x), Phi the standard normal CDF: x / 2 * (1 + erf(x / sqrt(2))) (torch's gelu,
// approximate='none'; Keras' gelu). With `approximate`, the tanh form
// x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) (approximate='tanh').
Tensor Gelu(const Tensor& x, bool approximate = false);
// x * sigmoid(x) (torch's silu; Keras' silu, also called swish).
Tensor Silu(const Tensor& x);
// min(max(x + 3, 0), 6) / 6 = relu6(x + 3) / 6 (torch's hardsigmoid and Keras 3's
// hard_sigmoid, the same function; ONNX's HardSigmoid with alpha 1/6, beta 0.5). Its
// gradient is 1/6 on (-3, 3), 0 elsewhere (at +-3 too, as PyTorch). Keras 2's hard_sigmoid
// was another line, clip(0.2 x + 0.5, 0, 1); gradway follows the definition PyTorch and
// Keras 3 now share (Keras 3 changed to it), so a model matches both current frameworks.
Tensor HardSigmoid(const Tensor& x);

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
// The index of the smallest element along `axis`, as Argmax: the first one on ties, the
// first NaN if any (torch.argmin).
Tensor Argmin(const Tensor& x, int axis, bool keepdim = false);

// The largest / smallest element along `axis` and its index, as torch.max(x, dim) and
// torch.min(x, dim): `values` (differentiable) and `indices` (as floats, never requiring
// grad), both of x's shape without the axis (size 1 with keepdim). The index is Argmax's /
// Argmin's: the first one on ties, the first NaN if any (whose value is then NaN). The
// gradient goes to that index only. `auto [values, indices] = Max(x, 1);`
struct ValuesIndices {
  Tensor values;
  Tensor indices;
};
ValuesIndices Max(const Tensor& x, int axis, bool keepdim = false);
ValuesIndices Min(const Tensor& x, int axis, bool keepdim = false);
// The largest / smallest element of the whole tensor, a scalar (torch.max(x)); NaN if any
// element is NaN. The gradient is split evenly among the elements equal to it (the NaNs
// when it is NaN), as in PyTorch. Throws Error for an empty tensor.
Tensor Max(const Tensor& x);
Tensor Min(const Tensor& x);

// The variance along `axis`: sum((x - mean)^2) / (n - correction), n the axis' size.
// correction 0 (the default) is the population variance, as Keras' ops.var, TensorFlow's
// reduce_variance and NumPy's var; pass 1 for the unbiased (Bessel-corrected) estimate,
// torch.var's default. Computed in two passes (the mean, then the centred squares).
// Throws Error when correction < 0 or n <= correction (PyTorch would give inf or NaN).
Tensor Var(const Tensor& x, int axis, bool keepdim = false, int64_t correction = 0);

// log(sum(exp(x))) along `axis` (torch.logsumexp), computed stably as
// m + log(sum(exp(x - m))) with m the axis' maximum (0 where that is infinite). Its
// gradient is softmax(x) along the axis. An empty axis gives -inf, as PyTorch.
Tensor LogSumExp(const Tensor& x, int axis, bool keepdim = false);

// ---- Linear algebra.
// The matrix product over the last two axes, batched over the leading ones with NumPy
// broadcasting (torch.matmul for tensors of rank 2 or more): a [..., m, k] · b [..., k, n]
// -> [broadcast(...), m, n]; (m x k) · (k x n) -> (m x n) for matrices. transpose_a /
// transpose_b read a / b as their transposes over the last two axes without copying them
// (tf.linalg.matmul's flags; torch.matmul(a.mT, b)): attention's q · kᵀ is
// MatMul(q, k, false, true). Each product is the GEMM of ops/matmul.h: the same bits for
// any thread count; a broadcast operand's gradient sums over the batch in a fixed order.
// Throws Error naming the shapes: "matmul: shapes (3, 2) and (3, 2) cannot be multiplied",
// batch dimensions that cannot be broadcast, or a rank below 2.
Tensor MatMul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b);
Tensor MatMul(const Tensor& a, const Tensor& b);

// ---- Layout (also available as Tensor methods).
Tensor Reshape(const Tensor& x, const Shape& shape);
Tensor Flatten(const Tensor& x, int start_dim = 0);
Tensor Transpose(const Tensor& x);
// The dimensions reordered (a copy): output dimension i is input dimension dims[i], as
// PyTorch's permute; Permute(x, {0, 3, 1, 2}) turns NHWC into NCHW. dims must be a
// permutation of 0..rank-1 (negative values count from the end).
Tensor Permute(const Tensor& x, const std::vector<int>& dims);

// Elements start, start + step, ... below stop along `axis` (a copy), as Python's and
// PyTorch's x[..., start:stop:step]: a negative start or stop counts from the end, and both
// are then clamped to [0, size] (a range past the end is cut short; an empty range gives
// size 0 along the axis, as in PyTorch). step must be >= 1 (as PyTorch). The gradient
// scatters into zeros. The any-axis form of Tensor::Narrow (a view, of axis 0 only). Throws
// Error naming the op for a scalar or an axis out of range, and the axis, the range and the
// shape for a step < 1.
Tensor Slice(const Tensor& x, int axis, int64_t start, int64_t stop, int64_t step = 1);
// Splits x along `axis` into consecutive parts of the given sizes (torch.split and
// tf.split with a list): sizes >= 0 that sum to x's size along the axis. Each part is
// recorded as a slice ("split") of x, so each part used gives back an x-sized gradient
// (zeros but its own). Throws Error naming the op, the sizes, the axis and the shape.
std::vector<Tensor> Split(const Tensor& x, const std::vector<int64_t>& sizes, int axis = 0);
// Splits x into `parts` equal parts (tf.split with a number): parts >= 1 must divide x's
// size along the axis, else Error. (A one-element list {n} chooses this overload: n parts.)
std::vector<Tensor> Split(const Tensor& x, int64_t parts, int axis = 0);
// The entries `indices` of x along `axis`, in that order (torch.index_select; an
// embedding lookup is Gather(table, ids)): the axis' size becomes indices.size(), entries
// may repeat. Indices are integers, never a float round trip. The gradient scatters back,
// adding repeated entries' rows in index order (ops/gather.h: the same bits for any thread
// count). Throws Error naming "gather", the index and the shape for an index outside
// [0, size) or an axis out of range.
Tensor Gather(const Tensor& x, absl::Span<const int64_t> indices, int axis = 0);

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
