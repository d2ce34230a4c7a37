// The chapter's two MNIST models, defined once for the programs that train them
// (mnist_mlp, mnist_cnn) and the one that uses them (predict).
#ifndef GRADWAY_EXAMPLES_MNIST_MODELS_H_
#define GRADWAY_EXAMPLES_MNIST_MODELS_H_

#include <string>

#include "autograd/tensor.h"
#include "nn/model.h"

namespace gradway {
namespace examples {

enum class MnistModelKind { kMlp, kCnn };

// "mlp" or "cnn".
const char* MnistModelName(MnistModelKind kind);

// The shape of one input sample: {784} for the MLP, {28, 28, 1} (height, width, channels)
// for the CNN.
Shape MnistInputShape(MnistModelKind kind);

// Adds the model's layers to an empty `model`, built at once:
//   MLP: Dense(512, relu, input 784), Dense(10, softmax).
//   CNN: Conv2D(32, 3x3, relu, input 28x28x1), Conv2D(64, 3x3, relu), MaxPooling2D(2),
//        Dropout(0.25), Flatten, Dense(128, relu), Dropout(0.5), Dense(10, softmax).
void AddMnistLayers(MnistModelKind kind, nn::Sequential& model);

}  // namespace examples
}  // namespace gradway

#endif  // GRADWAY_EXAMPLES_MNIST_MODELS_H_
