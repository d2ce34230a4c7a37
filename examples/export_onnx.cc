// Exports a model trained by mnist_cnn or mnist_mlp as ONNX (nn::SaveOnnx), for ONNX
// Runtime, OpenCV or any other runtime:
//   bazel run //examples:export_onnx -- --model=model --output=model.onnx
// The model is found as predict finds it (a checkpoint, or the best of a folder). With
// --check_dir it also writes what .ci/onnx/check.py compares other runtimes against: the
// ONNX file, test images (input.bin, float32 NHWC or flat), gradway's probabilities for
// them (expected.bin, float32 [N, 10]) and meta.json.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "autograd/autograd.h"
#include "data/mnist.h"
#include "examples/cli.h"
#include "examples/mnist_checkpoint.h"
#include "examples/mnist_models.h"
#include "examples/mnist_tensors.h"
#include "nn/nn.h"
#include "nn/onnx_check_folder.h"

ABSL_FLAG(std::string, model, "./model",
          "A checkpoint written by mnist_cnn or mnist_mlp, or a folder of them "
          "({epoch:02d}-{val_loss:.4f}.safetensors): the lowest val_loss is used.");
ABSL_FLAG(std::string, model_kind, "auto", "auto (found from the checkpoint), cnn, mlp or resnet.");
ABSL_FLAG(std::string, output, "", "The ONNX file to write (required unless --check_dir).");
ABSL_FLAG(int64_t, opset, 13, "The ONNX opset, 13 to 17.");
ABSL_FLAG(std::string, check_dir, "",
          "Also write a check folder: model.onnx, input.bin, expected.bin, meta.json.");
ABSL_FLAG(int64_t, check_samples, 0, "Test images in the check folder (0: all of them).");
ABSL_FLAG(std::string, data_dir, "", "A folder of MNIST-format IDX files for the check.");
ABSL_FLAG(std::string, dataset, "mnist", "mnist or fashion, for the check's test images.");

using namespace gradway;  // NOLINT: an example

namespace {

// The check folder: the model, test images, gradway's probabilities for them, meta.json.
void WriteCheckFolder(const std::string& dir, const examples::LoadedMnistModel& loaded,
                      int64_t opset) {
  absl::StatusOr<data::Dataset> dataset =
      data::ResolveDataset(examples::UserPath(absl::GetFlag(FLAGS_data_dir)),
                           absl::GetFlag(FLAGS_dataset), data::IdxRange{0, 0});
  if (!dataset.ok()) examples::Die(std::string(dataset.status().message()), 1);
  const int64_t samples = absl::GetFlag(FLAGS_check_samples);
  const int64_t count = samples > 0 ? std::min(samples, dataset->test_count())
                                    : dataset->test_count();
  examples::MnistTensors test = examples::ToTensors(
      *dataset, examples::Split::kTest, 0, count, examples::MnistInputShape(loaded.kind));
  absl::Status st = nn::WriteOnnxCheckFolder(
      *loaded.model, test.x, dir,
      loaded.kind == examples::MnistModelKind::kResNet
          ? std::string("fashion_resnet")
          : absl::StrCat("mnist_", examples::MnistModelName(loaded.kind)),
      /*argmax=*/true, loaded.checkpoint, nn::OnnxOptions().Opset(opset));
  if (!st.ok()) examples::Die(std::string(st.message()), 1);
  std::printf("Check folder: %s (%lld test images)\n", dir.c_str(),
              static_cast<long long>(count));
}

}  // namespace

int main(int argc, char** argv) {
  examples::ParseFlags(
      argc, argv,
      "Exports a model trained by mnist_cnn, mnist_mlp or fashion_resnet as ONNX.\n"
      "  bazel run //examples:export_onnx -- --model=model --output=model.onnx");
  const std::string output = examples::UserPath(absl::GetFlag(FLAGS_output));
  const std::string check_dir = examples::UserPath(absl::GetFlag(FLAGS_check_dir));
  if (output.empty() && check_dir.empty()) {
    examples::Die("--output is required (the ONNX file to write)", 2);
  }
  absl::StatusOr<std::vector<examples::MnistModelKind>> kinds =
      examples::ParseMnistModelKinds(absl::GetFlag(FLAGS_model_kind));
  if (!kinds.ok()) examples::Die(std::string(kinds.status().message()), 2);
  absl::StatusOr<examples::LoadedMnistModel> loaded = examples::LoadMnistCheckpoint(
      examples::UserPath(absl::GetFlag(FLAGS_model)), *kinds);
  if (!loaded.ok()) examples::Die(std::string(loaded.status().message()), 1);
  std::printf("Model: %s (%s)\n", loaded->checkpoint.c_str(),
              examples::MnistModelTitle(loaded->kind));
  const int64_t opset = absl::GetFlag(FLAGS_opset);
  if (!output.empty()) {
    absl::Status st = nn::SaveOnnx(*loaded->model, output, nn::OnnxOptions().Opset(opset));
    if (!st.ok()) examples::Die(std::string(st.message()), 1);
    std::printf("ONNX: %s (opset %lld; input \"input\" %s, NHWC for the CNN; output "
                "\"output\" (None, 10))\n",
                output.c_str(), static_cast<long long>(opset),
                BatchShapeString(loaded->model->input_shape()).c_str());
  }
  if (!check_dir.empty()) WriteCheckFolder(check_dir, *loaded, opset);
  return 0;
}
