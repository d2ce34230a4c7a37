#include "examples/mnist_tensors.h"

#include "autograd/error.h"

namespace gradway {
namespace examples {

MnistTensors ToTensors(const data::Dataset& dataset, Split split, int64_t begin, int64_t count,
                       const Shape& sample_shape) {
  const bool train = split == Split::kTrain;
  const std::vector<uint8_t>& images = train ? dataset.train_images : dataset.test_images;
  const std::vector<uint8_t>& labels = train ? dataset.train_labels : dataset.test_labels;
  const int64_t rows = static_cast<int64_t>(labels.size());
  const int64_t pixels = dataset.image_size();
  if (count < 0) count = rows - begin;
  GRADWAY_CHECK(begin >= 0 && count >= 0 && begin <= rows && count <= rows - begin,
                dataset.description, ": rows [", begin, ", ", begin, " + ", count,
                ") are outside the ", rows, " ", train ? "training" : "test", " images");
  GRADWAY_CHECK(NumElements(sample_shape) == pixels, dataset.description, ": images of ",
                dataset.rows, "x", dataset.cols, " do not fit the model's input shape ",
                ShapeToString(sample_shape));
  Shape x_shape = {count};
  x_shape.insert(x_shape.end(), sample_shape.begin(), sample_shape.end());
  MnistTensors out{Tensor::Empty(x_shape), Tensor::Zeros({count, 10})};
  const uint8_t* src = images.data() + begin * pixels;
  float* x = out.x.data();
  for (int64_t i = 0; i < count * pixels; ++i) x[i] = src[i] / 255.0f;
  float* y = out.y.data();
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t label = labels[begin + i];
    if (label < 10) y[i * 10 + label] = 1.f;
  }
  return out;
}

}  // namespace examples
}  // namespace gradway
