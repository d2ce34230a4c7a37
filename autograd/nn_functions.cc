#include "autograd/nn_functions.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/graph.h"
#include "autograd/internal/node.h"
#include "autograd/internal/tensor_impl.h"
#include "ops/batch_norm.h"
#include "ops/conv.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/layer_norm.h"
#include "ops/matmul.h"
#include "ops/pool.h"
#include "ops/softmax.h"

namespace gradway {
namespace {

void CheckImage(const Tensor& x, const char* op) {
  GRADWAY_CHECK(x.rank() == 4, op, ": expected an NHWC input (batch, height, width, ",
                "channels), got shape ", ShapeToString(x.shape()));
}

// rows x cols view of x over its last axis.
void RowsCols(const Tensor& x, const char* op, int64_t* rows, int64_t* cols) {
  GRADWAY_CHECK(x.rank() >= 1, op, ": expected at least 1 dimension, got a scalar");
  *cols = x.shape().back();
  *rows = *cols == 0 ? 0 : x.numel() / *cols;
}

// A buffer of at least `bytes` bytes from the tensor storage cache, for the integer
// side data some ops keep for backward (max-pool argmax, dropout mask): reused between
// steps like activations, never zero-filled.
Tensor ScratchBytes(int64_t bytes) {
  return Tensor::Empty({(bytes + static_cast<int64_t>(sizeof(float)) - 1) /
                        static_cast<int64_t>(sizeof(float))});
}

// The gradient reaching the op under a fused ReLU: g where y > 0, else 0 (y = the ReLU's
// output). Without ReLU, g itself. (LinearRelu when w needs no gradient; otherwise the
// mask is applied inside the GEMMs.)
Tensor ReluGrad(const Tensor& y, const Tensor& g, bool relu) {
  if (!relu) return g;
  Tensor dy = Tensor::Empty(g.shape());
  ops::ReluBackward(y.data(), g.data(), dy.data(), g.numel());
  return dy;
}

}  // namespace

// ---------------------------------------------------------------- Linear

namespace {

// Linear, then ReLU when `relu`: applied by the GEMM's epilogue in forward, and its mask
// by the weight-gradient GEMM's prologue in backward (which also yields db and the masked
// gradient for dx), so neither direction makes a separate pass for the ReLU.
Tensor LinearImpl(const Tensor& x, const Tensor& w, const Tensor& b, bool relu,
                  const char* op) {
  GRADWAY_CHECK(x.rank() == 2 && w.rank() == 2, op, ": expected a 2-D input and ",
                "weight, got shapes ", ShapeToString(x.shape()), " and ",
                ShapeToString(w.shape()));
  const int64_t n = x.size(0), in = x.size(1), out = w.size(1);
  GRADWAY_CHECK(w.size(0) == in, op, ": input of shape ", ShapeToString(x.shape()),
                " does not match weight of shape ", ShapeToString(w.shape()));
  if (b.defined()) {
    GRADWAY_CHECK(b.shape() == Shape{out}, op, ": bias of shape ",
                  ShapeToString(b.shape()), " does not match weight of shape ",
                  ShapeToString(w.shape()));
  }
  Tensor y = Tensor::Empty({n, out});
  ops::MatMul(ops::Mat{x.data(), n, in}, ops::Mat{w.data(), in, out}, ops::OutMat{y.data(), n, out},
              ops::MatMulOptions()
                  .Bias(b.defined() ? b.data() : nullptr)
                  .Epilogue(relu ? ops::Epilogue::kRelu : ops::Epilogue::kNone));
  if (!ShouldRecord({x, w, b})) return y;
  const bool gx = x.requires_grad(), gw = w.requires_grad(),
             gb = b.defined() && b.requires_grad();
  return RecordOp(op, y, {x, w, b},
                  Save(gw ? x : Tensor(), gx ? w : Tensor(), relu ? y : Tensor()),
                  [relu, gx, gw, gb, n, in, out](const Tensor& grad, const Tensor& x,
                                                 const Tensor& w, const Tensor& y)
                      -> std::vector<Tensor> {
                    Tensor dx, dw, db;
                    Tensor g;  // grad ⊙ (y > 0) with relu, else grad
                    if (relu && gw) {
                      // The mask applied as dw = xᵀ · g packs grad; db = the column sums
                      // of g and (for dx) g itself come from that same read.
                      dw = Tensor::Empty({in, out});
                      if (gb) db = Tensor::Empty({out});
                      if (gx) g = Tensor::Empty({n, out});
                      ops::MatMulReluMaskedB(ops::Mat{x.data(), n, in}.Transposed(),
                                             ops::Mat{grad.data(), n, out}, y.data(),
                                             ops::OutMat{dw.data(), in, out},
                                             gb ? db.data() : nullptr, gx ? g.data() : nullptr);
                    } else {
                      g = ReluGrad(y, grad, relu);
                      if (gw) {  // dw = xᵀ · g
                        dw = Tensor::Empty({in, out});
                        ops::MatMul(ops::Mat{x.data(), n, in}.Transposed(),
                                    ops::Mat{g.data(), n, out}, ops::OutMat{dw.data(), in, out});
                      }
                      if (gb) {  // db = sum over rows of g
                        db = Tensor::Empty({out});
                        ops::SumAxis(g.data(), 1, n, out, db.data());
                      }
                    }
                    if (gx) {  // dx = g · wᵀ
                      dx = Tensor::Empty({n, in});
                      ops::MatMul(ops::Mat{g.data(), n, out},
                                  ops::Mat{w.data(), in, out}.Transposed(),
                                  ops::OutMat{dx.data(), n, in});
                    }
                    return {dx, dw, db};
                  });
}

}  // namespace

Tensor Linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  return LinearImpl(x, w, b, false, "linear");
}

Tensor LinearRelu(const Tensor& x, const Tensor& w, const Tensor& b) {
  return LinearImpl(x, w, b, true, "linear_relu");
}

// ---------------------------------------------------------------- Convolution

namespace {

// Conv2D; when `relu`, the ReLU runs in the kernels: in the forward's epilogue, and as the
// gradient mask (y > 0) the backward kernels apply while reading the incoming gradient.
Tensor Conv2DImpl(const Tensor& x, const Tensor& w, const Tensor& b, int stride_h,
                  int stride_w, Padding padding, bool relu) {
  CheckImage(x, "conv2d");
  GRADWAY_CHECK(w.rank() == 4, "conv2d: expected a kernel of shape (kh x kw x cin x cout), ",
                "got ", ShapeToString(w.shape()));
  GRADWAY_CHECK(w.size(2) == x.size(3), "conv2d: input of shape ", ShapeToString(x.shape()),
                " has ", x.size(3), " channels but the kernel of shape ",
                ShapeToString(w.shape()), " expects ", w.size(2));
  GRADWAY_CHECK(stride_h >= 1 && stride_w >= 1, "conv2d: strides must be >= 1, got ",
                stride_h, "x", stride_w);
  if (b.defined()) {
    GRADWAY_CHECK(b.shape() == Shape{w.size(3)}, "conv2d: bias of shape ",
                  ShapeToString(b.shape()), " does not match kernel of shape ",
                  ShapeToString(w.shape()));
  }
  if (padding == Padding::kValid) {
    GRADWAY_CHECK(x.size(1) >= w.size(0) && x.size(2) >= w.size(1), "conv2d: input of ",
                  "shape ", ShapeToString(x.shape()), " is smaller than the kernel of shape ",
                  ShapeToString(w.shape()), " with valid padding");
  }
  const ops::Conv2DShape s =
      ops::MakeConv2DShape(x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(1),
                           w.size(3), stride_h, stride_w, padding);
  Tensor y = Tensor::Empty({s.n, s.out_h, s.out_w, s.cout});
  ops::Conv2DForward(
      x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(), s,
      ops::ConvForwardOptions().Epilogue(relu ? ops::Epilogue::kRelu : ops::Epilogue::kNone));
  if (!ShouldRecord({x, w, b})) return y;
  const bool gx = x.requires_grad(), gw = w.requires_grad(),
             gb = b.defined() && b.requires_grad();
  // The weight-gradient kernel, which also yields db, reads x.
  return RecordOp(relu ? "conv2d_relu" : "conv2d", y, {x, w, b},
                  Save(gw || gb ? x : Tensor(), gx ? w : Tensor(), relu ? y : Tensor()),
                  [sx = x.shape(), sw = w.shape(), relu, s, gx, gw, gb](
                      const Tensor& grad, const Tensor& x, const Tensor& w,
                      const Tensor& y) -> std::vector<Tensor> {
                    // The ReLU's mask is applied by the kernels as they read grad.
                    const float* relu_y = relu ? y.data() : nullptr;
                    Tensor dx, dw, db;
                    if (gx) {
                      dx = Tensor::Empty(sx);
                      ops::Conv2DBackwardData(grad.data(), w.data(), dx.data(), s,
                                              ops::ConvBackwardOptions().ReluY(relu_y));
                    }
                    if (gw || gb) {
                      dw = Tensor::Empty(sw);
                      db = Tensor::Empty({s.cout});
                      ops::Conv2DBackwardWeights(x.data(), grad.data(), dw.data(), db.data(), s,
                                                 ops::ConvBackwardOptions().ReluY(relu_y));
                    }
                    return {gx ? dx : Tensor(), gw ? dw : Tensor(), gb ? db : Tensor()};
                  });
}

}  // namespace

Tensor Conv2D(const Tensor& x, const Tensor& w, const Tensor& b, int stride_h, int stride_w,
              Padding padding) {
  return Conv2DImpl(x, w, b, stride_h, stride_w, padding, false);
}

Tensor Conv2DRelu(const Tensor& x, const Tensor& w, const Tensor& b, int stride_h,
                  int stride_w, Padding padding) {
  return Conv2DImpl(x, w, b, stride_h, stride_w, padding, true);
}

// ---------------------------------------------------------------- Pooling

namespace {

ops::Pool2DShape PoolShape(const Tensor& x, int pool_h, int pool_w, int stride_h,
                           int stride_w, Padding padding, const char* op) {
  CheckImage(x, op);
  GRADWAY_CHECK(pool_h >= 1 && pool_w >= 1 && stride_h >= 1 && stride_w >= 1, op,
                ": pool size and strides must be >= 1, got pool ", pool_h, "x", pool_w,
                " and strides ", stride_h, "x", stride_w);
  if (padding == Padding::kValid) {
    GRADWAY_CHECK(x.size(1) >= pool_h && x.size(2) >= pool_w, op, ": input of shape ",
                  ShapeToString(x.shape()), " is smaller than the pool ", pool_h, "x",
                  pool_w, " with ", PaddingName(padding), " padding");
  }
  return ops::MakePool2DShape(x.size(0), x.size(1), x.size(2), x.size(3), pool_h, pool_w,
                              stride_h, stride_w, padding);
}

}  // namespace

Tensor MaxPool2D(const Tensor& x, int pool_h, int pool_w, int stride_h, int stride_w,
                 Padding padding) {
  const ops::Pool2DShape s =
      PoolShape(x, pool_h, pool_w, stride_h, stride_w, padding, "max_pool2d");
  Tensor y = Tensor::Empty({s.n, s.out_h, s.out_w, s.c});
  if (!ShouldRecord({x})) {
    ops::MaxPool2DForward(x.data(), y.data(), nullptr, s);
    return y;
  }
  // The argmax indices live in a cached storage buffer, reused between steps.
  Tensor argmax = ScratchBytes(y.numel() * static_cast<int64_t>(sizeof(int32_t)));
  ops::MaxPool2DForward(x.data(), y.data(), reinterpret_cast<int32_t*>(argmax.data()), s);
  return RecordOp("max_pool2d", y, {x}, Save(argmax),
                  [s, shape = x.shape()](const Tensor& g,
                                         const Tensor& argmax) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(shape);
                    ops::MaxPool2DBackward(g.data(),
                                           reinterpret_cast<const int32_t*>(argmax.data()),
                                           dx.data(), s);
                    return {dx};
                  });
}

Tensor AvgPool2D(const Tensor& x, int pool_h, int pool_w, int stride_h, int stride_w,
                 Padding padding) {
  const ops::Pool2DShape s =
      PoolShape(x, pool_h, pool_w, stride_h, stride_w, padding, "avg_pool2d");
  Tensor y = Tensor::Empty({s.n, s.out_h, s.out_w, s.c});
  ops::AvgPool2DForward(x.data(), y.data(), s);
  return RecordOp("avg_pool2d", y, {x}, Save(),
                  [s, shape = x.shape()](const Tensor& g) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(shape);
                    ops::AvgPool2DBackward(g.data(), dx.data(), s);
                    return {dx};
                  });
}

namespace {

// The checked geometry of a global pooling of x [n, h, w, c]: n, h * w positions, c.
struct GlobalPoolGeometry {
  int64_t n, hw, c;
};

GlobalPoolGeometry GlobalPoolShape(const Tensor& x, const char* op) {
  CheckImage(x, op);
  GRADWAY_CHECK(x.size(1) > 0 && x.size(2) > 0, op, ": input of shape ",
                ShapeToString(x.shape()), " has no positions to pool (height and width ",
                "must be at least 1)");
  return {x.size(0), x.size(1) * x.size(2), x.size(3)};
}

}  // namespace

Tensor GlobalAvgPool2D(const Tensor& x) {
  const GlobalPoolGeometry s = GlobalPoolShape(x, "global_avg_pool2d");
  Tensor y = Tensor::Empty({s.n, s.c});
  ops::GlobalAvgPool2DForward(x.data(), y.data(), s.n, s.hw, s.c);
  return RecordOp("global_avg_pool2d", y, {x}, Save(),
                  [s, shape = x.shape()](const Tensor& g) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(shape);
                    ops::GlobalAvgPool2DBackward(g.data(), dx.data(), s.n, s.hw, s.c);
                    return {dx};
                  });
}

Tensor GlobalMaxPool2D(const Tensor& x) {
  const GlobalPoolGeometry s = GlobalPoolShape(x, "global_max_pool2d");
  GRADWAY_CHECK(s.hw <= std::numeric_limits<int32_t>::max(), "global_max_pool2d: input of shape ",
                ShapeToString(x.shape()), " has more than 2^31 - 1 positions per image");
  Tensor y = Tensor::Empty({s.n, s.c});
  if (!ShouldRecord({x})) {
    ops::GlobalMaxPool2DForward(x.data(), y.data(), nullptr, s.n, s.hw, s.c);
    return y;
  }
  // Each maximum's position, in a cached storage buffer reused between steps.
  Tensor argmax = ScratchBytes(y.numel() * static_cast<int64_t>(sizeof(int32_t)));
  ops::GlobalMaxPool2DForward(x.data(), y.data(), reinterpret_cast<int32_t*>(argmax.data()),
                              s.n, s.hw, s.c);
  return RecordOp("global_max_pool2d", y, {x}, Save(argmax),
                  [s, shape = x.shape()](const Tensor& g,
                                         const Tensor& argmax) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(shape);
                    ops::GlobalMaxPool2DBackward(
                        g.data(), reinterpret_cast<const int32_t*>(argmax.data()), dx.data(),
                        s.n, s.hw, s.c);
                    return {dx};
                  });
}

// ---------------------------------------------------------------- Softmax

namespace {

// The permutation that moves `axis` last, and the one that moves it back.
std::vector<int> AxisLast(int rank, int axis) {
  std::vector<int> dims;
  for (int d = 0; d < rank; ++d) {
    if (d != axis) dims.push_back(d);
  }
  dims.push_back(axis);
  return dims;
}

std::vector<int> AxisBack(int rank, int axis) {
  std::vector<int> dims(rank);
  const std::vector<int> last = AxisLast(rank, axis);
  for (int i = 0; i < rank; ++i) dims[last[i]] = i;
  return dims;
}

}  // namespace

Tensor Softmax(const Tensor& x, int axis) {
  GRADWAY_CHECK(x.rank() >= 1, "softmax: expected at least 1 dimension, got a scalar");
  const int a = NormalizeAxis(axis, x.rank(), "softmax");
  if (a != x.rank() - 1) {
    return Permute(Softmax(Permute(x, AxisLast(x.rank(), a))), AxisBack(x.rank(), a));
  }
  int64_t rows, cols;
  RowsCols(x, "softmax", &rows, &cols);
  Tensor y = Tensor::Empty(x.shape());
  ops::Softmax(x.data(), y.data(), rows, cols);
  Tensor out = RecordOp("softmax", y, {x}, Save(y),
                        [rows, cols](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
                          Tensor dx = Tensor::Empty(y.shape());
                          ops::SoftmaxBackward(y.data(), g.data(), dx.data(), rows, cols);
                          return {dx};
                        });
  SetLogits(out, LogitsOf::kSoftmax, x);
  return out;
}

Tensor MaskedSoftmax(const Tensor& x, const Tensor& mask, bool causal) {
  GRADWAY_CHECK(x.rank() >= 1, "masked_softmax: expected at least 1 dimension, got a scalar");
  GRADWAY_CHECK(!causal || x.rank() >= 2, "masked_softmax: a causal mask needs queries and ",
                "keys (rank >= 2), got shape ", ShapeToString(x.shape()));
  Tensor full;  // the mask at x's shape (BroadcastTo copies it without recording a graph)
  if (mask.defined()) {
    const Shape s = BroadcastShapes(x.shape(), mask.shape(), "masked_softmax");
    GRADWAY_CHECK(s == x.shape(), "masked_softmax: mask of shape ", ShapeToString(mask.shape()),
                  " does not broadcast to input of shape ", ShapeToString(x.shape()));
    full = BroadcastTo(mask, x.shape());
  }
  int64_t rows, cols;
  RowsCols(x, "masked_softmax", &rows, &cols);
  const int64_t queries = causal ? x.size(x.rank() - 2) : 0;
  Tensor y = Tensor::Empty(x.shape());
  ops::MaskedSoftmax(x.data(), full.defined() ? full.data() : nullptr, queries, y.data(), rows,
                     cols);
  return RecordOp("masked_softmax", y, {x}, Save(y),
                  [rows, cols](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(y.shape());
                    ops::SoftmaxBackward(y.data(), g.data(), dx.data(), rows, cols);
                    return {dx};
                  });
}

Tensor Conv2D(const Tensor& x, const Tensor& w, const Tensor& b, int stride, Padding padding) {
  return Conv2D(x, w, b, stride, stride, padding);
}

Tensor MaxPool2D(const Tensor& x, int pool, int stride, Padding padding) {
  if (stride == 0) stride = pool;
  return MaxPool2D(x, pool, pool, stride, stride, padding);
}

Tensor AvgPool2D(const Tensor& x, int pool, int stride, Padding padding) {
  if (stride == 0) stride = pool;
  return AvgPool2D(x, pool, pool, stride, stride, padding);
}

Tensor SoftmaxLogits(const Tensor& probabilities) {
  return CurrentLogits(probabilities, LogitsOf::kSoftmax);
}

Tensor SigmoidLogits(const Tensor& probabilities) {
  return CurrentLogits(probabilities, LogitsOf::kSigmoid);
}

Tensor LogSoftmax(const Tensor& x, int axis) {
  GRADWAY_CHECK(x.rank() >= 1, "log_softmax: expected at least 1 dimension, got a scalar");
  const int a = NormalizeAxis(axis, x.rank(), "log_softmax");
  if (a != x.rank() - 1) {
    return Permute(LogSoftmax(Permute(x, AxisLast(x.rank(), a))), AxisBack(x.rank(), a));
  }
  int64_t rows, cols;
  RowsCols(x, "log_softmax", &rows, &cols);
  Tensor y = Tensor::Empty(x.shape());
  ops::LogSoftmax(x.data(), y.data(), rows, cols);
  return RecordOp("log_softmax", y, {x}, Save(y),
                  [rows, cols](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(y.shape());
                    ops::LogSoftmaxBackward(y.data(), g.data(), dx.data(), rows, cols);
                    return {dx};
                  });
}

namespace {

void CheckLogits(const Tensor& logits, const char* op) {
  GRADWAY_CHECK(logits.rank() == 2 && logits.size(0) > 0 && logits.size(1) > 0, op,
                ": expected logits of shape (batch x classes), got ",
                ShapeToString(logits.shape()));
}

// loss * g, with the gradient computed by the fused kernel in forward.
Tensor RecordCrossEntropy(const char* op, float loss, Tensor dlogits, const Tensor& logits,
                          const Tensor& targets) {
  return RecordOp(op, Tensor::Scalar(loss), {logits, targets}, Save(dlogits),
                  [](const Tensor& g, const Tensor& dlogits) -> std::vector<Tensor> {
                    return {MulScalar(dlogits, g.item()), Tensor()};
                  });
}

}  // namespace

Tensor SoftmaxCrossEntropy(const Tensor& logits, const Tensor& targets) {
  CheckLogits(logits, "softmax_cross_entropy");
  GRADWAY_CHECK(targets.shape() == logits.shape(), "softmax_cross_entropy: targets of ",
                "shape ", ShapeToString(targets.shape()), " do not match logits of shape ",
                ShapeToString(logits.shape()));
  GRADWAY_CHECK(!targets.requires_grad(), "softmax_cross_entropy: the gradient with ",
                "respect to the targets is not supported");
  const int64_t rows = logits.size(0), cols = logits.size(1);
  Tensor dlogits;
  if (ShouldRecord({logits})) dlogits = Tensor::Empty(logits.shape());
  const float loss = ops::SoftmaxCrossEntropy(logits.data(), targets.data(), rows, cols,
                                              dlogits.defined() ? dlogits.data() : nullptr);
  return RecordCrossEntropy("softmax_cross_entropy", loss, dlogits, logits, targets);
}

Tensor SigmoidBinaryCrossEntropy(const Tensor& logits, const Tensor& targets) {
  GRADWAY_CHECK(logits.defined() && targets.defined(),
                "sigmoid_binary_cross_entropy: undefined tensor");
  GRADWAY_CHECK(logits.numel() > 0, "sigmoid_binary_cross_entropy: the logits are empty ",
                "(shape ", ShapeToString(logits.shape()), ")");
  GRADWAY_CHECK(targets.shape() == logits.shape(), "sigmoid_binary_cross_entropy: targets ",
                "of shape ", ShapeToString(targets.shape()), " do not match logits of shape ",
                ShapeToString(logits.shape()));
  GRADWAY_CHECK(!targets.requires_grad(), "sigmoid_binary_cross_entropy: the gradient with ",
                "respect to the targets is not supported");
  const int64_t n = logits.numel();
  const float* z = logits.data();
  const float* t = targets.data();
  Tensor dlogits;
  if (ShouldRecord({logits})) dlogits = Tensor::Empty(logits.shape());
  float* d = dlogits.defined() ? dlogits.data() : nullptr;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    // max(z, 0) - z t + log(1 + exp(-|z|)): no overflow for any z.
    const double e = std::exp(-std::fabs(static_cast<double>(z[i])));
    sum += std::max(static_cast<double>(z[i]), 0.0) - static_cast<double>(z[i]) * t[i] +
           std::log1p(e);
    if (d) {
      const double sigmoid = z[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
      d[i] = static_cast<float>((sigmoid - t[i]) / static_cast<double>(n));
    }
  }
  return RecordCrossEntropy("sigmoid_binary_cross_entropy",
                            static_cast<float>(sum / static_cast<double>(n)), dlogits, logits,
                            targets);
}

namespace {

// The fused sparse cross-entropy over checked int32 class indices.
Tensor SparseCrossEntropy(const Tensor& logits, const std::vector<int32_t>& index,
                          const Tensor& labels_for_graph) {
  const int64_t rows = logits.size(0), cols = logits.size(1);
  Tensor dlogits;
  if (ShouldRecord({logits})) dlogits = Tensor::Empty(logits.shape());
  const float loss = ops::SparseSoftmaxCrossEntropy(
      logits.data(), index.data(), rows, cols, dlogits.defined() ? dlogits.data() : nullptr);
  return RecordCrossEntropy("sparse_softmax_cross_entropy", loss, dlogits, logits,
                            labels_for_graph);
}

// Checks integer labels against the logits and converts them to int32 indices.
template <typename L>
std::vector<int32_t> CheckedIndices(const Tensor& logits, absl::Span<const L> labels) {
  CheckLogits(logits, "sparse_softmax_cross_entropy");
  const int64_t rows = logits.size(0), cols = logits.size(1);
  GRADWAY_CHECK(static_cast<int64_t>(labels.size()) == rows,
                "sparse_softmax_cross_entropy: ", labels.size(),
                " labels do not match logits of shape ", ShapeToString(logits.shape()));
  std::vector<int32_t> index(rows);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t v = static_cast<int64_t>(labels[i]);
    GRADWAY_CHECK(v >= 0 && v < cols, "sparse_softmax_cross_entropy: label ", v, " at row ",
                  i, " is not a class index in [0, ", cols, ")");
    index[i] = static_cast<int32_t>(v);
  }
  return index;
}

}  // namespace

Tensor SparseSoftmaxCrossEntropy(const Tensor& logits, const Tensor& labels) {
  CheckLogits(logits, "sparse_softmax_cross_entropy");
  const int64_t rows = logits.size(0), cols = logits.size(1);
  GRADWAY_CHECK(labels.shape() == Shape{rows}, "sparse_softmax_cross_entropy: labels of ",
                "shape ", ShapeToString(labels.shape()), " do not match logits of shape ",
                ShapeToString(logits.shape()));
  std::vector<int32_t> index(rows);
  for (int64_t i = 0; i < rows; ++i) {
    const float v = labels.data()[i];
    GRADWAY_CHECK(v >= 0 && v < cols && v == std::floor(v), "sparse_softmax_cross_entropy: ",
                  "label ", v, " at row ", i, " is not a class index in [0, ", cols, ")");
    index[i] = static_cast<int32_t>(v);
  }
  return SparseCrossEntropy(logits, index, labels);
}

Tensor SparseSoftmaxCrossEntropy(const Tensor& logits, absl::Span<const int64_t> labels) {
  return SparseCrossEntropy(logits, CheckedIndices(logits, labels), Tensor());
}

Tensor SparseSoftmaxCrossEntropy(const Tensor& logits, absl::Span<const uint8_t> labels) {
  return SparseCrossEntropy(logits, CheckedIndices(logits, labels), Tensor());
}

// ---------------------------------------------------------------- Softplus, LogSigmoid

namespace {

// sigmoid(v) without overflow.
float StableSigmoid(float v) {
  if (v >= 0.f) return 1.f / (1.f + std::exp(-v));
  const float e = std::exp(v);
  return e / (1.f + e);
}

// y = sign * softplus(sign * x), softplus(v) = max(v, 0) + log(1 + exp(-|v|)) (no overflow,
// no cancellation): Softplus with sign 1, LogSigmoid with sign -1. dy/dx = sigmoid(sign x).
Tensor SignedSoftplus(const Tensor& x, float sign, const char* name) {
  Tensor y = Tensor::Empty(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = sign * xp[i];
    yp[i] = sign * (std::max(v, 0.f) + std::log1p(std::exp(-std::fabs(v))));
  }
  return RecordOp(name, y, {x}, Save(x), [sign](const Tensor& g, const Tensor& x) {
    Tensor dx = Tensor::Empty(g.shape());
    const float* xv = x.data();
    const float* gv = g.data();
    float* d = dx.data();
    for (int64_t i = 0; i < g.numel(); ++i) d[i] = gv[i] * StableSigmoid(sign * xv[i]);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor Softplus(const Tensor& x) { return SignedSoftplus(x, 1.f, "softplus"); }
Tensor LogSigmoid(const Tensor& x) { return SignedSoftplus(x, -1.f, "log_sigmoid"); }

// ---------------------------------------------------------------- Dropout

Tensor Dropout(const Tensor& x, float rate, bool training, uint64_t seed) {
  GRADWAY_CHECK(rate >= 0.f && rate < 1.f, "dropout: rate must be in [0, 1), got ", rate);
  if (!training || rate == 0.f) return x;
  Tensor y = Tensor::Empty(x.shape());
  // The mask lives in a cached storage buffer, reused between steps.
  Tensor mask = ScratchBytes(x.numel());
  ops::DropoutForward(x.data(), y.data(), reinterpret_cast<uint8_t*>(mask.data()),
                      x.numel(), rate, seed);
  return RecordOp("dropout", y, {x}, Save(mask),
                  [rate](const Tensor& g, const Tensor& mask) -> std::vector<Tensor> {
                    Tensor dx = Tensor::Empty(g.shape());
                    ops::DropoutBackward(g.data(),
                                         reinterpret_cast<const uint8_t*>(mask.data()),
                                         dx.data(), g.numel(), rate);
                    return {dx};
                  });
}

// ---------------------------------------------------------------- Batch normalisation

namespace {

// The data pointer of an optional [C] tensor, or null when undefined.
const float* OrNull(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// Checks BatchNorm's arguments (SyncBatchNorm's per shard: `op` names it); returns the
// channel count.
int64_t CheckBatchNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       float momentum, float epsilon, const char* op = "batch_norm") {
  GRADWAY_CHECK(x.defined(), op, ": the input is undefined");
  GRADWAY_CHECK((x.rank() == 2 || x.rank() == 4) && x.shape().back() > 0, op,
                ": expected an input of shape (batch, channels) or (batch, height, ",
                "width, channels), got ", ShapeToString(x.shape()));
  const int64_t C = x.shape().back();
  const std::pair<const char*, const Tensor*> vectors[] = {
      {"gamma", &gamma}, {"beta", &beta}, {"running_mean", &running_mean},
      {"running_var", &running_var}};
  for (const auto& [name, t] : vectors) {
    if (!t->defined()) continue;
    GRADWAY_CHECK(t->shape() == Shape{C}, op, ": ", name, " of shape ",
                  ShapeToString(t->shape()), " does not match input of shape ",
                  ShapeToString(x.shape()), " with ", C, " channels");
  }
  GRADWAY_CHECK(running_mean.defined() == running_var.defined(), op,
                ": running_mean and running_var must both be given or both be undefined");
  GRADWAY_CHECK(training || running_mean.defined(), op, ": inference (training = false) ",
                "needs running_mean and running_var");
  GRADWAY_CHECK(!(running_mean.defined() &&
                  (running_mean.requires_grad() || running_var.requires_grad())),
                op, ": running_mean and running_var are statistics updated in place and ",
                "must not require a gradient");
  GRADWAY_CHECK(!training || x.numel() > 0, op, ": training needs at least one value ",
                "per channel, got input of shape ", ShapeToString(x.shape()));
  GRADWAY_CHECK(momentum >= 0.f && momentum <= 1.f, op, ": momentum must be in [0, 1], ",
                "got ", momentum);
  GRADWAY_CHECK(epsilon > 0.f, op, ": epsilon must be positive, got ", epsilon);
  return C;
}

// BatchNorm, and BatchNormRelu with epilogue kRelu (recorded as "batch_norm_relu"; its
// backward also keeps x, mean and beta, for the ReLU's mask).
Tensor BatchNormWith(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                     const Tensor& running_mean, const Tensor& running_var, bool training,
                     float momentum, float epsilon, ops::Epilogue epilogue) {
  const bool relu = epilogue == ops::Epilogue::kRelu;
  const char* op = relu ? "batch_norm_relu" : "batch_norm";
  const int64_t C = CheckBatchNorm(x, gamma, beta, running_mean, running_var, training,
                                   momentum, epsilon, op);
  const int64_t rows = x.numel() / C;
  Tensor y = Tensor::Empty(x.shape());
  Tensor mean, invstd = Tensor::Empty({C});  // what y was normalised with
  if (training) {
    mean = Tensor::Empty({C});
    const ops::BatchMoments moments =
        ops::BatchNormTrainingForward(x.data(), OrNull(gamma), OrNull(beta), rows, C, epsilon,
                                      y.data(), mean.data(), invstd.data(), epilogue);
    if (running_mean.defined()) {  // in place, through copies of the handles: no graph
      Tensor rm = running_mean, rv = running_var;
      ops::BatchNormUpdateRunning(moments, momentum, rm.data(), rv.data());
    }
  } else {
    mean = running_mean;
    ops::BatchNormInferenceForward(x.data(), running_mean.data(), running_var.data(),
                                   OrNull(gamma), OrNull(beta), rows, C, epsilon, y.data(),
                                   invstd.data(), epilogue);
  }
  if (!ShouldRecord({x, gamma, beta})) return y;
  const bool gx = x.requires_grad(), gg = gamma.defined() && gamma.requires_grad(),
             gb = beta.defined() && beta.requires_grad();
  // The reduction pass (x and the mean) serves dgamma, dbeta, and the training form's dx;
  // the ReLU's mask reads x, the mean, gamma and beta.
  const bool reduce = gg || gb || (training && gx);
  const bool reads_x = reduce || relu;
  return RecordOp(
      op, y, {x, gamma, beta},
      Save(reads_x ? x : Tensor(), gx || relu ? gamma : Tensor(), reads_x ? mean : Tensor(),
           invstd, relu ? beta : Tensor()),
      [rows, C, training, gx, gg, gb, epilogue](
          const Tensor& g, const Tensor& x, const Tensor& gamma, const Tensor& mean,
          const Tensor& invstd, const Tensor& beta) -> std::vector<Tensor> {
        Tensor dx, dgamma, dbeta;
        if (gx) dx = Tensor::Empty(g.shape());
        if (gg) dgamma = Tensor::Empty({C});
        if (gb) dbeta = Tensor::Empty({C});
        ops::BatchNormBackward(OrNull(x), g.data(), OrNull(mean), invstd.data(), OrNull(gamma),
                               rows, C, training, gx ? dx.data() : nullptr,
                               gg ? dgamma.data() : nullptr, gb ? dbeta.data() : nullptr,
                               epilogue, OrNull(beta));
        return {dx, dgamma, dbeta};
      });
}

}  // namespace

Tensor BatchNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                 const Tensor& running_mean, const Tensor& running_var, bool training,
                 float momentum, float epsilon) {
  return BatchNormWith(x, gamma, beta, running_mean, running_var, training, momentum, epsilon,
                       ops::Epilogue::kNone);
}

Tensor BatchNormRelu(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                     const Tensor& running_mean, const Tensor& running_var, bool training,
                     float momentum, float epsilon) {
  return BatchNormWith(x, gamma, beta, running_mean, running_var, training, momentum, epsilon,
                       ops::Epilogue::kRelu);
}

// ---------------------------------------------------------------- Layer norm

Tensor LayerNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float epsilon) {
  GRADWAY_CHECK(x.defined(), "layer_norm: the input is undefined");
  GRADWAY_CHECK(x.rank() >= 1 && x.shape().back() > 0, "layer_norm: expected an input with a ",
                "non-empty last axis, got shape ", ShapeToString(x.shape()));
  const int64_t C = x.shape().back(), rows = x.numel() / C;
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"gamma", &gamma},
                                std::pair<const char*, const Tensor*>{"beta", &beta}}) {
    GRADWAY_CHECK(!t->defined() || t->shape() == Shape{C}, "layer_norm: ", name, " of shape ",
                  ShapeToString(t->shape()), " does not match input of shape ",
                  ShapeToString(x.shape()), " (", C, " features on the last axis)");
  }
  GRADWAY_CHECK(epsilon > 0.f, "layer_norm: epsilon must be positive, got ", epsilon);
  Tensor y = Tensor::Empty(x.shape());
  Tensor mean = Tensor::Empty({rows}), invstd = Tensor::Empty({rows});
  ops::LayerNormForward(x.data(), OrNull(gamma), OrNull(beta), rows, C, epsilon, y.data(),
                        mean.data(), invstd.data());
  if (!ShouldRecord({x, gamma, beta})) return y;
  const bool gx = x.requires_grad(), gg = gamma.defined() && gamma.requires_grad(),
             gb = beta.defined() && beta.requires_grad();
  return RecordOp(
      "layer_norm", y, {x, gamma, beta}, Save(x, gamma, mean, invstd),
      [rows, C, gx, gg, gb](const Tensor& g, const Tensor& x, const Tensor& gamma,
                            const Tensor& mean, const Tensor& invstd) -> std::vector<Tensor> {
        Tensor dx, dgamma, dbeta;
        if (gx) dx = Tensor::Empty(g.shape());
        if (gg) dgamma = Tensor::Empty({C});
        if (gb) dbeta = Tensor::Empty({C});
        ops::LayerNormBackward(x.data(), g.data(), mean.data(), invstd.data(), OrNull(gamma),
                               rows, C, gx ? dx.data() : nullptr, gg ? dgamma.data() : nullptr,
                               gb ? dbeta.data() : nullptr);
        return {dx, dgamma, dbeta};
      });
}

// ---------------------------------------------------------------- Synchronised batch norm

namespace {

// Checks SyncBatchNorm's arguments; returns the channel count.
int64_t CheckSyncBatchNorm(const std::vector<Tensor>& xs, const Tensor& gamma,
                           const Tensor& beta, const Tensor& running_mean,
                           const Tensor& running_var, float momentum, float epsilon,
                           const std::vector<int>& shard_tags) {
  GRADWAY_CHECK(!xs.empty(), "sync_batch_norm: no shards");
  GRADWAY_CHECK(CurrentShardTag() < 0, "sync_batch_norm: called inside ShardTagScope(",
                CurrentShardTag(), "); call it outside: it records the shards' op in each "
                "shard's scope (shard_tags) and the statistics in none");
  GRADWAY_CHECK(shard_tags.empty() || shard_tags.size() == xs.size(), "sync_batch_norm: ",
                shard_tags.size(), " shard tags for ", xs.size(), " shards");
  int64_t C = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    C = CheckBatchNorm(xs[i], gamma, beta, running_mean, running_var, true, momentum, epsilon,
                       "sync_batch_norm");
    const Shape& a = xs[0].shape();
    const Shape& b = xs[i].shape();
    GRADWAY_CHECK(a.size() == b.size() && std::equal(a.begin() + 1, a.end(), b.begin() + 1),
                  "sync_batch_norm: shards 0 and ", i, " have shapes ", ShapeToString(a),
                  " and ", ShapeToString(b), "; the shards of a batch differ only in rows");
  }
  return C;
}

// The values of every shard of the batch, `width` a shard: gather's, or `local` when the
// shards here are the whole batch.
std::vector<double> GatherShards(const ShardGather& gather, const std::vector<double>& local,
                                 int64_t width) {
  if (!gather) return local;
  std::vector<double> all = gather(local, width);
  GRADWAY_CHECK(!all.empty() && all.size() % static_cast<size_t>(width) == 0,
                "sync_batch_norm: the shards' gather returned ", all.size(),
                " values, not a positive multiple of ", width, " (one part per shard)");
  return all;
}

// The whole batch's moments: each shard's count, mean and m2, gathered from every process
// and combined in the fixed tree over the batch's shards.
ops::BatchMoments BatchMomentsOfShards(const std::vector<Tensor>& xs, int64_t C,
                                       const ShardGather& gather) {
  const int64_t width = 1 + 2 * C;
  std::vector<double> local(xs.size() * width);
  for (size_t i = 0; i < xs.size(); ++i) {
    const ops::BatchMoments m = ops::BatchNormMoments(xs[i].data(), xs[i].numel() / C, C);
    double* at = local.data() + i * width;
    at[0] = static_cast<double>(m.count);
    std::copy(m.mean.begin(), m.mean.end(), at + 1);
    std::copy(m.m2.begin(), m.m2.end(), at + 1 + C);
  }
  const std::vector<double> all = GatherShards(gather, local, width);
  std::vector<ops::BatchMoments> parts(all.size() / width);
  for (size_t k = 0; k < parts.size(); ++k) {
    const double* at = all.data() + k * width;
    parts[k].count = static_cast<int64_t>(at[0]);
    parts[k].mean.assign(at + 1, at + 1 + C);
    parts[k].m2.assign(at + 1 + C, at + width);
  }
  return ops::CombineMomentsTree(std::move(parts));
}

// Records "sync_batch_norm_stats": stats [k, 2, C] (each shard's row: mean, then invstd)
// over the k shards xs. Its backward receives, in stats' gradient, each shard's sums
// sum(dy) and sum(dy * xhat) from that shard's "sync_batch_norm" (zeros elsewhere: the
// gradient is a message between the two ops, not the derivative with respect to stats,
// which never leaves SyncBatchNorm), adds every shard's of the batch in the fixed tree, and
// returns each shard's batch term of dx.
Tensor RecordShardStatistics(Tensor stats, const std::vector<Tensor>& xs, const Tensor& gamma,
                             int64_t count, const ShardGather& gather) {
  if (!ShouldRecord(xs)) return stats;
  const int64_t k = static_cast<int64_t>(xs.size()), C = stats.shape().back();
  std::vector<bool> needs;
  for (const Tensor& x : xs) needs.push_back(x.requires_grad());
  std::vector<Tensor> saved = xs;
  saved.push_back(gamma);
  saved.push_back(stats);
  return RecordOp(
      "sync_batch_norm_stats", stats, xs, SaveList(std::move(saved)),
      [k, C, count, needs, gather](const Tensor& g,
                                   const std::vector<Tensor>& saved) -> std::vector<Tensor> {
        // The engine added the shards' messages, each zero outside its own row: a -0 stays
        // -0 when this process holds one shard and turns +0 when it holds more, so -0 is
        // read as +0 (adding +0.0) to give the same bits either way.
        const float* pg = g.data();
        std::vector<double> local(static_cast<size_t>(k * 2 * C));
        for (size_t i = 0; i < local.size(); ++i) local[i] = static_cast<double>(pg[i]) + 0.0;
        const std::vector<double> all = GatherShards(gather, local, 2 * C);
        std::vector<std::vector<double>> parts;
        for (size_t at = 0; at < all.size(); at += 2 * C) {
          parts.emplace_back(all.begin() + at, all.begin() + at + 2 * C);
        }
        const std::vector<double> sums = ops::SumPartsTree(std::move(parts));
        std::vector<float> sum_dy(C), sum_dy_xhat(C);
        for (int64_t c = 0; c < C; ++c) {
          sum_dy[c] = static_cast<float>(sums[c]);
          sum_dy_xhat[c] = static_cast<float>(sums[C + c]);
        }
        const Tensor& gamma = saved[k];
        const float* mean = saved[k + 1].data();  // shard 0's row: every row is the same
        const float* invstd = mean + C;
        std::vector<Tensor> dxs(k);
        for (int64_t i = 0; i < k; ++i) {
          if (!needs[i]) continue;
          const Tensor& x = saved[i];
          dxs[i] = Tensor::Zeros(x.shape());  // dy = 0: the batch term alone
          ops::BatchNormBackwardData(x.data(), dxs[i].data(), mean, invstd, OrNull(gamma),
                                     sum_dy_xhat.data(), sum_dy.data(), count,
                                     x.numel() / C, C, dxs[i].data());
        }
        return dxs;
      });
}

// Shard i's "sync_batch_norm": y = gamma * (x - mean) * invstd + beta with stats' row i.
// Its backward gives gamma and beta their gradients from this shard, x the direct term
// gamma * invstd * dy, and stats the shard's sums (the message RecordShardStatistics reads).
Tensor NormalizeShard(const Tensor& x, const Tensor& stats, int64_t i, const Tensor& gamma,
                      const Tensor& beta) {
  const int64_t k = stats.size(0), C = stats.shape().back(), rows = x.numel() / C;
  const float* mean = stats.data() + i * 2 * C;
  Tensor y = Tensor::Empty(x.shape());
  ops::BatchNormNormalize(x.data(), mean, mean + C, OrNull(gamma), OrNull(beta), rows, C,
                          y.data());
  if (!ShouldRecord({x, stats, gamma, beta})) return y;
  const bool gx = x.requires_grad(), gs = stats.requires_grad(),
             gg = gamma.defined() && gamma.requires_grad(),
             gb = beta.defined() && beta.requires_grad();
  const bool reduce = gs || gg || gb;
  return RecordOp(
      "sync_batch_norm", y, {x, stats, gamma, beta},
      Save(reduce ? x : Tensor(), stats, gx ? gamma : Tensor()),
      [i, k, C, rows, gx, gs, gg, gb, reduce](const Tensor& g, const Tensor& x,
                                              const Tensor& stats,
                                              const Tensor& gamma) -> std::vector<Tensor> {
        const float* mean = stats.data() + i * 2 * C;
        const float* invstd = mean + C;
        std::vector<float> sum_dy_xhat(C), sum_dy(C);
        if (reduce) {
          ops::BatchNormBackwardReduce(x.data(), g.data(), mean, invstd, rows, C,
                                       sum_dy_xhat.data(), sum_dy.data());
        }
        Tensor dx, dstats, dgamma, dbeta;
        if (gx) {
          dx = Tensor::Empty(g.shape());
          ops::BatchNormBackwardData(nullptr, g.data(), nullptr, invstd, OrNull(gamma),
                                     nullptr, nullptr, rows, rows, C, dx.data());
        }
        if (gs) {
          dstats = Tensor::Zeros({k, 2, C});
          std::copy(sum_dy.begin(), sum_dy.end(), dstats.data() + i * 2 * C);
          std::copy(sum_dy_xhat.begin(), sum_dy_xhat.end(), dstats.data() + i * 2 * C + C);
        }
        if (gg) dgamma = Tensor::FromVector(sum_dy_xhat, {C});
        if (gb) dbeta = Tensor::FromVector(sum_dy, {C});
        return {dx, dstats, dgamma, dbeta};
      });
}

}  // namespace

std::vector<Tensor> SyncBatchNorm(const std::vector<Tensor>& xs, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& running_mean,
                                  const Tensor& running_var, float momentum, float epsilon,
                                  const ShardGather& gather,
                                  const std::vector<int>& shard_tags) {
  const int64_t C = CheckSyncBatchNorm(xs, gamma, beta, running_mean, running_var, momentum,
                                       epsilon, shard_tags);
  const ops::BatchMoments moments = BatchMomentsOfShards(xs, C, gather);
  GRADWAY_CHECK(moments.count >= 1, "sync_batch_norm: the batch has no rows");
  const int64_t k = static_cast<int64_t>(xs.size());
  Tensor stats = Tensor::Empty({k, 2, C});
  float* st = stats.data();
  ops::BatchNormStatistics(moments, epsilon, st, st + C);
  for (int64_t i = 1; i < k; ++i) std::copy(st, st + 2 * C, st + i * 2 * C);
  if (running_mean.defined()) {  // in place, through copies of the handles: no graph
    Tensor rm = running_mean, rv = running_var;
    ops::BatchNormUpdateRunning(moments, momentum, rm.data(), rv.data());
  }
  stats = RecordShardStatistics(stats, xs, gamma, moments.count, gather);
  std::vector<Tensor> ys;
  for (int64_t i = 0; i < k; ++i) {
    std::optional<ShardTagScope> scope;
    if (!shard_tags.empty()) scope.emplace(shard_tags[i]);
    ys.push_back(NormalizeShard(xs[i], stats, i, gamma, beta));
  }
  return ys;
}

}  // namespace gradway
