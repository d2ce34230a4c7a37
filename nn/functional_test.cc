// Functional models (nn/functional.h) and the merge layers (nn/merge.h).
#include "nn/functional.h"

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "gtest/gtest.h"
#include "nn/nn.h"

namespace gradway {
namespace nn {
namespace {

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

Tensor RandomData(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::Uniform(shape, -1.f, 1.f, gen);
}

// Class labels 0..classes-1 from the sign pattern of x's first columns, one-hot.
Tensor OneHotLabels(const Tensor& x, int classes) {
  const int64_t n = x.size(0), d = x.numel() / n;
  Tensor y = Tensor::Zeros({n, classes});
  for (int64_t i = 0; i < n; ++i) {
    const int c = (x.data()[i * d] > 0 ? 1 : 0) + (x.data()[i * d + 1] > 0 ? 1 : 0);
    y.data()[i * classes + c % classes] = 1.f;
  }
  return y;
}

// A functional stack equals the Sequential of the same layers and seed, bit for bit: the
// layers build in call order from the model's generator.
TEST(FunctionalTest, ALinearGraphTrainsAsTheSameSequential) {
  ClearSession();
  const Tensor x = RandomData({64, 6}, 1), y = OneHotLabels(x, 3);
  auto in = Input({6});
  auto h = Dense(16, kRelu)(in);
  auto out = Dense(3, kSoftmax)(h);
  Model functional(in, out, /*seed=*/7);
  Sequential sequential(/*seed=*/7);
  sequential.Add(Dense(DenseOptions(16).Activation(kRelu).InputShape({6})));
  sequential.Add(Dense(3, kSoftmax));
  std::vector<std::vector<double>> losses;
  for (Model* m : {static_cast<Model*>(&functional), static_cast<Model*>(&sequential)}) {
    m->Compile(CategoricalCrossentropy(), Adam(), {"accuracy"});
    History h = m->Fit(x, y, FitOptions().Epochs(3).BatchSize(16).Verbose(0).Seed(3));
    losses.push_back(h.history.at("loss"));
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_LT(losses[0].back(), losses[0].front());
  const NamedTensors a = functional.NamedParameters(), b = sequential.NamedParameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.ToVector(), b[i].second.ToVector()) << a[i].first;
  }
}

// A residual block: Add of a branch and its skip; Summary shows what each layer takes.
TEST(FunctionalTest, ResidualModelTrainsAndSummaryShowsConnections) {
  ClearSession();
  auto in = Input({8}, "features");
  auto x = Dense(8, kRelu)(in);
  auto branch = Dense(8)(x);
  auto sum = Add()({x, branch});
  auto out = Dense(3, kSoftmax)(sum);
  Model model(in, out, 1);
  EXPECT_EQ(out.shape(), (Shape{3}));
  EXPECT_EQ(sum.shape(), (Shape{8}));
  std::ostringstream summary;
  model.Summary(summary);
  const std::string s = summary.str();
  EXPECT_NE(s.find("Connected to"), std::string::npos) << s;
  EXPECT_NE(s.find("features (InputLayer)"), std::string::npos) << s;
  EXPECT_NE(s.find("dense[0][0], dense_1[0][0]"), std::string::npos) << s;
  EXPECT_NE(s.find("add (Add)"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 171"), std::string::npos) << s;  // 72 + 72 + 27
  const Tensor xs = RandomData({96, 8}, 2), ys = OneHotLabels(xs, 3);
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(1e-2)),
                {"accuracy"});
  History h = model.Fit(xs, ys, FitOptions().Epochs(10).BatchSize(32).Verbose(0));
  EXPECT_LT(h.history.at("loss").back(), 0.8 * h.history.at("loss").front());
}

// One layer object called twice shares its weights: counted once, and its gradient sums
// both uses.
TEST(FunctionalTest, ALayerCalledTwiceSharesItsWeights) {
  ClearSession();
  auto shared = std::make_shared<Dense>(4);
  auto a = Input({4}), b = Input({4});
  auto sum = Add()({(*shared)(a), (*shared)(b)});
  Model model({a, b}, {sum}, 2);
  EXPECT_EQ(model.ParameterCount(), 20);
  EXPECT_EQ(model.children().size(), 2u);
  const Tensor xa = RandomData({5, 4}, 3), xb = RandomData({5, 4}, 4);
  Tensor y = model(PackRows({xa, xb}));
  Sum(y * y).Backward();
  const std::vector<float> grad = shared->kernel().grad().ToVector();
  shared->ZeroGrad();
  Tensor expected = (*shared)(xa) + (*shared)(xb);
  EXPECT_EQ(y.ToVector(), expected.ToVector());
  Sum(expected * expected).Backward();
  EXPECT_EQ(grad, shared->kernel().grad().ToVector());
}

// Two inputs, two outputs: Fit, Save, Load into a model made the same way, and Predict
// the same numbers.
Model TwoByTwo(uint64_t seed, SymbolicTensor* image_out = nullptr) {
  auto image = Input({6, 6, 1}, "image");
  auto meta = Input({3}, "meta");
  auto f = Flatten()(Conv2D(4, 3, kRelu)(image));
  auto joined = Concatenate()({f, Dense(5, kRelu)(meta)});
  auto cls = Dense(DenseOptions(3).Activation(kSoftmax).Name("cls"))(joined);
  auto value = Dense(DenseOptions(1).Name("value"))(joined);
  if (image_out != nullptr) *image_out = joined;
  return Model({image, meta}, {cls, value}, seed);
}

TEST(FunctionalTest, TwoInputsTwoOutputsFitSaveLoadPredict) {
  ClearSession();
  const Tensor image = RandomData({40, 6, 6, 1}, 5), meta = RandomData({40, 3}, 6);
  const Tensor labels = OneHotLabels(meta, 3);
  Tensor value = Tensor::Empty({40, 1});
  for (int i = 0; i < 40; ++i) value.data()[i] = meta.data()[i * 3 + 2] * 2.f;
  Model model = TwoByTwo(11);
  model.Compile({CategoricalCrossentropy(), MeanSquaredError()}, Adam(), {"accuracy"},
                {1.0, 0.5});
  History h = model.Fit({image, meta}, {labels, value},
                        FitOptions().Epochs(4).BatchSize(8).Verbose(0));
  for (const char* key : {"loss", "cls_loss", "value_loss", "cls_accuracy", "value_accuracy"}) {
    EXPECT_EQ(h.history.count(key), 1u) << key;
  }
  const auto& loss = h.history.at("loss");
  EXPECT_LT(loss.back(), loss.front());
  // The total is the weighted sum of the outputs' losses.
  Logs logs = model.Evaluate({image, meta}, {labels, value}, 40);
  EXPECT_NEAR(logs.Get("loss"), logs.Get("cls_loss") + 0.5 * logs.Get("value_loss"), 1e-5);
  const std::vector<Tensor> before = model.Predict({image, meta});
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(before[0].shape(), (Shape{40, 3}));
  EXPECT_EQ(before[1].shape(), (Shape{40, 1}));
  const std::string path = ::testing::TempDir() + "/two_by_two.safetensors";
  ASSERT_TRUE(model.Save(path).ok());
  Model loaded = TwoByTwo(99);
  loaded.Compile({CategoricalCrossentropy(), MeanSquaredError()}, Adam(), {"accuracy"},
                 {1.0, 0.5});
  ASSERT_TRUE(loaded.Load(path).ok());
  const std::vector<Tensor> after = loaded.Predict({image, meta});
  EXPECT_EQ(before[0].ToVector(), after[0].ToVector());
  EXPECT_EQ(before[1].ToVector(), after[1].ToVector());
  std::remove(path.c_str());
}

// Killed mid-epoch and resumed through BackupAndRestore, a two-output functional model
// with dropout ends bit-identical to an uninterrupted run.
struct Killed {};
class KillAtStep : public Callback {
 public:
  explicit KillAtStep(int64_t step) : step_(step) {}
  void OnBatchEnd(int64_t, const Logs&) override {
    if (model()->train_step() == step_) throw Killed{};
  }

 private:
  int64_t step_;
};

History TwoOutputRun(const std::string& backup_dir, int64_t kill_step, Model** out_model,
                     std::unique_ptr<Model>* holder) {
  ClearSession();
  auto in = Input({4});
  auto h = Dropout(0.3)(Dense(12, kRelu)(in));
  auto cls = Dense(DenseOptions(3).Activation(kSoftmax).Name("cls"))(h);
  auto reg = Dense(DenseOptions(2).Name("reg"))(h);
  *holder = std::make_unique<Model>(std::vector<SymbolicTensor>{in},
                                     std::vector<SymbolicTensor>{cls, reg}, 3);
  Model& model = **holder;
  *out_model = &model;
  model.Compile({CategoricalCrossentropy(), MeanSquaredError()}, Adam(), {"accuracy"});
  const Tensor x = RandomData({48, 4}, 8), labels = OneHotLabels(x, 3);
  const Tensor targets = RandomData({48, 2}, 9);
  return model.Fit({x}, {labels, targets},
                   FitOptions().Epochs(4).BatchSize(10).Verbose(0).Callbacks(
                       {BackupAndRestore(BackupAndRestoreOptions(backup_dir).SaveFreq(1)),
                        KillAtStep(kill_step)}));
}

TEST(FunctionalTest, ResumesBitIdenticalThroughBackupAndRestore) {
  const std::string dir = ::testing::TempDir() + "/functional_backup";
  std::filesystem::remove_all(dir);
  Model* ref = nullptr;
  std::unique_ptr<Model> ref_holder, holder;
  History expected = TwoOutputRun(dir + "/ref", -1, &ref, &ref_holder);
  Model* resumed = nullptr;
  EXPECT_THROW(TwoOutputRun(dir + "/run", 7, &resumed, &holder), Killed);
  History got = TwoOutputRun(dir + "/run", -1, &resumed, &holder);
  for (const auto& [key, values] : expected.history) {
    if (key != "seconds") {
      EXPECT_EQ(values, got.history[key]) << key;
    }
  }
  const std::vector<Tensor> a = ref->GetWeights(), b = resumed->GetWeights();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].ToVector(), b[i].ToVector()) << i;
}

// A temporary of a class that extends a layer: moved whole when it names itself in
// Layer<>, refused (not cut down to the base class) when it does not.
class Doubling : public Layer<Doubling, Dense> {
 public:
  Doubling() : Layer(DenseOptions(2)) {}
  Tensor Forward(const Tensor& x) override { return Dense::Forward(x) * 2.f; }
};
class Halving : public Dense {
 public:
  Halving() : Dense(DenseOptions(2)) {}
  Tensor Forward(const Tensor& x) override { return Dense::Forward(x) * 0.5f; }
};

TEST(FunctionalTest, TemporariesOfDerivedLayers) {
  ClearSession();
  auto in = Input({3});
  Model model(in, Doubling()(in), 1);
  EXPECT_NE(dynamic_cast<const Doubling*>(model.children()[0].second.get()), nullptr);
  EXPECT_NE(ErrorOf([&] { Halving()(in); }).find("a temporary of a class derived from Dense"),
            std::string::npos);
}

// Nested models: a layer reached twice (inside a nested model and on its own) is one set
// of weights; a nested model with two inputs passes the gradient to what feeds it.
TEST(FunctionalTest, NestedModels) {
  ClearSession();
  auto shared = std::make_shared<Dense>(3);
  auto in = Input({3});
  auto inner = std::make_shared<Model>(in, (*shared)(in), 1);
  auto x = Input({3});
  Model outer(x, (*shared)((*inner)(x)), 2);
  EXPECT_EQ(outer.ParameterCount(), 12);
  EXPECT_EQ(outer.NamedTrainableParameters().size(), 2u);

  auto a = Input({2}), b = Input({2});
  auto two = std::make_shared<Model>(std::vector<SymbolicTensor>{a, b},
                                     std::vector<SymbolicTensor>{nn::Add()({a, b})}, 3);
  auto first = std::make_shared<Dense>(4);
  auto y = Input({3});
  Model feeding(y, (*two)((*first)(y)), 4);
  Tensor out = feeding(RandomData({5, 3}, 1));
  Sum(out * out).Backward();
  ASSERT_TRUE(first->kernel().grad().defined());
  float norm = 0;
  for (float g : first->kernel().grad().ToVector()) norm += g * g;
  EXPECT_GT(norm, 0.f);
}

// The vector TrainStep splits the targets by their own shapes (class indices for one
// output, values for the other); a single output's loss weight scales its loss.
TEST(FunctionalTest, TrainStepTargetsAndLossWeight) {
  ClearSession();
  auto in = Input({4});
  auto cls = Dense(DenseOptions(3).Activation(kSoftmax).Name("cls"))(in);
  auto val = Dense(DenseOptions(1).Name("val"))(in);
  Model model({in}, {cls, val}, 1);
  model.Compile({SparseCategoricalCrossentropy(), MeanSquaredError()}, SGD(), {});
  Tensor labels = Tensor::FromVector({0, 1, 2, 1, 0, 2, 1, 0}, {8});
  Logs logs = model.TrainStep({RandomData({8, 4}, 2)}, {labels, RandomData({8, 1}, 3)});
  EXPECT_GT(logs.Get("cls_loss"), 0.0);
  EXPECT_GT(logs.Get("val_loss"), 0.0);

  auto in1 = Input({4});
  Model one(in1, Dense(2, kSoftmax)(in1), 5);
  const Tensor x = RandomData({6, 4}, 4), y = OneHotLabels(x, 2);
  one.Compile({CategoricalCrossentropy()}, SGD(SGDOptions(0.0)), {}, {1.0});
  const double full = one.Evaluate(x, y).Get("loss");
  one.Compile({CategoricalCrossentropy()}, SGD(SGDOptions(0.0)), {}, {0.25});
  EXPECT_NEAR(one.Evaluate(x, y).Get("loss"), 0.25 * full, 1e-6);
}

TEST(FunctionalTest, MergeLayersCompute) {
  const Tensor a = Tensor::FromVector({1, 2, 3, 4}, {2, 2});
  const Tensor b = Tensor::FromVector({10, 20, 30, 40}, {2, 2});
  Add add;
  Multiply multiply;
  Concatenate concat;
  EXPECT_EQ(add({a, b}).ToVector(), (std::vector<float>{11, 22, 33, 44}));
  EXPECT_EQ(multiply({a, b}).ToVector(), (std::vector<float>{10, 40, 90, 160}));
  EXPECT_EQ(concat({a, b}).ToVector(), (std::vector<float>{1, 2, 10, 20, 3, 4, 30, 40}));
  Concatenate rows(1);
  const Tensor c = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {1, 3, 2});
  EXPECT_EQ(rows({c, c}).shape(), (Shape{1, 6, 2}));
}

TEST(FunctionalTest, Errors) {
  ClearSession();
  auto a = Input({4}, "a"), b = Input({5}, "b");
  auto bad_add = Add()({a, b});
  EXPECT_EQ(ErrorOf([&] { Model m({a, b}, {bad_add}); }),
            "add (Add): inputs must have the same shape, got (None, 4) and (None, 5)");
  auto out = Dense(2)(a);
  EXPECT_NE(ErrorOf([&] { Model m(b, out); })
                .find("(Functional): graph disconnected: the outputs need input a, which is "
                      "not among the model's inputs"),
            std::string::npos);
  Dense on_stack(3);
  EXPECT_NE(ErrorOf([&] { on_stack(a); }).find("not held by a std::shared_ptr"),
            std::string::npos);
  auto cat = Concatenate(0)({a, a});
  EXPECT_NE(ErrorOf([&] { Model m(a, cat); }).find("the batch axis 0 cannot be concatenated"),
            std::string::npos);
  EXPECT_EQ(ErrorOf([] { Add()(Tensor::Zeros({2, 3})); }),
            "add_1 (Add): takes a list of inputs ({a, b}), not one tensor");
  auto vector = Input({16});
  auto conv_on_vector = Conv2D(Conv2DOptions(3, 3).Name("head"))(vector);
  EXPECT_NE(ErrorOf([&] { Model m(vector, conv_on_vector); })
                .find("head (Conv2D): expects input (None, height, width, channels)"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { conv_on_vector.shape(); }).find("known once a Model"),
            std::string::npos);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
