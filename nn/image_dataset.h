// Keras' image_dataset_from_directory: an image classification dataset stored as one
// folder per class (data/image_directory.h says how it is listed, split and decoded) as
// nn::Datasets that Fit and Evaluate gather batches from.
//
//   absl::StatusOr<nn::ImageDirectoryDatasets> data = nn::ImageDatasetFromDirectory(
//       "flowers", nn::ImageDirectoryOptions().ImageSize(64, 64).Rescale(1 / 255.f)
//                      .ValidationSplit(0.2).Subset("both").Seed(1337));
//   if (!data.ok()) ...  // data.status() names the folder or file
//   model.Fit(*data->training, nn::FitOptions().ValidationData(data->validation));
//
// The images are decoded when a batch is gathered (so the set need not fit in memory),
// the batch's rows in parallel, and kept decoded within ImageDirectoryOptions::cache_bytes
// (256 MiB by default), so that later epochs skip decoding. Values do not depend on the
// thread count or on the cache.
// Pixels: floats in [0, 255], as Keras yields them; Rescale(1 / 255.f) (Keras' Rescaling)
// gives [0, 1], like nn::ByteImageDataset and the MNIST examples.
#ifndef GRADWAY_NN_IMAGE_DATASET_H_
#define GRADWAY_NN_IMAGE_DATASET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "autograd/tensor.h"
#include "data/image_directory.h"
#include "nn/dataset.h"

namespace gradway {
namespace nn {

using ImageDirectoryOptions = data::ImageDirectoryOptions;

// Listed image files and their class labels as a Dataset: x [count, height, width,
// channels] decoded from the files as Gather asks for them (data::ImageLoader); y per
// label_mode: "int" the class index [count], "categorical" one-hot [count, classes],
// "binary" [count, 1] (0 or 1).
// Gather throws Error when a file can no longer be read (changed or removed since it was
// listed), with the reader's message naming the file; of several such rows in a batch, the
// first in the batch's order.
class ImageDirectoryDataset : public Dataset {
 public:
  // Throws Error naming `name` when `options` fail data::CheckImageDirectoryOptions,
  // files.paths and files.labels differ in length or a label is not in [0, classes).
  ImageDirectoryDataset(data::ImageFiles files, int classes, const ImageDirectoryOptions& options,
                        std::string name = "images");
  int64_t size() const override { return loader_.size(); }
  Shape x_shape() const override;
  Shape y_shape() const override;
  void Gather(const int64_t* rows, int64_t count, Tensor* x, Tensor* y) const override;
  std::string Description() const override;

  // The files (row i is paths()[i]), their labels, and the decoder with its cache.
  const std::vector<std::string>& paths() const { return loader_.paths(); }
  const std::vector<int>& labels() const { return labels_; }
  const data::ImageLoader& loader() const { return loader_; }

 private:
  data::ImageLoader loader_;
  std::vector<int> labels_;
  int classes_;
  std::string label_mode_;
  std::string name_;
};

// What ImageDatasetFromDirectory makes: the datasets the subset asks for and the classes.
struct ImageDirectoryDatasets {
  // Every file without validation_split; the training subset with subset "training" or
  // "both"; null with subset "validation".
  std::shared_ptr<ImageDirectoryDataset> training;
  // The validation subset with subset "validation" or "both"; null otherwise.
  std::shared_ptr<ImageDirectoryDataset> validation;
  // Label i is class_names[i] (Keras' dataset.class_names).
  std::vector<std::string> class_names;
};

// Keras' image_dataset_from_directory(directory, ...): lists `directory` as
// data::ListImageDirectory does (classes, files, seeded shuffle and split) and wraps the
// subsets asked for. Nothing is decoded yet; every listed file has been checked to start as
// a PNG or a JPEG.
// Errors: data::ListImageDirectory's (bad options, missing folder, no class folders, no
// images, a file that is not an image), each naming the folder or file.
absl::StatusOr<ImageDirectoryDatasets> ImageDatasetFromDirectory(
    const std::string& directory, const ImageDirectoryOptions& options = {});

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_IMAGE_DATASET_H_
