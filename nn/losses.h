// Losses (Keras' keras.losses), each the mean over the batch.
//
// The categorical cross-entropies take the model's output probabilities y_pred
// [N, classes]. When y_pred is the output of a softmax (any module's: a Dense with softmax
// activation, a Softmax layer, a custom module calling gradway::Softmax), the loss is
// computed from that softmax's logits with the fused, numerically stable
// SoftmaxCrossEntropy (autograd/nn_functions.h), as Keras does; its gradient goes straight
// to the logits. Otherwise the loss is Keras' -mean(sum(t * log(clip(p, 1e-7, 1 - 1e-7)))).
// BinaryCrossentropy fuses with a sigmoid the same way.
//
// Shape mismatches throw gradway::Error naming the loss and both shapes.
#ifndef GRADWAY_NN_LOSSES_H_
#define GRADWAY_NN_LOSSES_H_

#include <cstdint>
#include <string>

#include "autograd/tensor.h"

namespace gradway {
namespace nn {

class Loss {
 public:
  virtual ~Loss() = default;
  // Keras' name: "categorical_crossentropy".
  virtual std::string name() const = 0;
  // The scalar loss of predictions y_pred against targets y_true (differentiable in y_pred).
  virtual Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const = 0;
};

// y_true one-hot (or any probabilities) [N, C]; y_pred [N, C].
// With from_logits, the model output itself is taken as logits (no softmax layer).
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}
  std::string name() const override { return "categorical_crossentropy"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;

 private:
  bool from_logits_;
};

// y_true class indices [N] or [N, 1] (integers stored as floats); y_pred [N, C].
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(bool from_logits = false)
      : from_logits_(from_logits) {}
  std::string name() const override { return "sparse_categorical_crossentropy"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;

 private:
  bool from_logits_;
};

// Keras' SparseCategoricalCrossentropy(ignore_class=...) over sequences (PyTorch's
// CrossEntropyLoss(ignore_index=...)): y_pred [N, ..., C] probabilities (a softmax's output
// fuses as above) or logits (from_logits), y_true [N, ...] class indices (integers stored as
// floats) with the same leading axes, [N, T] for [N, T, C]. Positions whose label is
// ignore_class (the padding id 0 of a tokenizer, by default) count for nothing: the loss is
// the mean over the other positions (0 when there are none). Keras' name
// "sparse_categorical_crossentropy". Throws Error naming the loss for shapes that do not fit
// or a label outside [0, C) that is not ignore_class.
class MaskedSparseCategoricalCrossentropy : public Loss {
 public:
  explicit MaskedSparseCategoricalCrossentropy(int64_t ignore_class = 0,
                                               bool from_logits = false)
      : ignore_class_(ignore_class), from_logits_(from_logits) {}
  std::string name() const override { return "sparse_categorical_crossentropy"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
  int64_t ignore_class() const { return ignore_class_; }

 private:
  int64_t ignore_class_;
  bool from_logits_;
};

// Keras' binary_crossentropy: y_pred probabilities [N] or [N, k], y_true labels in [0, 1]
// of the same shape ([N] also fits y_pred [N, 1], and [N, 1] fits [N], as Keras squeezes).
// The mean over all elements of -(t log p + (1 - t) log(1 - p)), p clipped to
// [1e-7, 1 - 1e-7] as Keras does. When y_pred is the output of a sigmoid (gradway::Sigmoid,
// a Dense with sigmoid activation), the loss is computed from that sigmoid's logits with the
// fused, numerically stable SigmoidBinaryCrossEntropy (autograd/nn_functions.h), as Keras
// does: no clipping, and the gradient goes straight to the logits. With from_logits, y_pred
// itself is taken as the logits.
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}
  std::string name() const override { return "binary_crossentropy"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;

 private:
  bool from_logits_;
};

// mean((y_pred - y_true)^2) over all elements; same shapes.
class MeanSquaredError : public Loss {
 public:
  std::string name() const override { return "mean_squared_error"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_LOSSES_H_
