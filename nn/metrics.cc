#include "nn/metrics.h"

#include <cmath>

#include "autograd/error.h"

namespace gradway {
namespace nn {
namespace {

int64_t ArgMax(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j) {
    if (row[j] > row[best]) best = j;
  }
  return best;
}

void CheckSameShape(const char* metric, const Tensor& a, const Tensor& b) {
  GRADWAY_CHECK(a.shape() == b.shape(), metric, ": y_pred and y_true shapes differ: ",
                ShapeToString(a.shape()), " and ", ShapeToString(b.shape()));
}

}  // namespace

void Accuracy::Update(const Tensor& y_pred_in, const Tensor& y_true) {
  // A vector of probabilities [N] is the single-column (binary) case.
  const Tensor y_pred =
      y_pred_in.rank() == 1 ? y_pred_in.Reshape({y_pred_in.size(0), 1}) : y_pred_in;
  GRADWAY_CHECK(y_pred.rank() == 2 && y_true.size(0) == y_pred.size(0), name_,
                ": y_pred must be (N, classes) with as many rows as y_true, got ",
                ShapeToString(y_pred.shape()), " and ", ShapeToString(y_true.shape()));
  const int64_t n = y_pred.size(0), c = y_pred.size(1);
  const float* p = y_pred.data();
  const float* t = y_true.data();
  if (c == 1 && y_true.numel() == n) {  // binary
    for (int64_t i = 0; i < n; ++i) correct_ += (p[i] > 0.5f) == (t[i] > 0.5f);
  } else if (y_true.shape() == y_pred.shape()) {  // one-hot
    for (int64_t i = 0; i < n; ++i) correct_ += ArgMax(p + i * c, c) == ArgMax(t + i * c, c);
  } else if (y_true.numel() == n && (y_true.rank() == 1 || y_true.rank() == 2)) {  // sparse
    for (int64_t i = 0; i < n; ++i) {
      correct_ += ArgMax(p + i * c, c) == static_cast<int64_t>(t[i]);
    }
  } else {
    Fail(name_, ": cannot compare y_pred ", ShapeToString(y_pred.shape()), " with y_true ",
         ShapeToString(y_true.shape()), " (expected one-hot (N, C) or indices (N))");
  }
  count_ += n;
}

void MeanErrorMetric::Update(const Tensor& y_pred, const Tensor& y_true) {
  CheckSameShape(name_.c_str(), y_pred, y_true);
  const float* p = y_pred.data();
  const float* t = y_true.data();
  const bool squared = kind_ == Kind::kSquared;
  for (int64_t i = 0; i < y_pred.numel(); ++i) {
    const double d = static_cast<double>(p[i]) - t[i];
    sum_ += squared ? d * d : std::fabs(d);
  }
  count_ += y_pred.numel();
}

void Precision::Count(const Tensor& y_pred, const Tensor& y_true, bool of_predictions) {
  GRADWAY_CHECK(y_pred.numel() == y_true.numel(), name_, ": y_pred ",
                ShapeToString(y_pred.shape()), " and y_true ", ShapeToString(y_true.shape()),
                " differ in element count (one probability per label)");
  const float* p = y_pred.data();
  const float* t = y_true.data();
  for (int64_t i = 0; i < y_pred.numel(); ++i) {
    const bool predicted = p[i] > 0.5f, positive = t[i] > 0.5f;
    true_positives_ += predicted && positive;
    count_ += of_predictions ? predicted : positive;
  }
}

void Precision::Update(const Tensor& y_pred, const Tensor& y_true) {
  Count(y_pred, y_true, true);
}

void Recall::Update(const Tensor& y_pred, const Tensor& y_true) {
  Count(y_pred, y_true, false);
}

std::unique_ptr<Metric> MakeMetric(const std::string& name) {
  if (name == "accuracy" || name == "acc") return std::make_unique<Accuracy>(name);
  if (name == "mse" || name == "mean_squared_error") {
    return std::make_unique<MeanErrorMetric>(MeanErrorMetric::Kind::kSquared, name);
  }
  if (name == "mae" || name == "mean_absolute_error") {
    return std::make_unique<MeanErrorMetric>(MeanErrorMetric::Kind::kAbsolute, name);
  }
  if (name == "precision") return std::make_unique<Precision>(name);
  if (name == "recall") return std::make_unique<Recall>(name);
  Fail("metrics: unknown metric '", name,
       "' (expected accuracy, acc, mse, mae, precision or recall)");
}

namespace {

void CheckState(const Metric& m, const std::vector<double>& state) {
  GRADWAY_CHECK(state.size() == 2, "metric '", m.name(),
                "': a saved state is {total, count}, got ", state.size(), " values");
  GRADWAY_CHECK(state[1] >= 0 && state[1] < 9.0e15 &&
                    state[1] == std::floor(state[1]),
                "metric '", m.name(), "': saved state {", state[0], ", ", state[1],
                "} is not a {total, count}");
}

}  // namespace

void Precision::SetState(const std::vector<double>& state) {
  CheckState(*this, state);
  GRADWAY_CHECK(state[0] >= 0 && state[0] <= state[1] && state[0] == std::floor(state[0]),
                "metric '", name_, "': saved state {", state[0], ", ", state[1],
                "} is not a {true positives, count}");
  true_positives_ = static_cast<int64_t>(state[0]);
  count_ = static_cast<int64_t>(state[1]);
}

void Accuracy::SetState(const std::vector<double>& state) {
  CheckState(*this, state);
  GRADWAY_CHECK(state[0] >= 0 && state[0] <= state[1] && state[0] == std::floor(state[0]),
                "metric '", name(), "': saved count of correct rows ", state[0],
                " is not in [0, ", state[1], "]");
  correct_ = static_cast<int64_t>(state[0]);
  count_ = static_cast<int64_t>(state[1]);
}

void MeanErrorMetric::SetState(const std::vector<double>& state) {
  CheckState(*this, state);
  sum_ = state[0];
  count_ = static_cast<int64_t>(state[1]);
}

}  // namespace nn
}  // namespace gradway
