// Dataset: the rows Model::Fit and Evaluate gather their batches from.
//
// A Dataset holds samples as it likes and turns the rows a batch needs into float tensors
// when the batch is gathered. TensorDataset holds x and y as tensors (what Fit(x, y) uses);
// ByteImageDataset holds images as bytes and class labels as bytes, and scales the pixels
// to floats as it gathers them, so a data set of images takes a quarter of the memory:
//
//   auto train = std::make_shared<nn::ByteImageDataset>(pixels, labels, Shape{28, 28, 1},
//                                                       /*classes=*/10);
//   model.Fit(*train, nn::FitOptions().ValidationData(test));
#ifndef GRADWAY_NN_DATASET_H_
#define GRADWAY_NN_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {
namespace nn {

class Dataset {
 public:
  virtual ~Dataset() = default;
  // The number of rows (samples) held.
  virtual int64_t size() const = 0;
  // One sample's input shape and target shape (empty for a class index).
  virtual Shape x_shape() const = 0;
  virtual Shape y_shape() const = 0;
  // Rows rows[0, count) into *x [count, x_shape...] and *y [count, y_shape...], reusing
  // their storage when they already have those shapes (and allocating them otherwise).
  // Rows must be in [0, size()).
  virtual void Gather(const int64_t* rows, int64_t count, Tensor* x, Tensor* y) const = 0;
  // Rows [begin, begin + count) as tensors; they may share the dataset's storage.
  virtual void Slice(int64_t begin, int64_t count, Tensor* x, Tensor* y) const;
  // What errors say the data is ("x (60000, 28, 28, 1), y (60000, 10)").
  virtual std::string Description() const;

 protected:
  // For Gather: *buf as a [count, sample...] tensor, keeping its storage when it already
  // has that shape; returns its data.
  static float* BatchBuffer(int64_t count, const Shape& sample, Tensor* buf);
};

// x [N, ...] and y [N, ...] as given (not copied: they share storage with the caller's).
// Throws Error when they are undefined, scalars or differ in N.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor x, Tensor y);
  int64_t size() const override { return x_.size(0); }
  Shape x_shape() const override;
  Shape y_shape() const override;
  void Gather(const int64_t* rows, int64_t count, Tensor* x, Tensor* y) const override;
  void Slice(int64_t begin, int64_t count, Tensor* x, Tensor* y) const override;
  const Tensor& x() const { return x_; }
  const Tensor& y() const { return y_; }

 private:
  Tensor x_, y_;
};

// Images as bytes (N images of NumElements(image_shape) bytes each, image-major) and their
// class labels (N bytes in [0, classes)). Gather gives x [count, image_shape...] with each
// pixel byte b as b / 255.0f (bit-identical to scaling the whole set to floats first),
// and y one-hot [count, classes] (or the class index [count] when !one_hot).
// Throws Error naming `name` when the sizes disagree or a label is out of range.
class ByteImageDataset : public Dataset {
 public:
  ByteImageDataset(std::vector<uint8_t> pixels, std::vector<uint8_t> labels, Shape image_shape,
                   int classes, bool one_hot = true, std::string name = "images");
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Shape x_shape() const override { return image_shape_; }
  Shape y_shape() const override;
  void Gather(const int64_t* rows, int64_t count, Tensor* x, Tensor* y) const override;
  std::string Description() const override;
  // The bytes held: size() images, image-major, and their labels.
  const std::vector<uint8_t>& pixels() const { return pixels_; }
  const std::vector<uint8_t>& labels() const { return labels_; }

 private:
  std::vector<uint8_t> pixels_, labels_;
  Shape image_shape_;
  int64_t image_size_;
  int classes_;
  bool one_hot_;
  std::string name_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_DATASET_H_
