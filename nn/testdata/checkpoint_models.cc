#include "nn/testdata/checkpoint_models.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"

namespace gradway {
namespace nn {
namespace checkpoints {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

void Mix(uint64_t* h, const void* bytes, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < n; ++i) {
    *h ^= p[i];
    *h *= kFnvPrime;
  }
}

// One-hot rows of `classes` columns for the class indices `labels`.
Tensor OneHot(const std::vector<int64_t>& labels, int64_t classes) {
  const int64_t n = static_cast<int64_t>(labels.size());
  std::vector<float> y(n * classes, 0.f);
  for (int64_t i = 0; i < n; ++i) y[i * classes + labels[i]] = 1.f;
  return Tensor::FromVector(y, {n, classes});
}

}  // namespace

Sequential MakeMlp(double learning_rate) {
  Sequential model(/*seed=*/11);
  model.Add(Dense(DenseOptions(5).Activation(kRelu).InputShape({6})));
  model.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(learning_rate)),
                {"accuracy"});
  return model;
}

std::pair<Tensor, Tensor> MlpData() {
  std::vector<float> x(4 * 6);
  for (int64_t i = 0; i < 4 * 6; ++i) x[i] = static_cast<float>((i * 5) % 9 - 4) / 4.f;
  return {Tensor::FromVector(x, {4, 6}), OneHot({0, 2, 1, 2}, 3)};
}

Sequential MakeCnn() {
  Sequential model(/*seed=*/12);
  model.Add(Conv2D(Conv2DOptions(2, 3).Activation(kRelu).InputShape({6, 6, 1})));
  model.Add(MaxPooling2D(2));
  model.Add(Flatten());
  model.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
  return model;
}

Tensor CnnInput() {
  std::vector<float> x(3 * 36);
  for (int64_t i = 0; i < 3 * 36; ++i) x[i] = static_cast<float>((i * 7) % 11) / 8.f;
  return Tensor::FromVector(x, {3, 6, 6, 1});
}

Sequential MakeBackupModel() {
  Sequential model(/*seed=*/13);
  model.Add(Dense(DenseOptions(4).Activation(kRelu).InputShape({2})));
  model.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
  model.Compile(CategoricalCrossentropy(),
                Adam(AdamOptions().LearningRate(kBackupLearningRate)), {"accuracy"});
  return model;
}

std::pair<Tensor, Tensor> BackupData(int64_t n, int64_t first) {
  std::vector<float> x(n * 2);
  std::vector<int64_t> labels(n);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t i = first + r;
    x[2 * r] = static_cast<float>((i * 7) % 11 - 5) / 4.f;
    x[2 * r + 1] = static_cast<float>((i * 5) % 13 - 6) / 4.f;
    // Mostly the quadrant's class, so that training makes progress.
    labels[r] = i % 5 == 0 ? i % 3 : (x[2 * r] > 0 ? 0 : (x[2 * r + 1] > 0 ? 1 : 2));
  }
  return {Tensor::FromVector(x, {n, 2}), OneHot(labels, 3)};
}

EarlyStoppingOptions BackupEarlyStopping() {
  return EarlyStoppingOptions().Monitor("val_loss").Patience(10).RestoreBestWeights(true);
}

float Pattern(const std::string& name, int64_t i) {
  uint32_t h = 2166136261u;  // FNV-1a (32 bits) of the name
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  const int64_t k = (h % 1009 + 37 * i) % 255;  // 0 ... 254
  if (absl::StartsWith(name, "optimizer/v/")) return static_cast<float>(k + 1) / 65536.f;
  return static_cast<float>(k - 127) / 256.f;
}

void SetPatternWeights(Model& model) {
  std::map<std::string, std::string> metadata;
  for (auto& [name, t] : model.CheckpointTensors(&metadata)) {
    std::vector<float> values(t.numel());
    for (int64_t i = 0; i < t.numel(); ++i) values[i] = Pattern(name, i);
    NoGradGuard no_grad;
    Tensor target = t;  // shares the parameter's or the slot's storage
    target.CopyFrom(Tensor::FromVector(values, t.shape()));
  }
}

uint64_t Fingerprint(const NamedTensors& tensors) {
  uint64_t h = kFnvOffset;
  for (const auto& [name, t] : tensors) {
    Mix(&h, name.data(), name.size() + 1);  // with its '\0'
    for (int64_t d : t.shape()) Mix(&h, &d, sizeof(d));
    if (t.numel() > 0) Mix(&h, std::as_const(t).data(), sizeof(float) * t.numel());
  }
  return h;
}

}  // namespace checkpoints
}  // namespace nn
}  // namespace gradway
