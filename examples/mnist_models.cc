#include "examples/mnist_models.h"

#include "nn/nn.h"

namespace gradway {
namespace examples {

const char* MnistModelName(MnistModelKind kind) {
  switch (kind) {
    case MnistModelKind::kCnn: return "cnn";
    case MnistModelKind::kResNet: return "resnet";
    default: return "mlp";
  }
}

const char* MnistModelTitle(MnistModelKind kind) {
  switch (kind) {
    case MnistModelKind::kCnn: return "the MNIST CNN";
    case MnistModelKind::kResNet: return "the Fashion-MNIST ResNet";
    default: return "the MNIST MLP";
  }
}

Shape MnistInputShape(MnistModelKind kind) {
  if (kind == MnistModelKind::kMlp) return {784};
  return {28, 28, 1};
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

namespace {

// Conv2D (3x3 unless `kernel`, same padding, no bias: the BN after it centres) and BN.
nn::SymbolicTensor ConvBn(const nn::SymbolicTensor& x, int64_t filters, int64_t stride,
                          int64_t kernel = 3) {
  auto conv = nn::Conv2D(nn::Conv2DOptions(filters, kernel)
                             .Strides(stride)
                             .Padding(nn::Padding::kSame)
                             .UseBias(false))(x);
  return nn::BatchNormalization()(conv);
}

// Conv-BN-ReLU-Conv-BN plus the skip (a 1x1 Conv-BN when the shape changes), then ReLU.
nn::SymbolicTensor ResidualBlock(const nn::SymbolicTensor& x, int64_t in_filters,
                                 int64_t filters, int64_t stride) {
  auto y = nn::ReLU()(ConvBn(x, filters, stride));
  y = ConvBn(y, filters, 1);
  auto skip = (stride != 1 || in_filters != filters) ? ConvBn(x, filters, stride, 1) : x;
  return nn::ReLU()(nn::Add()({y, skip}));
}

}  // namespace

std::unique_ptr<nn::Model> MakeFashionResNet(uint64_t seed, const ResNetOptions& options) {
  auto image = nn::Input({28, 28, 1}, "image");
  auto x = nn::RandomFlip(nn::RandomFlipOptions("horizontal"))(image);
  x = nn::RandomCrop(nn::RandomCropOptions(28, 28).Padding(2))(x);
  x = nn::ReLU()(ConvBn(x, options.width, 1));
  int64_t filters = options.width;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t stage_filters = options.width << stage;
    for (int b = 0; b < options.blocks; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      x = ResidualBlock(x, filters, stage_filters, stride);
      filters = stage_filters;
    }
  }
  x = nn::GlobalAveragePooling2D()(x);
  auto probabilities = nn::Dense(10, nn::kSoftmax)(x);
  return std::make_unique<nn::Model>(image, probabilities, seed);
}

std::unique_ptr<nn::Model> MakeMnistModel(MnistModelKind kind, uint64_t seed) {
  if (kind == MnistModelKind::kResNet) return MakeFashionResNet(seed);
  auto model = std::make_unique<nn::Sequential>(seed);
  AddMnistLayers(kind, *model);
  return model;
}

}  // namespace examples
}  // namespace gradway
