#include "nn/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/graph.h"
#include "autograd/nn_functions.h"
#include "base/shape_string.h"
#include "nn/checkpoint.h"
#include "nn/fit_loop.h"
#include "nn/layers.h"

namespace gradway {
namespace nn {
namespace {

constexpr const char* kOptimizerPrefix = "optimizer/";

// Restores a module's training mode on scope exit.
class ModeGuard {
 public:
  ModeGuard(Module* m, bool training) : m_(m), was_(m->is_training()) { m->Train(training); }
  ~ModeGuard() { m_->Train(was_); }

 private:
  Module* m_;
  bool was_;
};

}  // namespace

Model::Model(uint64_t seed, std::string type_name, std::string base_name)
    : Module(std::move(type_name), std::move(base_name)),
      seed_(seed),
      init_generator_(std::make_shared<Generator>(seed)) {
  SetGenerator(init_generator_);
}

void Model::Compile(Ref<Loss> loss, Ref<Optimizer> optimizer,
                    std::vector<std::string> metrics) {
  GRADWAY_CHECK(loss.get() != nullptr, Description(), ": Compile needs a loss and an optimizer");
  Compile(std::vector<Ref<Loss>>{std::move(loss)}, std::move(optimizer), std::move(metrics));
}

void Model::Compile(std::vector<Ref<Loss>> losses, Ref<Optimizer> optimizer,
                    std::vector<std::string> metrics, std::vector<double> loss_weights) {
  GRADWAY_CHECK(!losses.empty() && optimizer.get() != nullptr, Description(),
                ": Compile needs a loss and an optimizer");
  const int outputs = num_outputs();
  GRADWAY_CHECK(losses.size() == 1 || static_cast<int>(losses.size()) == outputs, Description(),
                ": ", losses.size(), " losses for ", outputs, " outputs (give one, or one each)");
  GRADWAY_CHECK(loss_weights.empty() || static_cast<int>(loss_weights.size()) == outputs,
                Description(), ": ", loss_weights.size(), " loss weights for ", outputs,
                " outputs");
  std::vector<std::shared_ptr<Loss>> held;
  for (const Ref<Loss>& l : losses) {
    GRADWAY_CHECK(l.get() != nullptr, Description(), ": Compile got a null loss");
    held.push_back(l.get());
  }
  std::vector<std::unique_ptr<Metric>> made;
  std::vector<int> metric_outputs;
  std::vector<std::string> names;
  const std::vector<std::string> output_names = OutputNames();
  for (int k = 0; k < outputs; ++k) {
    for (const std::string& name : metrics) {
      const std::string logged = outputs == 1 ? name : absl::StrCat(output_names[k], "_", name);
      GRADWAY_CHECK(std::find(names.begin(), names.end(), logged) == names.end(),
                    Description(), ": metric '", name, "' given twice");
      made.push_back(MakeMetric(name));
      metric_outputs.push_back(k);
      names.push_back(logged);
    }
  }
  loss_ = held[0];
  losses_ = std::move(held);
  loss_weights_ = std::move(loss_weights);
  optimizer_ = optimizer.get();
  metrics_ = std::move(made);
  metric_outputs_ = std::move(metric_outputs);
  metric_names_ = std::move(names);
  output_loss_sums_.assign(outputs > 1 ? outputs : 0, 0.0);
}

void Model::PrepareInput(const char* what, const Tensor& x) {
  GRADWAY_CHECK(x.defined(), what, ": x is undefined");
  GRADWAY_CHECK(x.rank() >= 2, what, ": x must be [samples, features...], got ",
                ShapeToString(x.shape()));
  Shape sample(x.shape().begin() + 1, x.shape().end());
  if (!built()) Build(sample);
  if (sample != input_shape()) {
    Fail(what, ": ", InputLayer().Description(), " expects input ",
         BatchShapeString(input_shape()), ", got x of shape ", ShapeToString(x.shape()));
  }
}

void Model::AttachOptimizer() {
  NamedTensors params = NamedTrainableParameters();
  const NamedTensors& attached = optimizer_->parameters();
  bool same = attached.size() == params.size();
  for (size_t i = 0; same && i < params.size(); ++i) {
    same = attached[i].first == params[i].first &&
           attached[i].second.impl() == params[i].second.impl();
  }
  if (!same) optimizer_->Attach(params);
}

void Model::CheckCompiled(const char* what) const {
  GRADWAY_CHECK(compiled(), what, ": ", Description(),
                " is not compiled; call Compile(loss, optimizer) first");
}

void Model::CheckData(const char* what, const Dataset& data) {
  CheckCompiled(what);
  const Shape sample = data.x_shape();
  if (!built()) Build(sample);
  if (sample != input_shape()) {
    Fail(what, ": ", InputLayer().Description(), " expects input ",
         BatchShapeString(input_shape()), ", got ", data.Description());
  }
}

void Model::CheckBatch(const char* what, const Tensor& x, const Tensor& y) {
  CheckCompiled(what);
  PrepareInput(what, x);
  GRADWAY_CHECK(y.defined() && y.rank() >= 1, what, ": y is undefined or a scalar");
  GRADWAY_CHECK(x.size(0) == y.size(0), what, ": x has ", x.size(0), " samples but y has ",
                y.size(0), " (x ", ShapeToString(x.shape()), ", y ", ShapeToString(y.shape()), ")");
}

void Model::ResetMetrics() {
  loss_sum_ = 0;
  loss_count_ = 0;
  std::fill(output_loss_sums_.begin(), output_loss_sums_.end(), 0.0);
  for (auto& m : metrics_) m->Reset();
}

Logs Model::UpdateMetrics(const Tensor& loss, const std::vector<Tensor>& losses,
                          const std::vector<Tensor>& y_pred, const std::vector<Tensor>& y) {
  const int64_t count = y_pred[0].size(0);
  loss_sum_ += static_cast<double>(loss.item()) * count;
  loss_count_ += count;
  for (size_t k = 0; k < losses.size() && k < output_loss_sums_.size(); ++k) {
    output_loss_sums_[k] += static_cast<double>(losses[k].item()) * count;
  }
  for (size_t i = 0; i < metrics_.size(); ++i) {
    const int k = metric_outputs_[i];
    metrics_[i]->Update(y_pred[k].Detach(), y[k]);
  }
  return MetricsLogs();
}

Logs Model::TrainStep(const Tensor& x, const Tensor& y) {
  CheckBatch("TrainStep", x, y);
  Logs logs = Gradients(x, y, 1.0f, train_step_);
  ApplyGradients();
  return logs;
}

Logs Model::ComputeGradients(const Tensor& x, const Tensor& y, float loss_scale,
                             std::optional<int64_t> random_step) {
  CheckBatch("ComputeGradients", x, y);
  return Gradients(x, y, loss_scale, random_step.value_or(train_step_));
}

Logs Model::Gradients(const Tensor& x, const Tensor& y, float loss_scale, int64_t random_step) {
  ModeGuard mode(this, true);
  RandomStepScope step(random_step);
  ZeroGrad();
  std::vector<Tensor> y_pred = ForwardOutputs(x), losses, ys;
  Tensor loss = ComputeLoss(y_pred, y, &losses, &ys);
  GRADWAY_CHECK(loss.numel() == 1, Description(), ": the loss gave ", ShapeToString(loss.shape()),
                ", not one value");
  loss.Backward(Tensor::Full(loss.shape(), loss_scale));
  return UpdateMetrics(loss, losses, y_pred, ys);
}

void Model::ApplyGradients() {
  CheckCompiled("ApplyGradients");
  AttachOptimizer();  // after the forward pass: it may have created parameters
  optimizer_->Step();
  ++train_step_;
}

Logs Model::TestStep(const Tensor& x, const Tensor& y) {
  CheckBatch("TestStep", x, y);
  NoGradGuard no_grad;
  ModeGuard mode(this, false);
  std::vector<Tensor> y_pred = ForwardOutputs(x), losses, ys;
  Tensor loss = ComputeLoss(y_pred, y, &losses, &ys);
  return UpdateMetrics(loss, losses, y_pred, ys);
}

std::vector<double> Model::MetricsState() const {
  std::vector<double> state = {loss_sum_, static_cast<double>(loss_count_)};
  for (const auto& m : metrics_) {
    for (double v : m->State()) state.push_back(v);
  }
  state.insert(state.end(), output_loss_sums_.begin(), output_loss_sums_.end());
  return state;
}

void Model::SetMetricsState(const std::vector<double>& state) {
  size_t expected = 2 + output_loss_sums_.size();
  for (const auto& m : metrics_) expected += m->State().size();
  GRADWAY_CHECK(state.size() == expected, Description(), ": a metrics state of ",
                state.size(), " values for the loss and ", metrics_.size(),
                " metrics, which need ", expected);
  GRADWAY_CHECK(state[1] >= 0 && state[1] < 9.0e15 && state[1] == std::floor(state[1]),
                Description(), ": saved loss count ", state[1], " is not a count");
  size_t at = 2;
  for (auto& m : metrics_) {
    const size_t k = m->State().size();
    m->SetState(std::vector<double>(state.begin() + at, state.begin() + at + k));
    at += k;
  }
  for (double& sum : output_loss_sums_) sum = state[at++];
  loss_sum_ = state[0];
  loss_count_ = static_cast<int64_t>(state[1]);
}

Logs Model::MetricsLogs() const {
  Logs logs;
  logs.Set("loss", loss_count_ > 0 ? loss_sum_ / loss_count_ : 0.0);
  const std::vector<std::string> outputs = output_loss_sums_.empty() ? std::vector<std::string>{}
                                                                     : OutputNames();
  for (size_t k = 0; k < output_loss_sums_.size(); ++k) {
    logs.Set(absl::StrCat(outputs[k], "_loss"),
             loss_count_ > 0 ? output_loss_sums_[k] / loss_count_ : 0.0);
  }
  for (size_t i = 0; i < metrics_.size(); ++i) logs.Set(metric_names_[i], metrics_[i]->Result());
  return logs;
}

History Model::Fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  CheckBatch("Fit", x, y);
  return Fit(TensorDataset(x, y), options);
}

History Model::Fit(const Dataset& x, const FitOptions& options) {
  CheckData("Fit", x);
  GRADWAY_CHECK(x.size() > 0, "Fit: no training samples");
  GRADWAY_CHECK(options.batch_size > 0, "Fit: batch_size must be positive, got ",
                options.batch_size);
  GRADWAY_CHECK(options.epochs >= 0 && options.initial_epoch >= 0,
                "Fit: epochs and initial_epoch must be >= 0");
  std::shared_ptr<const Dataset> val = options.validation;
  if (val == nullptr && options.x_val.defined()) {
    GRADWAY_CHECK(options.y_val.defined(), "Fit: validation data has x but no y");
    CheckBatch("Fit (validation data)", options.x_val, options.y_val);
    val = std::make_shared<TensorDataset>(options.x_val, options.y_val);
  }
  if (val != nullptr) CheckData("Fit (validation data)", *val);
  FitLoop loop(*this, x, std::move(val), options);
  return loop.Run();
}

Logs Model::Evaluate(const Tensor& x, const Tensor& y, int64_t batch_size) {
  CheckBatch("Evaluate", x, y);
  return Evaluate(TensorDataset(x, y), batch_size);
}

Logs Model::Evaluate(const Dataset& data, int64_t batch_size) {
  CheckData("Evaluate", data);
  GRADWAY_CHECK(batch_size > 0, "Evaluate: batch_size must be positive, got ", batch_size);
  const int64_t n = data.size();
  Tensor x, y;
  ResetMetrics();
  Logs logs;
  logs = MetricsLogs();
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t count = std::min(batch_size, n - begin);
    data.Slice(begin, count, &x, &y);
    logs = TestStep(x, y);
  }
  return logs;
}

Tensor Model::Predict(const Tensor& x, int64_t batch_size) {
  PrepareInput("Predict", x);
  GRADWAY_CHECK(batch_size > 0, "Predict: batch_size must be positive, got ", batch_size);
  NoGradGuard no_grad;
  ModeGuard mode(this, false);
  const int64_t n = x.size(0);
  Shape out_shape = output_shape();
  out_shape.insert(out_shape.begin(), n);
  Tensor result = Tensor::Empty(out_shape);
  const int64_t row = NumElements(output_shape());
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t count = std::min(batch_size, n - begin);
    Tensor out = (*this)(x.Narrow(0, begin, count));
    GRADWAY_CHECK(out.numel() == count * row, "Predict: ", Description(), " produced ",
                  ShapeToString(out.shape()), " for a batch of ", count, ", expected ",
                  BatchShapeString(output_shape()));
    std::memcpy(result.data() + begin * row, std::as_const(out).data(),
                count * row * sizeof(float));
  }
  return result;
}

std::vector<Tensor> Model::GetWeights() const {
  std::vector<Tensor> out;
  for (const auto& p : NamedParameters()) out.push_back(p.second.Clone());
  return out;
}

void Model::SetWeights(const std::vector<Tensor>& weights) {
  NamedTensors params = NamedParameters();
  GRADWAY_CHECK(weights.size() == params.size(), "SetWeights: ", Description(), " has ",
                params.size(), " weights, got ", weights.size());
  for (size_t i = 0; i < params.size(); ++i) {
    GRADWAY_CHECK(weights[i].shape() == params[i].second.shape(), "SetWeights: '",
                  params[i].first, "' has shape ", ShapeToString(params[i].second.shape()),
                  ", got ", ShapeToString(weights[i].shape()));
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].second.CopyFrom(weights[i]);
}

bool Model::WeightsFinite() const {
  for (const auto& p : NamedParameters()) {
    const float* d = p.second.data();
    for (int64_t i = 0; i < p.second.numel(); ++i) {
      if (!std::isfinite(d[i])) return false;
    }
  }
  return true;
}

absl::Status Model::SaveWeights(const std::string& path) const {
  if (!built()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot save ", Description(), ": the model is not built"));
  }
  Metadata meta = {{"format", "gradway"}};
  SetVersionMetadata(&meta);
  return SaveSafetensors(path, NamedParameters(), meta);
}

absl::Status Model::LoadWeights(const std::string& path) {
  if (!built()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": cannot load into ", Description(), ": the model is not built"));
  }
  absl::StatusOr<SafetensorsContents> contents = ReadSafetensors(path);
  if (!contents.ok()) return contents.status();
  absl::Status st = CheckFormatVersion(path, contents->metadata);
  if (!st.ok()) return st;
  return CopyTensorsInto(path, contents->tensors, NamedParameters(), kOptimizerPrefix);
}

NamedTensors Model::CheckpointTensors(Metadata* metadata) const {
  NamedTensors tensors = NamedParameters();
  (*metadata)["format"] = "gradway";
  SetVersionMetadata(metadata);
  if (optimizer_ != nullptr && optimizer_->attached()) {
    for (auto& [name, t] : optimizer_->StateTensors()) {
      tensors.emplace_back(kOptimizerPrefix + name, t);
    }
    (*metadata)["optimizer"] = optimizer_->name();
    (*metadata)["step"] = std::to_string(optimizer_->iterations());
    (*metadata)["learning_rate"] = absl::StrFormat("%.17g", optimizer_->learning_rate());
  }
  return tensors;
}

absl::Status Model::Save(const std::string& path) const {
  if (!built()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot save ", Description(), ": the model is not built"));
  }
  Metadata meta;
  NamedTensors tensors = CheckpointTensors(&meta);
  return SaveSafetensors(path, tensors, meta);
}

absl::Status Model::Load(const std::string& path) {
  absl::StatusOr<SafetensorsContents> contents = ReadSafetensors(path);
  if (!contents.ok()) return contents.status();
  return LoadCheckpoint(path, contents->tensors, contents->metadata);
}

absl::Status Model::LoadCheckpoint(const std::string& path, const NamedTensors& tensors,
                                   const Metadata& metadata) {
  if (!built()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": cannot load into ", Description(), ": the model is not built"));
  }
  if (absl::Status st = CheckFormatVersion(path, metadata); !st.ok()) return st;
  bool has_state = metadata.count("step") > 0;
  if (!has_state || optimizer_ == nullptr) {
    NamedTensors weights;  // without the optimiser's tensors
    for (const auto& [name, t] : tensors) {
      if (absl::StartsWith(name, kOptimizerPrefix)) continue;
      weights.emplace_back(name, t);
    }
    return CopyTensorsInto(path, weights, NamedParameters());
  }
  if (metadata.count("optimizer") && metadata.at("optimizer") != optimizer_->name()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": optimizer state is for ", metadata.at("optimizer"),
                     " but the model is compiled with ", optimizer_->name()));
  }
  int64_t step = 0;
  double lr = optimizer_->learning_rate();
  if (!absl::SimpleAtoi(metadata.at("step"), &step) || step < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": __metadata__ step '", metadata.at("step"), "' is not a count"));
  }
  auto lr_it = metadata.find("learning_rate");
  if (lr_it != metadata.end() && !absl::SimpleAtod(lr_it->second, &lr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": __metadata__ learning_rate '", lr_it->second, "' is not a number"));
  }
  optimizer_->Attach(NamedTrainableParameters());
  NamedTensors targets = NamedParameters();
  for (auto& [name, t] : optimizer_->StateTensors()) {
    targets.emplace_back(kOptimizerPrefix + name, t);
  }
  absl::Status st = CopyTensorsInto(path, tensors, targets);
  if (!st.ok()) return st;
  optimizer_->set_iterations(step);
  // A step schedule's rate follows from the step; only a number rate is set.
  if (optimizer_->learning_rate_schedule() == nullptr) optimizer_->set_learning_rate(lr);
  return absl::OkStatus();
}

}  // namespace nn
}  // namespace gradway
