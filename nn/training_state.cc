#include "nn/training_state.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace gradway {
namespace nn {
namespace {

constexpr char kFormat[] = "gradway-backup";
constexpr char kCallbackPrefix[] = "callback/";
constexpr char kHistoryPrefix[] = "history/";
constexpr char kLogsPrefix[] = "history/logs/";

std::string JoinDoubles(const std::vector<double>& values) {
  std::string out;
  char buf[40];
  for (double v : values) {
    std::snprintf(buf, sizeof(buf), "%.17g", v);  // round-trips exactly
    absl::StrAppend(&out, out.empty() ? "" : ",", buf);
  }
  return out;
}

// Parses JoinDoubles' output; false for anything else.
bool SplitDoubles(const std::string& text, std::vector<double>* out) {
  out->clear();
  if (text.empty()) return true;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    double v = 0;
    if (!absl::SimpleAtod(part, &v)) return false;
    out->push_back(v);
  }
  return true;
}

// Reads the metadata of one file, each failure an InvalidArgument naming the file.
class MetadataReader {
 public:
  MetadataReader(const std::string& path, const Metadata& meta) : path_(path), meta_(meta) {}
  absl::Status Fail(absl::string_view why) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", why));
  }
  absl::StatusOr<std::string> String(const std::string& key) const {
    auto it = meta_.find(key);
    if (it == meta_.end()) return Fail(absl::StrCat("__metadata__ has no '", key, "'"));
    return it->second;
  }
  template <typename T>
  absl::StatusOr<T> Int(const std::string& key) const {
    absl::StatusOr<std::string> s = String(key);
    if (!s.ok()) return s.status();
    T v = 0;
    if (!absl::SimpleAtoi(*s, &v)) {
      return Fail(absl::StrCat("__metadata__ '", key, "' is not an integer"));
    }
    return v;
  }
  absl::StatusOr<std::vector<double>> Doubles(const std::string& key) const {
    absl::StatusOr<std::string> s = String(key);
    if (!s.ok()) return s.status();
    std::vector<double> v;
    if (!SplitDoubles(*s, &v)) return Fail(absl::StrCat("__metadata__ '", key, "' is malformed"));
    return v;
  }

 private:
  const std::string& path_;
  const Metadata& meta_;
};

#define GRADWAY_ASSIGN_OR_RETURN(lhs, expr) \
  {                                         \
    auto value_or = (expr);                 \
    if (!value_or.ok()) return value_or.status(); \
    lhs = *std::move(value_or);             \
  }

// The history saved under "history/": the epochs and every logs key's series.
absl::Status ReadHistory(const MetadataReader& read, const Metadata& meta, int64_t epoch,
                         History* history) {
  std::vector<double> epochs;
  GRADWAY_ASSIGN_OR_RETURN(epochs, read.Doubles(absl::StrCat(kHistoryPrefix, "epoch")));
  std::map<std::string, std::vector<double>> series;
  for (const auto& [key, value] : meta) {
    if (!absl::StartsWith(key, kLogsPrefix)) continue;
    std::vector<double>& values = series[key.substr(std::strlen(kLogsPrefix))];
    if (!SplitDoubles(value, &values) || values.size() != epochs.size()) {
      return read.Fail(absl::StrCat("__metadata__ '", key, "' is not ", epochs.size(),
                                    " numbers"));
    }
  }
  for (size_t i = 0; i < epochs.size(); ++i) {
    if (!(epochs[i] >= 1 && epochs[i] <= epoch)) {
      return read.Fail(absl::StrCat("history epoch ", epochs[i], " out of range"));
    }
    Logs logs;
    for (const auto& [key, values] : series) logs.Set(key, values[i]);
    history->Append(static_cast<int>(epochs[i]), logs);
  }
  return absl::OkStatus();
}

// Hands "callback/<i>/<rest>" metadata and tensors to callback state i as <rest>; the
// other tensors are the model's.
absl::Status SplitCallbackStates(const MetadataReader& read, const Metadata& meta,
                                 NamedTensors tensors, RunState* state) {
  int64_t count = 0;
  GRADWAY_ASSIGN_OR_RETURN(count, read.Int<int64_t>("callbacks"));
  if (count < 0 || count > 1 << 20) {
    return read.Fail(absl::StrCat("__metadata__ 'callbacks' ", count, " is out of range"));
  }
  state->callbacks.assign(count, CallbackState());
  auto split = [&](const std::string& name, const char* what,
                   CallbackState** to, std::string* rest) -> absl::Status {
    const size_t start = std::strlen(kCallbackPrefix);
    const size_t slash = name.find('/', start);
    size_t i = 0;
    if (slash == std::string::npos ||
        !absl::SimpleAtoi(name.substr(start, slash - start), &i) ||
        i >= state->callbacks.size()) {
      return read.Fail(absl::StrCat("unexpected ", what, " '", name, "'"));
    }
    *to = &state->callbacks[i];
    *rest = name.substr(slash + 1);
    return absl::OkStatus();
  };
  for (const auto& [key, value] : meta) {
    if (!absl::StartsWith(key, kCallbackPrefix)) continue;
    CallbackState* to = nullptr;
    std::string rest;
    if (absl::Status s = split(key, "__metadata__ key", &to, &rest); !s.ok()) return s;
    to->values[rest] = value;
  }
  for (auto& [name, t] : tensors) {
    if (!absl::StartsWith(name, kCallbackPrefix)) {
      state->model_tensors.emplace_back(name, t);
      continue;
    }
    CallbackState* to = nullptr;
    std::string rest;
    if (absl::Status s = split(name, "tensor", &to, &rest); !s.ok()) return s;
    to->tensors.emplace_back(rest, t);
  }
  return absl::OkStatus();
}

}  // namespace

void History::Append(int epoch_number, const Logs& logs) {
  epoch.push_back(epoch_number);
  for (const auto& [k, v] : logs.items()) history[k].push_back(v);
  auto get = [&logs](const char* k) { return logs.Find(k).value_or(std::nan("")); };
  loss.push_back(get("loss"));
  accuracy.push_back(logs.Find("accuracy").value_or(get("acc")));
  val_loss.push_back(get("val_loss"));
  val_accuracy.push_back(logs.Find("val_accuracy").value_or(get("val_acc")));
  seconds.push_back(get("seconds"));
}

absl::Status RunState::Save(const std::string& path) const {
  Metadata meta = model_metadata;
  NamedTensors tensors = model_tensors;
  meta["format"] = kFormat;
  SetVersionMetadata(&meta);
  meta["epoch"] = std::to_string(epoch);
  meta["batch"] = std::to_string(batch);
  meta["stop_training"] = stop_training ? "1" : "0";
  meta["epoch_learning_rate"] = JoinDoubles({epoch_learning_rate});
  meta["steps"] = std::to_string(steps);
  meta["samples"] = std::to_string(samples);
  meta["batch_size"] = std::to_string(batch_size);
  meta["seed"] = std::to_string(seed);
  meta["micro_shards"] = std::to_string(micro_shards);
  meta["metrics"] = JoinDoubles(metrics);
  std::vector<double> epochs(history.epoch.begin(), history.epoch.end());
  meta[absl::StrCat(kHistoryPrefix, "epoch")] = JoinDoubles(epochs);
  for (const auto& [key, values] : history.history) {
    meta[absl::StrCat(kLogsPrefix, key)] = JoinDoubles(values);
  }
  meta["callbacks"] = std::to_string(callbacks.size());
  for (size_t i = 0; i < callbacks.size(); ++i) {
    const std::string prefix = absl::StrCat(kCallbackPrefix, i, "/");
    for (const auto& [key, value] : callbacks[i].values) meta[prefix + key] = value;
    for (const auto& [name, t] : callbacks[i].tensors) tensors.emplace_back(prefix + name, t);
  }
  return SaveSafetensors(path, tensors, meta);
}

absl::StatusOr<RunState> RunState::Load(const std::string& path) {
  absl::StatusOr<SafetensorsContents> contents = ReadSafetensors(path);
  if (!contents.ok()) return contents.status();
  const Metadata& meta = contents->metadata;
  const MetadataReader read(path, meta);
  if (absl::Status s = CheckFormatVersion(path, meta); !s.ok()) return s;
  std::string format;
  GRADWAY_ASSIGN_OR_RETURN(format, read.String("format"));
  if (format != kFormat) return read.Fail("not a BackupAndRestore backup");
  RunState st;
  GRADWAY_ASSIGN_OR_RETURN(st.samples, read.Int<int64_t>("samples"));
  GRADWAY_ASSIGN_OR_RETURN(st.batch_size, read.Int<int64_t>("batch_size"));
  GRADWAY_ASSIGN_OR_RETURN(st.steps, read.Int<int64_t>("steps"));
  absl::StatusOr<uint64_t> seed = read.Int<uint64_t>("seed");
  if (!seed.ok()) return read.Fail("__metadata__ 'seed' is not a seed");
  st.seed = *seed;
  // Older backups have no micro_shards: they were single-process runs.
  if (meta.count("micro_shards")) {
    GRADWAY_ASSIGN_OR_RETURN(st.micro_shards, read.Int<int>("micro_shards"));
  }
  int64_t epoch = 0;
  GRADWAY_ASSIGN_OR_RETURN(epoch, read.Int<int64_t>("epoch"));
  GRADWAY_ASSIGN_OR_RETURN(st.batch, read.Int<int64_t>("batch"));
  if (epoch < 0 || epoch > std::numeric_limits<int>::max() || st.batch < 0 ||
      st.batch > st.steps) {
    return read.Fail(absl::StrCat("epoch ", epoch, " and batch ", st.batch,
                                  " are out of range"));
  }
  st.epoch = static_cast<int>(epoch);
  absl::StatusOr<std::vector<double>> lr_or = read.Doubles("epoch_learning_rate");
  if (!lr_or.ok() || lr_or->size() != 1) {
    return read.Fail("__metadata__ 'epoch_learning_rate' is not a number");
  }
  st.epoch_learning_rate = (*lr_or)[0];
  GRADWAY_ASSIGN_OR_RETURN(st.metrics, read.Doubles("metrics"));
  std::string stop;
  GRADWAY_ASSIGN_OR_RETURN(stop, read.String("stop_training"));
  st.stop_training = stop == "1";
  if (absl::Status s = ReadHistory(read, meta, epoch, &st.history); !s.ok()) return s;
  if (absl::Status s = SplitCallbackStates(read, meta, std::move(contents->tensors), &st);
      !s.ok()) {
    return s;
  }
  for (const char* key : {"optimizer", "step", "learning_rate"}) {
    if (auto it = meta.find(key); it != meta.end()) st.model_metadata.insert(*it);
  }
  return st;
}

#undef GRADWAY_ASSIGN_OR_RETURN

}  // namespace nn
}  // namespace gradway
