#include "nn/module.h"

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "autograd/graph.h"

namespace gradway {
namespace nn {

namespace {

// Process-wide name counts by base name, as Keras' backend keeps them.
std::mutex g_names_mutex;
std::map<std::string, int>& NameCounts() {
  static auto* counts = new std::map<std::string, int>;
  return *counts;
}

// The innermost RandomStepScope's step on this thread, if any, and the count of the
// stochastic calls made outside any scope.
thread_local std::optional<int64_t> t_scoped_step;
thread_local int64_t t_unscoped_calls = 0;

}  // namespace

std::string UniqueModuleName(const std::string& base) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  const int k = NameCounts()[base]++;
  return k == 0 ? base : absl::StrCat(base, "_", k);
}

void ClearSession() {
  {
    std::lock_guard<std::mutex> lock(g_names_mutex);
    NameCounts().clear();
  }
  t_unscoped_calls = 0;
}

RandomStepScope::RandomStepScope(int64_t step) : previous_(t_scoped_step) {
  t_scoped_step = step;
}

RandomStepScope::~RandomStepScope() { t_scoped_step = previous_; }

int64_t CurrentRandomStep() {
  if (t_scoped_step) return *t_scoped_step;
  return t_unscoped_calls++;
}

Module::Module(std::string type_name, std::string base_name)
    : type_name_(std::move(type_name)),
      base_name_(std::move(base_name)),
      name_(UniqueModuleName(base_name_)) {}

Module::~Module() = default;

std::string Module::Description() const { return absl::StrCat(name_, " (", type_name_, ")"); }

Shape Module::Build(const Shape& input_shape) {
  GRADWAY_CHECK(!built_, Description(), ": already built for input ",
                BatchShapeString(input_shape_));
  for (int64_t d : input_shape) {
    GRADWAY_CHECK(d > 0, Description(), ": invalid input shape ", BatchShapeString(input_shape));
  }
  Shape out = DoBuild(input_shape);
  input_shape_ = input_shape;
  output_shape_ = out;
  built_ = true;
  // Sub-modules that build on first use (a child made in the constructor, the PyTorch
  // habit, or in DoBuild and not built there) are built now by one forward pass on a
  // batch of one zero sample, without a graph and in eval mode, so that their parameters
  // exist before an optimiser collects them and Summary counts them.
  // The forward pass's output gives the module's real output shape (a default DoBuild
  // only passes the input shape through).
  if (HasUnbuiltChild()) {
    NoGradGuard no_grad;
    const bool was_training = training_;
    Train(false);
    Shape batch = {1};
    batch.insert(batch.end(), input_shape.begin(), input_shape.end());
    Tensor y;
    try {
      y = Forward(Tensor::Zeros(batch));
    } catch (const Error& e) {
      Train(was_training);
      Fail(Description(), ": building its sub-modules with a forward pass on a zero sample ",
           BatchShapeString(input_shape), " failed: ", e.what());
    }
    Train(was_training);
    GRADWAY_CHECK(y.defined() && y.rank() >= 1 && y.size(0) == 1, Description(),
                  ": Forward on a batch of one returned ",
                  y.defined() ? ShapeToString(y.shape()) : "an undefined tensor");
    out.assign(y.shape().begin() + 1, y.shape().end());
    output_shape_ = out;
  }
  if (!trainable_) SetTrainable(false);  // parameters created after a freeze
  return out;
}

bool Module::HasUnbuiltChild() const {
  for (const auto& c : children_) {
    if (!c.second->built() || c.second->HasUnbuiltChild()) return true;
  }
  return false;
}

std::string Module::ExportOnnx(OnnxGraph& /*graph*/, const std::string& /*input*/) const {
  Fail("cannot export ", Description(), " to ONNX: it does not override Module::ExportOnnx");
}

Tensor Module::operator()(const Tensor& x) {
  CheckInput(x);
  return Forward(x);
}

void Module::CheckInput(const Tensor& x) {
  GRADWAY_CHECK(x.defined(), Description(), ": input tensor is undefined");
  GRADWAY_CHECK(x.rank() >= 1, Description(), ": input must have a batch dimension, got ",
                ShapeToString(x.shape()));
  Shape sample(x.shape().begin() + 1, x.shape().end());
  if (!built_) Build(sample);
  if (sample != input_shape_) {
    Fail(Description(), ": expected input ", BatchShapeString(input_shape_), ", got ",
         ShapeToString(x.shape()));
  }
}

Tensor Module::RegisterParameter(const std::string& name, Tensor tensor, bool trainable) {
  GRADWAY_CHECK(tensor.defined(), Description(), ": parameter '", name, "' is undefined");
  for (const Param& p : params_) {
    GRADWAY_CHECK(p.name != name, Description(), ": parameter '", name, "' registered twice");
  }
  const bool registered_trainable = trainable;
  trainable = trainable && trainable_;
  if (tensor.requires_grad() != trainable) tensor.SetRequiresGrad(trainable);
  params_.push_back({name, tensor, trainable, registered_trainable});
  return tensor;
}

std::shared_ptr<Module> Module::RegisterModule(const std::string& name,
                                               std::shared_ptr<Module> module) {
  GRADWAY_CHECK(module != nullptr, Description(), ": sub-module '", name, "' is null");
  for (const auto& c : children_) {
    GRADWAY_CHECK(c.first != name, Description(), ": sub-module '", name, "' registered twice");
  }
  if (generator_) module->SetGenerator(generator_);
  module->Train(training_);
  children_.emplace_back(name, module);
  return module;
}

void Module::CollectParameters(const std::string& prefix, bool trainable_only,
                               NamedTensors* out) const {
  for (const Param& p : params_) {
    if (trainable_only && !p.trainable) continue;
    // A tensor reached twice (a layer both inside a nested model and called on its own,
    // a layer added twice) is listed once, under the first name, as Keras does: else it
    // would be counted, saved and updated twice.
    bool seen = false;
    for (const auto& named : *out) seen = seen || named.second.impl() == p.tensor.impl();
    if (!seen) out->emplace_back(prefix + p.name, p.tensor);
  }
  for (const auto& c : children_) {
    c.second->CollectParameters(prefix + c.first + "/", trainable_only, out);
  }
}

NamedTensors Module::NamedParameters() const {
  NamedTensors out;
  CollectParameters("", false, &out);
  return out;
}

NamedTensors Module::NamedTrainableParameters() const {
  NamedTensors out;
  CollectParameters("", true, &out);
  return out;
}

std::vector<Tensor> Module::Parameters() const {
  std::vector<Tensor> out;
  for (auto& p : NamedParameters()) out.push_back(p.second);
  return out;
}

int64_t Module::ParameterCount() const {
  int64_t n = 0;
  for (auto& p : NamedParameters()) n += p.second.numel();
  return n;
}

int64_t Module::TrainableParameterCount() const {
  int64_t n = 0;
  for (auto& p : NamedTrainableParameters()) n += p.second.numel();
  return n;
}

void Module::SetTrainable(bool trainable) {
  trainable_ = trainable;
  for (Param& p : params_) {
    p.trainable = trainable && p.registered_trainable;
    if (p.tensor.requires_grad() != p.trainable) {
      p.tensor.ZeroGrad();
      p.tensor.SetRequiresGrad(p.trainable);
    }
  }
  for (auto& c : children_) c.second->SetTrainable(trainable);
}

void Module::ZeroGrad() {
  for (Param& p : params_) p.tensor.ZeroGrad();
  for (auto& c : children_) c.second->ZeroGrad();
}

void Module::Train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->Train(on);
}

void Module::SetGenerator(std::shared_ptr<Generator> generator) {
  generator_ = generator;
  for (auto& c : children_) c.second->SetGenerator(generator);
}

Generator& Module::generator() {
  if (!generator_) generator_ = std::make_shared<Generator>(0);
  return *generator_;
}

}  // namespace nn
}  // namespace gradway
