// Built-in differentiable ops on Tensors: arithmetic with NumPy broadcasting, elementwise
// functions, reductions and matrix multiplication. Each records its backward when an input
// requires a gradient (autograd/graph.h), and each is covered by the gradient check.
// Shape errors throw gradway::Error naming the op and the shapes.
#ifndef GRADWAY_AUTOGRAD_FUNCTIONS_H_
#define GRADWAY_AUTOGRAD_FUNCTIONS_H_

#include "autograd/tensor.h"

namespace gradway {

// ---- Arithmetic with NumPy broadcasting: the output shape is the broadcast of the two
// input shapes ("add: shapes (2x3) and (4x3) cannot be broadcast" otherwise).
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
// min(max(x, lo), hi), with tf.clip_by_value's gradient: 1 where lo <= x <= hi, else 0.
// Throws Error when lo > hi.
Tensor Clip(const Tensor& x, float lo, float hi);

// ---- Reductions.
// The sum / mean of all elements: a scalar (shape {}).
Tensor Sum(const Tensor& x);
Tensor Mean(const Tensor& x);
// Over one axis (negative counts from the end). keepdim keeps it as size 1.
Tensor Sum(const Tensor& x, int axis, bool keepdim = false);
Tensor Mean(const Tensor& x, int axis, bool keepdim = false);

// ---- Linear algebra.
// (m x k) · (k x n) -> (m x n). "matmul: shapes (3x2) and (3x2) cannot be multiplied".
Tensor MatMul(const Tensor& a, const Tensor& b);

// ---- Layout (also available as Tensor methods).
Tensor Reshape(const Tensor& x, const Shape& shape);
Tensor Flatten(const Tensor& x, int start_dim = 0);
Tensor Transpose(const Tensor& x);
// The dimensions reordered (a copy): output dimension i is input dimension dims[i], as
// PyTorch's permute; Permute(x, {0, 3, 1, 2}) turns NHWC into NCHW. dims must be a
// permutation of 0..rank-1 (negative values count from the end).
Tensor Permute(const Tensor& x, const std::vector<int>& dims);

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

// Internal helpers shared by ops and layers.
// Sums a broadcast gradient `g` back down to `shape` (the input's shape).
Tensor SumToShape(const Tensor& g, const Shape& shape);
// Broadcasts x to `shape` (a copy; not recorded).
Tensor BroadcastTo(const Tensor& x, const Shape& shape);

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_FUNCTIONS_H_
