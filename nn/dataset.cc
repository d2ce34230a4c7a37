#include "nn/dataset.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "base/shape_string.h"
#include "ops/elementwise.h"

namespace gradway {
namespace nn {

float* Dataset::BatchBuffer(int64_t count, const Shape& sample, Tensor* buf) {
  Shape s = {count};
  s.insert(s.end(), sample.begin(), sample.end());
  if (!buf->defined() || buf->shape() != s) *buf = Tensor::Empty(s);
  return buf->data();
}

void Dataset::Slice(int64_t begin, int64_t count, Tensor* x, Tensor* y) const {
  std::vector<int64_t> rows(count);
  std::iota(rows.begin(), rows.end(), begin);
  Gather(rows.data(), count, x, y);
}

std::string Dataset::Description() const {
  Shape x = x_shape(), y = y_shape();
  x.insert(x.begin(), size());
  y.insert(y.begin(), size());
  return absl::StrCat("x ", ShapeToString(x), ", y ", ShapeToString(y));
}

TensorDataset::TensorDataset(Tensor x, Tensor y) : x_(std::move(x)), y_(std::move(y)) {
  GRADWAY_CHECK(x_.defined() && y_.defined(), "TensorDataset: x or y is undefined");
  GRADWAY_CHECK(x_.rank() >= 1 && y_.rank() >= 1, "TensorDataset: x and y need a sample axis");
  GRADWAY_CHECK(x_.size(0) == y_.size(0), "x has ", x_.size(0), " samples but y has ",
                y_.size(0), " (x ", ShapeToString(x_.shape()), ", y ", ShapeToString(y_.shape()), ")");
}

Shape TensorDataset::x_shape() const { return Shape(x_.shape().begin() + 1, x_.shape().end()); }
Shape TensorDataset::y_shape() const { return Shape(y_.shape().begin() + 1, y_.shape().end()); }

void TensorDataset::Gather(const int64_t* rows, int64_t count, Tensor* x, Tensor* y) const {
  auto gather = [&](const Tensor& src, const Shape& sample, Tensor* out) {
    const int64_t row = NumElements(sample);
    float* to = BatchBuffer(count, sample, out);
    const float* from = src.data();
    for (int64_t i = 0; i < count; ++i) {
      std::memcpy(to + i * row, from + rows[i] * row, row * sizeof(float));
    }
  };
  gather(x_, x_shape(), x);
  gather(y_, y_shape(), y);
}

void TensorDataset::Slice(int64_t begin, int64_t count, Tensor* x, Tensor* y) const {
  *x = x_.Narrow(0, begin, count);  // views: no copy
  *y = y_.Narrow(0, begin, count);
}

ByteImageDataset::ByteImageDataset(std::vector<uint8_t> pixels, std::vector<uint8_t> labels,
                                   Shape image_shape, int classes, bool one_hot,
                                   std::string name)
    : pixels_(std::move(pixels)),
      labels_(std::move(labels)),
      image_shape_(std::move(image_shape)),
      image_size_(NumElements(image_shape_)),
      classes_(classes),
      one_hot_(one_hot),
      name_(std::move(name)) {
  GRADWAY_CHECK(classes_ >= 1 && classes_ <= 256, name_, ": ", classes_,
                " classes; labels are bytes, so 1 to 256");
  GRADWAY_CHECK(image_size_ > 0 &&
                    static_cast<int64_t>(pixels_.size()) == size() * image_size_,
                name_, ": ", pixels_.size(), " pixel bytes for ", size(),
                " labels of images shaped ", ShapeToString(image_shape_), " (", image_size_,
                " bytes each)");
  for (int64_t i = 0; i < size(); ++i) {
    GRADWAY_CHECK(labels_[i] < classes_, name_, ": label ", static_cast<int>(labels_[i]),
                  " of image ", i, " is not below ", classes_, " classes");
  }
}

Shape ByteImageDataset::y_shape() const {
  return one_hot_ ? Shape{classes_} : Shape{};
}

void ByteImageDataset::Gather(const int64_t* rows, int64_t count, Tensor* x, Tensor* y) const {
  float* to = BatchBuffer(count, image_shape_, x);
  // Gathered and scaled in one pass: byte / 255.0f.
  ops::GatherBytesAsFloat(pixels_.data(), rows, count, image_size_, 255.0f, to);
  float* labels = BatchBuffer(count, y_shape(), y);
  if (one_hot_) {
    std::fill(labels, labels + count * classes_, 0.f);
    for (int64_t i = 0; i < count; ++i) labels[i * classes_ + labels_[rows[i]]] = 1.f;
  } else {
    for (int64_t i = 0; i < count; ++i) labels[i] = labels_[rows[i]];
  }
}

std::string ByteImageDataset::Description() const {
  return absl::StrCat(name_, " (", size(), " images ", ShapeToString(image_shape_), " as bytes)");
}

}  // namespace nn
}  // namespace gradway
