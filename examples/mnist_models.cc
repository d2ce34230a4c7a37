#include "examples/mnist_models.h"

#include "nn/layers.h"

namespace gradway {
namespace examples {

const char* MnistModelName(MnistModelKind kind) {
  return kind == MnistModelKind::kCnn ? "cnn" : "mlp";
}

Shape MnistInputShape(MnistModelKind kind) {
  if (kind == MnistModelKind::kCnn) return {28, 28, 1};
  return {784};
}

void AddMnistLayers(MnistModelKind kind, nn::Sequential& model) {
  if (kind == MnistModelKind::kMlp) {
    model.Add(nn::Dense(nn::DenseOptions(512).Activation(nn::kRelu).InputShape({784})));
    model.Add(nn::Dense(10, nn::kSoftmax));
    return;
  }
  model.Add(nn::Conv2D(nn::Conv2DOptions(32, 3).Activation(nn::kRelu).InputShape({28, 28, 1})));
  model.Add(nn::Conv2D(64, 3, nn::kRelu));
  model.Add(nn::MaxPooling2D(2));
  model.Add(nn::Dropout(0.25));
  model.Add(nn::Flatten());
  model.Add(nn::Dense(128, nn::kRelu));
  model.Add(nn::Dropout(0.5));
  model.Add(nn::Dense(10, nn::kSoftmax));
}

}  // namespace examples
}  // namespace gradway
