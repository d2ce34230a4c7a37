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
    model.Add(nn::Dense(nn::DenseOptions(512).Activation(nn::Activation::kRelu)
                            .InputShape({784})));
    model.Add(nn::Dense(nn::DenseOptions(10).Activation(nn::Activation::kSoftmax)));
    return;
  }
  model.Add(nn::Conv2D(nn::Conv2DOptions(32, 3).Activation(nn::Activation::kRelu)
                           .InputShape({28, 28, 1})));
  model.Add(nn::Conv2D(nn::Conv2DOptions(64, 3).Activation(nn::Activation::kRelu)));
  model.Add(nn::MaxPooling2D(2));
  model.Add(nn::Dropout(0.25));
  model.Add(nn::Flatten());
  model.Add(nn::Dense(nn::DenseOptions(128).Activation(nn::Activation::kRelu)));
  model.Add(nn::Dropout(0.5));
  model.Add(nn::Dense(nn::DenseOptions(10).Activation(nn::Activation::kSoftmax)));
}

}  // namespace examples
}  // namespace gradway
