// The CNN snippet of the README, compiled and run on a tiny random data set so that the
// README cannot rot. The lines between the markers must appear in README.md (checked below).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "gtest/gtest.h"
#include "nn/nn.h"
#include "nn/test_util.h"

namespace gradway {
namespace {

nn::History TrainMnistCnn(const Tensor& x_train, const Tensor& y_train, const Tensor& x_test,
                          const Tensor& y_test) {
  // README begin
  nn::Sequential model(/*seed=*/42);
  model.Add(nn::Conv2D(nn::Conv2DOptions(32, 3).Activation(nn::Activation::kRelu).InputShape({28, 28, 1})));
  model.Add(nn::Conv2D(nn::Conv2DOptions(64, 3).Activation(nn::Activation::kRelu)));
  model.Add(nn::MaxPooling2D(2));
  model.Add(nn::Dropout(0.25));
  model.Add(nn::Flatten());
  model.Add(nn::Dense(nn::DenseOptions(128).Activation(nn::Activation::kRelu)));
  model.Add(nn::Dropout(0.5));
  model.Add(nn::Dense(nn::DenseOptions(10).Activation(nn::Activation::kSoftmax)));
  model.Summary();
  model.Compile(nn::CategoricalCrossentropy(), nn::Adam(), {"accuracy"});
  nn::History h = model.Fit(x_train, y_train, nn::FitOptions().Epochs(30).BatchSize(200)
      .ValidationData(x_test, y_test)
      .Callbacks({nn::ModelCheckpoint(nn::ModelCheckpointOptions("./model/{epoch:02d}-{val_loss:.4f}.safetensors").Monitor("val_loss").SaveBestOnly(true)),
                  nn::EarlyStopping(nn::EarlyStoppingOptions().Monitor("val_loss").Patience(10))}));
  // README end
  return h;
}

TEST(ReadmeTest, MnistCnnSnippetRuns) {
  const std::string dir = nn::testing::TempPath("readme");
  std::filesystem::create_directories(dir);
  std::filesystem::current_path(dir);
  Generator gen(1);
  Tensor x = Tensor::Uniform({6, 28, 28, 1}, 0, 1, gen);
  Tensor y = Tensor::Zeros({6, 10});
  for (int i = 0; i < 6; ++i) y.set({i, i % 10}, 1);
  nn::History h = TrainMnistCnn(x, y, x, y);
  ASSERT_GE(h.size(), 1u);
  EXPECT_LT(h.loss.back(), h.loss.front());  // memorises six samples
  EXPECT_TRUE(std::filesystem::exists(dir + "/model/01-" +
                                      absl::StrFormat("%.4f", h.val_loss[0]) + ".safetensors"));
}

std::string ReadRunfile(const std::string& path) {
  std::ifstream in(std::string(std::getenv("TEST_SRCDIR")) + "/gradway/" + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ReadmeTest, ReadmeShowsTheseLines) {
  const std::vector<std::string> source = absl::StrSplit(ReadRunfile("nn/readme_test.cc"), '\n');
  std::vector<std::string> snippet;
  bool inside = false;
  for (const std::string& line : source) {
    if (line == "  // README end") inside = false;
    if (inside) snippet.push_back(std::string(absl::StripPrefix(line, "  ")));
    if (line == "  // README begin") inside = true;
  }
  ASSERT_GT(snippet.size(), 10u);
  const std::string readme = ReadRunfile("README.md");
  EXPECT_NE(readme.find(absl::StrJoin(snippet, "\n")), std::string::npos)
      << "README.md no longer shows the code of TrainMnistCnn:\n" << absl::StrJoin(snippet, "\n");
}

}  // namespace
}  // namespace gradway
