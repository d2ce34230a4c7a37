// The chapter's two MNIST models and the Fashion-MNIST ResNet after it, defined once for
// the programs that train them (mnist_mlp, mnist_cnn, fashion_resnet) and those that use
// them (predict, export_onnx).
#ifndef GRADWAY_EXAMPLES_MNIST_MODELS_H_
#define GRADWAY_EXAMPLES_MNIST_MODELS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "autograd/tensor.h"
#include "nn/model.h"

namespace gradway {
namespace examples {

enum class MnistModelKind { kMlp, kCnn, kResNet };

// "mlp", "cnn" or "resnet".
const char* MnistModelName(MnistModelKind kind);
// What programs call it: "the MNIST MLP", "the MNIST CNN", "the Fashion-MNIST ResNet".
const char* MnistModelTitle(MnistModelKind kind);

// The shape of one input sample: {784} for the MLP, {28, 28, 1} (height, width, channels)
// for the CNN and the ResNet.
Shape MnistInputShape(MnistModelKind kind);

// Adds the model's layers to an empty `model`, built at once:
//   MLP: Dense(512, relu, input 784), Dense(10, softmax).
//   CNN: Conv2D(32, 3x3, relu, input 28x28x1), Conv2D(64, 3x3, relu), MaxPooling2D(2),
//        Dropout(0.25), Flatten, Dense(128, relu), Dropout(0.5), Dense(10, softmax).
void AddMnistLayers(MnistModelKind kind, nn::Sequential& model);

// The ResNet's size: `width` filters in the first stage (2x, 4x in the next two), `blocks`
// residual blocks a stage.
struct ResNetOptions {
  int64_t width = 16;
  int blocks = 2;
};

// The small ResNet of //examples:fashion_resnet, a functional model (nn/functional.h) of
// per-sample input {28, 28, 1}, built with initial weights from `seed`:
//   augmentation (training only): RandomFlip("horizontal"), RandomCrop(28, 28) of the
//     image zero-padded by 2;
//   stem: Conv2D(width, 3x3, same, no bias), BatchNormalization, ReLU;
//   three stages of `blocks` residual blocks, each Conv-BN-ReLU-Conv-BN plus a skip, then
//     ReLU; stages 2 and 3 start with stride 2 and double the filters, their first skip a
//     1x1 Conv (stride 2, no bias) and BN;
//   GlobalAveragePooling2D, Dense(10, softmax).
// Convolutions keep Keras' defaults (GlorotUniform kernels).
std::unique_ptr<nn::Model> MakeFashionResNet(uint64_t seed, const ResNetOptions& options = {});

// A model of `kind`, built: the Sequential of AddMnistLayers, or the default ResNet.
std::unique_ptr<nn::Model> MakeMnistModel(MnistModelKind kind, uint64_t seed = 0);

}  // namespace examples
}  // namespace gradway

#endif  // GRADWAY_EXAMPLES_MNIST_MODELS_H_
