#include "autograd/functions.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "autograd/error.h"
#include "autograd/graph.h"
#include "autograd/internal/node.h"
#include "autograd/internal/tensor_impl.h"
#include "ops/elementwise.h"
#include "ops/gather.h"
#include "ops/matmul.h"
#include "ops/pad.h"
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
  return RecordOp("add", out, {a, b}, Save(),
                  [sa = a.shape(), sb = b.shape()](const Tensor& g) -> std::vector<Tensor> {
                    return {SumToShape(g, sa), SumToShape(g, sb)};
                  });
}

Tensor AddRelu(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return Relu(Add(a, b));
  Tensor y = Tensor::Empty(a.shape());
  ops::Binary(ops::BinaryOp::kAdd, a.data(), b.data(), y.data(), y.numel(),
              ops::Epilogue::kRelu);
  return RecordOp("add_relu", y, {a, b}, Save(y),
                  [](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
                    Tensor d = Tensor::Empty(y.shape());
                    ops::ReluBackward(y.data(), g.data(), d.data(), y.numel());
                    return {d, d};
                  });
}

Tensor Sub(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(ops::BinaryOp::kSub, a, b, "sub");
  return RecordOp("sub", out, {a, b}, Save(),
                  [sa = a.shape(), sb = b.shape()](const Tensor& g) -> std::vector<Tensor> {
                    return {SumToShape(g, sa), SumToShape(Neg(g), sb)};
                  });
}

Tensor Mul(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(ops::BinaryOp::kMul, a, b, "mul");
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return RecordOp("mul", out, {a, b}, Save(gb ? a : Tensor(), ga ? b : Tensor()),
                  [sa = a.shape(), sb = b.shape(), ga, gb](
                      const Tensor& g, const Tensor& a, const Tensor& b) -> std::vector<Tensor> {
                    return {ga ? SumToShape(Mul(g, b), sa) : Tensor(),
                            gb ? SumToShape(Mul(g, a), sb) : Tensor()};
                  });
}

Tensor Div(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(ops::BinaryOp::kDiv, a, b, "div");
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return RecordOp("div", out, {a, b}, Save(b, gb ? out : Tensor()),
                  [sa = a.shape(), ga, gb](const Tensor& g, const Tensor& b,
                                           const Tensor& y) -> std::vector<Tensor> {
                    // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -y/b.
                    Tensor g_over_b = Div(g, b);
                    return {ga ? SumToShape(g_over_b, sa) : Tensor(),
                            gb ? SumToShape(Neg(Mul(g_over_b, y)), b.shape()) : Tensor()};
                  });
}

Tensor AddScalar(const Tensor& x, float s) {
  Tensor out = Tensor::Empty(x.shape());
  ops::AddScalar(x.data(), s, out.data(), x.numel());
  return RecordOp("add_scalar", out, {x}, Save(),
                  [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
}

Tensor MulScalar(const Tensor& x, float s) {
  Tensor out = Tensor::Empty(x.shape());
  ops::Scale(x.data(), s, out.data(), x.numel());
  return RecordOp("mul_scalar", out, {x}, Save(),
                  [s](const Tensor& g) -> std::vector<Tensor> { return {MulScalar(g, s)}; });
}

// ---------------------------------------------------------------- Elementwise

Tensor Neg(const Tensor& x) {
  return RecordOp("neg", UnaryForward(ops::UnaryOp::kNeg, x), {x}, Save(),
                  [](const Tensor& g) -> std::vector<Tensor> { return {Neg(g)}; });
}

Tensor Exp(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kExp, x);
  return RecordOp("exp", y, {x}, Save(y),
                  [](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
                    return {Mul(g, y)};
                  });
}

Tensor Log(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kLog, x);
  return RecordOp("log", y, {x}, Save(x),
                  [](const Tensor& g, const Tensor& x) -> std::vector<Tensor> {
                    return {Div(g, x)};
                  });
}

Tensor Sqrt(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kSqrt, x);
  return RecordOp("sqrt", y, {x}, Save(y),
                  [](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
                    return {Div(MulScalar(g, 0.5f), y)};
                  });
}

Tensor Pow(const Tensor& x, float exponent) {
  Tensor y = Tensor::Empty(x.shape());
  ops::Pow(x.data(), exponent, y.data(), x.numel());
  return RecordOp("pow", y, {x}, Save(x),
                  [exponent](const Tensor& g, const Tensor& x) -> std::vector<Tensor> {
                    Tensor d = Tensor::Empty(x.shape());
                    ops::Pow(x.data(), exponent - 1.f, d.data(), x.numel());
                    return {Mul(g, MulScalar(d, exponent))};
                  });
}

Tensor Relu(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kRelu, x);
  return RecordOp("relu", y, {x}, Save(y),
                  [](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(y.shape());
                    ops::ReluBackward(y.data(), g.data(), dx.data(), y.numel());
                    return {dx};
                  });
}

Tensor Sigmoid(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kSigmoid, x);
  Tensor out = RecordOp("sigmoid", y, {x}, Save(y),
                        [](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
                          Tensor dx = Tensor::Empty(y.shape());
                          ops::SigmoidBackward(y.data(), g.data(), dx.data(), y.numel());
                          return {dx};
                        });
  // For a binary cross-entropy to fuse with (SigmoidLogits in autograd/nn_functions.h).
  SetLogits(out, LogitsOf::kSigmoid, x);
  return out;
}

Tensor Tanh(const Tensor& x) {
  Tensor y = UnaryForward(ops::UnaryOp::kTanh, x);
  return RecordOp("tanh", y, {x}, Save(y),
                  [](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
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
  return RecordOp("clip", y, {x}, Save(x), [lo, hi](const Tensor& g, const Tensor& x) {
    Tensor dx = Tensor::Empty(g.shape());
    const float* xv = x.data();
    const float* gv = g.data();
    float* d = dx.data();
    for (int64_t i = 0; i < g.numel(); ++i) d[i] = (xv[i] >= lo && xv[i] <= hi) ? gv[i] : 0.f;
    return std::vector<Tensor>{dx};
  });
}

Tensor Abs(const Tensor& x) {
  Tensor y = Tensor::Empty(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  for (int64_t i = 0; i < x.numel(); ++i) yp[i] = std::fabs(xp[i]);
  return RecordOp("abs", y, {x}, Save(x), [](const Tensor& g, const Tensor& x) {
    Tensor dx = Tensor::Empty(g.shape());
    const float* xv = x.data();
    const float* gv = g.data();
    float* d = dx.data();
    for (int64_t i = 0; i < g.numel(); ++i) {
      d[i] = xv[i] > 0.f ? gv[i] : (xv[i] < 0.f ? -gv[i] : 0.f);
    }
    return std::vector<Tensor>{dx};
  });
}

// ---------------------------------------------------------------- Activations

namespace {

// dx = kernel(x, dy): an activation's gradient from its input.
Tensor GradFromInput(void (*kernel)(const float* x, const float* dy, float* dx, int64_t n),
                     const Tensor& x, const Tensor& g) {
  Tensor dx = Tensor::Empty(x.shape());
  kernel(x.data(), g.data(), dx.data(), x.numel());
  return dx;
}

}  // namespace

Tensor LeakyRelu(const Tensor& x, float negative_slope) {
  Tensor y = Tensor::Empty(x.shape());
  ops::LeakyRelu(x.data(), negative_slope, y.data(), x.numel());
  return RecordOp("leaky_relu", y, {x}, Save(x),
                  [negative_slope](const Tensor& g, const Tensor& x) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(x.shape());
                    ops::LeakyReluBackward(x.data(), negative_slope, g.data(), dx.data(),
                                           x.numel());
                    return {dx};
                  });
}

Tensor Elu(const Tensor& x, float alpha) {
  Tensor y = Tensor::Empty(x.shape());
  ops::Elu(x.data(), alpha, y.data(), x.numel());
  return RecordOp("elu", y, {x}, Save(x),
                  [alpha](const Tensor& g, const Tensor& x) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(x.shape());
                    ops::EluBackward(x.data(), alpha, g.data(), dx.data(), x.numel());
                    return {dx};
                  });
}

Tensor Gelu(const Tensor& x, bool approximate) {
  Tensor y = UnaryForward(approximate ? ops::UnaryOp::kGeluTanh : ops::UnaryOp::kGelu, x);
  return RecordOp("gelu", y, {x}, Save(x),
                  [approximate](const Tensor& g, const Tensor& x) -> std::vector<Tensor> {
                    return {GradFromInput(
                        approximate ? ops::GeluTanhBackward : ops::GeluBackward, x, g)};
                  });
}

Tensor Silu(const Tensor& x) {
  return RecordOp("silu", UnaryForward(ops::UnaryOp::kSilu, x), {x}, Save(x),
                  [](const Tensor& g, const Tensor& x) -> std::vector<Tensor> {
                    return {GradFromInput(ops::SiluBackward, x, g)};
                  });
}

Tensor HardSigmoid(const Tensor& x) {
  return RecordOp("hard_sigmoid", UnaryForward(ops::UnaryOp::kHardSigmoid, x), {x}, Save(x),
                  [](const Tensor& g, const Tensor& x) -> std::vector<Tensor> {
                    return {GradFromInput(ops::HardSigmoidBackward, x, g)};
                  });
}

// ---------------------------------------------------------------- Minimum, maximum

namespace {

// a and b broadcast to their common shape (copies only where a shape differs).
struct Broadcast {
  Shape shape;
  Tensor a, b;
};

Broadcast BroadcastBoth(const Tensor& a, const Tensor& b, const char* name) {
  const Shape shape = BroadcastShapes(a.shape(), b.shape(), name);
  return {shape, BroadcastTo(a, shape), BroadcastTo(b, shape)};
}

Tensor MinMax(const Tensor& a, const Tensor& b, bool take_max, const char* name) {
  const Broadcast ab = BroadcastBoth(a, b, name);
  const Shape& shape = ab.shape;
  const float* pa = ab.a.data();
  const float* pb = ab.b.data();
  Tensor out = Tensor::Empty(shape);
  float* po = out.data();
  const int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float x = pa[i], y = pb[i];
    po[i] = (std::isnan(x) || std::isnan(y)) ? x + y
            : take_max                     ? std::max(x, y)
                                           : std::min(x, y);
  }
  if (!ShouldRecord({a, b})) return out;
  // The share of each output's gradient that goes to a: 1 where a is chosen, 1/2 on ties
  // (as PyTorch), 0 where b is; b gets the rest. Kept privately: a, b may change later.
  Tensor share_a = Tensor::Empty(shape);
  float* w = share_a.data();
  for (int64_t i = 0; i < n; ++i) {
    w[i] = pa[i] == pb[i] ? 0.5f : ((pa[i] > pb[i]) == take_max ? 1.f : 0.f);
  }
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return RecordOp(name, out, {a, b}, Save(share_a),
                  [sa = a.shape(), sb = b.shape(), ga, gb](
                      const Tensor& g, const Tensor& share_a) -> std::vector<Tensor> {
                    const Tensor to_a = Mul(g, share_a);
                    return {ga ? SumToShape(to_a, sa) : Tensor(),
                            gb ? SumToShape(Sub(g, to_a), sb) : Tensor()};
                  });
}

}  // namespace

Tensor Minimum(const Tensor& a, const Tensor& b) { return MinMax(a, b, false, "minimum"); }
Tensor Maximum(const Tensor& a, const Tensor& b) { return MinMax(a, b, true, "maximum"); }

// ---------------------------------------------------------------- Comparisons, Where

namespace {

// A 0/1 mask of cmp(a, b), broadcast; not recorded (comparisons have no gradient).
template <typename Cmp>
Tensor Compare(const Tensor& a, const Tensor& b, const char* name, Cmp cmp) {
  const Broadcast ab = BroadcastBoth(a, b, name);
  const float* pa = ab.a.data();
  const float* pb = ab.b.data();
  Tensor out = Tensor::Empty(ab.shape);
  float* po = out.data();
  for (int64_t i = 0; i < out.numel(); ++i) po[i] = cmp(pa[i], pb[i]) ? 1.f : 0.f;
  return out;
}

}  // namespace

Tensor Greater(const Tensor& a, const Tensor& b) {
  return Compare(a, b, "greater", [](float x, float y) { return x > y; });
}
Tensor GreaterEqual(const Tensor& a, const Tensor& b) {
  return Compare(a, b, "greater_equal", [](float x, float y) { return x >= y; });
}
Tensor Less(const Tensor& a, const Tensor& b) {
  return Compare(a, b, "less", [](float x, float y) { return x < y; });
}
Tensor LessEqual(const Tensor& a, const Tensor& b) {
  return Compare(a, b, "less_equal", [](float x, float y) { return x <= y; });
}
Tensor Equal(const Tensor& a, const Tensor& b) {
  return Compare(a, b, "equal", [](float x, float y) { return x == y; });
}
Tensor NotEqual(const Tensor& a, const Tensor& b) {
  return Compare(a, b, "not_equal", [](float x, float y) { return x != y; });
}

Tensor Where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  Shape shape;
  try {
    shape = BroadcastShapes(BroadcastShapes(condition.shape(), a.shape(), "where"),
                            b.shape(), "where");
  } catch (const Error&) {
    Fail("where: condition, a and b of shapes ", ShapeToString(condition.shape()), ", ",
         ShapeToString(a.shape()), " and ", ShapeToString(b.shape()),
         " cannot be broadcast together");
  }
  const Tensor cb = BroadcastTo(condition, shape), ab = BroadcastTo(a, shape),
               bb = BroadcastTo(b, shape);
  const float* pc = cb.data();
  const float* pa = ab.data();
  const float* pb = bb.data();
  Tensor out = Tensor::Empty(shape);
  float* po = out.data();
  const int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) po[i] = pc[i] != 0.f ? pa[i] : pb[i];
  if (!ShouldRecord({a, b})) return out;
  // Where the gradient goes to a (1) or b (0); kept privately: the condition may change.
  Tensor to_a = Tensor::Empty(shape);
  float* w = to_a.data();
  for (int64_t i = 0; i < n; ++i) w[i] = pc[i] != 0.f ? 1.f : 0.f;
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return RecordOp("where", out, {a, b}, Save(to_a),
                  [sa = a.shape(), sb = b.shape(), ga, gb](
                      const Tensor& g, const Tensor& to_a) -> std::vector<Tensor> {
                    const Tensor ga_full = Mul(g, to_a);
                    return {ga ? SumToShape(ga_full, sa) : Tensor(),
                            gb ? SumToShape(Sub(g, ga_full), sb) : Tensor()};
                  });
}

// ---------------------------------------------------------------- Reductions

Tensor Sum(const Tensor& x) {
  Tensor out = Tensor::Scalar(ops::Sum(x.data(), x.numel()));
  return RecordOp("sum", out, {x}, Save(),
                  [shape = x.shape()](const Tensor& g) -> std::vector<Tensor> {
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
  return RecordOp("sum", out, {x}, Save(),
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

namespace {

// x viewed as [outer, len, inner] around one axis, and the shapes reduced over it.
struct AxisSplit {
  int axis = 0;            // normalised
  int64_t outer = 1, len = 0, inner = 1;
  Shape kept;              // x's shape with the axis as 1
  Shape reduced;           // kept with keepdim, else x's shape without the axis
};

AxisSplit SplitAtAxis(const Tensor& x, int axis, bool keepdim, const char* name) {
  AxisSplit s;
  s.axis = NormalizeAxis(axis, x.rank(), name);
  const Shape& shape = x.shape();
  for (int d = 0; d < s.axis; ++d) s.outer *= shape[d];
  for (int d = s.axis + 1; d < x.rank(); ++d) s.inner *= shape[d];
  s.len = shape[s.axis];
  s.kept = shape;
  s.kept[s.axis] = 1;
  s.reduced = s.kept;
  if (!keepdim) s.reduced.erase(s.reduced.begin() + s.axis);
  return s;
}

void CheckAxisNotEmpty(const Tensor& x, int axis, const AxisSplit& s, const char* name) {
  GRADWAY_CHECK(s.len > 0, name, ": axis ", axis, " of shape ", ShapeToString(x.shape()),
                " is empty");
}

// For each (outer, inner): the largest (take_max) or smallest element along the axis and
// its index (as a float): the first one on ties, the first NaN if any (as PyTorch). Walks
// the axis row by row, so the inner elements are read in order.
void ArgReduce(const float* x, const AxisSplit& s, bool take_max, float* values,
               float* indices) {
  for (int64_t o = 0; o < s.outer; ++o) {
    const float* xo = x + o * s.len * s.inner;
    float* v = values + o * s.inner;
    float* k = indices + o * s.inner;
    std::copy(xo, xo + s.inner, v);
    std::fill(k, k + s.inner, 0.f);
    for (int64_t j = 1; j < s.len; ++j) {
      const float* row = xo + j * s.inner;
      for (int64_t i = 0; i < s.inner; ++i) {
        const float a = row[i], b = v[i];
        const bool better = take_max ? a > b : a < b;
        if (better || (std::isnan(a) && !std::isnan(b))) {
          v[i] = a;
          k[i] = static_cast<float>(j);
        }
      }
    }
  }
}

ValuesIndices MaxMinAxis(const Tensor& x, int axis, bool keepdim, bool take_max,
                         const char* name) {
  const AxisSplit s = SplitAtAxis(x, axis, keepdim, name);
  CheckAxisNotEmpty(x, axis, s, name);
  Tensor values = Tensor::Empty(s.reduced), indices = Tensor::Empty(s.reduced);
  ArgReduce(x.data(), s, take_max, values.data(), indices.data());
  // The gradient goes to the chosen index: read from the saved indices (the ones returned,
  // so that writing them in place is caught).
  values = RecordOp(name, values, {x}, Save(indices),
                    [shape = x.shape(), s](const Tensor& g,
                                           const Tensor& indices) -> std::vector<Tensor> {
                      Tensor dx = Tensor::Zeros(shape);
                      float* d = dx.data();
                      const float* pg = g.data();
                      const float* pk = indices.data();
                      for (int64_t o = 0; o < s.outer; ++o) {
                        for (int64_t i = 0; i < s.inner; ++i) {
                          const int64_t j = static_cast<int64_t>(pk[o * s.inner + i]);
                          d[(o * s.len + j) * s.inner + i] = pg[o * s.inner + i];
                        }
                      }
                      return {dx};
                    });
  return {values, indices};
}

Tensor MaxMinAll(const Tensor& x, bool take_max, const char* name) {
  GRADWAY_CHECK(x.numel() > 0, name, ": the tensor is empty (shape ", ShapeToString(x.shape()),
                ")");
  const float* p = x.data();
  float best = p[0];
  for (int64_t i = 1; i < x.numel() && !std::isnan(best); ++i) {
    if (std::isnan(p[i]) || (take_max ? p[i] > best : p[i] < best)) best = p[i];
  }
  Tensor out = Tensor::Scalar(best);
  // PyTorch's evenly_distribute_backward: the gradient is shared by every element equal to
  // the result (every NaN when it is NaN).
  return RecordOp(name, out, {x}, Save(x, out),
                  [](const Tensor& g, const Tensor& x, const Tensor& y) -> std::vector<Tensor> {
                    const float m = y.item();
                    const float* px = x.data();
                    const auto chosen = [m](float v) {
                      return std::isnan(m) ? std::isnan(v) : v == m;
                    };
                    int64_t count = 0;
                    for (int64_t i = 0; i < x.numel(); ++i) count += chosen(px[i]);
                    Tensor dx = Tensor::Zeros(x.shape());
                    float* d = dx.data();
                    const float share = g.item() / static_cast<float>(count);
                    for (int64_t i = 0; i < x.numel(); ++i) {
                      if (chosen(px[i])) d[i] = share;
                    }
                    return {dx};
                  });
}

}  // namespace

Tensor Argmax(const Tensor& x, int axis, bool keepdim) {
  const AxisSplit s = SplitAtAxis(x, axis, keepdim, "argmax");
  CheckAxisNotEmpty(x, axis, s, "argmax");
  Tensor values = Tensor::Empty(s.reduced), indices = Tensor::Empty(s.reduced);
  ArgReduce(x.data(), s, /*take_max=*/true, values.data(), indices.data());
  return indices;  // not recorded: an index has no gradient
}

Tensor Argmin(const Tensor& x, int axis, bool keepdim) {
  const AxisSplit s = SplitAtAxis(x, axis, keepdim, "argmin");
  CheckAxisNotEmpty(x, axis, s, "argmin");
  Tensor values = Tensor::Empty(s.reduced), indices = Tensor::Empty(s.reduced);
  ArgReduce(x.data(), s, /*take_max=*/false, values.data(), indices.data());
  return indices;
}

ValuesIndices Max(const Tensor& x, int axis, bool keepdim) {
  return MaxMinAxis(x, axis, keepdim, /*take_max=*/true, "max");
}
ValuesIndices Min(const Tensor& x, int axis, bool keepdim) {
  return MaxMinAxis(x, axis, keepdim, /*take_max=*/false, "min");
}
Tensor Max(const Tensor& x) { return MaxMinAll(x, /*take_max=*/true, "max"); }
Tensor Min(const Tensor& x) { return MaxMinAll(x, /*take_max=*/false, "min"); }

Tensor Var(const Tensor& x, int axis, bool keepdim, int64_t correction) {
  const AxisSplit s = SplitAtAxis(x, axis, keepdim, "var");
  GRADWAY_CHECK(correction >= 0, "var: correction ", correction, " is negative");
  GRADWAY_CHECK(s.len > correction, "var: axis ", axis, " of shape ",
                ShapeToString(x.shape()), " has ", s.len,
                " element(s), not more than the correction ", correction);
  // The mean, the centred values, then the sum of their squares.
  Tensor mean = Tensor::Empty(s.kept);
  ops::SumAxis(x.data(), s.outer, s.len, s.inner, mean.data());
  ops::Scale(mean.data(), 1.f / static_cast<float>(s.len), mean.data(), mean.numel());
  Tensor centered = Tensor::Empty(x.shape());
  ops::BroadcastBinary(ops::BinaryOp::kSub, x.data(), x.shape(), mean.data(), s.kept,
                       centered.data(), x.shape());
  Tensor squares = Tensor::Empty(x.shape());
  ops::Binary(ops::BinaryOp::kMul, centered.data(), centered.data(), squares.data(),
              x.numel());
  Tensor out = Tensor::Empty(s.reduced);
  ops::SumAxis(squares.data(), s.outer, s.len, s.inner, out.data());
  const float divisor = static_cast<float>(s.len - correction);
  ops::Scale(out.data(), 1.f / divisor, out.data(), out.numel());
  // d var / dx = 2 (x - mean) / (n - correction) (the mean's own term sums to zero). The
  // centred values are kept privately.
  return RecordOp("var", out, {x}, Save(centered),
                  [kept = s.kept, scale = 2.f / divisor](
                      const Tensor& g, const Tensor& centered) -> std::vector<Tensor> {
                    return {Mul(centered, MulScalar(g.Reshape(kept), scale))};
                  });
}

Tensor LogSumExp(const Tensor& x, int axis, bool keepdim) {
  const AxisSplit s = SplitAtAxis(x, axis, keepdim, "logsumexp");
  // The shift m: the axis' maximum (NaNs left out: they make the sum NaN anyway), 0 where
  // it is infinite (as PyTorch: all -inf gives log(0) = -inf, any +inf gives +inf).
  Tensor shift = Tensor::Full(s.kept, -std::numeric_limits<float>::infinity());
  float* m = shift.data();
  const float* px = x.data();
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t j = 0; j < s.len; ++j) {
      const float* row = px + (o * s.len + j) * s.inner;
      float* mo = m + o * s.inner;
      for (int64_t i = 0; i < s.inner; ++i) mo[i] = row[i] > mo[i] ? row[i] : mo[i];
    }
  }
  for (int64_t i = 0; i < shift.numel(); ++i) m[i] = std::isinf(m[i]) ? 0.f : m[i];
  Tensor e = Tensor::Empty(x.shape());
  ops::BroadcastBinary(ops::BinaryOp::kSub, px, x.shape(), m, s.kept, e.data(), x.shape());
  ops::Unary(ops::UnaryOp::kExp, e.data(), e.data(), e.numel());
  Tensor out = Tensor::Empty(s.reduced);
  ops::SumAxis(e.data(), s.outer, s.len, s.inner, out.data());
  ops::Unary(ops::UnaryOp::kLog, out.data(), out.data(), out.numel());
  ops::Binary(ops::BinaryOp::kAdd, out.data(), m, out.data(), out.numel());
  // d/dx = exp(x - y): softmax along the axis.
  return RecordOp("logsumexp", out, {x}, Save(x, out),
                  [kept = s.kept](const Tensor& g, const Tensor& x,
                                  const Tensor& y) -> std::vector<Tensor> {
                    return {Mul(Exp(Sub(x, y.Reshape(kept))), g.Reshape(kept))};
                  });
}

// ---------------------------------------------------------------- MatMul

namespace {

// A batched product's geometry: op(A) [m, k] · op(B) [k, n] for every index of the
// broadcast batch shape, and where each operand's matrix of that index starts.
struct MatMulPlan {
  Shape batch;                  // the output's leading dimensions
  int64_t m = 0, k = 0, n = 0;  // op(A) m x k, op(B) k x n
  std::vector<int64_t> a_offsets, b_offsets, c_offsets;  // floats, one per batch index

  int64_t count() const { return static_cast<int64_t>(c_offsets.size()); }
};

// Offsets (in floats) of x's matrices [rows, cols] for each index of `batch`, x's batch
// dimensions broadcast against it (NumPy: right-aligned, size 1 repeats).
std::vector<int64_t> BatchOffsets(const Shape& x, const Shape& batch) {
  const size_t r = batch.size(), xr = x.size() - 2;
  const int64_t matrix = x[xr] * x[xr + 1];
  std::vector<int64_t> stride(r, 0);  // x's stride (in floats) along each batch dimension
  int64_t s = matrix;
  for (size_t d = 0; d < xr; ++d) {
    const size_t xd = xr - 1 - d, bd = r - 1 - d;
    stride[bd] = x[xd] == 1 ? 0 : s;
    s *= x[xd];
  }
  std::vector<int64_t> offsets(static_cast<size_t>(NumElements(batch)));
  std::vector<int64_t> index(r, 0);
  for (size_t i = 0; i < offsets.size(); ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d) off += index[d] * stride[d];
    offsets[i] = off;
    for (size_t d = r; d-- > 0;) {  // next index, last dimension fastest
      if (++index[d] < batch[d]) break;
      index[d] = 0;
    }
  }
  return offsets;
}

std::string TransposeNote(bool ta, bool tb) {
  if (!ta && !tb) return "";
  return std::string(" (") + (ta ? "transpose_a" : "") + (ta && tb ? ", " : "") +
         (tb ? "transpose_b" : "") + ")";
}

MatMulPlan PlanMatMul(const Shape& a, const Shape& b, bool ta, bool tb) {
  const auto fail = [&](const std::string& what) {
    Fail("matmul: shapes ", ShapeToString(a), " and ", ShapeToString(b), what,
         TransposeNote(ta, tb));
  };
  if (a.size() < 2 || b.size() < 2) {
    Fail("matmul: expected tensors of rank 2 or more, got shapes ", ShapeToString(a), " and ",
         ShapeToString(b));
  }
  MatMulPlan p;
  const size_t ar = a.size(), br = b.size();
  p.m = ta ? a[ar - 1] : a[ar - 2];
  p.k = ta ? a[ar - 2] : a[ar - 1];
  p.n = tb ? b[br - 2] : b[br - 1];
  if ((tb ? b[br - 1] : b[br - 2]) != p.k) fail(" cannot be multiplied");
  const size_t r = std::max(ar, br) - 2;
  p.batch.assign(r, 1);
  for (size_t d = 0; d < r; ++d) {  // right-aligned
    const int64_t da = d < ar - 2 ? a[ar - 3 - d] : 1, db = d < br - 2 ? b[br - 3 - d] : 1;
    if (da != db && da != 1 && db != 1) fail(" have batch dimensions that cannot be broadcast");
    p.batch[r - 1 - d] = da == 1 ? db : da;
  }
  p.a_offsets = BatchOffsets(a, p.batch);
  p.b_offsets = BatchOffsets(b, p.batch);
  p.c_offsets.resize(p.a_offsets.size());
  for (size_t i = 0; i < p.c_offsets.size(); ++i) {
    p.c_offsets[i] = static_cast<int64_t>(i) * p.m * p.n;
  }
  return p;
}

Shape WithMatrix(const Shape& batch, int64_t rows, int64_t cols) {
  Shape s = batch;
  s.push_back(rows);
  s.push_back(cols);
  return s;
}

}  // namespace

Tensor MatMul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  const bool ta = transpose_a, tb = transpose_b;
  auto plan = std::make_shared<const MatMulPlan>(PlanMatMul(a.shape(), b.shape(), ta, tb));
  const MatMulPlan& p = *plan;
  const int64_t ra = a.size(a.rank() - 2), ca = a.size(a.rank() - 1);
  const int64_t rb = b.size(b.rank() - 2), cb = b.size(b.rank() - 1);
  Tensor out = Tensor::Empty(WithMatrix(p.batch, p.m, p.n));
  ops::BatchedMatMul(ops::Mat{a.data(), ra, ca, ta}, p.a_offsets.data(),
                     ops::Mat{b.data(), rb, cb, tb}, p.b_offsets.data(),
                     ops::OutMat{out.data(), p.m, p.n}, p.count());
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return RecordOp(
      "matmul", out, {a, b}, Save(gb ? a : Tensor(), ga ? b : Tensor()),
      [ga, gb, ta, tb, plan, sa = a.shape(), sb = b.shape(), ra, ca, rb, cb](
          const Tensor& g, const Tensor& a, const Tensor& b) -> std::vector<Tensor> {
        const MatMulPlan& p = *plan;
        const ops::Mat gm{g.data(), p.m, p.n};
        Tensor da, db;
        if (ga) {  // per batch index, in A's stored layout; then summed where A broadcast
          Tensor per = Tensor::Empty(WithMatrix(p.batch, ra, ca));
          const ops::Mat bm{b.data(), rb, cb, tb};
          if (!ta) {  // dA = dC · op(B)ᵀ
            ops::BatchedMatMul(gm, p.c_offsets.data(), bm.Transposed(), p.b_offsets.data(),
                               ops::OutMat{per.data(), ra, ca}, p.count());
          } else {  // dA = op(B) · dCᵀ
            ops::BatchedMatMul(bm, p.b_offsets.data(), gm.Transposed(), p.c_offsets.data(),
                               ops::OutMat{per.data(), ra, ca}, p.count());
          }
          da = SumToShape(per, sa);
        }
        if (gb) {
          Tensor per = Tensor::Empty(WithMatrix(p.batch, rb, cb));
          const ops::Mat am{a.data(), ra, ca, ta};
          if (!tb) {  // dB = op(A)ᵀ · dC
            ops::BatchedMatMul(am.Transposed(), p.a_offsets.data(), gm, p.c_offsets.data(),
                               ops::OutMat{per.data(), rb, cb}, p.count());
          } else {  // dB = dCᵀ · op(A)
            ops::BatchedMatMul(gm.Transposed(), p.c_offsets.data(), am, p.a_offsets.data(),
                               ops::OutMat{per.data(), rb, cb}, p.count());
          }
          db = SumToShape(per, sb);
        }
        return {da, db};
      });
}

Tensor MatMul(const Tensor& a, const Tensor& b) { return MatMul(a, b, false, false); }

Tensor Gather(const Tensor& x, absl::Span<const int64_t> indices, int axis) {
  GRADWAY_CHECK(x.rank() >= 1, "gather: expected at least 1 dimension, got a scalar");
  const int a = NormalizeAxis(axis, x.rank(), "gather");
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; ++d) outer *= s[d];
  for (int d = a + 1; d < x.rank(); ++d) inner *= s[d];
  const int64_t size = s[a], n = static_cast<int64_t>(indices.size());
  for (int64_t i = 0; i < n; ++i) {
    GRADWAY_CHECK(indices[i] >= 0 && indices[i] < size, "gather: index ", indices[i],
                  " (position ", i, ") is out of range for axis ", a, " of size ", size,
                  " (input shape ", ShapeToString(s), ")");
  }
  Shape out_shape = s;
  out_shape[a] = n;
  Tensor y = Tensor::Empty(out_shape);
  ops::Gather(x.data(), indices.data(), outer, size, n, inner, y.data());
  return RecordOp("gather", y, {x}, Save(),
                  [idx = std::vector<int64_t>(indices.begin(), indices.end()), outer, size, n,
                   inner, s](const Tensor& g) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(s);
                    ops::GatherBackward(g.data(), idx.data(), outer, size, n, inner,
                                        dx.data());
                    return {dx};
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
  return RecordOp("reshape", Tensor(std::move(impl)), {*this}, Save(),
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
  return RecordOp("transpose", out, {*this}, Save(),
                  [](const Tensor& g) -> std::vector<Tensor> { return {g.Transpose()}; });
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
  return RecordOp("narrow", Tensor(std::move(impl)), {*this}, Save(),
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
  return RecordOp("permute", out, {x}, Save(),
                  [inverse](const Tensor& g) -> std::vector<Tensor> {
                    return {Permute(g, inverse)};
                  });
}

namespace {

// Elements begin, begin + step, ... (count of them) along axis a of x, as a new tensor,
// recorded as `name`; the gradient scatters back into zeros. Bounds already checked.
Tensor SliceRange(const char* name, const Tensor& x, int a, int64_t begin, int64_t count,
                  int64_t step) {
  const Shape& shape = x.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; ++d) outer *= shape[d];
  for (int d = a + 1; d < x.rank(); ++d) inner *= shape[d];
  const int64_t len = shape[a];
  Shape out_shape = shape;
  out_shape[a] = count;
  // Calls copy(offset in x, offset in the slice, elements) for each contiguous run.
  const auto for_each_run = [=](const auto& copy) {
    if (step == 1) {
      for (int64_t o = 0; o < outer; ++o) {
        copy((o * len + begin) * inner, o * count * inner, count * inner);
      }
      return;
    }
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < count; ++j) {
        copy((o * len + begin + j * step) * inner, (o * count + j) * inner, inner);
      }
    }
  };
  Tensor out = Tensor::Empty(out_shape);
  const float* px = x.data();
  float* po = out.data();
  for_each_run([&](int64_t from, int64_t to, int64_t n) {
    std::copy(px + from, px + from + n, po + to);
  });
  return RecordOp(name, out, {x}, Save(),
                  [shape, for_each_run](const Tensor& g) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Zeros(shape);
                    const float* pg = g.data();
                    float* d = dx.data();
                    for_each_run([&](int64_t to, int64_t from, int64_t n) {
                      std::copy(pg + from, pg + from + n, d + to);
                    });
                    return {dx};
                  });
}

// Python's clamping of a slice bound for a positive step: negative counts from the end,
// then into [0, size].
int64_t ClampSliceBound(int64_t i, int64_t size) {
  if (i < 0) i += size;
  return std::min(std::max<int64_t>(i, 0), size);
}

// Checks that x has an axis to split or slice; returns it normalised.
int AxisToCut(const Tensor& x, int axis, const char* name) {
  GRADWAY_CHECK(x.rank() >= 1, name, ": a scalar (shape ", ShapeToString(x.shape()),
                ") has no axis to ", name);
  return NormalizeAxis(axis, x.rank(), name);
}

}  // namespace

Tensor Slice(const Tensor& x, int axis, int64_t start, int64_t stop, int64_t step) {
  const int a = AxisToCut(x, axis, "slice");
  GRADWAY_CHECK(step >= 1, "slice: step ", step, " must be positive (axis ", axis,
                ", range [", start, ", ", stop, ") of shape ", ShapeToString(x.shape()), ")");
  const int64_t size = x.shape()[a];
  const int64_t begin = ClampSliceBound(start, size), end = ClampSliceBound(stop, size);
  const int64_t count = begin < end ? (end - begin + step - 1) / step : 0;
  return SliceRange("slice", x, a, begin, count, step);
}

std::vector<Tensor> Split(const Tensor& x, const std::vector<int64_t>& sizes, int axis) {
  const int a = AxisToCut(x, axis, "split");
  const int64_t size = x.shape()[a];
  int64_t total = 0;
  bool non_negative = true;
  for (int64_t n : sizes) {
    non_negative = non_negative && n >= 0;
    total += n;
  }
  GRADWAY_CHECK(!sizes.empty() && non_negative && total == size, "split: sizes (",
                absl::StrJoin(sizes, ", "), ") do not split axis ", axis, " of shape ",
                ShapeToString(x.shape()), " (they must be >= 0 and sum to ", size, ")");
  std::vector<Tensor> parts;
  int64_t begin = 0;
  for (int64_t n : sizes) {
    parts.push_back(SliceRange("split", x, a, begin, n, 1));
    begin += n;
  }
  return parts;
}

std::vector<Tensor> Split(const Tensor& x, int64_t parts, int axis) {
  const int a = AxisToCut(x, axis, "split");
  const int64_t size = x.shape()[a];
  GRADWAY_CHECK(parts >= 1 && size % parts == 0, "split: axis ", axis, " of shape ",
                ShapeToString(x.shape()), " cannot be split into ", parts, " equal parts");
  return Split(x, std::vector<int64_t>(static_cast<size_t>(parts), size / parts), axis);
}

namespace {

// Joins `xs` into a tensor of `out_shape` viewed as `outer` rows: each row is the
// concatenation of chunk[i] contiguous elements of each xs[i] (its row of the same
// index). The gradient is split back the same way.
Tensor JoinRows(const char* name, const std::vector<Tensor>& xs, int64_t outer,
                const std::vector<int64_t>& chunk, const Shape& out_shape) {
  Tensor out = Tensor::Empty(out_shape);
  const int64_t row = NumElements(out_shape) / std::max<int64_t>(outer, 1);
  float* po = out.data();
  int64_t column = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const float* px = xs[i].data();
    for (int64_t o = 0; o < outer; ++o) {
      std::copy(px + o * chunk[i], px + (o + 1) * chunk[i], po + o * row + column);
    }
    column += chunk[i];
  }
  if (!ShouldRecord(xs)) return out;
  std::vector<Shape> shapes;
  std::vector<bool> needs;
  for (const Tensor& x : xs) {
    shapes.push_back(x.shape());
    needs.push_back(x.requires_grad());
  }
  return RecordOp(name, out, xs, Save(),
                  [shapes, needs, chunk, outer, row](const Tensor& g) -> std::vector<Tensor> {
                    std::vector<Tensor> dxs(shapes.size());
                    const float* pg = g.data();
                    int64_t column = 0;
                    for (size_t i = 0; i < shapes.size(); ++i) {
                      if (needs[i]) {
                        dxs[i] = Tensor::Empty(shapes[i]);
                        float* d = dxs[i].data();
                        for (int64_t o = 0; o < outer; ++o) {
                          const float* src = pg + o * row + column;
                          std::copy(src, src + chunk[i], d + o * chunk[i]);
                        }
                      }
                      column += chunk[i];
                    }
                    return dxs;
                  });
}

// Checks that xs is a non-empty list of defined tensors of rank >= min_rank.
void CheckJoinInputs(const char* name, const std::vector<Tensor>& xs, int min_rank) {
  GRADWAY_CHECK(!xs.empty(), name, ": expected at least one tensor, got none");
  for (size_t i = 0; i < xs.size(); ++i) {
    GRADWAY_CHECK(xs[i].defined(), name, ": tensor ", i, " is undefined");
    GRADWAY_CHECK(xs[i].rank() >= min_rank, name, ": tensor ", i, " is a scalar (shape ",
                  ShapeToString(xs[i].shape()), "); only tensors of rank >= 1 can be joined");
  }
}

}  // namespace

Tensor Concat(const std::vector<Tensor>& xs, int axis) {
  CheckJoinInputs("concat", xs, 1);
  const Shape& first = xs[0].shape();
  const int a = NormalizeAxis(axis, xs[0].rank(), "concat");
  Shape out_shape = first;
  out_shape[a] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    bool fits = s.size() == first.size();
    for (size_t d = 0; fits && d < s.size(); ++d) {
      fits = static_cast<int>(d) == a || s[d] == first[d];
    }
    GRADWAY_CHECK(fits, "concat: shapes ", ShapeToString(first), " and ", ShapeToString(s),
                  " (tensors 0 and ", i, ") differ outside axis ", axis);
    out_shape[a] += s[a];
  }
  int64_t outer = 1;
  for (int d = 0; d < a; ++d) outer *= first[d];
  std::vector<int64_t> chunk;
  for (const Tensor& x : xs) chunk.push_back(outer > 0 ? x.numel() / outer : 0);
  return JoinRows("concat", xs, outer, chunk, out_shape);
}

Tensor Stack(const std::vector<Tensor>& xs, int axis) {
  CheckJoinInputs("stack", xs, 0);
  const Shape& first = xs[0].shape();
  const int rank = xs[0].rank();
  GRADWAY_CHECK(axis >= -(rank + 1) && axis <= rank, "stack: axis ", axis,
                " is out of range for stacking tensors of shape ", ShapeToString(first),
                " (expected -", rank + 1, " to ", rank, ")");
  const int a = axis < 0 ? axis + rank + 1 : axis;
  for (size_t i = 0; i < xs.size(); ++i) {
    GRADWAY_CHECK(xs[i].shape() == first, "stack: shapes ", ShapeToString(first), " and ",
                  ShapeToString(xs[i].shape()), " (tensors 0 and ", i,
                  ") differ; stack needs tensors of one shape");
  }
  Shape out_shape = first;
  out_shape.insert(out_shape.begin() + a, static_cast<int64_t>(xs.size()));
  int64_t outer = 1;
  for (int d = 0; d < a; ++d) outer *= first[d];
  const int64_t chunk = outer > 0 ? NumElements(first) / outer : 0;
  return JoinRows("stack", xs, outer, std::vector<int64_t>(xs.size(), chunk), out_shape);
}

Tensor Pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads,
           float value) {
  GRADWAY_CHECK(static_cast<int>(pads.size()) == x.rank(), "pad: expected one (before, ",
                "after) pair for each axis of the input of shape ", ShapeToString(x.shape()),
                ", got ", pads.size());
  std::vector<int64_t> before, after;
  Shape out_shape = x.shape();
  for (size_t d = 0; d < pads.size(); ++d) {
    GRADWAY_CHECK(pads[d].first >= 0 && pads[d].second >= 0, "pad: pads must be >= 0, got (",
                  pads[d].first, ", ", pads[d].second, ") for axis ", d,
                  " of the input of shape ", ShapeToString(x.shape()),
                  " (pad does not crop)");
    before.push_back(pads[d].first);
    after.push_back(pads[d].second);
    out_shape[d] += pads[d].first + pads[d].second;
  }
  Tensor y = Tensor::Empty(out_shape);
  ops::PadForward(x.data(), x.shape(), before, after, value, y.data());
  return RecordOp("pad", y, {x}, Save(),
                  [shape = x.shape(), before, after](const Tensor& g) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(shape);
                    ops::PadBackward(g.data(), shape, before, after, dx.data());
                    return {dx};
                  });
}

// ---------------------------------------------------------------- In-place arithmetic

namespace {

// a op= b (b broadcast to a's shape), written through a's storage.
Tensor& BinaryInPlace(ops::BinaryOp op, Tensor& a, const Tensor& b, const char* name,
                      const char* symbol) {
  GRADWAY_CHECK(!GradEnabled() || (!a.requires_grad() && !b.requires_grad()), name,
                ": cannot modify a tensor in place while it, or the other operand, requires ",
                "grad (use NoGradGuard, or a = a ", symbol, " b)");
  const Shape shape = BroadcastShapes(a.shape(), b.shape(), name);
  GRADWAY_CHECK(shape == a.shape(), name, ": the result of shapes ",
                ShapeToString(a.shape()), " and ", ShapeToString(b.shape()),
                " would have shape ", ShapeToString(shape), ", not the left operand's ",
                ShapeToString(a.shape()));
  // b is read while a is written: copy it first when they share memory.
  const Tensor other = b.SameStorage(a) ? b.Clone() : b;
  const float* pb = other.data();
  float* pa = a.data();  // bumps the version: ops that saved a will see the write
  if (other.shape() == shape) {
    ops::Binary(op, pa, pb, pa, a.numel());
  } else {
    ops::BroadcastBinary(op, pa, shape, pb, PadShape(other.shape(), shape.size()), pa, shape);
  }
  return a;
}

void CheckScalarInPlace(const Tensor& a, const char* name, const char* symbol) {
  GRADWAY_CHECK(!GradEnabled() || !a.requires_grad(), name,
                ": cannot modify a tensor in place while it requires grad (use NoGradGuard, ",
                "or a = a ", symbol, " s)");
}

}  // namespace

Tensor& operator+=(Tensor& a, const Tensor& b) {
  return BinaryInPlace(ops::BinaryOp::kAdd, a, b, "add_", "+");
}
Tensor& operator-=(Tensor& a, const Tensor& b) {
  return BinaryInPlace(ops::BinaryOp::kSub, a, b, "sub_", "-");
}
Tensor& operator*=(Tensor& a, const Tensor& b) {
  return BinaryInPlace(ops::BinaryOp::kMul, a, b, "mul_", "*");
}
Tensor& operator/=(Tensor& a, const Tensor& b) {
  return BinaryInPlace(ops::BinaryOp::kDiv, a, b, "div_", "/");
}

Tensor& operator+=(Tensor& a, float s) {
  CheckScalarInPlace(a, "add_", "+");
  float* p = a.data();
  ops::AddScalar(p, s, p, a.numel());
  return a;
}
Tensor& operator-=(Tensor& a, float s) {
  CheckScalarInPlace(a, "sub_", "-");
  float* p = a.data();
  ops::AddScalar(p, -s, p, a.numel());
  return a;
}
Tensor& operator*=(Tensor& a, float s) {
  CheckScalarInPlace(a, "mul_", "*");
  float* p = a.data();
  ops::Scale(p, s, p, a.numel());
  return a;
}
Tensor& operator/=(Tensor& a, float s) {
  CheckScalarInPlace(a, "div_", "/");
  float* p = a.data();
  ops::Scale(p, 1.f / s, p, a.numel());  // as x / s (MulScalar by 1 / s)
  return a;
}

Tensor Reshape(const Tensor& x, const Shape& shape) { return x.Reshape(shape); }
Tensor Flatten(const Tensor& x, int start_dim) { return x.Flatten(start_dim); }
Tensor Transpose(const Tensor& x) { return x.Transpose(); }

}  // namespace gradway
