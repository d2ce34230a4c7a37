// Metrics (Keras' metrics=["accuracy"]): running averages over the batches of an epoch or
// an evaluation. Update takes detached predictions; nothing here records a graph.
#ifndef GRADWAY_NN_METRICS_H_
#define GRADWAY_NN_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {
namespace nn {

class Metric {
 public:
  virtual ~Metric() = default;
  // The logs key: "accuracy".
  virtual std::string name() const = 0;
  virtual void Reset() = 0;
  // Adds a batch: y_pred [N, ...] (the model's output), y_true as given to Fit.
  virtual void Update(const Tensor& y_pred, const Tensor& y_true) = 0;
  // The value over everything since Reset (0 before any update).
  virtual double Result() const = 0;
  // The running totals behind Result (what BackupAndRestore saves mid-epoch), and their
  // restore; SetState throws Error naming the metric for a state of the wrong size.
  virtual std::vector<double> State() const = 0;
  virtual void SetState(const std::vector<double>& state) = 0;
};

// The fraction of rows whose argmax(y_pred) equals the label: argmax of a one-hot /
// probability y_true [N, C], or the index in y_true [N] / [N, 1]. A single-column y_pred
// [N, 1] or a vector [N] (a sigmoid's output, as with BinaryCrossentropy) is binary
// accuracy: prediction > 0.5 vs label > 0.5.
// Throws Error when the shapes don't fit one of these cases.
class Accuracy : public Metric {
 public:
  explicit Accuracy(std::string name = "accuracy") : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void Reset() override { correct_ = 0; count_ = 0; }
  void Update(const Tensor& y_pred, const Tensor& y_true) override;
  double Result() const override { return count_ ? static_cast<double>(correct_) / count_ : 0; }
  std::vector<double> State() const override {
    return {static_cast<double>(correct_), static_cast<double>(count_)};
  }
  void SetState(const std::vector<double>& state) override;

 private:
  std::string name_;
  int64_t correct_ = 0, count_ = 0;
};

// The mean over all elements (y_pred and y_true of the same shape) of the squared error
// (y_pred - y_true)^2 (Kind::kSquared, logs key "mse") or of the absolute error
// |y_pred - y_true| (Kind::kAbsolute, "mae"). Throws Error when the shapes differ.
class MeanErrorMetric : public Metric {
 public:
  enum class Kind { kSquared, kAbsolute };
  // An empty name means the kind's short name, "mse" or "mae".
  explicit MeanErrorMetric(Kind kind, std::string name = "")
      : kind_(kind),
        name_(name.empty() ? (kind == Kind::kSquared ? "mse" : "mae") : std::move(name)) {}
  Kind kind() const { return kind_; }
  std::string name() const override { return name_; }
  void Reset() override { sum_ = 0; count_ = 0; }
  void Update(const Tensor& y_pred, const Tensor& y_true) override;
  double Result() const override { return count_ ? sum_ / count_ : 0; }
  std::vector<double> State() const override { return {sum_, static_cast<double>(count_)}; }
  void SetState(const std::vector<double>& state) override;

 private:
  Kind kind_;
  std::string name_;
  double sum_ = 0;
  int64_t count_ = 0;
};

// Keras' metrics.Precision() and metrics.Recall() (threshold 0.5) over every element of
// y_pred (probabilities, e.g. a sigmoid's [N, 1]) against y_true (labels, > 0.5 is positive)
// with as many elements: precision = TP / (TP + FP), the share of predicted positives that
// are positive; recall = TP / (TP + FN), the share of positives found; 0 while the
// denominator is 0 (as Keras). Throws Error when the element counts differ.
class Precision : public Metric {
 public:
  explicit Precision(std::string name = "precision") : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void Reset() override { true_positives_ = 0; count_ = 0; }
  void Update(const Tensor& y_pred, const Tensor& y_true) override;
  double Result() const override {
    return count_ ? static_cast<double>(true_positives_) / count_ : 0;
  }
  std::vector<double> State() const override {
    return {static_cast<double>(true_positives_), static_cast<double>(count_)};
  }
  void SetState(const std::vector<double>& state) override;

 protected:
  // Adds the batch's true positives, and its predicted positives (recall: positives).
  void Count(const Tensor& y_pred, const Tensor& y_true, bool of_predictions);

 private:
  std::string name_;
  int64_t true_positives_ = 0, count_ = 0;
};

class Recall : public Precision {
 public:
  explicit Recall(std::string name = "recall") : Precision(std::move(name)) {}
  void Update(const Tensor& y_pred, const Tensor& y_true) override;
};

// A metric from its Keras name: "accuracy"/"acc", "mse"/"mean_squared_error",
// "mae"/"mean_absolute_error", "precision", "recall". The metric keeps the given name as its
// logs key. Throws Error for unknown names.
std::unique_ptr<Metric> MakeMetric(const std::string& name);

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_METRICS_H_
