#include "nn/losses.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/nn_functions.h"

namespace gradway {
namespace nn {
namespace {

constexpr float kEpsilon = 1e-7f;

void Check2D(const char* loss, const Tensor& y_pred, const Tensor& y_true) {
  GRADWAY_CHECK(y_pred.defined() && y_true.defined(), loss, ": undefined tensor");
  GRADWAY_CHECK(y_pred.rank() == 2 && y_pred.shape() == y_true.shape(), loss,
                ": y_pred and y_true must both be (N, classes), got ",
                ShapeToString(y_pred.shape()), " and ", ShapeToString(y_true.shape()));
}

// Labels [N] or [N, 1] as floats -> [N]; checks them against `classes`.
Tensor SparseLabels(const char* loss, const Tensor& y_pred, const Tensor& y_true) {
  GRADWAY_CHECK(y_pred.defined() && y_true.defined(), loss, ": undefined tensor");
  GRADWAY_CHECK(y_pred.rank() == 2, loss, ": y_pred must be (N, classes), got ",
                ShapeToString(y_pred.shape()));
  bool ok = (y_true.rank() == 1 || (y_true.rank() == 2 && y_true.size(1) == 1)) &&
            y_true.size(0) == y_pred.size(0);
  GRADWAY_CHECK(ok, loss, ": y_true must be class indices (N) or (N, 1) for y_pred ",
                ShapeToString(y_pred.shape()), ", got ", ShapeToString(y_true.shape()));
  return y_true.rank() == 1 ? y_true : y_true.Reshape({y_true.size(0)});
}

Tensor OneHot(const char* loss, const Tensor& labels, int64_t classes) {
  Tensor t = Tensor::Zeros({labels.size(0), classes});
  const float* l = labels.data();
  float* p = t.data();
  for (int64_t i = 0; i < labels.size(0); ++i) {
    float v = l[i];
    GRADWAY_CHECK(v >= 0 && v < classes && v == std::floor(v), loss, ": label ", v,
                  " at row ", i, " is not a class index in [0, ", classes, ")");
    p[i * classes + static_cast<int64_t>(v)] = 1.f;
  }
  return t;
}

// Keras: p / sum(p) per row, clipped, then -mean(sum(t * log(p))).
Tensor CrossEntropyOnProbabilities(const Tensor& y_pred, const Tensor& targets) {
  Tensor p = y_pred / Sum(y_pred, 1, /*keepdim=*/true);
  Tensor logp = Log(Clip(p, kEpsilon, 1.f - kEpsilon));
  return -Mean(Sum(targets * logp, 1));
}

// The logits a loss fuses with: cut from the graph when y_pred itself is (made under
// NoGradGuard), so the loss has a graph exactly when the unfused one would.
Tensor FusedLogits(const Tensor& logits, const Tensor& y_pred) {
  if (logits.defined() && logits.requires_grad() && !y_pred.requires_grad()) {
    return logits.Detach();
  }
  return logits;
}

}  // namespace

Tensor CategoricalCrossentropy::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  Check2D("categorical_crossentropy", y_pred, y_true);
  if (from_logits_) return SoftmaxCrossEntropy(y_pred, y_true);
  Tensor logits = FusedLogits(SoftmaxLogits(y_pred), y_pred);
  if (logits.defined()) return SoftmaxCrossEntropy(logits, y_true);
  return CrossEntropyOnProbabilities(y_pred, y_true);
}

Tensor SparseCategoricalCrossentropy::operator()(const Tensor& y_pred,
                                                 const Tensor& y_true) const {
  const char* kName = "sparse_categorical_crossentropy";
  Tensor labels = SparseLabels(kName, y_pred, y_true);
  if (from_logits_) return SparseSoftmaxCrossEntropy(y_pred, labels);
  Tensor logits = FusedLogits(SoftmaxLogits(y_pred), y_pred);
  if (logits.defined()) return SparseSoftmaxCrossEntropy(logits, labels);
  return CrossEntropyOnProbabilities(y_pred, OneHot(kName, labels, y_pred.size(1)));
}

Tensor MaskedSparseCategoricalCrossentropy::operator()(const Tensor& y_pred,
                                                       const Tensor& y_true) const {
  const char* kName = "sparse_categorical_crossentropy";
  GRADWAY_CHECK(y_pred.defined() && y_true.defined(), kName, ": undefined tensor");
  GRADWAY_CHECK(y_pred.rank() >= 2, kName, ": y_pred must be (N, ..., classes), got ",
                ShapeToString(y_pred.shape()));
  const int64_t C = y_pred.shape().back(), rows = y_pred.numel() / std::max<int64_t>(C, 1);
  const Shape leading(y_pred.shape().begin(), y_pred.shape().end() - 1);
  Shape with_one = leading;
  with_one.push_back(1);
  GRADWAY_CHECK(y_true.shape() == leading || y_true.shape() == with_one, kName,
                ": y_true must be class indices ", ShapeToString(leading), " for y_pred ",
                ShapeToString(y_pred.shape()), ", got ", ShapeToString(y_true.shape()));
  // The rows (positions) to count, and their labels.
  std::vector<int64_t> kept, labels;
  for (int64_t i = 0; i < rows; ++i) {
    const float v = y_true.data()[i];
    if (v == static_cast<float>(ignore_class_)) continue;
    GRADWAY_CHECK(v >= 0 && v < C && v == std::floor(v), kName, ": label ", v,
                  " at position ", i, " is not a class index in [0, ", C, ") nor ignore_class ",
                  ignore_class_);
    kept.push_back(i);
    labels.push_back(static_cast<int64_t>(v));
  }
  if (kept.empty()) return MulScalar(Sum(y_pred), 0.f);  // 0, still connected to the graph
  Tensor logits = from_logits_ ? y_pred : FusedLogits(SoftmaxLogits(y_pred), y_pred);
  if (logits.defined()) {
    return SparseSoftmaxCrossEntropy(Gather(logits.Reshape({rows, C}), kept, 0), labels);
  }
  Tensor targets = Tensor::Zeros({static_cast<int64_t>(kept.size()), C});
  for (size_t k = 0; k < labels.size(); ++k) targets.data()[k * C + labels[k]] = 1.f;
  return CrossEntropyOnProbabilities(Gather(y_pred.Reshape({rows, C}), kept, 0), targets);
}

Tensor BinaryCrossentropy::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  const char* kName = "binary_crossentropy";
  GRADWAY_CHECK(y_pred.defined() && y_true.defined(), kName, ": undefined tensor");
  GRADWAY_CHECK(y_pred.rank() == 1 || y_pred.rank() == 2, kName,
                ": y_pred must be (N) or (N, k) probabilities, got ",
                ShapeToString(y_pred.shape()));
  // One value per row, [N] against [N, 1] either way: Keras squeezes the extra axis.
  const auto one_per_row = [](const Tensor& t) {
    return (t.rank() == 1 || t.rank() == 2) && t.numel() == t.size(0);
  };
  Tensor targets = y_true;
  if (one_per_row(y_pred) && one_per_row(y_true) && y_true.size(0) == y_pred.size(0)) {
    targets = y_true.Reshape(y_pred.shape());
  }
  GRADWAY_CHECK(targets.shape() == y_pred.shape(), kName,
                ": y_pred and y_true shapes differ: ", ShapeToString(y_pred.shape()), " and ",
                ShapeToString(y_true.shape()));
  if (from_logits_) return SigmoidBinaryCrossEntropy(y_pred, targets);
  Tensor logits = FusedLogits(SigmoidLogits(y_pred), y_pred);
  if (logits.defined()) return SigmoidBinaryCrossEntropy(logits, targets);
  Tensor p = Clip(y_pred, kEpsilon, 1.f - kEpsilon);
  return -Mean(targets * Log(p) + (1.f - targets) * Log(1.f - p));
}

Tensor MeanSquaredError::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  GRADWAY_CHECK(y_pred.defined() && y_true.defined(), "mean_squared_error: undefined tensor");
  GRADWAY_CHECK(y_pred.shape() == y_true.shape(),
                "mean_squared_error: y_pred and y_true shapes differ: ",
                ShapeToString(y_pred.shape()), " and ", ShapeToString(y_true.shape()));
  Tensor d = y_pred - y_true;
  return Mean(d * d);
}

}  // namespace nn
}  // namespace gradway
