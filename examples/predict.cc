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
#include <memory>
#include <numeric>
#include <utility>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "autograd/autograd.h"
#include "data/image.h"
#include "data/png.h"
#include "examples/cli.h"
#include "examples/mnist_checkpoint.h"
#include "examples/mnist_models.h"
#include "nn/nn.h"

ABSL_FLAG(std::string, model, "./model",
          "A checkpoint written by mnist_cnn or mnist_mlp, or a folder of them "
          "({epoch:02d}-{val_loss:.4f}.safetensors): the lowest val_loss is used.");
ABSL_FLAG(std::string, image, "", "The PNG of a digit to classify (any size, gray or RGB).");
ABSL_FLAG(std::string, model_kind, "auto",
          "auto (found from the checkpoint), cnn, mlp or resnet.");
ABSL_FLAG(std::string, onnx, "",
          "Also write the loaded model to this path as ONNX (nn::SaveOnnx); --image is then "
          "optional.");

using namespace gradway;  // NOLINT: an example

int main(int argc, char** argv) {
  examples::ParseFlags(
      argc, argv,
      "Classifies the digit in a PNG with a model trained by mnist_cnn or mnist_mlp.\n"
      "  bazel run //examples:predict -- --model=model --image=output/train_image_0.png");
  const std::string model_flag = examples::UserPath(absl::GetFlag(FLAGS_model));
  const std::string image_path = examples::UserPath(absl::GetFlag(FLAGS_image));
  const std::string kind_flag = absl::GetFlag(FLAGS_model_kind);
  const std::string onnx_path = examples::UserPath(absl::GetFlag(FLAGS_onnx));
  if (image_path.empty() && onnx_path.empty()) {
    examples::Die("--image is required (a PNG of a digit), unless --onnx is given", 2);
  }
  absl::StatusOr<std::vector<examples::MnistModelKind>> kinds =
      examples::ParseMnistModelKinds(kind_flag);
  if (!kinds.ok()) examples::Die(std::string(kinds.status().message()), 2);

  // 1. The model: the checkpoint's weights in whichever of the two models they fit.
  absl::StatusOr<examples::LoadedMnistModel> loaded =
      examples::LoadMnistCheckpoint(model_flag, *kinds);
  if (!loaded.ok()) examples::Die(std::string(loaded.status().message()), 1);
  nn::Model* model = loaded->model.get();
  const examples::MnistModelKind kind = loaded->kind;
  std::printf("Model: %s (%s)\n", loaded->checkpoint.c_str(), examples::MnistModelTitle(kind));
  if (!onnx_path.empty()) {
    absl::Status exported = nn::SaveOnnx(*model, onnx_path);
    if (!exported.ok()) examples::Die(std::string(exported.message()), 1);
    std::printf("ONNX: %s (input \"input\" %s, output \"output\" (None, 10))\n",
                onnx_path.c_str(), BatchShapeString(model->input_shape()).c_str());
    if (image_path.empty()) return 0;
  }

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
