// An image classification dataset stored as one folder per class, as Keras'
// image_dataset_from_directory reads it:
//
//   main_directory/
//     cat/   001.jpg  002.png  more/003.jpeg ...
//     dog/   ...
//
// ListImageDirectory finds the classes (the subfolders, sorted, or the names given) and
// their PNG and JPEG files (by extension, case-insensitive, also in nested folders), in a
// fixed order, shuffles them with a seed and splits off a validation subset; ImageLoader
// turns a listed file into the floats a model takes (decoded, converted to the colour mode,
// resized as Keras does), keeping decoded images in memory up to a budget.
// nn/image_dataset.h wraps both as an nn::Dataset (nn::ImageDatasetFromDirectory).
//
// What differs from Keras (keras.utils.image_dataset_from_directory, Keras 2.12):
//   - PNG and JPEG only (Keras also takes BMP and GIF); a file is decoded by what it holds,
//     not by its extension, and every listed file is checked to start as a PNG or a JPEG.
//   - No seed and shuffle: the files are shuffled with seed 0 (Keras draws a random seed),
//     so that runs repeat; validation_split with shuffle needs a seed, as in Keras.
//   - Bilinear resizing only (Keras' default interpolation); no crop_to_aspect_ratio.
//   - No batch_size: the dataset holds rows; Fit's BatchSize batches them.
//   - labels: inferred from the folders only (no explicit label list, no label_mode None).
//   - Transparent PNG pixels are composited onto white for "grayscale" and "rgb" (as
//     ReadGrayPng), where TensorFlow drops the alpha channel.
#ifndef GRADWAY_DATA_IMAGE_DIRECTORY_H_
#define GRADWAY_DATA_IMAGE_DIRECTORY_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/image.h"

namespace gradway::data {

// Keras' image_dataset_from_directory arguments, as chainable setters:
//   ImageDirectoryOptions().ImageSize(28, 28).ColorMode("grayscale")
//       .ValidationSplit(0.2).Subset("both").Seed(7)
struct ImageDirectoryOptions {
  // The classes, in label order; empty: every subfolder, sorted by name (bytewise).
  // Given names must be subfolders; other subfolders are then ignored.
  std::vector<std::string> class_names;
  // "int": the class index (nn: y [N]); "categorical": one-hot (y [N, classes]);
  // "binary": 0 or 1 as a float (y [N, 1]; exactly 2 classes). Keras' default "int".
  std::string label_mode = "int";
  // "grayscale" (1 channel), "rgb" (3, Keras' default) or "rgba" (4).
  std::string color_mode = "rgb";
  // The size every image is resized to (bilinear, as tf.image.resize; an image already of
  // this size is not resampled). Keras' default (256, 256).
  int height = 256;
  int width = 256;
  // Shuffle the files before splitting (Keras' default true).
  bool shuffle = true;
  // The shuffle's seed (see above for none).
  std::optional<uint64_t> seed;
  // The fraction (0 < v < 1) of the files kept for validation: the last
  // floor(v * files) of the shuffled list; 0: no split.
  double validation_split = 0;
  // With validation_split: "training", "validation" or "both" (which sets to make).
  std::string subset;
  // Descend into symbolic links to folders inside the class folders (Keras' default false;
  // the class folders themselves may be links).
  bool follow_links = false;
  // Each sample is scaled to sample * scale + offset (Keras' Rescaling layer): the default
  // gives Keras' [0, 255]; Rescale(1 / 255.f) gives [0, 1] like nn::ByteImageDataset.
  float scale = 1.f;
  float offset = 0.f;
  // Decoded images are kept in memory while their total stays within this many bytes
  // (each as its file's pixels, before resizing: 1 byte per sample), so later epochs skip
  // decoding; 0 keeps none. 256 MiB holds e.g. 340,000 28x28 gray or 5,500 224x224 RGB
  // images. Not in Keras (whose tf.data pipeline re-decodes each epoch unless cached).
  int64_t cache_bytes = int64_t{256} << 20;

  ImageDirectoryOptions& ClassNames(std::vector<std::string> v) {
    class_names = std::move(v);
    return *this;
  }
  ImageDirectoryOptions& LabelMode(std::string v) {
    label_mode = std::move(v);
    return *this;
  }
  ImageDirectoryOptions& ColorMode(std::string v) {
    color_mode = std::move(v);
    return *this;
  }
  ImageDirectoryOptions& ImageSize(int h, int w) {
    height = h;
    width = w;
    return *this;
  }
  ImageDirectoryOptions& Shuffle(bool v) {
    shuffle = v;
    return *this;
  }
  ImageDirectoryOptions& Seed(uint64_t v) {
    seed = v;
    return *this;
  }
  ImageDirectoryOptions& ValidationSplit(double v) {
    validation_split = v;
    return *this;
  }
  ImageDirectoryOptions& Subset(std::string v) {
    subset = std::move(v);
    return *this;
  }
  ImageDirectoryOptions& FollowLinks(bool v) {
    follow_links = v;
    return *this;
  }
  ImageDirectoryOptions& Rescale(float s, float o = 0.f) {
    scale = s;
    offset = o;
    return *this;
  }
  ImageDirectoryOptions& CacheBytes(int64_t v) {
    cache_bytes = v;
    return *this;
  }
};

// The samples per pixel of a colour mode: 1, 3, 4; 0 for an unknown mode.
int ChannelsOf(const std::string& color_mode);

// Checks the options on their own (before any file is looked at): a known color_mode and
// label_mode, a positive image size, 0 <= validation_split < 1, subset as Keras checks it
// (set exactly when validation_split is; "training", "validation" or "both"), a seed when
// splitting shuffled files, cache_bytes >= 0.
// Errors: InvalidArgument naming the option and the value.
absl::Status CheckImageDirectoryOptions(const ImageDirectoryOptions& options);

// Files and their class indices, in the same order.
struct ImageFiles {
  std::vector<std::string> paths;
  std::vector<int> labels;

  int64_t size() const { return static_cast<int64_t>(paths.size()); }
};

struct ImageDirectoryListing {
  std::vector<std::string> class_names;  // label i is class_names[i]
  int64_t found = 0;                     // files found, before the split
  // Without validation_split: every file in `training`, none in `validation`. With it:
  // the first found - floor(validation_split * found) shuffled files, and the rest.
  ImageFiles training;
  ImageFiles validation;
};

// Lists the dataset under `directory`. The order, before shuffling: class by class (in
// label order); within a class, folder by folder (the class folder first, then its
// subfolders sorted by path), each folder's files sorted by name; bytewise comparisons.
// Files whose names end in .png, .jpg or .jpeg (any case) are taken, others ignored.
// Shuffling permutes the files with Fisher-Yates driven by std::mt19937_64(seed) (the
// permutation nn's ShuffledOrder(found, seed) gives), so the same seed and files give the
// same training and validation subsets, complementary, in every call.
// Errors (messages name the folder or file): NotFound for a missing `directory`;
// InvalidArgument for options CheckImageDirectoryOptions refuses, a `directory` that is not
// a folder, one with no subfolder (saying when it holds images itself), class_names
// naming a missing subfolder or twice, label_mode "binary" without exactly 2 classes, no
// image file in any class folder ("No images found in directory ..."), and a listed file
// that does not start as a PNG or a JPEG; the system's error for a folder or file that
// cannot be read.
absl::StatusOr<ImageDirectoryListing> ListImageDirectory(const std::string& directory,
                                                         const ImageDirectoryOptions& options);

// Reads the PNG or JPEG at `path` (told apart by their first bytes) as `channels` samples
// per pixel (1, 3 or 4; see ReadPng and ReadJpeg).
// Errors: those of ReadPng and ReadJpeg; InvalidArgument naming the file when it is
// neither ("not a PNG or JPEG image (it starts with 3c 68 74 6d)").
absl::StatusOr<Image> ReadImageFile(const std::string& path, int channels);

// Turns listed files into model inputs: Load(i, out) writes file i as height x width x
// channels floats (HWC), each sample * scale + offset, as the options say. Decoded images
// are kept (within options.cache_bytes), so a file is decoded once while the budget lasts;
// the values are the same whether an image comes from the cache or from its file.
// Thread-safe: Load may run for any rows on several threads at once.
class ImageLoader {
 public:
  // `options` must pass CheckImageDirectoryOptions.
  ImageLoader(std::vector<std::string> paths, const ImageDirectoryOptions& options);

  int64_t size() const { return static_cast<int64_t>(paths_.size()); }
  int height() const { return height_; }
  int width() const { return width_; }
  int channels() const { return channels_; }
  const std::vector<std::string>& paths() const { return paths_; }

  // File i (0 <= i < size()) into out[0, height * width * channels).
  // Errors: ReadImageFile's (naming the file); InvalidArgument for i out of range.
  absl::Status Load(int64_t i, float* out) const;

  // The bytes of decoded images held, and how many images.
  int64_t cached_bytes() const;
  int64_t cached_images() const;

 private:
  std::vector<std::string> paths_;
  int height_, width_, channels_;
  float scale_, offset_;
  int64_t cache_limit_;
  // Decoded images (null: not kept), read and set under mutex_; an image itself is never
  // changed once decoded, so it is used outside the lock.
  mutable std::mutex mutex_;
  mutable std::vector<std::shared_ptr<const Image>> cache_;
  mutable int64_t cached_bytes_ = 0;
  mutable int64_t cached_images_ = 0;
};

}  // namespace gradway::data

#endif  // GRADWAY_DATA_IMAGE_DIRECTORY_H_
