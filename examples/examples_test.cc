// Runs the examples for a short while on a slice of the data and checks their outputs, so
// that they cannot rot: files written, the accuracy line printed and parseable, the
// checkpoint loadable, the PNG and plot valid, bad flags rejected.
#include <png.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nn/checkpoint.h"

namespace gradway {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int status;
  std::string output;
};

std::string Binary(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/gradway/examples/", name);
}

CommandResult RunCommand(const std::string& command) {
  CommandResult run{-1, ""};
  FILE* pipe = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string TempDir(const std::string& name) {
  const fs::path dir = fs::path(std::getenv("TEST_TMPDIR")) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Width and height of a PNG, read back with libpng; {0, 0} when it is not a valid PNG.
std::pair<int, int> PngSize(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) return {0, 0};
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  image.format = PNG_FORMAT_GRAY;
  std::vector<uint8_t> gray(image.width * image.height);
  const bool ok = png_image_finish_read(&image, nullptr, gray.data(), 0, nullptr);
  png_image_free(&image);
  return ok ? std::make_pair(static_cast<int>(image.width), static_cast<int>(image.height))
            : std::make_pair(0, 0);
}

// Runs an MNIST example for 2 epochs on a slice and checks everything it writes.
void CheckMnistExample(const std::string& name, const std::string& first_kernel,
                       const Shape& kernel_shape) {
  const std::string out = TempDir(name + "_out"), models = TempDir(name + "_model");
  CommandResult run = RunCommand(absl::StrCat(Binary(name),
                                    " --train_samples=400 --test_samples=200 --epochs=2"
                                    " --threads=2 --seed=3 --output_dir=",
                                    out, " --model_dir=", models));
  ASSERT_EQ(run.status, 0) << run.output;
  // The chapter's steps, in order.
  EXPECT_NE(run.output.find("Using 2 threads"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Using 400 training and 200 test images"), std::string::npos);
  EXPECT_NE(run.output.find("Its one-hot label: ["), std::string::npos);
  EXPECT_NE(run.output.find("Total params:"), std::string::npos);
  EXPECT_NE(run.output.find("Epoch 2/2"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.output, m, std::regex(" Test Accuracy: (0\\.\\d{4}|1\\.0000)\n")))
      << run.output;
  const double accuracy = std::stod(m[1]);
  EXPECT_GT(accuracy, 0.5) << "2 epochs on 400 digits should beat chance by far";
  // history.csv: the header and one row per epoch.
  const std::vector<std::string> lines =
      absl::StrSplit(ReadFile(out + "/history.csv"), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "epoch,loss,accuracy,val_loss,val_accuracy,seconds");
  EXPECT_EQ(lines[1].substr(0, 2), "1,");
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(lines[2], ',')).size(), 6u);
  // The first training image as a 28x28 PNG, the loss plot as SVG with both curves.
  EXPECT_EQ(PngSize(out + "/train_image_0.png"), std::make_pair(28, 28));
  const std::string svg = ReadFile(out + "/loss.svg");
  EXPECT_EQ(svg.rfind("<svg", 0) == 0 || svg.rfind("<?xml", 0) == 0, true);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("validation"), std::string::npos);
  // The best checkpoint, named by the Keras template, loads and holds the model's weights.
  std::vector<std::string> checkpoints;
  for (const auto& entry : fs::directory_iterator(models)) {
    checkpoints.push_back(entry.path().filename().string());
  }
  ASSERT_FALSE(checkpoints.empty());
  for (const std::string& c : checkpoints) {
    EXPECT_TRUE(std::regex_match(c, std::regex("0[12]-\\d+\\.\\d{4}"))) << c;
  }
  absl::StatusOr<nn::SafetensorsContents> contents =
      nn::ReadSafetensors(models + "/" + checkpoints.back());
  ASSERT_TRUE(contents.ok()) << contents.status();
  bool found = false;
  for (const auto& [tensor_name, t] : contents->tensors) {
    if (tensor_name == first_kernel) {
      found = true;
      EXPECT_EQ(t.shape(), kernel_shape);
    }
  }
  EXPECT_TRUE(found) << first_kernel << " missing from the checkpoint";
}

TEST(ExamplesTest, MnistCnn) { CheckMnistExample("mnist_cnn", "conv2d/kernel", {3, 3, 1, 32}); }

TEST(ExamplesTest, MnistMlp) { CheckMnistExample("mnist_mlp", "dense/kernel", {784, 512}); }

TEST(ExamplesTest, TargetAccuracyFailsTheRun) {
  const std::string out = TempDir("target");
  CommandResult run = RunCommand(absl::StrCat(Binary("mnist_mlp"),
                                    " --train_samples=200 --test_samples=100 --epochs=1 "
                                    "--target_accuracy=1 --output_dir=",
                                    out, " --model_dir=", out));
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("is below --target_accuracy"), std::string::npos) << run.output;
}

TEST(ExamplesTest, BadFlagsAreRejected) {
  CommandResult unknown = RunCommand(Binary("mnist_cnn") + " --epoch=3");
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.output.find("epoch"), std::string::npos) << unknown.output;
  CommandResult zero = RunCommand(Binary("mnist_cnn") + " --epochs=0");
  EXPECT_EQ(zero.status, 2);
  EXPECT_NE(zero.output.find("--epochs must be at least 1, got 0"), std::string::npos)
      << zero.output;
  CommandResult text = RunCommand(Binary("mnist_mlp") + " --batch_size=abc");
  EXPECT_NE(text.status, 0);
  EXPECT_NE(text.output.find("batch_size"), std::string::npos) << text.output;
  CommandResult dataset = RunCommand(Binary("mnist_mlp") + " --dataset=cifar");
  EXPECT_NE(dataset.status, 0);
  EXPECT_NE(dataset.output.find("cifar"), std::string::npos) << dataset.output;
  CommandResult help = RunCommand(Binary("mnist_cnn") + " --help");
  EXPECT_NE(help.output.find("--target_accuracy"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--data_dir"), std::string::npos);
}

TEST(ExamplesTest, CustomOp) {
  CommandResult run = RunCommand(Binary("custom_op") + " --threads=1");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("Using 1 thread\n"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Swish gradcheck passed"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Spirals test accuracy with Swish: "), std::string::npos);
}

}  // namespace
}  // namespace gradway
