// The CNN snippet of the README, compiled and run on a tiny random data set so that the
// README cannot rot. The lines between the markers must appear in README.md (checked below).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "data/png.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "nn/test_util.h"

namespace gradway {
namespace {

nn::History TrainMnistCnn(const Tensor& x_train, const Tensor& y_train, const Tensor& x_test,
                          const Tensor& y_test, std::vector<float>* head_kernel) {
  // README begin
  nn::Sequential model(/*seed=*/42);
  model.Add(nn::Conv2D(nn::Conv2DOptions(32, 3).Activation(nn::kRelu).InputShape({28, 28, 1})));
  model.Add(nn::Conv2D(64, 3, nn::kRelu));
  model.Add(nn::MaxPooling2D(2));
  model.Add(nn::Dropout(0.25));
  model.Add(nn::Flatten());
  model.Add(nn::Dense(128, nn::kRelu));
  model.Add(nn::Dropout(0.5));
  nn::Dense& head = model.Add<nn::Dense>(10, nn::kSoftmax);  // a typed reference
  model.Summary();
  model.Compile(nn::CategoricalCrossentropy(), nn::Adam(), {"accuracy"});
  nn::History h = model.Fit(x_train, y_train, nn::FitOptions().Epochs(30).BatchSize(200)
      .ValidationData(x_test, y_test)
      .Callbacks({nn::ModelCheckpoint(nn::ModelCheckpointOptions("./model/{epoch:02d}-{val_loss:.4f}.safetensors").Monitor("val_loss").SaveBestOnly(true)),
                  nn::EarlyStopping(nn::EarlyStoppingOptions().Monitor("val_loss").Patience(10))}));
  std::cout << "trained kernel: " << head.kernel().Reshape({-1}) << "\n";
  // README end
  *head_kernel = head.kernel().ToVector();
  return h;
}

// A training loop of one's own over TrainStep, with the model's fused loss and metrics.
nn::Logs TrainByHand(nn::Model& model, const Tensor& x, const Tensor& y, int64_t batch_size) {
  // README begin
  nn::Logs logs;
  for (int epoch = 0; epoch < 3; ++epoch) {
    model.ResetMetrics();
    for (int64_t begin = 0; begin + batch_size <= x.size(0); begin += batch_size) {
      Tensor xb = x.Narrow(0, begin, batch_size), yb = y.Narrow(0, begin, batch_size);
      logs = model.TrainStep(xb, yb);  // forward, loss, backward, Adam, metrics
    }
    std::cout << "epoch " << epoch + 1 << ": loss " << logs.Get("loss") << ", accuracy "
              << logs.Get("accuracy") << "\n";
  }
  // README end
  return logs;
}

// A functional model: a residual block with batch normalisation, augmentation and a
// cosine schedule.
std::unique_ptr<nn::Model> ResidualModel() {
  // README begin
  auto image = nn::Input({28, 28, 1});
  auto x = nn::RandomFlip("horizontal")(image);        // augmentation: training only
  x = nn::Conv2D(nn::Conv2DOptions(16, 3).Padding(nn::Padding::kSame).UseBias(false))(x);
  x = nn::ReLU()(nn::BatchNormalization()(x));
  auto y = nn::Conv2D(nn::Conv2DOptions(16, 3).Padding(nn::Padding::kSame).UseBias(false))(x);
  x = nn::ReLU()(nn::Add()({x, nn::BatchNormalization()(y)}));  // the skip connection
  auto probabilities = nn::Dense(10, nn::kSoftmax)(nn::GlobalAveragePooling2D()(x));
  auto model = std::make_unique<nn::Model>(image, probabilities, /*seed=*/42);
  model->Summary();  // each layer with what it is connected to
  nn::CosineDecay schedule(0.0, /*decay_steps=*/9000, 0.0, /*warmup_target=*/2e-3, 470);
  model->Compile(nn::CategoricalCrossentropy(),
                 nn::Adam(nn::AdamOptions().LearningRate(schedule)), {"accuracy"});
  // README end
  return model;
}

TEST(ReadmeTest, FunctionalSnippetTrains) {
  std::unique_ptr<nn::Model> model = ResidualModel();
  Generator gen(2);
  Tensor x = Tensor::Uniform({8, 28, 28, 1}, 0, 1, gen);
  Tensor y = Tensor::Zeros({8, 10});
  for (int i = 0; i < 8; ++i) y.set({i, i % 10}, 1);
  nn::History h = model->Fit(x, y, nn::FitOptions().Epochs(3).BatchSize(4).Verbose(0));
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(model->ParameterCount(), 144 + 64 + 2304 + 64 + 170);
  EXPECT_EQ(model->TrainableParameterCount(), model->ParameterCount() - 64);
}

// Training on a folder of images, one subfolder per class.
absl::Status TrainOnFolder(nn::Model& model, nn::History* h) {
  // README begin
  auto data = nn::ImageDatasetFromDirectory("clothes", nn::ImageDirectoryOptions()
      .ImageSize(28, 28).ColorMode("grayscale").Rescale(1 / 255.f).LabelMode("categorical")
      .ValidationSplit(0.25).Subset("both").Seed(1));
  if (!data.ok()) return data.status();  // it names the folder or the file
  std::cout << "classes: " << absl::StrJoin(data->class_names, ", ") << "\n";
  *h = model.Fit(*data->training, nn::FitOptions().Epochs(2).ValidationData(data->validation));
  // README end
  return absl::OkStatus();
}

TEST(ReadmeTest, FolderSnippetTrains) {
  const std::string dir = nn::testing::TempPath("readme_folder");
  std::filesystem::remove_all(dir);
  for (const char* cls : {"coats", "shoes"}) {
    std::filesystem::create_directories(dir + "/clothes/" + cls);
    for (int i = 0; i < 4; ++i) {
      std::vector<uint8_t> pixels(28 * 28, static_cast<uint8_t>(cls[0] == 'c' ? 40 * i : 255 - 40 * i));
      ASSERT_TRUE(data::WriteGrayPng(absl::StrFormat("%s/clothes/%s/%d.png", dir, cls, i),
                                     pixels.data(), 28, 28).ok());
    }
  }
  std::filesystem::current_path(dir);
  nn::Sequential model(1);
  model.Add(nn::Flatten(Shape{28, 28, 1}));
  model.Add(nn::Dense(2, nn::kSoftmax));
  model.Compile(nn::CategoricalCrossentropy(), nn::Adam(), {"accuracy"});
  nn::History h;
  ASSERT_TRUE(TrainOnFolder(model, &h).ok());
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(h.val_loss.size(), 2u);
  std::filesystem::remove_all(dir + "/clothes");
  EXPECT_NE(TrainOnFolder(model, &h).message().find("clothes"), std::string::npos);
}

TEST(ReadmeTest, MnistCnnSnippetRuns) {
  const std::string dir = nn::testing::TempPath("readme");
  std::filesystem::create_directories(dir);
  std::filesystem::current_path(dir);
  Generator gen(1);
  Tensor x = Tensor::Uniform({6, 28, 28, 1}, 0, 1, gen);
  Tensor y = Tensor::Zeros({6, 10});
  for (int i = 0; i < 6; ++i) y.set({i, i % 10}, 1);
  std::vector<float> head_kernel;
  nn::History h = TrainMnistCnn(x, y, x, y, &head_kernel);
  ASSERT_GE(h.size(), 1u);
  EXPECT_EQ(head_kernel.size(), 128u * 10);
  EXPECT_LT(h.loss.back(), h.loss.front());  // memorises six samples
  EXPECT_TRUE(std::filesystem::exists(dir + "/model/01-" +
                                      absl::StrFormat("%.4f", h.val_loss[0]) + ".safetensors"));
}

TEST(ReadmeTest, HandWrittenLoopRuns) {
  Generator gen(3);
  Tensor x = Tensor::Uniform({40, 4}, -1, 1, gen);
  Tensor y = Tensor::Zeros({40, 2});
  for (int i = 0; i < 40; ++i) y.set({i, x.at({i, 0}) > 0 ? 1 : 0}, 1);
  nn::Sequential model(1);
  model.Add(nn::Dense(nn::DenseOptions(8).Activation(nn::kRelu).InputShape({4})));
  model.Add(nn::Dense(2, nn::kSoftmax));
  model.Compile(nn::CategoricalCrossentropy(), nn::Adam(nn::AdamOptions().LearningRate(0.05)),
                {"accuracy"});
  nn::Logs logs = TrainByHand(model, x, y, 8);
  EXPECT_EQ(model.train_step(), 15);
  EXPECT_GT(logs.Get("accuracy"), 0.8);
}

std::string ReadRunfile(const std::string& path) {
  std::ifstream in(std::string(std::getenv("TEST_SRCDIR")) + "/gradway/" + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ReadmeTest, ReadmeShowsTheseLines) {
  const std::vector<std::string> source = absl::StrSplit(ReadRunfile("nn/readme_test.cc"), '\n');
  std::vector<std::vector<std::string>> snippets;
  bool inside = false;
  for (const std::string& line : source) {
    if (line == "  // README end") inside = false;
    if (inside) snippets.back().push_back(std::string(absl::StripPrefix(line, "  ")));
    if (line == "  // README begin") {
      inside = true;
      snippets.emplace_back();
    }
  }
  ASSERT_EQ(snippets.size(), 4u);
  const std::string readme = ReadRunfile("README.md");
  for (const auto& snippet : snippets) {
    ASSERT_GT(snippet.size(), 5u);
    EXPECT_NE(readme.find(absl::StrJoin(snippet, "\n")), std::string::npos)
        << "README.md no longer shows these lines of nn/readme_test.cc:\n"
        << absl::StrJoin(snippet, "\n");
  }
}

}  // namespace
}  // namespace gradway
