// Runs the examples for a short while on a slice of the data and checks their outputs, so
// that they cannot rot: files written, the accuracy line printed and parseable, the
// checkpoint loadable, the PNG and plot valid, bad flags rejected.
#include <png.h>
#include <sys/wait.h>

#include <algorithm>
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

// Runs an MNIST example for 2 epochs on a slice of the official MNIST, checks everything
// it writes, then classifies the PNG it wrote with //examples:predict.
// `train_samples` is enough for the model to learn that digit (the MLP needs more).
void CheckMnistExample(const std::string& name, const std::string& first_kernel,
                       const Shape& kernel_shape, int train_samples) {
  const std::string out = TempDir(name + "_out"), models = TempDir(name + "_model");
  CommandResult run = RunCommand(absl::StrCat(Binary(name), " --train_samples=", train_samples,
                                    " --test_samples=200 --epochs=2"
                                    " --threads=2 --seed=3 --output_dir=",
                                    out, " --model_dir=", models));
  ASSERT_EQ(run.status, 0) << run.output;
  // The chapter's steps, in order, on the official MNIST.
  EXPECT_NE(run.output.find("Using 2 threads"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Data: MNIST (the official IDX files in "), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("60000 train / 10000 test images of 28x28"), std::string::npos);
  EXPECT_NE(run.output.find(absl::StrCat("Using ", train_samples, " training and 200 test images")),
            std::string::npos);
  EXPECT_NE(run.output.find("Training image 0 (28x28), class 5:"), std::string::npos);
  EXPECT_NE(run.output.find("Its one-hot label: ["), std::string::npos);
  EXPECT_NE(run.output.find("Total params:"), std::string::npos);
  EXPECT_NE(run.output.find("Epoch 2/2"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.output, m, std::regex(" Test Accuracy: (0\\.\\d{4}|1\\.0000)\n")))
      << run.output;
  const double accuracy = std::stod(m[1]);
  EXPECT_GT(accuracy, 0.8) << "2 epochs on thousands of digits should beat chance by far";
  // history.csv: the header and one row per epoch.
  const std::vector<std::string> lines =
      absl::StrSplit(ReadFile(out + "/history.csv"), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "epoch,loss,accuracy,val_loss,val_accuracy,seconds");
  EXPECT_EQ(lines[1].substr(0, 2), "1,");
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(lines[2], ',')).size(), 6u);
  // The first training image as a PNG enlarged 10 times, the loss plot as SVG with both
  // curves.
  EXPECT_EQ(PngSize(out + "/train_image_0.png"), std::make_pair(280, 280));
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
    EXPECT_TRUE(std::regex_match(c, std::regex("0[12]-\\d+\\.\\d{4}\\.safetensors"))) << c;
  }
  std::sort(checkpoints.begin(), checkpoints.end());
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

  // The round trip: the PNG written above is the chapter's 5, and the trained model says
  // so, given the folder (best checkpoint) or the file, the model kind found or forced.
  const std::string kind = name == "mnist_cnn" ? "CNN" : "MLP";
  for (const std::string& model : {models, models + "/" + checkpoints.back()}) {
    for (const std::string& kind_flag : {std::string(), " --model_kind=" + name.substr(6)}) {
      CommandResult predict = RunCommand(absl::StrCat(Binary("predict"), " --model=", model,
                                                      " --image=", out, "/train_image_0.png",
                                                      kind_flag));
      ASSERT_EQ(predict.status, 0) << predict.output;
      EXPECT_NE(predict.output.find("(the MNIST " + kind + ")"), std::string::npos)
          << predict.output;
      EXPECT_NE(predict.output.find("(280x280), as a 28x28 MNIST digit"), std::string::npos);
      const std::regex top3(
          "\n1\\. (\\d)  \\((0\\.\\d{4}|1\\.0000)\\)\n2\\. \\d  \\(0\\.\\d{4}\\)\n3\\. \\d  ");
      ASSERT_TRUE(std::regex_search(predict.output, m, top3)) << predict.output;
      EXPECT_EQ(m[1], "5") << predict.output;
      EXPECT_GT(std::stod(m[2]), 0.5) << predict.output;
    }
  }
  // The folder's best checkpoint is the one with the lowest val_loss in its name.
  CommandResult predict = RunCommand(absl::StrCat(Binary("predict"), " --model=", models,
                                                  " --image=", out, "/train_image_0.png"));
  std::string best = checkpoints.front();
  for (const std::string& c : checkpoints) {
    if (c.substr(3) < best.substr(3)) best = c;
  }
  EXPECT_NE(predict.output.find("Model: " + models + "/" + best + " "), std::string::npos)
      << predict.output;
}

TEST(ExamplesTest, MnistCnn) {
  CheckMnistExample("mnist_cnn", "conv2d/kernel", {3, 3, 1, 32}, 2000);
}

TEST(ExamplesTest, MnistMlp) {
  CheckMnistExample("mnist_mlp", "dense/kernel", {784, 512}, 20000);
}

// The ResNet after the chapter: Fashion-MNIST by default, a functional summary with the
// batch norms' non-trainable statistics, the loss and accuracy curves, a checkpoint that
// //examples:predict finds the model of.
TEST(ExamplesTest, FashionResNet) {
  const std::string out = TempDir("resnet_out"), models = TempDir("resnet_model");
  CommandResult run = RunCommand(absl::StrCat(
      Binary("fashion_resnet"), " --train_samples=600 --test_samples=200 --epochs=1",
      " --threads=2 --seed=3 --output_dir=", out, " --model_dir=", models));
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* expected :
       {"Data: Fashion-MNIST", "Using 600 training and 200 test images", "Connected to",
        "image (InputLayer)", "add (Add)", "global_average_pooling2d (GlobalAveragePooling2D)",
        "Total params: 176,090", "Non-trainable params: 1,120", "Epoch 1/1",
        " Test Accuracy: "}) {
    EXPECT_NE(run.output.find(expected), std::string::npos) << expected << "\n" << run.output;
  }
  EXPECT_NE(ReadFile(out + "/accuracy.svg").find(">accuracy</text>"), std::string::npos);
  EXPECT_NE(ReadFile(out + "/loss.svg").find(">loss</text>"), std::string::npos);
  const std::vector<std::string> lines =
      absl::StrSplit(ReadFile(out + "/history.csv"), '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 2u);
  CommandResult predict = RunCommand(absl::StrCat(Binary("predict"), " --model=", models,
                                                  " --image=", out, "/train_image_0.png"));
  ASSERT_EQ(predict.status, 0) << predict.output;
  EXPECT_NE(predict.output.find("(the Fashion-MNIST ResNet)"), std::string::npos)
      << predict.output;
}

// The spam filter on a slice of SpamAssassin: the summary, precision and recall, the
// vocabulary beside the checkpoints, a message classified; a missing corpus names the
// command that installs it.
TEST(ExamplesTest, SpamClassifier) {
  const std::string out = TempDir("spam_out"), models = TempDir("spam_model");
  CommandResult run = RunCommand(absl::StrCat(
      Binary("spam_classifier"), " --train_samples=400 --test_samples=200 --epochs=1",
      " --sequence_length=60 --threads=2 --output_dir=", out, " --model_dir=", models,
      " --classify='Cheap meds, click here'"));
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* expected :
       {"SpamAssassin: 6046 messages; train 400", "validation 906, test 200",
        "ids (InputLayer)", "(None, 60, 32)", "bidirectional (Bidirectional) (None, 64)",
        "Epoch 1/1", "Test precision: ", "\"Cheap meds, click here\": ", "spam probability",
        " Test Accuracy: "}) {
    EXPECT_NE(run.output.find(expected), std::string::npos) << expected << "\n" << run.output;
  }
  const std::vector<std::string> lines =
      absl::StrSplit(ReadFile(out + "/history.csv"), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "epoch,loss,accuracy,precision,recall,val_loss,val_accuracy,val_precision,"
            "val_recall,seconds");
  EXPECT_NE(ReadFile(models + "/vocabulary.json").find("\"gradway.text_vectorization\""),
            std::string::npos);
  CommandResult missing = RunCommand(absl::StrCat(Binary("spam_classifier"),
                                                  " --data_dir=/nonexistent --output_dir=", out,
                                                  " --model_dir=", models));
  EXPECT_EQ(missing.status, 1) << missing.output;
  EXPECT_NE(missing.output.find("/nonexistent does not exist: install the corpus with `bash "
                                "data/install_text.sh`"),
            std::string::npos)
      << missing.output;
}

// The G2P Transformer on a slice of CMUdict: two inputs in the summary, the error rates of
// greedy decoding, words pronounced (and a word it cannot read refused).
TEST(ExamplesTest, Pronounce) {
  const std::string out = TempDir("g2p_out"), models = TempDir("g2p_model");
  CommandResult run = RunCommand(absl::StrCat(
      Binary("pronounce"), " --train_samples=300 --test_samples=40 --epochs=1 --layers=1",
      " --threads=2 --output_dir=", out, " --model_dir=", models, " --words=cat,x1"));
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* expected :
       {"CMUdict: ", "(39 phonemes); train 300", "test 40", "letters (InputLayer)",
        "phonemes_so_far (InputLayer)", "multi_head_attention", "Epoch 1/1", " Test PER: ",
        " Test Accuracy: ", "\nCAT:", "X1: not a word of at most 20 letters"}) {
    EXPECT_NE(run.output.find(expected), std::string::npos) << expected << "\n" << run.output;
  }
  EXPECT_NE(ReadFile(out + "/loss.svg").find("</svg>"), std::string::npos);
}

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
  CommandResult conv = RunCommand(Binary("mnist_cnn") + " --conv_algorithm=fft");
  EXPECT_EQ(conv.status, 2);
  EXPECT_NE(conv.output.find("--conv_algorithm: unknown convolution algorithm 'fft'"),
            std::string::npos)
      << conv.output;
  CommandResult help = RunCommand(Binary("mnist_cnn") + " --help");
  EXPECT_NE(help.output.find("--target_accuracy"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--data_dir"), std::string::npos);
}

TEST(ExamplesTest, PredictNamesTheBadFile) {
  const std::string dir = TempDir("predict_bad");
  // A corrupt checkpoint, a checkpoint of another model, a folder without checkpoints.
  const std::string corrupt = dir + "/01-0.1000.safetensors";
  std::ofstream(corrupt) << "not a safetensors file";
  const std::string image = dir + "/digit.png";
  std::ofstream(image) << "not a PNG";
  struct Case {
    std::string flags, message;
  };
  const std::vector<Case> cases = {
      {" --model=" + corrupt + " --image=" + image, "error: " + corrupt + ": "},
      {" --model=" + dir + " --image=" + image, "error: " + corrupt + ": "},
      {" --model=" + dir + "/none.safetensors --image=" + image,
       "error: " + dir + "/none.safetensors: no such file"},
      {" --model=" + TempDir("predict_empty") + " --image=" + image,
       "predict_empty: holds no checkpoint named <epoch>-<val_loss>.safetensors"},
      {" --model=" + corrupt, "error: --image is required"},
      {" --model=" + corrupt + " --image=" + image + " --model_kind=rnn",
       "error: --model_kind must be auto, cnn, mlp or resnet, got 'rnn'"},
  };
  for (const Case& c : cases) {
    CommandResult run = RunCommand(Binary("predict") + c.flags);
    EXPECT_NE(run.status, 0) << c.flags;
    EXPECT_NE(run.output.find(c.message), std::string::npos) << c.flags << "\n" << run.output;
  }
}

TEST(ExamplesTest, EmptyDataSetIsACleanError) {
  // IDX files that hold zero images: a message naming the file and exit status 1.
  const std::string dir = TempDir("empty_idx");
  auto write = [&dir](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  };
  const std::string images_header("\x00\x00\x08\x03\x00\x00\x00\x00\x00\x00\x00\x1c\x00\x00\x00\x1c", 16);
  const std::string labels_header("\x00\x00\x08\x01\x00\x00\x00\x00", 8);
  write("train-images-idx3-ubyte", images_header);
  write("train-labels-idx1-ubyte", labels_header);
  write("t10k-images-idx3-ubyte", images_header);
  write("t10k-labels-idx1-ubyte", labels_header);
  CommandResult run = RunCommand(Binary("mnist_cnn") + " --data_dir=" + dir);
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("error: " + dir + "/train-images-idx3-ubyte: holds no images"),
            std::string::npos)
      << run.output;
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
