#include "examples/mnist_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace gradway {
namespace examples {
namespace {

namespace fs = std::filesystem;

// The epoch and val_loss in a checkpoint's name "<epoch>-<val_loss>.safetensors", if it
// has them and the loss is a number (not nan or inf).
std::optional<std::pair<int64_t, double>> EpochAndLoss(const std::string& filename) {
  absl::string_view name = filename;
  if (!absl::ConsumeSuffix(&name, ".safetensors")) return std::nullopt;
  const size_t dash = name.find('-');
  int64_t epoch = 0;
  double val_loss = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(name.substr(0, dash), &epoch) ||
      !absl::SimpleAtod(name.substr(dash + 1), &val_loss) || !std::isfinite(val_loss)) {
    return std::nullopt;
  }
  return std::make_pair(epoch, val_loss);
}

// `path` itself when it is a file; for a folder, its checkpoint with the lowest val_loss in
// its name (ties: the later epoch).
absl::StatusOr<std::string> FindCheckpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return path;
  }
  std::string best;
  std::pair<int64_t, double> best_key;
  fs::directory_iterator it(path, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::optional<std::pair<int64_t, double>> key = EpochAndLoss(name);
    std::error_code file_ec;
    if (!key || !it->is_regular_file(file_ec)) continue;
    if (best.empty() || key->second < best_key.second ||
        (key->second == best_key.second && key->first > best_key.first)) {
      best = name;
      best_key = *key;
    }
  }
  if (ec) return absl::InternalError(absl::StrCat(path, ": cannot list: ", ec.message()));
  if (best.empty()) {
    return absl::NotFoundError(absl::StrCat(
        path, ": holds no checkpoint named <epoch>-<val_loss>.safetensors (train one with "
              "`bazel run //examples:mnist_cnn`)"));
  }
  return (fs::path(path) / best).string();
}

// A model of `kind` with the checkpoint's weights.
absl::StatusOr<std::unique_ptr<nn::Model>> LoadModel(MnistModelKind kind,
                                                     const std::string& checkpoint) {
  std::unique_ptr<nn::Model> model = MakeMnistModel(kind);
  absl::Status loaded = model->LoadWeights(checkpoint);
  if (!loaded.ok()) return loaded;
  return model;
}

}  // namespace

absl::StatusOr<std::vector<MnistModelKind>> ParseMnistModelKinds(const std::string& flag) {
  if (flag == "auto") {
    return std::vector<MnistModelKind>{MnistModelKind::kCnn, MnistModelKind::kMlp,
                                       MnistModelKind::kResNet};
  }
  for (MnistModelKind k : {MnistModelKind::kCnn, MnistModelKind::kMlp, MnistModelKind::kResNet}) {
    if (flag == MnistModelName(k)) return std::vector<MnistModelKind>{k};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--model_kind must be auto, cnn, mlp or resnet, got '", flag, "'"));
}

absl::StatusOr<LoadedMnistModel> LoadMnistCheckpoint(const std::string& path,
                                                     const std::vector<MnistModelKind>& kinds) {
  absl::StatusOr<std::string> checkpoint = FindCheckpoint(path);
  if (!checkpoint.ok()) return checkpoint.status();
  // A file that is not a valid checkpoint at all gets the reader's own message.
  absl::StatusOr<nn::SafetensorsContents> contents = nn::ReadSafetensors(*checkpoint);
  if (!contents.ok()) return contents.status();
  std::string why_not;
  for (MnistModelKind k : kinds) {
    absl::StatusOr<std::unique_ptr<nn::Model>> loaded = LoadModel(k, *checkpoint);
    if (loaded.ok()) return LoadedMnistModel{*std::move(loaded), k, *checkpoint};
    absl::StrAppend(&why_not, "\n  as the ", MnistModelName(k), ": ", loaded.status().message());
  }
  std::string names;
  for (size_t i = 0; i < kinds.size(); ++i) {
    absl::StrAppend(&names, i == 0 ? "" : i + 1 == kinds.size() ? " or " : ", ",
                    MnistModelTitle(kinds[i]));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(*checkpoint, ": not a checkpoint of ", names, why_not));
}

}  // namespace examples
}  // namespace gradway
