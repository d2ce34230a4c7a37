// BatchNormalization: Keras' defaults and weights, training vs inference, the moving
// statistics as non-trainable weights (optimiser, checkpoints, backups, Summary, eval
// modes), training with Fit (deterministic across thread counts), ONNX export.
// LayerNormalization: Keras' defaults and weights, the op's numbers, training, saving and
// loading, errors, ONNX export.
#include "nn/normalization.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "base/runtime.h"
#include "gtest/gtest.h"
#include "nn/backup_and_restore.h"
#include "nn/callbacks.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/onnx_export.h"
#include "nn/test_util.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

namespace gradway {
namespace nn {
namespace {

using testing::Bars;
using testing::Blobs;
using testing::TempPath;

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The layer's moving mean and variance.
std::vector<std::vector<float>> Stats(const BatchNormalization& bn) {
  return {bn.moving_mean().ToVector(), bn.moving_variance().ToVector()};
}

TEST(BatchNormalizationTest, KerasDefaultsNamesAndWeights) {
  ClearSession();
  BatchNormalization bn;
  EXPECT_EQ(bn.name(), "batch_normalization");
  EXPECT_EQ(BatchNormalization().name(), "batch_normalization_1");
  const BatchNormalizationOptions& o = bn.options();
  EXPECT_EQ(o.axis, -1);
  EXPECT_FLOAT_EQ(o.momentum, 0.99f);
  EXPECT_FLOAT_EQ(o.epsilon, 1e-3f);
  EXPECT_TRUE(o.center);
  EXPECT_TRUE(o.scale);
  bn.Build({5, 4, 3});
  EXPECT_EQ(bn.output_shape(), (Shape{5, 4, 3}));
  const NamedTensors p = bn.NamedParameters();
  ASSERT_EQ(p.size(), 4u);
  const char* names[] = {"gamma", "beta", "moving_mean", "moving_variance"};
  const float values[] = {1.f, 0.f, 0.f, 1.f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(p[i].first, names[i]);
    EXPECT_EQ(p[i].second.shape(), (Shape{3}));
    EXPECT_EQ(p[i].second.ToVector(), std::vector<float>(3, values[i])) << names[i];
    EXPECT_EQ(p[i].second.requires_grad(), i < 2) << names[i];
  }
  EXPECT_EQ(bn.TrainableParameterCount(), 6);
  EXPECT_EQ(bn.ParameterCount(), 12);
  // Non-trainable stays non-trainable through a freeze and an unfreeze.
  bn.SetTrainable(false);
  EXPECT_EQ(bn.TrainableParameterCount(), 0);
  bn.SetTrainable(true);
  EXPECT_EQ(bn.TrainableParameterCount(), 6);
  EXPECT_FALSE(bn.moving_mean().requires_grad());

  BatchNormalization bare(BatchNormalizationOptions()
                              .Center(false)
                              .Scale(false)
                              .MovingVarianceInitializer(Constant(2.f))
                              .Name("bn"));
  bare.Build({7});
  ASSERT_EQ(bare.NamedParameters().size(), 2u);
  EXPECT_EQ(bare.NamedParameters()[0].first, "moving_mean");
  EXPECT_FALSE(bare.gamma().defined());
  EXPECT_FALSE(bare.beta().defined());
  EXPECT_EQ(bare.moving_variance().ToVector(), std::vector<float>(7, 2.f));
  EXPECT_EQ(bare.TrainableParameterCount(), 0);
}

// Training normalises with the batch and moves the statistics; Eval uses and keeps them;
// a frozen layer behaves as in Eval even in training mode (Keras 2).
TEST(BatchNormalizationTest, TrainingInferenceAndFrozen) {
  BatchNormalization bn(BatchNormalizationOptions().Momentum(0.9f).GammaInitializer(
      Constant(2.f)));
  Generator gen(3);
  const Tensor x = Tensor::Uniform({9, 3, 5, 4}, -1.f, 3.f, gen);
  Tensor y = bn(x);
  Tensor mean = Tensor::Zeros({4}), var = Tensor::Ones({4});
  const Tensor want = BatchNorm(x, Tensor::Full({4}, 2.f), Tensor::Zeros({4}), mean, var, true,
                                0.9f, 1e-3f);
  EXPECT_EQ(y.ToVector(), want.ToVector());
  EXPECT_EQ(bn.moving_mean().ToVector(), mean.ToVector());
  EXPECT_EQ(bn.moving_variance().ToVector(), var.ToVector());
  EXPECT_NE(mean.ToVector(), std::vector<float>(4, 0.f));

  bn.Eval();
  const std::vector<std::vector<float>> before = Stats(bn);
  y = bn(x);
  EXPECT_EQ(y.ToVector(), BatchNorm(x, Tensor::Full({4}, 2.f), Tensor::Zeros({4}), mean, var,
                                    false, 0.9f, 1e-3f)
                              .ToVector());
  EXPECT_EQ(Stats(bn), before);

  bn.Train();
  bn.SetTrainable(false);
  EXPECT_EQ(bn(x).ToVector(), y.ToVector());
  EXPECT_EQ(Stats(bn), before);
}

TEST(BatchNormalizationTest, Errors) {
  ClearSession();
  EXPECT_EQ(ErrorOf([] {
              BatchNormalization(BatchNormalizationOptions().Axis(1)).Build({4, 4, 3});
            }),
            "batch_normalization (BatchNormalization): axis 1 is not supported for input "
            "(None, 4, 4, 3): only the last axis (-1, channels last) is");
  BatchNormalization last(BatchNormalizationOptions().Axis(3));  // the last axis, counted
  last.Build({4, 4, 3});
  EXPECT_EQ(last.output_shape(), (Shape{4, 4, 3}));
  EXPECT_EQ(ErrorOf([] {
              BatchNormalization(BatchNormalizationOptions().Name("bn")).Build({5, 3});
            }),
            "bn (BatchNormalization): expects input (None, features) or (None, height, width, "
            "channels), got (None, 5, 3)");
  EXPECT_EQ(ErrorOf([] { BatchNormalization(BatchNormalizationOptions().Momentum(1.5f)); }),
            "BatchNormalization: momentum must be in [0, 1], got 1.5");
  EXPECT_EQ(ErrorOf([] { BatchNormalization(BatchNormalizationOptions().Epsilon(0.f)); }),
            "BatchNormalization: epsilon must be positive, got 0");
}

// A small CNN with batch norm after a convolution and on a Dense's output.
void AddBnCnn(Sequential& model) {
  model.Add(Conv2D(Conv2DOptions(4, 3).InputShape({8, 8, 1})));
  model.Add(BatchNormalization());
  model.Add(ReLU());
  model.Add(Flatten());
  model.Add(Dense(6));
  model.Add(BatchNormalization(BatchNormalizationOptions().Momentum(0.9f)));
  model.Add(Activation(kRelu));
  model.Add(Dense(DenseOptions(2).Activation(kSoftmax)));
}

TEST(BatchNormalizationTest, SummaryCountsTheMovingStatisticsAsNonTrainable) {
  ClearSession();
  Sequential model(1);
  AddBnCnn(model);
  std::ostringstream os;
  model.Summary(os);
  // conv 40, bn 4 x 4, dense 144 x 6 + 6, bn 4 x 6, dense 14; the moving statistics
  // (2 x 4 + 2 x 6) are non-trainable.
  EXPECT_EQ(os.str(),
            "Model: \"sequential\"\n"
            "_______________________________________________________________________________\n"
            "Layer (type)                               Output Shape              Param #   \n"
            "===============================================================================\n"
            "conv2d (Conv2D)                            (None, 6, 6, 4)           40        \n"
            "_______________________________________________________________________________\n"
            "batch_normalization (BatchNormalization)   (None, 6, 6, 4)           16        \n"
            "_______________________________________________________________________________\n"
            "re_lu (ReLU)                               (None, 6, 6, 4)           0         \n"
            "_______________________________________________________________________________\n"
            "flatten (Flatten)                          (None, 144)               0         \n"
            "_______________________________________________________________________________\n"
            "dense (Dense)                              (None, 6)                 870       \n"
            "_______________________________________________________________________________\n"
            "batch_normalization_1 (BatchNormalization) (None, 6)                 24        \n"
            "_______________________________________________________________________________\n"
            "activation (Activation)                    (None, 6)                 0         \n"
            "_______________________________________________________________________________\n"
            "dense_1 (Dense)                            (None, 2)                 14        \n"
            "===============================================================================\n"
            "Total params: 964\n"
            "Trainable params: 944\n"
            "Non-trainable params: 20\n"
            "_______________________________________________________________________________\n");
}

// TrainStep: the optimiser updates gamma and beta but not the moving statistics, which
// take exactly the momentum update from the batch (here with SGD's lr 1, any gradient
// reaching them would show).
TEST(BatchNormalizationTest, TheOptimiserLeavesTheMovingStatistics) {
  ClearSession();
  Sequential model(2);
  model.Add(BatchNormalization(BatchNormalizationOptions().InputShape({2})));
  model.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
  model.Compile(CategoricalCrossentropy(), SGD(1.0));
  auto [x, y] = Blobs(33, 5);
  BatchNormalization& bn = model.layer<BatchNormalization>(0);
  Tensor mean = bn.moving_mean().Clone(), var = bn.moving_variance().Clone();
  BatchNorm(x, Tensor(), Tensor(), mean, var, true, 0.99f, 1e-3f);
  const std::vector<float> gamma = bn.gamma().ToVector();
  model.TrainStep(x, y);
  for (const auto& p : model.optimizer()->parameters()) {
    EXPECT_EQ(p.first.find("moving"), std::string::npos) << p.first;
  }
  EXPECT_EQ(model.optimizer()->parameters().size(), 4u);  // gamma, beta, kernel, bias
  EXPECT_EQ(bn.moving_mean().ToVector(), mean.ToVector());
  EXPECT_EQ(bn.moving_variance().ToVector(), var.ToVector());
  EXPECT_FALSE(bn.moving_mean().grad().defined());
  EXPECT_NE(bn.gamma().ToVector(), gamma);
}

struct Trained {
  std::vector<std::vector<float>> weights;
  History history;
};

// Fit of the batch-norm CNN on bars; `validation` adds validation data.
Trained FitBnCnn(int threads, bool validation) {
  SetNumThreads(threads);
  ClearSession();
  Sequential model(3);
  AddBnCnn(model);
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.01)));
  auto [x, y] = Bars(97, 8, 11);
  FitOptions options = FitOptions().Epochs(4).BatchSize(16).Verbose(0);
  if (validation) {
    auto [xv, yv] = Bars(31, 8, 12);
    options.ValidationData(xv, yv);
  }
  Trained t;
  t.history = model.Fit(x, y, options);
  for (const Tensor& w : model.GetWeights()) t.weights.push_back(w.ToVector());
  SetNumThreads(0);
  return t;
}

// Fit trains (the loss goes down), moves the moving statistics, gives the same bits with 1
// and 2 threads, and its validation (eval mode) leaves the moving statistics alone: a run
// with validation data ends with the weights of one without.
TEST(BatchNormalizationTest, FitTrainsDeterministicallyAndValidatesInEvalMode) {
  const Trained one = FitBnCnn(1, true);
  ASSERT_EQ(one.history.loss.size(), 4u);
  EXPECT_LT(one.history.loss.back(), 0.7 * one.history.loss.front());
  ASSERT_EQ(one.history.val_loss.size(), 4u);
  // Weights: conv kernel, bias, then gamma, beta, moving_mean, moving_variance.
  ASSERT_EQ(one.weights.size(), 14u);
  EXPECT_NE(one.weights[4], std::vector<float>(4, 0.f));  // moving mean moved
  EXPECT_NE(one.weights[5], std::vector<float>(4, 1.f));  // moving variance moved
  const Trained two = FitBnCnn(2, true);
  EXPECT_EQ(one.weights, two.weights);
  EXPECT_EQ(one.history.loss, two.history.loss);
  EXPECT_EQ(one.history.val_loss, two.history.val_loss);
  const Trained no_validation = FitBnCnn(2, false);
  EXPECT_EQ(one.weights, no_validation.weights);
}

// Predict and Evaluate run in eval mode: the moving statistics do not move.
TEST(BatchNormalizationTest, PredictAndEvaluateLeaveTheStatistics) {
  ClearSession();
  Sequential model(4);
  AddBnCnn(model);
  model.Compile(CategoricalCrossentropy(), Adam());
  auto [x, y] = Bars(40, 8, 13);
  model.Fit(x, y, FitOptions().Epochs(1).BatchSize(8).Verbose(0));
  const std::vector<Tensor> before = model.GetWeights();
  const Tensor p1 = model.Predict(x, 7);
  model.Evaluate(x, y, 9);
  model.TestStep(x, y);
  const Tensor p2 = model.Predict(x, 40);
  const std::vector<Tensor> after = model.GetWeights();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i].ToVector(), after[i].ToVector());
  // Inference does not depend on the batch: batches of 7 and of 40 give the same outputs.
  const std::vector<float> a = p1.ToVector(), b = p2.ToVector();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << i;
}

// Save / Load and SaveWeights / LoadWeights hold the moving statistics: restored bit for
// bit, under Keras' names.
TEST(BatchNormalizationTest, CheckpointsHoldTheMovingStatistics) {
  ClearSession();
  Sequential model(5);
  AddBnCnn(model);
  model.Compile(CategoricalCrossentropy(), Adam());
  auto [x, y] = Bars(48, 8, 14);
  model.Fit(x, y, FitOptions().Epochs(2).BatchSize(16).Verbose(0));
  const std::string full = TempPath("bn_model.safetensors"),
                    weights = TempPath("bn_weights.safetensors");
  ASSERT_TRUE(model.Save(full).ok());
  ASSERT_TRUE(model.SaveWeights(weights).ok());
  auto contents = ReadSafetensors(weights);
  ASSERT_TRUE(contents.ok());
  std::vector<std::string> names;
  for (const auto& t : contents->tensors) names.push_back(t.first);
  for (const char* key :
       {"batch_normalization/moving_mean", "batch_normalization/moving_variance",
        "batch_normalization_1/moving_mean", "batch_normalization_1/gamma"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), key), names.end()) << key;
  }
  const Tensor want = model.Predict(x);
  for (bool whole : {true, false}) {
    Sequential other(99);
    AddBnCnn(other);
    other.Compile(CategoricalCrossentropy(), Adam());
    const absl::Status st = whole ? other.Load(full) : other.LoadWeights(weights);
    ASSERT_TRUE(st.ok()) << st;
    const NamedTensors a = model.NamedParameters(), b = other.NamedParameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_EQ(0, std::memcmp(a[i].second.data(), b[i].second.data(),
                               a[i].second.numel() * sizeof(float)))
          << a[i].first;
    }
    EXPECT_EQ(other.Predict(x).ToVector(), want.ToVector());
  }
}

// Thrown by Crash to stand for a killed process.
struct Crashed {};

class Crash : public Callback {
 public:
  explicit Crash(int64_t at_step) : at_step_(at_step) {}
  void OnBatchEnd(int64_t, const Logs&) override {
    if (model()->train_step() == at_step_) throw Crashed{};
  }

 private:
  int64_t at_step_;
};

// One Fit of the batch-norm CNN with BackupAndRestore (a backup every 2 steps), crashing at
// `crash_step` (-1: never); returns the weights.
std::vector<std::vector<float>> BackupFit(const std::string& dir, int64_t crash_step) {
  ClearSession();
  Sequential model(6);
  AddBnCnn(model);
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.01)));
  auto [x, y] = Bars(50, 8, 15);
  model.Fit(x, y, FitOptions().Epochs(3).BatchSize(16).Verbose(0).Callbacks(
                      {BackupAndRestore(BackupAndRestoreOptions(dir).SaveFreq(2).Verbose(0)),
                       Crash(crash_step)}));
  std::vector<std::vector<float>> out;
  for (const Tensor& w : model.GetWeights()) out.push_back(w.ToVector());
  return out;
}

// The backups hold the moving statistics: a run killed mid-epoch and resumed ends with
// those of an uninterrupted run, bit for bit.
TEST(BatchNormalizationTest, BackupAndRestoreHoldsTheMovingStatistics) {
  const std::string ref_dir = TempPath("bn_backup_ref"), dir = TempPath("bn_backup");
  std::filesystem::remove_all(ref_dir);
  std::filesystem::remove_all(dir);
  const auto ref = BackupFit(ref_dir, -1);
  EXPECT_THROW(BackupFit(dir, 7), Crashed);
  auto backup = ReadSafetensors(dir + "/backup.safetensors");
  ASSERT_TRUE(backup.ok()) << backup.status();
  bool has_stats = false;
  for (const auto& t : backup->tensors) {
    has_stats |= t.first == "batch_normalization/moving_variance";
  }
  EXPECT_TRUE(has_stats);
  EXPECT_EQ(BackupFit(dir, -1), ref);
}

// The file, checked as python's full_check does: the checker, then strict shape inference.
onnx::ModelProto ReadChecked(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes.str())) << path;
  onnx::checker::check_model(model);
  onnx::ShapeInferenceOptions strict(/*check_type=*/true, /*strict_mode=*/1);
  onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), strict);
  return model;
}

std::vector<float> InitializerValues(const onnx::ModelProto& m, const std::string& name) {
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    if (t.name() != name) continue;
    std::vector<float> v(t.raw_data().size() / sizeof(float));
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
    return v;
  }
  ADD_FAILURE() << "no initializer " << name;
  return {};
}

// Exported in inference form: after a Conv in its NCHW (no Transpose between), on a Dense's
// output directly; the moving statistics and epsilon as the layer holds them.
TEST(BatchNormalizationTest, ExportsOnnxInferenceForm) {
  ClearSession();
  Sequential model(8);
  AddBnCnn(model);
  model.Compile(CategoricalCrossentropy(), Adam());
  auto [x, y] = Bars(32, 8, 16);
  model.Fit(x, y, FitOptions().Epochs(1).BatchSize(8).Verbose(0));
  const std::string path = TempPath("bn.onnx");
  ASSERT_TRUE(SaveOnnx(model, path).ok());
  const onnx::ModelProto m = ReadChecked(path);
  std::vector<std::string> ops;
  for (const onnx::NodeProto& n : m.graph().node()) ops.push_back(n.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"Transpose", "Conv", "BatchNormalization", "Relu",
                                           "Transpose", "Flatten", "Gemm", "BatchNormalization",
                                           "Relu", "Gemm", "Softmax", "Identity"}));
  const BatchNormalization& bn = model.layer<BatchNormalization>(1);
  EXPECT_EQ(InitializerValues(m, bn.name() + "/moving_mean"), bn.moving_mean().ToVector());
  EXPECT_EQ(InitializerValues(m, bn.name() + "/moving_variance"),
            bn.moving_variance().ToVector());
  EXPECT_EQ(InitializerValues(m, bn.name() + "/gamma"), bn.gamma().ToVector());
  for (const onnx::NodeProto& n : m.graph().node()) {
    if (n.op_type() != "BatchNormalization") continue;
    ASSERT_EQ(n.attribute_size(), 1);
    EXPECT_EQ(n.attribute(0).name(), "epsilon");
    EXPECT_FLOAT_EQ(n.attribute(0).f(), 1e-3f);
  }
}

// ---- LayerNormalization.

TEST(LayerNormalizationTest, KerasDefaultsWeightsAndTheOpsNumbers) {
  ClearSession();
  LayerNormalization ln;
  EXPECT_EQ(ln.name(), "layer_normalization");
  EXPECT_EQ(LayerNormalization().name(), "layer_normalization_1");
  EXPECT_EQ(ln.options().axis, -1);
  EXPECT_FLOAT_EQ(ln.options().epsilon, 1e-3f);
  EXPECT_TRUE(ln.options().center);
  EXPECT_TRUE(ln.options().scale);
  ln.Build({4, 6});
  EXPECT_EQ(ln.output_shape(), (Shape{4, 6}));
  const NamedTensors p = ln.NamedParameters();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].first, "gamma");
  EXPECT_EQ(p[1].first, "beta");
  EXPECT_EQ(p[0].second.ToVector(), std::vector<float>(6, 1.f));
  EXPECT_EQ(p[1].second.ToVector(), std::vector<float>(6, 0.f));
  EXPECT_EQ(ln.TrainableParameterCount(), 12);
  // The same in training and inference: autograd's LayerNorm with the layer's weights.
  Generator gen(3);
  LayerNormalization affine(LayerNormalizationOptions()
                                .GammaInitializer(RandomUniform(0.5f, 1.5f))
                                .BetaInitializer(RandomUniform(-1.f, 1.f))
                                .Epsilon(0.01f));
  const Tensor x = Tensor::Uniform({3, 4, 6}, -2.f, 2.f, gen);
  affine.Train();
  const std::vector<float> train = affine(x).ToVector();
  affine.Eval();
  EXPECT_EQ(affine(x).ToVector(), train);
  EXPECT_EQ(LayerNorm(x, affine.gamma(), affine.beta(), 0.01f).ToVector(), train);
  LayerNormalization bare(LayerNormalizationOptions().Center(false).Scale(false));
  bare.Build({5});
  EXPECT_TRUE(bare.NamedParameters().empty());
  EXPECT_FALSE(bare.gamma().defined());
}

TEST(LayerNormalizationTest, Errors) {
  ClearSession();
  EXPECT_EQ(ErrorOf([] { LayerNormalization(LayerNormalizationOptions().Epsilon(0.f)); }),
            "LayerNormalization: epsilon must be positive, got 0");
  EXPECT_EQ(ErrorOf([] {
              LayerNormalization ln(LayerNormalizationOptions().Axis(1));
              ln.Build({4, 6});
            }),
            "layer_normalization_1 (LayerNormalization): axis 1 is not supported for input "
            "(None, 4, 6): only the last axis (-1) is");
  EXPECT_EQ(ErrorOf([] {
              LayerNormalization ln;
              ln.Build({3});
              Generator gen(1);
              ln(Tensor::Uniform({2, 4}, 0.f, 1.f, gen));
            }),
            "layer_normalization_2 (LayerNormalization): expected input (None, 3), got (2, 4)");
}

// A Sequential with layer norm trains (loss falls), and Save / Load give the same
// predictions bit for bit.
TEST(LayerNormalizationTest, TrainsSavesAndLoads) {
  ClearSession();
  const auto build = [](Sequential& m) {
    m.Add(Dense(DenseOptions(8).InputShape({2})));
    m.Add(LayerNormalization());
    m.Add(ReLU());
    m.Add(Dense(3, kSoftmax));
  };
  Sequential model(5);
  build(model);
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.01)),
                {"accuracy"});
  auto [x, y] = Blobs(96, 4);
  const History h = model.Fit(x, y, FitOptions().Epochs(10).BatchSize(16).Verbose(0));
  const std::vector<double>& loss = h.history.at("loss");
  EXPECT_LT(loss.back(), 0.5 * loss.front());
  EXPECT_GT(h.history.at("accuracy").back(), 0.8);
  const std::string path = TempPath("ln_model.safetensors");
  ASSERT_TRUE(model.Save(path).ok());
  Sequential other(99);
  build(other);
  other.Compile(CategoricalCrossentropy(), Adam());
  ASSERT_TRUE(other.Load(path).ok());
  EXPECT_EQ(other.Predict(x).ToVector(), model.Predict(x).ToVector());
}

TEST(LayerNormalizationTest, ExportsOnnx) {
  ClearSession();
  Sequential model(8);
  model.Add(Conv2D(Conv2DOptions(4, 3).InputShape({6, 6, 2})));
  model.Add(LayerNormalization(LayerNormalizationOptions().Epsilon(0.01f)));
  const std::string path = TempPath("ln.onnx");
  ASSERT_TRUE(SaveOnnx(model, path).ok());
  const onnx::ModelProto m = ReadChecked(path);
  std::vector<std::string> ops;
  for (const onnx::NodeProto& n : m.graph().node()) ops.push_back(n.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"Transpose", "Conv", "Transpose", "ReduceMean", "Sub",
                                           "Mul", "ReduceMean", "Add", "Sqrt", "Div", "Mul",
                                           "Add", "Identity"}));
  const LayerNormalization& ln = model.layer<LayerNormalization>(1);
  EXPECT_EQ(InitializerValues(m, ln.name() + "/gamma"), ln.gamma().ToVector());
  EXPECT_EQ(InitializerValues(m, ln.name() + "/epsilon"), std::vector<float>{0.01f});
}

}  // namespace
}  // namespace nn
}  // namespace gradway
