#include "nn/model.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "absl/strings/str_split.h"
#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/nn_functions.h"
#include "base/runtime.h"
#include "base/version.h"
#include "gtest/gtest.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::Bars;
using testing::Blobs;
using testing::TempPath;

// The seed's MNIST CNN (Keras examples/mnist_cnn.py).
void AddMnistCnn(Sequential& model) {
  model.Add(Conv2D(Conv2DOptions(32, 3).Activation(kRelu).InputShape({28, 28, 1})));
  model.Add(Conv2D(Conv2DOptions(64, 3).Activation(kRelu)));
  model.Add(MaxPooling2D(2));
  model.Add(Dropout(0.25));
  model.Add(Flatten());
  model.Add(Dense(DenseOptions(128).Activation(kRelu)));
  model.Add(Dropout(0.5));
  model.Add(Dense(DenseOptions(10).Activation(kSoftmax)));
}

TEST(SummaryTest, MnistCnnMatchesKeras) {
  ClearSession();
  Sequential model(42);
  AddMnistCnn(model);
  std::ostringstream os;
  model.Summary(os);
  const std::string want =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      "Layer (type)                 Output Shape              Param #   \n"
      "=================================================================\n"
      "conv2d (Conv2D)              (None, 26, 26, 32)        320       \n"
      "_________________________________________________________________\n"
      "conv2d_1 (Conv2D)            (None, 24, 24, 64)        18496     \n"
      "_________________________________________________________________\n"
      "max_pooling2d (MaxPooling2D) (None, 12, 12, 64)        0         \n"
      "_________________________________________________________________\n"
      "dropout (Dropout)            (None, 12, 12, 64)        0         \n"
      "_________________________________________________________________\n"
      "flatten (Flatten)            (None, 9216)              0         \n"
      "_________________________________________________________________\n"
      "dense (Dense)                (None, 128)               1179776   \n"
      "_________________________________________________________________\n"
      "dropout_1 (Dropout)          (None, 128)               0         \n"
      "_________________________________________________________________\n"
      "dense_1 (Dense)              (None, 10)                1290      \n"
      "=================================================================\n"
      "Total params: 1,199,882\n"
      "Trainable params: 1,199,882\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  EXPECT_EQ(os.str(), want);
  EXPECT_EQ(model.ParameterCount(), 1199882);
  auto names = model.NamedParameters();
  ASSERT_EQ(names.size(), 8u);
  EXPECT_EQ(names[0].first, "conv2d/kernel");
  EXPECT_EQ(names[3].first, "conv2d_1/bias");
  EXPECT_EQ(names[6].first, "dense_1/kernel");
}

TEST(SummaryTest, MlpAndFrozenLayers) {
  ClearSession();  // layer names count from "dense" again
  Sequential model(1);
  model.Add(Flatten({28, 28, 1}));
  auto hidden = std::make_shared<Dense>(DenseOptions(512).Activation(kRelu));
  model.Add(hidden);
  model.Add(Dropout(0.2));
  model.Add(Dense(DenseOptions(10).Activation(kSoftmax)));
  std::ostringstream os;
  model.Summary(os);
  EXPECT_NE(os.str().find("dense (Dense)                (None, 512)               401920"),
            std::string::npos) << os.str();
  EXPECT_NE(os.str().find("dense_1 (Dense)              (None, 10)                5130"),
            std::string::npos);
  EXPECT_NE(os.str().find("Total params: 407,050\n"), std::string::npos);
  hidden->SetTrainable(false);
  std::ostringstream frozen;
  model.Summary(frozen);
  EXPECT_NE(frozen.str().find("Trainable params: 5,130\nNon-trainable params: 401,920\n"),
            std::string::npos) << frozen.str();
}

TEST(SequentialTest, NamingBuildAndModes) {
  ClearSession();
  Sequential model(0);
  model.Add(Dense(4));
  EXPECT_FALSE(model.built());
  model.Add(Dense(DenseOptions(2).Name("out")));
  model.Add(ReLU());
  EXPECT_EQ(model.layer(0).name(), "dense");
  EXPECT_EQ(model.layer(1).name(), "out");
  EXPECT_EQ(model.layer(2).name(), "re_lu");
  // Names are unique in the process, as in Keras: another model's first Dense is "dense_2"
  // (the named one took "dense_1"), but its parameters are keyed in that model alone.
  Sequential other(0);
  Dense& first = other.Add<Dense>(DenseOptions(3).InputShape({2}));
  EXPECT_EQ(first.name(), "dense_2");
  EXPECT_EQ(other.name(), "sequential_1");
  EXPECT_EQ(other.NamedParameters()[0].first, "dense/kernel");
  EXPECT_THROW(model.Add(Dense(DenseOptions(2).Name("out"))), Error);
  EXPECT_THROW(model.Summary(), Error);  // not built
  Tensor y = model.Predict(Tensor::Zeros({5, 3}));
  EXPECT_EQ(y.shape(), (Shape{5, 2}));
  EXPECT_TRUE(model.built());
  EXPECT_EQ(model.ParameterCount(), 3 * 4 + 4 + 4 * 2 + 2);
  model.Eval();
  EXPECT_FALSE(model.layer(1).is_training());
  model.Train();
  EXPECT_TRUE(model.layer(1).is_training());
  model.Add(Dense(7));  // built model: built at once
  EXPECT_EQ(model.output_shape(), (Shape{7}));
  EXPECT_EQ(model.layer(3).name(), "dense_4");  // the rejected "out" took dense_3
  EXPECT_EQ(model.NamedParameters().back().first, "dense_1/bias");  // its key here
  ClearSession();
  EXPECT_EQ(Dense(1).name(), "dense");
}

TEST(SequentialTest, SameSeedSameWeights) {
  Sequential a(7), b(7), c(8);
  for (Sequential* m : {&a, &b, &c}) {
    m->Add(Dense(DenseOptions(5).InputShape({3})));
    m->Add(Dense(2));
  }
  auto wa = a.GetWeights(), wb = b.GetWeights(), wc = c.GetWeights();
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(wa[i].ToVector(), wb[i].ToVector());
  EXPECT_NE(wa[0].ToVector(), wc[0].ToVector());
  // Glorot limit for a 3x5 kernel.
  float limit = std::sqrt(6.f / 8.f);
  for (float v : wa[0].ToVector()) EXPECT_LE(std::fabs(v), limit);
}

TEST(ModelErrorsTest, MisuseThrows) {
  ClearSession();
  Sequential model(0);
  model.Add(Conv2D(Conv2DOptions(2, 3).InputShape({8, 8, 1})));
  model.Add(Flatten());
  model.Add(Dense(DenseOptions(2).Activation(kSoftmax)));
  auto [x, y] = Bars(8, 8, 1);
  try {
    model.Fit(x, y);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("call Compile"), std::string::npos) << e.what();
  }
  model.Compile(CategoricalCrossentropy(), Adam(), {"accuracy"});
  try {
    model.Fit(x, Tensor::Zeros({7, 2}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x has 8 samples but y has 7"), std::string::npos)
        << e.what();
  }
  try {
    model.Fit(Tensor::Zeros({8, 8, 8}), y);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "conv2d (Conv2D) expects input (None, 8, 8, 1), got x of shape (8, 8, 8)"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(model.Compile(CategoricalCrossentropy(), Adam(), {"f1"}), Error);
  EXPECT_THROW(model.Fit(x, y, FitOptions().BatchSize(0).Verbose(0)), Error);
}

TEST(FitTest, BlobsReachAccuracy) {
  auto [x, y] = Blobs(300, 1);
  auto [xv, yv] = Blobs(90, 2);
  Sequential model(3);
  model.Add(Dense(DenseOptions(16).Activation(kRelu).InputShape({2})));
  model.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.01)), {"accuracy"});
  History h = model.Fit(x, y, FitOptions().Epochs(15).BatchSize(32).ValidationData(xv, yv)
                                  .Verbose(0));
  ASSERT_EQ(h.size(), 15u);
  EXPECT_EQ(h.epoch.back(), 15);
  EXPECT_LT(h.loss.back(), h.loss.front());
  EXPECT_GE(h.accuracy.back(), 0.95);
  EXPECT_GE(h.val_accuracy.back(), 0.95);
  EXPECT_EQ(h.history.at("val_loss"), h.val_loss);
  EXPECT_GT(h.seconds[0], 0);
  // 300 / 32: 10 steps a epoch.
  EXPECT_EQ(model.optimizer()->iterations(), 150);

  Logs ev = model.Evaluate(xv, yv, 7);
  EXPECT_NEAR(ev.Get("loss"), h.val_loss.back(), 1e-5);
  EXPECT_NEAR(ev.Get("accuracy"), h.val_accuracy.back(), 1e-12);
  // The fused loss equals the loss on Predict's probabilities.
  Tensor p = model.Predict(xv, 64);
  EXPECT_EQ(p.shape(), (Shape{90, 3}));
  double ce = 0;
  for (int64_t i = 0; i < 90; ++i) {
    float s = 0;
    for (int c = 0; c < 3; ++c) {
      s += p.at({i, c});
      ce -= yv.at({i, c}) * std::log(p.at({i, c}));
    }
    EXPECT_NEAR(s, 1.f, 1e-5f);
  }
  EXPECT_NEAR(ce / 90, ev.Get("loss"), 1e-4);
}

TEST(SequentialTest, AddReturnsTheTypedLayerItHolds) {
  ClearSession();
  Sequential model(5);
  Dense& hidden = model.Add<Dense>(DenseOptions(8).Activation(kRelu).InputShape({2}));
  Dropout& dropout = model.Add(Dropout(0.1));
  auto shared = std::make_shared<Dense>(3, kSoftmax);
  Dense& head = model.Add(shared);
  EXPECT_EQ(&head, shared.get());
  EXPECT_EQ(&model.layer<Dense>(0), &hidden);
  EXPECT_EQ(&model.layer<Dropout>(1), &dropout);
  EXPECT_EQ(&model.layer<Dense>(2), &head);
  try {
    model.layer<Conv2D>(1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1 is dropout (Dropout), not a "),
              std::string::npos) << e.what();
  }
  // The references see the weights Fit trains.
  auto [x, y] = Blobs(64, 4);
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.05)));
  const std::vector<float> before = head.kernel().ToVector();
  model.Fit(x, y, FitOptions().Epochs(2).BatchSize(16).Verbose(0));
  EXPECT_NE(head.kernel().ToVector(), before);
  EXPECT_EQ(head.kernel().impl(), model.NamedParameters()[2].second.impl());
}

TEST(SequentialTest, ShortFormsEqualTheOptionsForms) {
  Sequential a(9), b(9);
  a.Add(Conv2D(Conv2DOptions(4, 3).Activation(kRelu).InputShape({6, 6, 1})));
  a.Add(Flatten());
  a.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
  b.Add<Conv2D>(Conv2DOptions(4, 3).Activation(kRelu).InputShape({6, 6, 1}));
  b.Add<Flatten>();
  b.Add(Dense(3, kSoftmax));
  const Conv2D short_conv(4, 3, kRelu);
  EXPECT_EQ(short_conv.options().kernel_h, 3);
  EXPECT_EQ(short_conv.options().kernel_w, 3);
  EXPECT_EQ(short_conv.options().stride_h, 1);
  EXPECT_EQ(short_conv.options().padding, Padding::kValid);
  EXPECT_EQ(short_conv.options().activation, kRelu);
  Generator gen(2);
  Tensor x = Tensor::Uniform({2, 6, 6, 1}, 0, 1, gen);
  EXPECT_EQ(a.Predict(x).ToVector(), b.Predict(x).ToVector());
}

// A custom module whose last step is a softmax it applies itself: the loss still fuses.
class SoftmaxHead : public Module {
 public:
  SoftmaxHead() : Module("SoftmaxHead", "softmax_head") {}
  Tensor Forward(const Tensor& x) override { return ::gradway::Softmax(x * 3.f); }
};

TEST(TrainStepTest, AHandWrittenLoopMatchesFit) {
  auto [x, y] = Blobs(96, 6);
  auto make = [](Sequential& m) {
    m.Add(Dense(DenseOptions(16).Activation(kRelu).InputShape({2})));
    m.Add(Dropout(DropoutOptions(0.3)));
    m.Add(Dense(3));
    m.Add(SoftmaxHead());
    m.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.02)), {"accuracy"});
  };
  Sequential fitted(11), looped(11);
  make(fitted);
  make(looped);
  History h = fitted.Fit(x, y, FitOptions().Epochs(3).BatchSize(32).Shuffle(false).Verbose(0));
  Logs last;
  for (int epoch = 0; epoch < 3; ++epoch) {
    looped.ResetMetrics();
    for (int64_t begin = 0; begin < 96; begin += 32) {
      Tensor xb = Tensor::FromVector(
          std::vector<float>(x.data() + begin * 2, x.data() + (begin + 32) * 2), {32, 2});
      Tensor yb = Tensor::FromVector(
          std::vector<float>(y.data() + begin * 3, y.data() + (begin + 32) * 3), {32, 3});
      last = looped.TrainStep(xb, yb);
    }
  }
  EXPECT_EQ(looped.train_step(), 9);
  EXPECT_EQ(looped.optimizer()->iterations(), 9);
  EXPECT_EQ(last.Get("loss"), h.loss.back());
  EXPECT_EQ(last.Get("accuracy"), h.accuracy.back());
  auto wf = fitted.GetWeights(), wl = looped.GetWeights();
  for (size_t i = 0; i < wf.size(); ++i) EXPECT_EQ(wf[i].ToVector(), wl[i].ToVector()) << i;
  // TestStep: the running logs of the batches since ResetMetrics, as Evaluate.
  looped.ResetMetrics();
  Logs test = looped.TestStep(x, y);
  Logs evaluated = fitted.Evaluate(x, y, 96);
  EXPECT_EQ(test.Get("loss"), evaluated.Get("loss"));
  EXPECT_EQ(test.Get("accuracy"), evaluated.Get("accuracy"));
  // The custom head's softmax was fused: the loss equals SoftmaxCrossEntropy of its logits.
  Sequential probe(1);
  probe.Add(SoftmaxHead());
  probe.Compile(CategoricalCrossentropy(), Adam());
  Tensor z = Tensor::FromVector({40, 0, -40, 0, 40, -40}, {2, 3});
  Tensor t = Tensor::FromVector({0, 0, 1, 1, 0, 0}, {2, 3});
  EXPECT_FLOAT_EQ(probe.TestStep(z, t).Get("loss"), SoftmaxCrossEntropy(z * 3.f, t).item());
  EXPECT_THROW(Sequential().TrainStep(x, y), Error);  // not compiled
}

// A custom layer as a PyTorch user writes one: a child made in the constructor (built on
// first use), a child made in DoBuild, and a parameter of its own.
class ResidualBlock : public Module {
 public:
  ResidualBlock() : Module("ResidualBlock", "residual_block") {
    inner_ = std::static_pointer_cast<Dense>(
        RegisterModule("inner", std::make_shared<Dense>(4, kRelu)));
  }
  Tensor Forward(const Tensor& x) override {
    return (*outer_)((*inner_)(x)) * scale_ + x;
  }

 protected:
  Shape DoBuild(const Shape& input_shape) override {
    outer_ = std::static_pointer_cast<Dense>(
        RegisterModule("outer", std::make_shared<Dense>(input_shape[0], kLinear)));
    scale_ = RegisterParameter("scale", Tensor::Full({1}, 0.5f));
    return input_shape;
  }

 private:
  std::shared_ptr<Dense> inner_, outer_;
  Tensor scale_;
};

class AVeryLongCustomLayerTypeName : public Module {
 public:
  AVeryLongCustomLayerTypeName()
      : Module("AVeryLongCustomLayerTypeName", "a_very_long_custom_layer_type_name") {}
  Tensor Forward(const Tensor& x) override { return x; }
};

TEST(SummaryTest, ColumnsStayAlignedWithLongNames) {
  ClearSession();
  Sequential model(1);
  model.Add(Dense(DenseOptions(8).InputShape({4})));
  model.Add<AVeryLongCustomLayerTypeName>();
  model.Add(Dense(2));
  std::ostringstream os;
  model.Summary(os);
  // Every row's "Output Shape" and "Param #" columns start where the header's do.
  const std::vector<std::string> lines = absl::StrSplit(os.str(), '\n');
  const size_t shape_col = lines[2].find("Output Shape"), param_col = lines[2].find("Param #");
  ASSERT_NE(shape_col, std::string::npos);
  int rows = 0;
  for (const std::string& line : lines) {
    if (line.find("(None, ") == std::string::npos) continue;
    ++rows;
    EXPECT_EQ(line.find("(None, "), shape_col) << os.str();
    EXPECT_NE(line[param_col], ' ') << os.str();
    EXPECT_EQ(line[param_col - 1], ' ') << os.str();
    EXPECT_EQ(line.size(), lines[1].size()) << os.str();  // as wide as the rules
  }
  EXPECT_EQ(rows, 3);
  EXPECT_GT(shape_col, 29u);  // widened past Keras' 29 for the long name
}

TEST(NestedModuleTest, EveryParameterTrainsFromTheFirstFit) {
  auto [x, y] = Blobs(64, 8);
  Sequential model(2);
  model.Add(Dense(DenseOptions(3).InputShape({2})));
  ResidualBlock& block = model.Add<ResidualBlock>();
  model.Add(Dense(3, kSoftmax));
  // Built with the model: both children's parameters exist and Summary counts them.
  const int64_t block_params = (3 * 4 + 4) + (4 * 3 + 3) + 1;
  EXPECT_EQ(block.ParameterCount(), block_params);
  EXPECT_EQ(model.ParameterCount(), (2 * 3 + 3) + block_params + (3 * 3 + 3));
  std::ostringstream summary;
  model.Summary(summary);
  EXPECT_NE(summary.str().find("Total params: 53\n"), std::string::npos) << summary.str();
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.01)));
  std::vector<std::vector<float>> before;
  for (const auto& [name, t] : model.NamedParameters()) before.push_back(t.ToVector());
  model.Fit(x, y, FitOptions().Epochs(1).BatchSize(16).Verbose(0));
  const NamedTensors after = model.NamedParameters();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_NE(after[i].second.ToVector(), before[i]) << after[i].first << " did not train";
  }
  EXPECT_EQ(model.optimizer()->parameters().size(), after.size());
}

// A child made in the constructor that changes the shape; DoBuild left at its default.
class Head : public Module {
 public:
  Head() : Module("Head", "head") {
    dense_ = std::static_pointer_cast<Dense>(RegisterModule("dense", std::make_shared<Dense>(10)));
  }
  Tensor Forward(const Tensor& x) override { return (*dense_)(x); }

 private:
  std::shared_ptr<Dense> dense_;
};

// A Forward that rejects its input: building reports it and leaves training mode alone.
class Picky : public Module {
 public:
  Picky() : Module("Picky", "picky") { RegisterModule("dense", std::make_shared<Dense>(2)); }
  Tensor Forward(const Tensor&) override { Fail("picky: no thanks"); }
};

TEST(NestedModuleTest, OutputShapeComesFromTheChildren) {
  Sequential model(3);
  model.Add(Dense(DenseOptions(32).InputShape({784})));
  Head& head = model.Add<Head>();
  model.Add(Dense(5));
  EXPECT_EQ(head.output_shape(), (Shape{10}));
  EXPECT_EQ(model.output_shape(), (Shape{5}));
  EXPECT_EQ(model.Predict(Tensor::Zeros({3, 784})).shape(), (Shape{3, 5}));

  Picky picky;
  picky.Train(true);
  std::string error;
  try {
    picky.Build({4});
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("building its sub-modules with a forward pass on a zero sample "
                       "(None, 4) failed: picky: no thanks"),
            std::string::npos) << error;
  EXPECT_TRUE(picky.is_training());
}

TEST(FitTest, SparseLabelsAndSgd) {
  auto [x, y] = Blobs(150, 4, /*sparse=*/true);
  Sequential model(5);
  model.Add(Dense(DenseOptions(8).Activation(kTanh).InputShape({2})));
  model.Add(Dense(3));
  model.Add(Softmax());
  model.Compile(SparseCategoricalCrossentropy(),
                SGD(SGDOptions(0.1).Momentum(0.9).Nesterov(true)), {"acc"});
  History h = model.Fit(x, y, FitOptions().Epochs(10).BatchSize(16).Verbose(0));
  EXPECT_GE(h.accuracy.back(), 0.95);
  EXPECT_EQ(h.history.count("acc"), 1u);
}

TEST(FitTest, MeanSquaredErrorRegression) {
  // y = 2 x0 - x1 + 0.5.
  Generator gen(9);
  Tensor x = Tensor::Normal({128, 2}, 0, 1, gen);
  Tensor y = Tensor::Empty({128, 1});
  for (int i = 0; i < 128; ++i) y.data()[i] = 2 * x.at({i, 0}) - x.at({i, 1}) + 0.5f;
  Sequential model(1);
  model.Add(Dense(DenseOptions(1).InputShape({2})));
  model.Compile(MeanSquaredError(), Adam(AdamOptions().LearningRate(0.05)), {"mae"});
  History h = model.Fit(x, y, FitOptions().Epochs(40).BatchSize(32).Verbose(0));
  EXPECT_LT(h.loss.back(), 1e-3);
  EXPECT_LT(h.history.at("mae").back(), 0.05);
}

Sequential MakeBarsCnn(uint64_t seed) {
  Sequential model(seed);
  model.Add(Conv2D(Conv2DOptions(4, 3).Activation(kRelu).InputShape({10, 10, 1})));
  model.Add(MaxPooling2D(2));
  model.Add(Dropout(0.25));
  model.Add(Flatten());
  model.Add(Dense(DenseOptions(8).Activation(kRelu)));
  model.Add(Dropout(0.5));
  model.Add(Dense(DenseOptions(2).Activation(kSoftmax)));
  model.Compile(CategoricalCrossentropy(), Adam(), {"accuracy"});
  return model;
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

TEST(DeterminismTest, SameSeedSameHistoryWithOneAndTwoThreads) {
  auto [x, y] = Bars(96, 10, 3);
  const int saved = NumThreads();
  std::vector<History> runs;
  std::vector<std::vector<Tensor>> weights;
  for (int threads : {1, 2, 1}) {
    SetNumThreads(threads);
    Sequential model = MakeBarsCnn(11);
    runs.push_back(model.Fit(x, y, FitOptions().Epochs(3).BatchSize(20).Verbose(0)));
    weights.push_back(model.GetWeights());
  }
  SetNumThreads(saved);
  for (size_t r = 1; r < runs.size(); ++r) {
    ASSERT_EQ(runs[r].size(), runs[0].size());
    for (size_t e = 0; e < runs[0].size(); ++e) {
      EXPECT_EQ(Bits(runs[r].loss[e]), Bits(runs[0].loss[e])) << "run " << r << " epoch " << e;
      EXPECT_EQ(Bits(runs[r].accuracy[e]), Bits(runs[0].accuracy[e]));
    }
    for (size_t i = 0; i < weights[0].size(); ++i) {
      EXPECT_EQ(weights[r][i].ToVector(), weights[0][i].ToVector());
    }
  }
  // A different seed gives a different run.
  Sequential other = MakeBarsCnn(12);
  History h = other.Fit(x, y, FitOptions().Epochs(1).BatchSize(20).Verbose(0));
  EXPECT_NE(Bits(h.loss[0]), Bits(runs[0].loss[0]));
}

TEST(CheckpointTest, WeightsRoundTripIsBitwise) {
  auto [x, y] = Bars(40, 10, 5);
  Sequential a = MakeBarsCnn(1);
  a.Fit(x, y, FitOptions().Epochs(1).BatchSize(8).Verbose(0));
  const std::string path = TempPath("weights.safetensors");
  ASSERT_TRUE(a.SaveWeights(path).ok());
  Sequential b = MakeBarsCnn(2);
  ASSERT_TRUE(b.LoadWeights(path).ok());
  auto wa = a.GetWeights(), wb = b.GetWeights();
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(wa[i].ToVector(), wb[i].ToVector());
  EXPECT_EQ(a.Predict(x).ToVector(), b.Predict(x).ToVector());
  // A different architecture is rejected, naming the tensor.
  Sequential c(0);
  c.Add(Dense(DenseOptions(3).InputShape({4})));
  absl::Status st = c.LoadWeights(path);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("dense/kernel"), std::string::npos) << st;
}

TEST(CheckpointTest, OptimizerStateResumesIdentically) {
  auto [x, y] = Bars(60, 10, 6);
  Sequential full = MakeBarsCnn(21);
  History hf = full.Fit(x, y, FitOptions().Epochs(4).BatchSize(16).Verbose(0));

  Sequential first = MakeBarsCnn(21);
  first.Fit(x, y, FitOptions().Epochs(2).BatchSize(16).Verbose(0));
  const std::string path = TempPath("resume.safetensors");
  ASSERT_TRUE(first.Save(path).ok());

  // The same seed gives the same dropout seeds; the weights all come from the file.
  Sequential resumed = MakeBarsCnn(21);
  resumed.layer(0).Parameters()[0].Fill(0.f);
  absl::Status st = resumed.Load(path);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(resumed.optimizer()->iterations(), first.optimizer()->iterations());
  History hr =
      resumed.Fit(x, y, FitOptions().Epochs(4).InitialEpoch(2).BatchSize(16).Verbose(0));
  ASSERT_EQ(hr.size(), 2u);
  EXPECT_EQ(hr.epoch[0], 3);
  EXPECT_EQ(Bits(hr.loss[0]), Bits(hf.loss[2]));
  EXPECT_EQ(Bits(hr.loss[1]), Bits(hf.loss[3]));
  auto wf = full.GetWeights(), wr = resumed.GetWeights();
  for (size_t i = 0; i < wf.size(); ++i) EXPECT_EQ(wf[i].ToVector(), wr[i].ToVector());
}

TEST(CheckpointTest, FilesSayTheirFormatAndTheVersionThatWroteThem) {
  auto [x, y] = Bars(16, 10, 7);
  Sequential model = MakeBarsCnn(3);
  model.Fit(x, y, FitOptions().Epochs(1).BatchSize(8).Verbose(0));
  const std::string full = TempPath("versioned_full.safetensors");
  const std::string weights = TempPath("versioned_weights.safetensors");
  ASSERT_TRUE(model.Save(full).ok());
  ASSERT_TRUE(model.SaveWeights(weights).ok());
  for (const std::string& path : {full, weights}) {
    absl::StatusOr<SafetensorsContents> c = ReadSafetensors(path);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->metadata.at("format"), "gradway") << path;
    EXPECT_EQ(c->metadata.at("format_version"), "1") << path;
    EXPECT_EQ(c->metadata.at("gradway_version"), GRADWAY_VERSION_STRING) << path;
  }
  Metadata meta;
  model.CheckpointTensors(&meta);
  EXPECT_EQ(meta.at("format_version"), "1");
  EXPECT_EQ(meta.at("gradway_version"), VersionString());
}

// Rewrites the checkpoint at `path` with its "format_version" set to `version`, or removed
// (with "gradway_version") when `version` is empty: a file as an older or newer gradway
// would have written it.
void SetFormatVersion(const std::string& path, const std::string& version) {
  absl::StatusOr<SafetensorsContents> c = ReadSafetensors(path);
  ASSERT_TRUE(c.ok()) << c.status();
  if (version.empty()) {
    c->metadata.erase("format_version");
    c->metadata.erase("gradway_version");
  } else {
    c->metadata["format_version"] = version;
  }
  ASSERT_TRUE(SaveSafetensors(path, c->tensors, c->metadata).ok());
}

TEST(CheckpointTest, LoadsFilesWithoutAFormatVersionAndRefusesNewerOnes) {
  auto [x, y] = Bars(16, 10, 8);
  Sequential trained = MakeBarsCnn(4);
  trained.Fit(x, y, FitOptions().Epochs(1).BatchSize(8).Verbose(0));
  const std::string path = TempPath("unversioned.safetensors");
  ASSERT_TRUE(trained.Save(path).ok());
  SetFormatVersion(path, "");  // as gradway wrote it before format versions
  Sequential loaded = MakeBarsCnn(5), weights_only = MakeBarsCnn(5);
  ASSERT_TRUE(loaded.Load(path).ok());
  ASSERT_TRUE(weights_only.LoadWeights(path).ok());
  EXPECT_EQ(loaded.optimizer()->iterations(), trained.optimizer()->iterations());
  auto wt = trained.GetWeights(), wl = loaded.GetWeights(), ww = weights_only.GetWeights();
  for (size_t i = 0; i < wt.size(); ++i) {
    EXPECT_EQ(wl[i].ToVector(), wt[i].ToVector()) << i;
    EXPECT_EQ(ww[i].ToVector(), wt[i].ToVector()) << i;
  }

  SetFormatVersion(path, "2");  // a file of a newer gradway (no gradway_version left)
  Sequential fresh = MakeBarsCnn(6);
  const std::vector<Tensor> before = fresh.GetWeights();
  for (absl::Status st : {fresh.Load(path), fresh.LoadWeights(path)}) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(st.message(), path + ": checkpoint format version 2 is newer than gradway " +
                                GRADWAY_VERSION_STRING + " reads (format versions up to 1)");
  }
  EXPECT_EQ(fresh.optimizer()->iterations(), 0);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(fresh.GetWeights()[i].ToVector(), before[i].ToVector()) << "changed: " << i;
  }
}

// Global pooling and ZeroPadding2D in Summary: Keras' names, shapes and no parameters.
TEST(SummaryTest, GlobalPoolingAndZeroPadding) {
  ClearSession();
  Sequential model(3);
  model.Add(Conv2D(Conv2DOptions(4, 3).InputShape({9, 8, 2})));
  model.Add(ZeroPadding2D({{1, 0}, {2, 1}}));
  model.Add(GlobalAveragePooling2D(GlobalPooling2DOptions().Keepdims(true)));
  model.Add(GlobalMaxPooling2D());  // over the single position left
  model.Add(Dense(3));
  std::ostringstream os;
  model.Summary(os);
  EXPECT_EQ(os.str(),
            "Model: \"sequential\"\n"
            "______________________________________________________________________________________\n"
            "Layer (type)                                      Output Shape              Param #   \n"
            "======================================================================================\n"
            "conv2d (Conv2D)                                   (None, 7, 6, 4)           76        \n"
            "______________________________________________________________________________________\n"
            "zero_padding2d (ZeroPadding2D)                    (None, 8, 9, 4)           0         \n"
            "______________________________________________________________________________________\n"
            "global_average_pooling2d (GlobalAveragePooling2D) (None, 1, 1, 4)           0         \n"
            "______________________________________________________________________________________\n"
            "global_max_pooling2d (GlobalMaxPooling2D)         (None, 4)                 0         \n"
            "______________________________________________________________________________________\n"
            "dense (Dense)                                     (None, 3)                 15        \n"
            "======================================================================================\n"
            "Total params: 91\n"
            "Trainable params: 91\n"
            "Non-trainable params: 0\n"
            "______________________________________________________________________________________\n");
}

}  // namespace
}  // namespace nn
}  // namespace gradway
