#include "data/transforms.h"

#include <cstddef>

namespace gradway::data {

std::vector<float> ToCategorical(const std::vector<uint8_t>& labels, int num_classes) {
  if (num_classes <= 0) return {};
  std::vector<float> out(labels.size() * static_cast<size_t>(num_classes), 0.0f);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < num_classes) out[i * num_classes + labels[i]] = 1.0f;
  }
  return out;
}

void Normalize(const std::vector<uint8_t>& pixels, float* out) {
  for (size_t i = 0; i < pixels.size(); ++i) out[i] = pixels[i] / 255.0f;
}

}  // namespace gradway::data
