// From a loaded MNIST-format data set (data/mnist.h, bytes) to the tensors a model takes, in
// one call. It lives here, above data/ and autograd/, because data/ has no Tensor type.
//
//   absl::StatusOr<data::Dataset> d = data::LoadDefaultMnist();
//   examples::MnistTensors first = examples::ToTensors(*d, examples::Split::kTrain, 0, 1000,
//                                                      {28, 28, 1});
//   model.Fit(first.x, first.y, ...);
#ifndef GRADWAY_EXAMPLES_MNIST_TENSORS_H_
#define GRADWAY_EXAMPLES_MNIST_TENSORS_H_

#include <cstdint>

#include "autograd/tensor.h"
#include "data/mnist.h"

namespace gradway {
namespace examples {

enum class Split { kTrain, kTest };

// Images and labels as tensors.
struct MnistTensors {
  Tensor x;  // [count, sample_shape...]: pixels scaled to [0, 1] (byte / 255)
  Tensor y;  // [count, 10]: one-hot labels
};

// Rows [begin, begin + count) of `split` of `dataset` (count -1: to the end), the pixels
// scaled straight into the tensor (the images are held once as floats). sample_shape is
// one image's shape for the model ({28, 28, 1} for a CNN, {784} for an MLP).
// Throws gradway::Error naming the data set when the rows are out of range or
// sample_shape does not hold rows x cols pixels.
MnistTensors ToTensors(const data::Dataset& dataset, Split split, int64_t begin, int64_t count,
                       const Shape& sample_shape);

}  // namespace examples
}  // namespace gradway

#endif  // GRADWAY_EXAMPLES_MNIST_TENSORS_H_
