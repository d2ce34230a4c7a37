// Uses a trained MNIST model: reads a picture of a digit (a PNG of any size, grayscale or
// colour, white ink on black as MNIST or dark ink on paper), converts it to a 28x28 MNIST
// digit, and prints the model's three most likely classes with their probabilities.
//
//   bazel run //examples:mnist_cnn
//   bazel run //examples:predict -- --model=model --image=output/train_image_0.png
//
// --model is a checkpoint written by mnist_cnn or mnist_mlp, or the folder they write
// them to (the one with the lowest val_loss in its name is used). Which of the two models
// it holds is found from the file (or given with --model_kind).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "autograd/autograd.h"
#include "data/image.h"
#include "data/png.h"
#include "examples/cli.h"
#include "examples/mnist_models.h"
#include "nn/nn.h"

ABSL_FLAG(std::string, model, "./model",
          "A checkpoint written by mnist_cnn or mnist_mlp, or a folder of them "
          "({epoch:02d}-{val_loss:.4f}.safetensors): the lowest val_loss is used.");
ABSL_FLAG(std::string, image, "", "The PNG of a digit to classify (any size, gray or RGB).");
ABSL_FLAG(std::string, model_kind, "auto",
          "auto (found from the checkpoint), cnn or mlp.");

using namespace gradway;  // NOLINT: an example

namespace {

namespace fs = std::filesystem;

// The epoch and val_loss in a checkpoint's name "<epoch>-<val_loss>.safetensors", if it
// has them and the loss is a number (not nan or inf).
std::optional<std::pair<int64_t, double>> EpochAndLoss(const std::string& filename) {
  absl::string_view name = filename;
  if (!absl::ConsumeSuffix(&name, ".safetensors")) return std::nullopt;
  const size_t dash = name.find('-');
  int64_t epoch = 0;
  double val_loss = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(name.substr(0, dash), &epoch) ||
      !absl::SimpleAtod(name.substr(dash + 1), &val_loss) || !std::isfinite(val_loss)) {
    return std::nullopt;
  }
  return std::make_pair(epoch, val_loss);
}

// `path` itself when it is a file; for a folder, its checkpoint with the lowest val_loss in
// its name (ties: the later epoch).
absl::StatusOr<std::string> FindCheckpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return path;
  }
  std::string best;
  std::pair<int64_t, double> best_key;
  fs::directory_iterator it(path, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::optional<std::pair<int64_t, double>> key = EpochAndLoss(name);
    std::error_code file_ec;
    if (!key || !it->is_regular_file(file_ec)) continue;
    if (best.empty() || key->second < best_key.second ||
        (key->second == best_key.second && key->first > best_key.first)) {
      best = name;
      best_key = *key;
    }
  }
  if (ec) return absl::InternalError(absl::StrCat(path, ": cannot list: ", ec.message()));
  if (best.empty()) {
    return absl::NotFoundError(absl::StrCat(
        path, ": holds no checkpoint named <epoch>-<val_loss>.safetensors (train one with "
              "`bazel run //examples:mnist_cnn`)"));
  }
  return (fs::path(path) / best).string();
}

// A model of `kind` with the checkpoint's weights.
absl::StatusOr<std::unique_ptr<nn::Sequential>> LoadModel(examples::MnistModelKind kind,
                                                          const std::string& checkpoint) {
  auto model = std::make_unique<nn::Sequential>();
  examples::AddMnistLayers(kind, *model);
  absl::Status loaded = model->LoadWeights(checkpoint);
  if (!loaded.ok()) return loaded;
  return model;
}

}  // namespace

int main(int argc, char** argv) {
  examples::ParseFlags(
      argc, argv,
      "Classifies the digit in a PNG with a model trained by mnist_cnn or mnist_mlp.\n"
      "  bazel run //examples:predict -- --model=model --image=output/train_image_0.png");
  const std::string model_flag = examples::UserPath(absl::GetFlag(FLAGS_model));
  const std::string image_path = examples::UserPath(absl::GetFlag(FLAGS_image));
  const std::string kind_flag = absl::GetFlag(FLAGS_model_kind);
  if (image_path.empty()) examples::Die("--image is required (a PNG of a digit)", 2);
  std::vector<examples::MnistModelKind> kinds;
  if (kind_flag == "auto") {
    kinds = {examples::MnistModelKind::kCnn, examples::MnistModelKind::kMlp};
  } else if (kind_flag == "cnn") {
    kinds = {examples::MnistModelKind::kCnn};
  } else if (kind_flag == "mlp") {
    kinds = {examples::MnistModelKind::kMlp};
  } else {
    examples::Die(absl::StrCat("--model_kind must be auto, cnn or mlp, got '", kind_flag, "'"),
                  2);
  }

  // 1. The model: the checkpoint's weights in whichever of the two models they fit.
  absl::StatusOr<std::string> checkpoint = FindCheckpoint(model_flag);
  if (!checkpoint.ok()) examples::Die(std::string(checkpoint.status().message()), 1);
  // A file that is not a valid checkpoint at all gets the reader's own message.
  absl::StatusOr<nn::SafetensorsContents> contents = nn::ReadSafetensors(*checkpoint);
  if (!contents.ok()) examples::Die(std::string(contents.status().message()), 1);
  std::unique_ptr<nn::Sequential> model;
  examples::MnistModelKind kind = kinds.front();
  std::string why_not;
  for (examples::MnistModelKind k : kinds) {
    absl::StatusOr<std::unique_ptr<nn::Sequential>> loaded = LoadModel(k, *checkpoint);
    if (loaded.ok()) {
      model = *std::move(loaded);
      kind = k;
      break;
    }
    absl::StrAppend(&why_not, "\n  as the ", examples::MnistModelName(k), ": ",
                    loaded.status().message());
  }
  if (model == nullptr) {
    examples::Die(absl::StrCat(*checkpoint, ": not a checkpoint of the MNIST ",
                               kinds.size() > 1 ? "CNN or MLP"
                                                : absl::AsciiStrToUpper(
                                                      examples::MnistModelName(kind)),
                               why_not),
                  1);
  }
  std::printf("Model: %s (the MNIST %s)\n", checkpoint->c_str(),
              absl::AsciiStrToUpper(examples::MnistModelName(kind)).c_str());

  // 2. The image, as an MNIST digit: 28x28, white on black, pixels scaled to [0, 1].
  absl::StatusOr<data::GrayImage> image = data::ReadGrayPng(image_path);
  if (!image.ok()) examples::Die(std::string(image.status().message()), 1);
  absl::StatusOr<data::GrayImage> digit = data::ToMnistDigit(*image);
  if (!digit.ok()) {
    examples::Die(absl::StrCat(image_path, ": ", digit.status().message()), 1);
  }
  std::printf("Image: %s (%dx%d), as a 28x28 MNIST digit\n", image_path.c_str(), image->width,
              image->height);
  Shape shape = {1};
  for (int64_t d : examples::MnistInputShape(kind)) shape.push_back(d);
  Tensor x = Tensor::Empty(shape);
  for (size_t i = 0; i < digit->pixels.size(); ++i) x.data()[i] = digit->pixels[i] / 255.f;

  // 3. The three most likely classes.
  Tensor probabilities = model->Predict(x, 1);
  std::vector<int> order(10);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&probabilities](int a, int b) {
    return probabilities.data()[a] > probabilities.data()[b];
  });
  for (int rank = 0; rank < 3; ++rank) {
    std::printf("%d. %d  (%.4f)\n", rank + 1, order[rank], probabilities.data()[order[rank]]);
  }
  return 0;
}
