// The chapter's models (and the Fashion-MNIST ResNet) read back from their checkpoints, for the programs that use a
// trained model (predict, export_onnx).
#ifndef GRADWAY_EXAMPLES_MNIST_CHECKPOINT_H_
#define GRADWAY_EXAMPLES_MNIST_CHECKPOINT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "examples/mnist_models.h"
#include "nn/nn.h"

namespace gradway {
namespace examples {

// "auto" -> {kCnn, kMlp, kResNet} (tried in turn), "cnn" -> {kCnn}, "mlp" -> {kMlp},
// "resnet" -> {kResNet} (the default ResNet of fashion_resnet).
// Errors: InvalidArgument "--model_kind must be auto, cnn, mlp or resnet, got 'x'".
absl::StatusOr<std::vector<MnistModelKind>> ParseMnistModelKinds(const std::string& flag);

struct LoadedMnistModel {
  std::unique_ptr<nn::Model> model;  // built, with the checkpoint's weights
  MnistModelKind kind;
  std::string checkpoint;  // the file read
};

// The model of the first of `kinds` whose layers the checkpoint's weights fit. `path` is a
// checkpoint, or a folder of them named <epoch>-<val_loss>.safetensors (the lowest val_loss
// is read; ties: the later epoch). Errors name the file: none found, not a checkpoint, or
// a checkpoint of neither model (saying why for each).
absl::StatusOr<LoadedMnistModel> LoadMnistCheckpoint(const std::string& path,
                                                     const std::vector<MnistModelKind>& kinds);

}  // namespace examples
}  // namespace gradway

#endif  // GRADWAY_EXAMPLES_MNIST_CHECKPOINT_H_
