// Conversions from the byte buffers of data/mnist.h to the float buffers models use.
// Plain std::vector in and out, so data/ stays free of the Tensor type.
#ifndef GRADWAY_DATA_TRANSFORMS_H_
#define GRADWAY_DATA_TRANSFORMS_H_

#include <cstdint>
#include <vector>

namespace gradway::data {

// One-hot encodes `labels`: labels.size() rows of `num_classes` floats, row-major, 1.0 at
// the label's column and 0.0 elsewhere (Keras' to_categorical). A label >= num_classes
// gives an all-zero row (data/idx.h already rejects such labels when loading).
std::vector<float> ToCategorical(const std::vector<uint8_t>& labels, int num_classes);

// Maps pixel bytes to floats in [0, 1]: out[i] = pixels[i] / 255 for i < pixels.size().
// Writes into the caller's buffer (e.g. a tensor's), so a data set is never held twice as
// floats.
void Normalize(const std::vector<uint8_t>& pixels, float* out);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_TRANSFORMS_H_
