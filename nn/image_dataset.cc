#include "nn/image_dataset.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "base/shape_string.h"
#include "ops/parallel.h"

namespace gradway {
namespace nn {
ImageDirectoryDataset::ImageDirectoryDataset(data::ImageFiles files, int classes,
                                             const ImageDirectoryOptions& options,
                                             std::string name)
    : loader_(std::move(files.paths), options),
      labels_(std::move(files.labels)),
      classes_(classes),
      label_mode_(options.label_mode),
      name_(std::move(name)) {
  const absl::Status options_ok = data::CheckImageDirectoryOptions(options);
  GRADWAY_CHECK(options_ok.ok(), name_, ": ", options_ok.message());
  GRADWAY_CHECK(static_cast<int64_t>(labels_.size()) == loader_.size(), name_, ": ",
                loader_.size(), " files but ", labels_.size(), " labels");
  GRADWAY_CHECK(classes_ >= 1, name_, ": ", classes_, " classes");
  for (size_t i = 0; i < labels_.size(); ++i) {
    GRADWAY_CHECK(labels_[i] >= 0 && labels_[i] < classes_, name_, ": label ", labels_[i],
                  " of ", loader_.paths()[i], " is not in [0, ", classes_, ")");
  }
}

Shape ImageDirectoryDataset::x_shape() const {
  return {loader_.height(), loader_.width(), loader_.channels()};
}

Shape ImageDirectoryDataset::y_shape() const {
  if (label_mode_ == "categorical") return {classes_};
  if (label_mode_ == "binary") return {1};
  return {};
}

void ImageDirectoryDataset::Gather(const int64_t* rows, int64_t count, Tensor* x,
                                   Tensor* y) const {
  const Shape sample = x_shape();
  const int64_t row_size = NumElements(sample);
  float* to = BatchBuffer(count, sample, x);
  // Each row decoded into its own place, in parallel; the errors are looked at in row
  // order afterwards, so the one reported does not depend on the threads either.
  std::vector<absl::Status> status(count);
  ParallelFor(count, /*grain=*/1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) status[i] = loader_.Load(rows[i], to + i * row_size);
  });
  for (const absl::Status& s : status) {
    GRADWAY_CHECK(s.ok(), name_, ": ", s.message());
  }
  float* labels = BatchBuffer(count, y_shape(), y);
  if (label_mode_ == "categorical") {
    std::fill(labels, labels + count * classes_, 0.f);
    for (int64_t i = 0; i < count; ++i) labels[i * classes_ + labels_[rows[i]]] = 1.f;
  } else {
    for (int64_t i = 0; i < count; ++i) labels[i] = static_cast<float>(labels_[rows[i]]);
  }
}

std::string ImageDirectoryDataset::Description() const {
  return absl::StrCat(name_, " (", size(), " image files as ", ShapeToString(x_shape()),
                      ", ", classes_, " classes)");
}

absl::StatusOr<ImageDirectoryDatasets> ImageDatasetFromDirectory(
    const std::string& directory, const ImageDirectoryOptions& options) {
  absl::StatusOr<data::ImageDirectoryListing> listing =
      data::ListImageDirectory(directory, options);
  if (!listing.ok()) return listing.status();
  ImageDirectoryDatasets out;
  const int classes = static_cast<int>(listing->class_names.size());
  if (options.subset != "validation") {
    out.training = std::make_shared<ImageDirectoryDataset>(
        std::move(listing->training), classes, options,
        options.subset.empty() ? "images" : "training");
  }
  if (options.subset == "validation" || options.subset == "both") {
    out.validation = std::make_shared<ImageDirectoryDataset>(std::move(listing->validation),
                                                             classes, options, "validation");
  }
  out.class_names = std::move(listing->class_names);
  return out;
}

}  // namespace nn
}  // namespace gradway
