#include "autograd/functions.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "autograd/error.h"
#include "autograd/graph.h"
#include "autograd/internal/node.h"
#include "autograd/internal/tensor_impl.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/transpose.h"

namespace gradway {
namespace {

// a op b with broadcasting, not recorded.
Tensor BinaryForward(ops::BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  if (a.shape() == b.shape()) {
    Tensor out = Tensor::Empty(a.shape());
    ops::Binary(op, a.data(), b.data(), out.data(), out.numel());
    return out;
  }
  const Shape shape = BroadcastShapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::Empty(shape);
  ops::BroadcastBinary(op, a.data(), PadShape(a.shape(), shape.size()), b.data(),
                       PadShape(b.shape(), shape.size()), out.data(), shape);
  return out;
}

Tensor UnaryForward(ops::UnaryOp op, const Tensor& x) {
  Tensor out = Tensor::Empty(x.shape());
  ops::Unary(op, x.data(), out.data(), x.numel());
  return out;
}

}  // namespace

Tensor SumToShape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Tensor out = Tensor::Empty(shape);
  ops::SumToShape(g.data(), g.shape(), out.data(), PadShape(shape, g.shape().size()));
  return out;
}

Tensor BroadcastTo(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const Shape padded = PadShape(x.shape(), shape.size());
  Tensor zero = Tensor::Zeros(Shape(shape.size(), 1));
  Tensor out = Tensor::Empty(shape);
  ops::BroadcastBinary(ops::BinaryOp::kAdd, x.data(), padded, zero.data(), zero.shape(),
                       out.data(), shape);
  return out;
}

// ---------------------------------------------------------------- Arithmetic

Tensor Add(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(ops::BinaryOp::kAdd, a, b, "add");
  return RecordOp("add", out, {a, b}, {},
                  [sa = a.shape(), sb = b.shape()](const Tensor& g) -> std::vector<Tensor> {
                    return {SumToShape(g, sa), SumToShape(g, sb)};
                  });
}

Tensor Sub(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(ops::BinaryOp::kSub, a, b, "sub");
  return RecordOp("sub", out, {a, b}, {},
                  [sa = a.shape(), sb = b.shape()](const Tensor& g) -> std::vector<Tensor> {
                    return {SumToShape(g, sa), SumToShape(Neg(g), sb)};
                  });
}

Tensor Mul(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(ops::BinaryOp::kMul, a, b, "mul");
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return RecordOp("mul", out, {a, b}, {gb ? a : Tensor(), ga ? b : Tensor()},
                  [a = a.Detach(), b = b.Detach(), ga, gb](const Tensor& g)
                      -> std::vector<Tensor> {
                    return {ga ? SumToShape(Mul(g, b), a.shape()) : Tensor(),
                            gb ? SumToShape(Mul(g, a), b.shape()) : Tensor()};
                  });
}

Tensor Div(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(ops::BinaryOp::kDiv, a, b, "div");
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return RecordOp("div", out, {a, b}, {b, gb ? out : Tensor()},
                  [b = b.Detach(), y = out.Detach(), sa = a.shape(), ga, gb](
                      const Tensor& g) -> std::vector<Tensor> {
                    // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -y/b.
                    Tensor g_over_b = Div(g, b);
                    return {ga ? SumToShape(g_over_b, sa) : Tensor(),
                            gb ? SumToShape(Neg(Mul(g_over_b, y)), b.shape()) : Tensor()};
                  });
}

Tensor AddScalar(const Tensor& x, float s) {
  Tensor out = Tensor::Empty(x.shape());
  ops::AddScalar(x.data(), s, out.data(), x.numel());
  return RecordOp("add_scalar", out, {x}, {},
                  [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
}

Tensor MulScalar(const Tensor& x, float s) {
  Tensor out = Tensor::Empty(x.shape());
  ops::Scale(x.data(), s, out.data(), x.numel());
  return RecordOp("mul_scalar", out, {x}, {}, [s](const Tensor& g) -> std::vector<Tensor> {
    return {MulScalar(g, s)};
  });
}

// ---------------------------------------------------------------- Elementwise

Tensor Neg(const Tensor& x) {
  return RecordOp("neg", UnaryForward(ops::UnaryOp::kNeg, x), {x}, {},
                  [](const Tensor& g) -> std::vector<Tensor> { return {Neg(g)}; });
}

Tensor Exp(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kExp, x);
  return RecordOp("exp", y, {x}, {y}, [y = y.Detach()](const Tensor& g) -> std::vector<Tensor> {
    return {Mul(g, y)};
  });
}

Tensor Log(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kLog, x);
  return RecordOp("log", y, {x}, {x}, [x = x.Detach()](const Tensor& g) -> std::vector<Tensor> {
    return {Div(g, x)};
  });
}

Tensor Sqrt(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kSqrt, x);
  return RecordOp("sqrt", y, {x}, {y}, [y = y.Detach()](const Tensor& g) -> std::vector<Tensor> {
    return {Div(MulScalar(g, 0.5f), y)};
  });
}

Tensor Pow(const Tensor& x, float exponent) {
  Tensor y = Tensor::Empty(x.shape());
  ops::Pow(x.data(), exponent, y.data(), x.numel());
  return RecordOp("pow", y, {x}, {x},
                  [x = x.Detach(), exponent](const Tensor& g) -> std::vector<Tensor> {
                    Tensor d = Tensor::Empty(x.shape());
                    ops::Pow(x.data(), exponent - 1.f, d.data(), x.numel());
                    return {Mul(g, MulScalar(d, exponent))};
                  });
}

Tensor Relu(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kRelu, x);
  return RecordOp("relu", y, {x}, {y}, [y = y.Detach()](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::Empty(y.shape());
    ops::ReluBackward(y.data(), g.data(), dx.data(), y.numel());
    return {dx};
  });
}

Tensor Sigmoid(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kSigmoid, x);
  return RecordOp("sigmoid", y, {x}, {y},
                  [y = y.Detach()](const Tensor& g) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(y.shape());
                    ops::SigmoidBackward(y.data(), g.data(), dx.data(), y.numel());
                    return {dx};
                  });
}

Tensor Tanh(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kTanh, x);
  return RecordOp("tanh", y, {x}, {y}, [y = y.Detach()](const Tensor& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::Empty(y.shape());
    ops::TanhBackward(y.data(), g.data(), dx.data(), y.numel());
    return {dx};
  });
}

Tensor Clip(const Tensor& x, float lo, float hi) {
  GRADWAY_CHECK(lo <= hi, "clip: lower bound ", lo, " is above upper bound ", hi);
  Tensor y = Tensor::Empty(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  for (int64_t i = 0; i < x.numel(); ++i) yp[i] = std::min(std::max(xp[i], lo), hi);
  return RecordOp("clip", y, {x}, {x}, [x = x.Detach(), lo, hi](const Tensor& g) {
    Tensor dx = Tensor::Empty(g.shape());
    const float* xv = x.data();
    const float* gv = g.data();
    float* d = dx.data();
    for (int64_t i = 0; i < g.numel(); ++i) d[i] = (xv[i] >= lo && xv[i] <= hi) ? gv[i] : 0.f;
    return std::vector<Tensor>{dx};
  });
}

// ---------------------------------------------------------------- Reductions

Tensor Sum(const Tensor& x) {
  Tensor out = Tensor::Scalar(ops::Sum(x.data(), x.numel()));
  return RecordOp("sum", out, {x}, {}, [shape = x.shape()](const Tensor& g) -> std::vector<Tensor> {
    return {Tensor::Full(shape, g.item())};
  });
}

Tensor Mean(const Tensor& x) {
  GRADWAY_CHECK(x.numel() > 0, "mean: the tensor is empty (shape ",
                ShapeToString(x.shape()), ")");
  return MulScalar(Sum(x), 1.f / static_cast<float>(x.numel()));
}

Tensor Sum(const Tensor& x, int axis, bool keepdim) {
  const int a = NormalizeAxis(axis, x.rank(), "sum");
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; ++d) outer *= x.shape()[d];
  for (int d = a + 1; d < x.rank(); ++d) inner *= x.shape()[d];
  Shape kept = x.shape();
  kept[a] = 1;
  Tensor out = Tensor::Empty(kept);
  ops::SumAxis(x.data(), outer, x.shape()[a], inner, out.data());
  if (!keepdim) {
    Shape squeezed = x.shape();
    squeezed.erase(squeezed.begin() + a);
    out = out.Reshape(squeezed);
  }
  return RecordOp("sum", out, {x}, {},
                  [shape = x.shape(), kept](const Tensor& g) -> std::vector<Tensor> {
                    return {BroadcastTo(g.Reshape(kept), shape)};
                  });
}

Tensor Mean(const Tensor& x, int axis, bool keepdim) {
  const int a = NormalizeAxis(axis, x.rank(), "mean");
  GRADWAY_CHECK(x.shape()[a] > 0, "mean: axis ", axis, " of shape ",
                ShapeToString(x.shape()), " is empty");
  return MulScalar(Sum(x, a, keepdim), 1.f / static_cast<float>(x.shape()[a]));
}

// ---------------------------------------------------------------- MatMul

Tensor MatMul(const Tensor& a, const Tensor& b) {
  GRADWAY_CHECK(a.rank() == 2 && b.rank() == 2, "matmul: expected 2-D tensors, got shapes ",
                ShapeToString(a.shape()), " and ", ShapeToString(b.shape()));
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  GRADWAY_CHECK(b.size(0) == k, "matmul: shapes ", ShapeToString(a.shape()), " and ",
                ShapeToString(b.shape()), " cannot be multiplied");
  Tensor out = Tensor::Empty({m, n});
  ops::MatMul(a.data(), b.data(), out.data(), m, n, k, false, false);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return RecordOp("matmul", out, {a, b}, {gb ? a : Tensor(), ga ? b : Tensor()},
                  [a = a.Detach(), b = b.Detach(), ga, gb, m, n, k](const Tensor& g)
                      -> std::vector<Tensor> {
                    Tensor da, db;
                    if (ga) {  // dA = dC · Bᵀ  (m x k)
                      da = Tensor::Empty({m, k});
                      ops::MatMul(g.data(), b.data(), da.data(), m, k, n, false, true);
                    }
                    if (gb) {  // dB = Aᵀ · dC  (k x n)
                      db = Tensor::Empty({k, n});
                      ops::MatMul(a.data(), g.data(), db.data(), k, n, m, true, false);
                    }
                    return {da, db};
                  });
}

// ---------------------------------------------------------------- Layout
// The Tensor methods are recorded ops like the rest, so they are defined here (declared in
// autograd/tensor.h); the free functions call them.

Tensor Tensor::Reshape(const Shape& new_shape) const {
  Shape target = new_shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t d = 0; d < target.size(); ++d) {
    if (target[d] == -1) {
      GRADWAY_CHECK(infer < 0, "reshape: only one dimension can be -1 in ",
                    ShapeToString(new_shape));
      infer = static_cast<int>(d);
    } else {
      GRADWAY_CHECK(target[d] >= 0, "reshape: invalid dimension in ",
                    ShapeToString(new_shape));
      known *= target[d];
    }
  }
  if (infer >= 0) {
    GRADWAY_CHECK(known > 0 && numel() % known == 0, "reshape: shape ",
                  ShapeToString(new_shape), " is invalid for a tensor of shape ",
                  ShapeToString(shape()));
    target[infer] = numel() / known;
  }
  GRADWAY_CHECK(NumElements(target) == numel(), "reshape: shape ",
                ShapeToString(new_shape), " is invalid for a tensor of shape ",
                ShapeToString(shape()), " (", numel(), " elements)");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked().storage;  // a view
  impl->offset = impl_->offset;
  impl->shape = target;
  const Shape input_shape = shape();
  return RecordOp("reshape", Tensor(std::move(impl)), {*this}, {},
                  [input_shape](const Tensor& g) -> std::vector<Tensor> {
                    return {g.Reshape(input_shape)};
                  });
}

Tensor Tensor::Flatten(int start_dim) const {
  if (rank() == 0) return Reshape({1});
  const int start = NormalizeAxis(start_dim, rank(), "flatten");
  Shape s(shape().begin(), shape().begin() + start);
  int64_t rest = 1;
  for (int d = start; d < rank(); ++d) rest *= shape()[d];
  s.push_back(rest);
  return Reshape(s);
}

Tensor Tensor::Transpose() const {
  GRADWAY_CHECK(rank() == 2, "transpose: expected a 2-D tensor, got shape ",
                ShapeToString(shape()));
  const int64_t rows = shape()[0], cols = shape()[1];
  Tensor out = Empty({cols, rows});
  ops::Transpose2D(data(), rows, cols, out.data());
  return RecordOp("transpose", out, {*this}, {}, [](const Tensor& g) -> std::vector<Tensor> {
    return {g.Transpose()};
  });
}

Tensor Tensor::Narrow(int dim, int64_t start, int64_t length) const {
  GRADWAY_CHECK(rank() >= 1, "narrow: a scalar has no dimension to narrow");
  GRADWAY_CHECK(dim == 0 || dim == -rank(), "narrow: only dimension 0 (rows) gives a view; got ",
                "dimension ", dim, " of a tensor of shape ", ShapeToString(shape()));
  const int64_t rows = shape()[0];
  GRADWAY_CHECK(start >= 0 && length >= 0 && start <= rows && length <= rows - start,
                "narrow: rows [", start, ", ", start, " + ", length,
                ") are outside a tensor of shape ", ShapeToString(shape()));
  const int64_t row = rows > 0 ? numel() / rows : 0;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked().storage;  // a view
  impl->offset = impl_->offset + start * row;
  impl->shape = shape();
  impl->shape[0] = length;
  const Shape input_shape = shape();
  return RecordOp("narrow", Tensor(std::move(impl)), {*this}, {},
                  [input_shape, start, row](const Tensor& g) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Zeros(input_shape);
                    std::copy(g.data(), g.data() + g.numel(), dx.data() + start * row);
                    return {dx};
                  });
}

Tensor Permute(const Tensor& x, const std::vector<int>& dims) {
  const int rank = x.rank();
  GRADWAY_CHECK(static_cast<int>(dims.size()) == rank, "permute: ", dims.size(),
                " dimensions given for a tensor of shape ", ShapeToString(x.shape()));
  std::vector<int> perm(rank), inverse(rank, -1);
  for (int i = 0; i < rank; ++i) {
    const int d = dims[i] < 0 ? dims[i] + rank : dims[i];
    GRADWAY_CHECK(d >= 0 && d < rank && inverse[d] < 0, "permute: (",
                  absl::StrJoin(dims, ", "), ") is not a permutation of the ", rank,
                  " dimensions of shape ", ShapeToString(x.shape()));
    perm[i] = d;
    inverse[d] = i;
  }
  Shape out_shape(rank);
  for (int i = 0; i < rank; ++i) out_shape[i] = x.shape()[perm[i]];
  Tensor out = Tensor::Empty(out_shape);
  // The input's stride of each output dimension; walk the output in order.
  std::vector<int64_t> in_stride(rank, 1), stride(rank);
  for (int d = rank - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * x.shape()[d + 1];
  for (int i = 0; i < rank; ++i) stride[i] = in_stride[perm[i]];
  const float* src = x.data();
  float* dst = out.data();
  std::vector<int64_t> index(rank, 0);
  int64_t offset = 0;
  for (int64_t n = 0; n < out.numel(); ++n) {
    dst[n] = src[offset];
    for (int i = rank - 1; i >= 0; --i) {  // next output index, odometer-style
      offset += stride[i];
      if (++index[i] < out_shape[i]) break;
      offset -= stride[i] * out_shape[i];
      index[i] = 0;
    }
  }
  return RecordOp("permute", out, {x}, {}, [inverse](const Tensor& g) -> std::vector<Tensor> {
    return {Permute(g, inverse)};
  });
}

Tensor Reshape(const Tensor& x, const Shape& shape) { return x.Reshape(shape); }
Tensor Flatten(const Tensor& x, int start_dim) { return x.Flatten(start_dim); }
Tensor Transpose(const Tensor& x) { return x.Transpose(); }

}  // namespace gradway
