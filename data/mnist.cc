#include "data/mnist.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "data/file_util.h"
#include "data/idx.h"

namespace gradway::data {
namespace {

constexpr int kNumClasses = 10;
constexpr char kInstallHint[] =
    "Run `bash third_party/install.sh` (it installs the datasets; MNIST alone: "
    "`bash data/install_mnist.sh`).";

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return absl::StrCat(dir, "/", name);
}

// `dir`/`name` if it exists, else `dir`/`name`.gz if that exists, else NotFound.
absl::StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& name) {
  const std::string raw = JoinPath(dir, name);
  if (FileExists(raw)) return raw;
  const std::string gz = raw + ".gz";
  if (FileExists(gz)) return gz;
  return absl::NotFoundError(absl::StrCat(raw, ": no such file (nor ", gz, ")"));
}

// Reads images and labels `range` of one images/labels pair and checks that the files
// agree. Sets `*first`/`*total` to the range's first image and the files' image count.
absl::Status LoadSplit(const std::string& dir, const char* images_name,
                       const char* labels_name, IdxRange range, int64_t* rows, int64_t* cols,
                       int64_t* first, int64_t* total, std::vector<uint8_t>* images,
                       std::vector<uint8_t>* labels) {
  absl::StatusOr<std::string> images_path = FindIdxFile(dir, images_name);
  if (!images_path.ok()) return images_path.status();
  absl::StatusOr<std::string> labels_path = FindIdxFile(dir, labels_name);
  if (!labels_path.ok()) return labels_path.status();
  // The counts first, from the headers (an empty range reads no data), so that files
  // that disagree are reported as such rather than as a range beyond one of them.
  absl::StatusOr<IdxImages> image_count = ReadIdxImages(*images_path, IdxRange{0, 0});
  if (!image_count.ok()) return image_count.status();
  absl::StatusOr<IdxLabels> label_count = ReadIdxLabelRange(*labels_path, IdxRange{0, 0});
  if (!label_count.ok()) return label_count.status();
  absl::Status same =
      CheckSameCount(*images_path, image_count->total, *labels_path, label_count->total);
  if (!same.ok()) return same;
  if (image_count->total == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(*images_path, ": holds no images (a data set needs at least one)"));
  }
  absl::StatusOr<IdxImages> idx_images = ReadIdxImages(*images_path, range);
  if (!idx_images.ok()) return idx_images.status();
  absl::StatusOr<IdxLabels> idx_labels = ReadIdxLabelRange(*labels_path, range, kNumClasses);
  if (!idx_labels.ok()) return idx_labels.status();
  // Only if a file changed between the two reads.
  same = CheckSameCount(*images_path, idx_images->total, *labels_path, idx_labels->total);
  if (!same.ok()) return same;
  *rows = idx_images->rows;
  *cols = idx_images->cols;
  *first = idx_images->first;
  *total = idx_images->total;
  *images = std::move(idx_images->pixels);
  *labels = std::move(idx_labels->labels);
  return absl::OkStatus();
}

std::string Sizes(const Dataset& d) {
  if (d.train_count() == d.train_total) {
    return absl::StrFormat("%d train / %d test images of %dx%d", d.train_count(),
                           d.test_count(), d.rows, d.cols);
  }
  return absl::StrFormat("train images [%d, %d) of %d / %d test images of %dx%d",
                         d.train_first, d.train_first + d.train_count(), d.train_total,
                         d.test_count(), d.rows, d.cols);
}

// Which of the four official files are in `dir` (raw or .gz).
std::vector<std::string> PresentIdxFiles(const std::string& dir, bool present) {
  std::vector<std::string> out;
  for (const char* name : {kTrainImagesFile, kTrainLabelsFile, kTestImagesFile,
                           kTestLabelsFile}) {
    if (FindIdxFile(dir, name).ok() == present) out.push_back(name);
  }
  return out;
}

}  // namespace

absl::StatusOr<Dataset> LoadIdxDir(const std::string& dir, IdxRange train_range) {
  if (!DirExists(dir)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  }
  Dataset d;
  int64_t test_rows = 0, test_cols = 0, test_first = 0, test_total = 0;
  absl::Status s = LoadSplit(dir, kTrainImagesFile, kTrainLabelsFile, train_range, &d.rows,
                             &d.cols, &d.train_first, &d.train_total, &d.train_images,
                             &d.train_labels);
  if (!s.ok()) return s;
  s = LoadSplit(dir, kTestImagesFile, kTestLabelsFile, IdxRange{}, &test_rows, &test_cols,
                &test_first, &test_total, &d.test_images, &d.test_labels);
  if (!s.ok()) return s;
  if (test_rows != d.rows || test_cols != d.cols) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: training images are %dx%d but test images are %dx%d", dir, d.rows, d.cols,
        test_rows, test_cols));
  }
  d.description = absl::StrCat("IDX files in ", dir, ": ", Sizes(d));
  return d;
}

absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, IdxRange train_range) {
  if (!DirExists(dir)) {
    return absl::NotFoundError(absl::StrCat(
        "Fashion-MNIST not found: ", dir,
        " does not exist. Install it (Debian package dataset-fashion-mnist). ",
        kInstallHint));
  }
  absl::StatusOr<Dataset> d = LoadIdxDir(dir, train_range);
  if (!d.ok()) return d.status();
  d->description = absl::StrCat("Fashion-MNIST (", dir, "): ", Sizes(*d));
  return d;
}

std::string DefaultCacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return JoinPath(xdg, "gradway");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return JoinPath(home, ".cache/gradway");
  // HOME can be unset (e.g. under `bazel test`): ask the password database.
  const struct passwd* pw = ::getpwuid(::getuid());
  if (pw != nullptr && pw->pw_dir != nullptr && pw->pw_dir[0] == '/') {
    return JoinPath(pw->pw_dir, ".cache/gradway");
  }
  return "";
}

absl::StatusOr<Dataset> LoadDefaultMnist(const std::string& cache_dir, IdxRange train_range) {
  if (cache_dir.empty()) {
    return absl::NotFoundError(
        "cannot locate the cache folder for MNIST: neither XDG_CACHE_HOME nor HOME is set");
  }
  const std::string dir = JoinPath(cache_dir, "mnist");
  const std::vector<std::string> present = PresentIdxFiles(dir, true);
  if (present.empty()) {
    return absl::NotFoundError(
        absl::StrCat("MNIST not found: ", dir, " holds none of its four IDX files. ",
                     kInstallHint));
  }
  if (present.size() < 4) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": holds ", absl::StrJoin(present, ", "), " but not ",
        absl::StrJoin(PresentIdxFiles(dir, false), ", "), " (raw or .gz). ", kInstallHint));
  }
  absl::StatusOr<Dataset> d = LoadIdxDir(dir, train_range);
  if (!d.ok()) return d.status();
  d->description = absl::StrCat("MNIST (the official IDX files in ", dir, "): ", Sizes(*d));
  return d;
}

absl::StatusOr<Dataset> ResolveDataset(const std::string& data_dir,
                                       const std::string& dataset_name, IdxRange train_range) {
  if (!data_dir.empty()) return LoadIdxDir(data_dir, train_range);
  if (dataset_name.empty() || dataset_name == "mnist") {
    return LoadDefaultMnist(DefaultCacheDir(), train_range);
  }
  if (dataset_name == "fashion") return LoadFashionMnist(kFashionMnistDir, train_range);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dataset \"", dataset_name, "\": valid names are mnist, fashion"));
}

}  // namespace gradway::data
