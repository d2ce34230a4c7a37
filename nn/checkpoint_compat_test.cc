// Loads the checkpoints committed under nn/testdata/checkpoints/ (README.md there), written
// by earlier gradways, into freshly built models of the same architectures: a change that
// stops gradway reading the files it wrote before fails here. Each file is written once and
// never again, by nn/testdata/write_checkpoints.cc.
//
// What is compared, and why it holds on any machine:
//   - The model checkpoints hold closed-form values (checkpoints::Pattern), so every loaded
//     tensor is compared with the value recomputed here, bit for bit. Predict is compared
//     with a forward pass computed here in double (to 1e-5), and the MLP's next Adam step
//     with Adam's formula from the file's slots and step (to 1e-6), which checks that each
//     tensor went where it belongs, not only that it was read.
//   - The backup holds a real run's state, which depends on the writing CPU's arithmetic;
//     its values, as write_checkpoints printed them when it wrote the files, are the
//     constants below. Reading them back is exact (text and float32 bytes), so they are
//     compared exactly; the resumed epochs are only checked to run on.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "autograd/autograd.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "nn/test_util.h"
#include "nn/testdata/checkpoint_models.h"

namespace gradway {
namespace nn {
namespace checkpoints {
namespace {

// The writers of the committed files: gradway at commit f75d5e1, before format versions
// (no "format_version"), and gradway 1.0.0 (format version 1).
const std::vector<std::string> kWriters = {"f75d5e1", "1.0.0"};

std::string CommittedFile(const std::string& name) {
  return std::string(std::getenv("TEST_SRCDIR")) + "/gradway/nn/testdata/checkpoints/" + name;
}

std::string CommittedFile(const std::string& kind, const std::string& writer) {
  return CommittedFile(kind + "-" + writer + ".safetensors");
}

TEST(CheckpointCompatTest, TheFolderHoldsTheFilesTestedHereAndNothingElse) {
  std::set<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator(CommittedFile(""))) {
    found.insert(e.path().filename().string());
  }
  std::set<std::string> expected = {"README.md"};
  for (const std::string& writer : kWriters) {
    for (const char* kind : {"mlp_adam", "cnn_weights", "backup"}) {
      expected.insert(std::string(kind) + "-" + writer + ".safetensors");
    }
  }
  EXPECT_EQ(found, expected);
}

// The metadata that says what the file is and which gradway wrote it.
void ExpectWriterMetadata(const std::string& path, const std::string& writer,
                          const std::string& format) {
  absl::StatusOr<SafetensorsContents> c = ReadSafetensors(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metadata.at("format"), format);
  if (writer == "f75d5e1") {
    EXPECT_EQ(c->metadata.count("format_version"), 0u);
    EXPECT_EQ(c->metadata.count("gradway_version"), 0u);
  } else {
    EXPECT_EQ(c->metadata.at("format_version"), "1");
    EXPECT_EQ(c->metadata.at("gradway_version"), writer);
  }
}

// Every element of every tensor is Pattern's, bit for bit.
void ExpectPattern(const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors) {
    const float* got = std::as_const(t).data();
    int64_t wrong = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float want = Pattern(name, i);
      if (std::memcmp(&got[i], &want, sizeof(float)) != 0 && wrong++ == 0) {
        ADD_FAILURE() << name << "[" << i << "] is " << got[i] << ", not " << want;
      }
    }
    EXPECT_EQ(wrong, 0) << name << ": elements that differ";
  }
}

// y = x · kernel + bias for x [n, in], with Pattern's kernel [in, out] and bias [out] of
// layer `layer`, in double.
std::vector<double> DenseRef(const std::vector<double>& x, int64_t n, int64_t in, int64_t out,
                             const std::string& layer) {
  std::vector<double> y(n * out);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < out; ++j) {
      double s = Pattern(layer + "/bias", j);
      for (int64_t k = 0; k < in; ++k) {
        s += x[r * in + k] * Pattern(layer + "/kernel", k * out + j);
      }
      y[r * out + j] = s;
    }
  }
  return y;
}

std::vector<double> Relu(std::vector<double> x) {
  for (double& v : x) v = std::max(v, 0.0);
  return x;
}

std::vector<double> SoftmaxRows(std::vector<double> x, int64_t cols) {
  for (size_t r = 0; r < x.size() / cols; ++r) {
    double* row = &x[r * cols];
    double top = *std::max_element(row, row + cols), sum = 0;
    for (int64_t j = 0; j < cols; ++j) sum += (row[j] = std::exp(row[j] - top));
    for (int64_t j = 0; j < cols; ++j) row[j] /= sum;
  }
  return x;
}

void ExpectNear(const Tensor& got, const std::vector<double>& want, double tolerance) {
  std::vector<float> g = got.ToVector();
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], tolerance) << i;
}

std::vector<double> ToDoubles(const Tensor& t) {
  std::vector<float> f = t.ToVector();
  return std::vector<double>(f.begin(), f.end());
}

// The weight after one Adam step at step t from the file's value, slots and gradient g.
double AdamStep(const std::string& name, int64_t i, double g, int64_t t) {
  const AdamOptions adam;
  const double m = adam.beta1 * Pattern("optimizer/m/" + name, i) + (1 - adam.beta1) * g;
  const double v = adam.beta2 * Pattern("optimizer/v/" + name, i) + (1 - adam.beta2) * g * g;
  const double lr_t = kMlpLearningRate * std::sqrt(1 - std::pow(adam.beta2, t)) /
                      (1 - std::pow(adam.beta1, t));
  return Pattern(name, i) - lr_t * m / (std::sqrt(v) + adam.epsilon);
}

TEST(CheckpointCompatTest, MlpWithAdamStateLoadsAndTrainsOn) {
  for (const std::string& writer : kWriters) {
    SCOPED_TRACE("written by " + writer);
    const std::string path = CommittedFile("mlp_adam", writer);
    ExpectWriterMetadata(path, writer, "gradway");
    Sequential model = MakeMlp(/*learning_rate=*/0.001);  // not the file's 0.01
    absl::Status st = model.Load(path);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(model.optimizer()->iterations(), kMlpSteps);
    EXPECT_EQ(model.optimizer()->learning_rate(), kMlpLearningRate);
    Metadata unused;
    const NamedTensors state = model.CheckpointTensors(&unused);
    EXPECT_EQ(state.size(), 12u);  // 4 weights, and Adam's m and v of each
    ExpectPattern(state);

    auto [x, y] = MlpData();
    const std::vector<double> hidden = Relu(DenseRef(ToDoubles(x), 4, 6, 5, "dense"));
    ExpectNear(model.Predict(x), SoftmaxRows(DenseRef(hidden, 4, 5, 3, "dense_1"), 3), 1e-5);

    // The next step is Adam's step 3 from the file's weights and slots.
    model.TrainStep(x, y);
    EXPECT_EQ(model.optimizer()->iterations(), kMlpSteps + 1);
    for (const auto& [name, p] : model.NamedParameters()) {
      const std::vector<float> w = p.ToVector(), g = p.grad().ToVector();
      ASSERT_EQ(w.size(), g.size()) << name;
      for (size_t i = 0; i < w.size(); ++i) {
        EXPECT_NEAR(w[i], AdamStep(name, i, g[i], kMlpSteps + 1), 1e-6)
            << name << "[" << i << "]";
      }
    }
  }
}

// Conv2D (valid, stride 1, HWIO kernel) + ReLU, MaxPooling2D(2), Flatten, Dense + softmax on
// CnnInput(), in double, with Pattern's weights.
std::vector<double> CnnRef(const Tensor& input) {
  const std::vector<double> x = ToDoubles(input);  // [3, 6, 6, 1]
  const int64_t n = 3, size = 6, conv = 4, pooled = 2, filters = 2;
  std::vector<double> flat(n * pooled * pooled * filters);
  for (int64_t b = 0; b < n; ++b) {
    std::vector<double> c(conv * conv * filters);
    for (int64_t i = 0; i < conv; ++i) {
      for (int64_t j = 0; j < conv; ++j) {
        for (int64_t f = 0; f < filters; ++f) {
          double s = Pattern("conv2d/bias", f);
          for (int64_t di = 0; di < 3; ++di) {
            for (int64_t dj = 0; dj < 3; ++dj) {
              s += x[(b * size + i + di) * size + j + dj] *
                   Pattern("conv2d/kernel", (di * 3 + dj) * filters + f);
            }
          }
          c[(i * conv + j) * filters + f] = std::max(s, 0.0);
        }
      }
    }
    for (int64_t i = 0; i < pooled; ++i) {
      for (int64_t j = 0; j < pooled; ++j) {
        for (int64_t f = 0; f < filters; ++f) {
          double m = -INFINITY;
          for (int64_t d = 0; d < 4; ++d) {
            m = std::max(m, c[((2 * i + d / 2) * conv + 2 * j + d % 2) * filters + f]);
          }
          flat[((b * pooled + i) * pooled + j) * filters + f] = m;
        }
      }
    }
  }
  return SoftmaxRows(DenseRef(flat, n, 8, 3, "dense"), 3);
}

TEST(CheckpointCompatTest, CnnWeightsLoad) {
  for (const std::string& writer : kWriters) {
    SCOPED_TRACE("written by " + writer);
    const std::string path = CommittedFile("cnn_weights", writer);
    ExpectWriterMetadata(path, writer, "gradway");
    Sequential weights = MakeCnn(), full = MakeCnn();
    absl::Status st = weights.LoadWeights(path);
    ASSERT_TRUE(st.ok()) << st;
    st = full.Load(path);  // a weights-only file through Load
    ASSERT_TRUE(st.ok()) << st;
    for (Sequential* model : {&weights, &full}) {
      EXPECT_EQ(model->NamedParameters().size(), 4u);
      ExpectPattern(model->NamedParameters());
      ExpectNear(model->Predict(CnnInput()), CnnRef(CnnInput()), 1e-5);
    }
  }
}

// ---- The backup: what write_checkpoints printed when it wrote backup-*.safetensors (both
// writers printed the same; `seconds`, wall time, is not compared).
const std::vector<double> kLoss = {1.2001328865687053, 1.0306120912233989};
const std::vector<double> kAccuracy = {0.20833333333333334, 0.25};
const std::vector<double> kValLoss = {1.0345923900604248, 1.0003283023834229};
const std::vector<double> kValAccuracy = {0.16666666666666666, 0.33333333333333331};
const std::vector<double> kMetrics = {7.1463580131530762, 8, 5, 8};
// Fingerprint of the tensors as the file names them: the model's 12 and the 4 "callback/..".
constexpr uint64_t kModelTensors = 0x30d2b1f6249db800ull;
constexpr uint64_t kCallbackTensors = 0x3b7385cf35933acdull;

void ExpectBackupState(const RunState& s) {
  EXPECT_EQ(s.samples, kBackupSamples);
  EXPECT_EQ(s.batch_size, kBackupBatchSize);
  EXPECT_EQ(s.steps, 3);
  EXPECT_EQ(s.seed, kBackupSeed);
  EXPECT_EQ(s.micro_shards, 0);
  EXPECT_EQ(s.epoch, 2);  // step 7: the first batch of the third epoch
  EXPECT_EQ(s.batch, 1);
  EXPECT_FALSE(s.stop_training);
  EXPECT_EQ(s.epoch_learning_rate, kBackupLearningRate);
  EXPECT_EQ(s.metrics, kMetrics);
  EXPECT_EQ(s.history.epoch, (std::vector<int>{1, 2}));
  EXPECT_EQ(s.history.loss, kLoss);
  EXPECT_EQ(s.history.accuracy, kAccuracy);
  EXPECT_EQ(s.history.val_loss, kValLoss);
  EXPECT_EQ(s.history.val_accuracy, kValAccuracy);
  EXPECT_EQ(s.history.seconds.size(), 2u);
  EXPECT_EQ(s.model_metadata, (Metadata{{"learning_rate", "0.050000000000000003"},
                                        {"optimizer", "Adam"},
                                        {"step", "7"}}));
  EXPECT_EQ(s.model_tensors.size(), 12u);
  EXPECT_EQ(Fingerprint(s.model_tensors), kModelTensors);
  ASSERT_EQ(s.callbacks.size(), 3u);
  const CallbackState& stop = s.callbacks[0];  // EarlyStopping: the best val_loss so far
  EXPECT_EQ(stop.Int("wait"), 0);
  EXPECT_EQ(stop.Int("stopped_epoch"), -1);
  EXPECT_EQ(stop.Double("best"), kValLoss[1]);
  NamedTensors in_file;  // as the file names them, as write_checkpoints fingerprinted them
  for (const auto& [name, t] : stop.tensors) in_file.emplace_back("callback/0/" + name, t);
  EXPECT_EQ(in_file.size(), 4u);
  EXPECT_EQ(Fingerprint(in_file), kCallbackTensors);
  for (size_t i : {1, 2}) {
    EXPECT_TRUE(s.callbacks[i].values.empty() && s.callbacks[i].tensors.empty()) << i;
  }
}

// Resumes the backup's run from a copy of the file `state` was read from and trains it to
// its end.
void ExpectResumes(const std::string& path, const RunState& state) {
  const std::string dir =
      nn::testing::TempPath("resume-" + std::filesystem::path(path).stem().string());
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(path, dir + "/backup.safetensors");
  Sequential model = MakeBackupModel();
  auto [x, y] = BackupData(kBackupSamples, 0);
  auto [xv, yv] = BackupData(6, 100);
  int batches = 0;
  LambdaCallback observe;  // in the crashed run's place: a callback with no state
  observe.BatchBegin([&](int64_t, const Logs&) {
    if (batches++ > 0) return;
    // The first batch trained after the restore starts from the file's state.
    EXPECT_EQ(model.optimizer()->iterations(), 7);
    EXPECT_EQ(model.optimizer()->learning_rate(), kBackupLearningRate);
    NamedTensors weights;  // the file's, without the optimiser's slots
    for (const auto& [name, t] : state.model_tensors) {
      if (name.rfind("optimizer/", 0) != 0) weights.emplace_back(name, t);
    }
    EXPECT_EQ(weights.size(), 4u);
    EXPECT_EQ(Fingerprint(model.NamedParameters()), Fingerprint(weights));
  });
  auto backup = std::make_shared<BackupAndRestore>(BackupAndRestoreOptions(dir).Verbose(0));
  History h = model.Fit(x, y, FitOptions()
                                  .Epochs(kBackupEpochs)
                                  .BatchSize(kBackupBatchSize)
                                  .Seed(kBackupSeed)
                                  .Verbose(0)
                                  .ValidationData(xv, yv)
                                  .Callbacks({EarlyStopping(BackupEarlyStopping()), observe,
                                              backup}));
  EXPECT_EQ(backup->resumed_epoch(), 2);
  EXPECT_EQ(backup->resumed_batch(), 1);
  EXPECT_EQ(batches, 2 + 3);  // the rest of epoch 3, then epoch 4
  EXPECT_EQ(model.optimizer()->iterations(), kBackupEpochs * 3);
  EXPECT_EQ(h.epoch, (std::vector<int>{1, 2, 3, 4}));
  ASSERT_EQ(h.loss.size(), 4u);
  EXPECT_EQ(h.loss[0], kLoss[0]);
  EXPECT_EQ(h.loss[1], kLoss[1]);
  EXPECT_TRUE(std::isfinite(h.loss[2]) && std::isfinite(h.loss[3]));
  EXPECT_TRUE(model.WeightsFinite());
  EXPECT_FALSE(std::filesystem::exists(dir + "/backup.safetensors"));  // ended normally
}

TEST(CheckpointCompatTest, BackupLoadsAndItsRunResumes) {
  for (const std::string& writer : kWriters) {
    SCOPED_TRACE("written by " + writer);
    const std::string path = CommittedFile("backup", writer);
    ExpectWriterMetadata(path, writer, "gradway-backup");
    absl::StatusOr<RunState> state = RunState::Load(path);
    ASSERT_TRUE(state.ok()) << state.status();
    ExpectBackupState(*state);
    ExpectResumes(path, *state);
  }
}

}  // namespace
}  // namespace checkpoints
}  // namespace nn
}  // namespace gradway
