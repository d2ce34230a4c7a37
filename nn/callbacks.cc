#include "nn/callbacks.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "autograd/error.h"
#include "data/file_util.h"
#include "nn/checkpoint.h"
#include "nn/model.h"

namespace gradway {
namespace nn {
namespace {

bool Maximize(MonitorMode mode, const std::string& monitor) {
  if (mode == MonitorMode::kMax) return true;
  if (mode == MonitorMode::kMin) return false;
  return absl::StrContains(monitor, "acc") || absl::StartsWith(monitor, "fmeasure");
}

std::string EpochTag(int epoch) { return absl::StrFormat("Epoch %05d", epoch + 1); }

}  // namespace

std::string FloatRepr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// ---- FilepathTemplate.
FilepathTemplate::FilepathTemplate(std::string pattern) : pattern_(std::move(pattern)) {
  auto fail = [this](auto&&... why) {
    Fail("ModelCheckpoint: malformed filepath template '", pattern_, "': ", why...);
  };
  std::string literal;
  const std::string& p = pattern_;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '}') {
      if (i + 1 < p.size() && p[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      fail("single '}' at position ", i, " (write '}}' for a literal brace)");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < p.size() && p[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    size_t close = p.find('}', i);
    if (close == std::string::npos) fail("'{' at position ", i, " is never closed");
    std::string field = p.substr(i + 1, close - i - 1);
    if (field.find('{') != std::string::npos) fail("nested '{' in field '{", field, "}'");
    if (!literal.empty()) {
      pieces_.push_back(Piece{false, literal});
      literal.clear();
    }
    Piece piece;
    piece.is_field = true;
    size_t colon = field.find(':');
    piece.text = field.substr(0, colon);
    if (piece.text.empty()) fail("empty field name in '{", field, "}'");
    for (char ch : piece.text) {
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) {
        fail("field name '", piece.text, "' is not an identifier");
      }
    }
    if (colon != std::string::npos) {
      std::string spec = field.substr(colon + 1);
      size_t k = 0;
      if (k < spec.size() && spec[k] == '0') {
        piece.zero = true;
        ++k;
      }
      while (k < spec.size() && std::isdigit(static_cast<unsigned char>(spec[k]))) {
        piece.width = piece.width * 10 + (spec[k++] - '0');
        if (piece.width > 1000) fail("width too large in '{", field, "}'");
      }
      if (k < spec.size() && spec[k] == '.') {
        ++k;
        if (k >= spec.size() || !std::isdigit(static_cast<unsigned char>(spec[k]))) {
          fail("missing precision after '.' in '{", field, "}'");
        }
        piece.precision = 0;
        while (k < spec.size() && std::isdigit(static_cast<unsigned char>(spec[k]))) {
          piece.precision = piece.precision * 10 + (spec[k++] - '0');
          if (piece.precision > 100) fail("precision too large in '{", field, "}'");
        }
      }
      if (k < spec.size() && std::string("dfeEgG").find(spec[k]) != std::string::npos) {
        piece.type = spec[k++];
      }
      if (k != spec.size()) {
        fail("unsupported format spec ':", spec, "' in '{", field,
             "}' (expected [0][width][.precision][d|f|e|E|g|G])");
      }
      if (piece.type == 'd' && piece.precision >= 0) {
        fail("precision not allowed with 'd' in '{", field, "}'");
      }
    }
    pieces_.push_back(piece);
    i = close;
  }
  if (!literal.empty()) pieces_.push_back(Piece{false, literal});
}

std::string FilepathTemplate::Format(int epoch, const Logs& logs) const {
  // The 1-based epoch, in 64 bits: epoch + 1 overflows an int for epoch = INT_MAX.
  const int64_t shown_epoch = int64_t{epoch} + 1;
  std::string out;
  for (const Piece& piece : pieces_) {
    if (!piece.is_field) {
      out += piece.text;
      continue;
    }
    const bool is_int = piece.text == "epoch";
    double value = static_cast<double>(shown_epoch);
    if (!is_int) {
      std::optional<double> v = logs.Find(piece.text);
      if (!v) {
        Fail("ModelCheckpoint: filepath '", pattern_, "' uses '", piece.text,
             "', which is not in the logs (available: epoch, ", logs.KeysString(), ")");
      }
      value = *v;
    }
    std::string s;
    char type = piece.type;
    if (type == 'd' || (is_int && type == 0)) {
      if (!is_int) {
        Fail("ModelCheckpoint: filepath '", pattern_, "': format 'd' needs an integer but '",
             piece.text, "' is a float");
      }
      // Two calls: absl checks each format string at compile time (clang insists).
      s = piece.zero ? absl::StrFormat("%0*d", piece.width, shown_epoch)
                     : absl::StrFormat("%*d", piece.width, shown_epoch);
    } else if (type == 0 && piece.precision < 0) {
      s = FloatRepr(value);
      if (static_cast<int>(s.size()) < piece.width) {
        s = std::string(piece.width - s.size(), piece.zero ? '0' : ' ') + s;
      }
    } else {
      if (type == 0) type = 'g';
      int precision = piece.precision >= 0 ? piece.precision : 6;
      // `type` is one of f, e, E, g, G (checked by the parser), so the format is safe.
      char fmt[16];
      std::snprintf(fmt, sizeof(fmt), "%%%s*.*%c", piece.zero ? "0" : "", type);
      int len = std::snprintf(nullptr, 0, fmt, piece.width, precision, value);
      std::vector<char> buf(static_cast<size_t>(len) + 1);
      std::snprintf(buf.data(), buf.size(), fmt, piece.width, precision, value);
      s.assign(buf.data(), static_cast<size_t>(len));
    }
    out += s;
  }
  return out;
}

// ---- ModelCheckpoint.
ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options)
    : options_(std::move(options)),
      template_(options_.filepath),
      maximize_(Maximize(options_.mode, options_.monitor)),
      best_(maximize_ ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity()) {}

void ModelCheckpoint::OnTrainBegin(const Logs&) {
  if (params().rank != 0) return;  // data-parallel: rank 0 writes the checkpoints
  // Temporaries of writes that a crash interrupted, in the checkpoints' folder when the
  // template does not vary it.
  const std::string parent =
      std::filesystem::path(options_.filepath).parent_path().string();
  if (parent.find('{') == std::string::npos) {
    data::RemoveStaleTemporaries(parent.empty() ? "." : parent);
  }
}

void ModelCheckpoint::SaveTo(const std::string& path) {
  if (params().rank != 0) {  // data-parallel: rank 0 writes, the others only keep count
    last_saved_ = path;
    return;
  }
  const std::string parent = std::filesystem::path(path).parent_path().string();
  absl::Status made = data::MakeDirs(parent);  // nothing to do for ""
  if (!made.ok()) Fail("ModelCheckpoint: ", made.message());
  absl::Status st = options_.save_weights_only ? model()->SaveWeights(path) : model()->Save(path);
  if (!st.ok()) Fail("ModelCheckpoint: ", st.message());
  last_saved_ = path;
}

void ModelCheckpoint::OnEpochEnd(int epoch, const Logs& logs) {
  std::ostream& os = model()->out();
  const bool verbose = options_.verbose > 0;
  std::optional<double> current = logs.Find(options_.monitor);
  // Never write a diverged model over a good checkpoint.
  std::optional<double> loss = logs.Find("loss");
  const char* bad_key = nullptr;
  double bad_value = 0;
  if (current && !std::isfinite(*current)) {
    bad_key = options_.monitor.c_str();
    bad_value = *current;
  } else if (loss && !std::isfinite(*loss)) {
    bad_key = "loss";
    bad_value = *loss;
  }
  if (bad_key != nullptr || !model()->WeightsFinite()) {
    if (verbose) {
      if (bad_key != nullptr) {
        os << "\n" << EpochTag(epoch) << ": " << bad_key << " is " << FloatRepr(bad_value)
           << ", not saving the model\n";
      } else {
        os << "\n" << EpochTag(epoch) << ": weights are not finite, not saving the model\n";
      }
    }
    return;
  }
  const std::string path = template_.Format(epoch, logs);
  if (!options_.save_best_only) {
    if (verbose) os << "\n" << EpochTag(epoch) << ": saving model to " << path << "\n";
    SaveTo(path);
    return;
  }
  if (!current) {
    if (verbose) {
      os << "Can save best model only with " << options_.monitor << " available, skipping. "
         << "(available: " << logs.KeysString() << ")\n";
    }
    return;
  }
  const bool improved = maximize_ ? *current > best_ : *current < best_;
  if (improved) {
    if (verbose) {
      os << "\n"
         << absl::StrFormat("%s: %s improved from %0.5f to %0.5f, saving model to %s",
                            EpochTag(epoch), options_.monitor, best_, *current, path)
         << "\n";
    }
    best_ = *current;
    SaveTo(path);
  } else if (verbose) {
    os << "\n"
       << absl::StrFormat("%s: %s did not improve from %0.5f", EpochTag(epoch),
                          options_.monitor, best_)
       << "\n";
  }
}

void ModelCheckpoint::SaveState(CallbackState* state) const {
  state->SetDouble("best", best_);
  state->values["last_saved"] = last_saved_;
}

void ModelCheckpoint::RestoreState(const CallbackState& state) {
  best_ = state.Double("best");
  last_saved_ = state.String("last_saved");
}

// ---- EarlyStopping.
EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)), maximize_(Maximize(options_.mode, options_.monitor)) {
  GRADWAY_CHECK(options_.patience >= 0, "EarlyStopping: patience must be >= 0, got ",
                options_.patience);
}

void EarlyStopping::OnTrainBegin(const Logs&) {
  wait_ = 0;
  stopped_epoch_ = -1;
  best_ = maximize_ ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  best_weights_.clear();
}

void EarlyStopping::OnEpochEnd(int epoch, const Logs& logs) {
  std::optional<double> current = logs.Find(options_.monitor);
  if (!current) {
    if (options_.verbose > 0) {
      model()->out() << "Early stopping conditioned on metric `" << options_.monitor
                     << "` which is not available. Available metrics are: "
                     << logs.KeysString() << "\n";
    }
    return;
  }
  const double delta = std::fabs(options_.min_delta);
  const bool improved = maximize_ ? *current - delta > best_ : *current + delta < best_;
  if (improved) {
    best_ = *current;
    wait_ = 0;
    if (options_.restore_best_weights) best_weights_ = model()->GetWeights();
    return;
  }
  if (++wait_ >= options_.patience) {
    stopped_epoch_ = epoch;
    model()->stop_training = true;
    if (options_.restore_best_weights && !best_weights_.empty()) {
      if (options_.verbose > 0) {
        model()->out() << "Restoring model weights from the end of the best epoch.\n";
      }
      model()->SetWeights(best_weights_);
    }
  }
}

void EarlyStopping::OnTrainEnd(const Logs&) {
  if (stopped_epoch_ >= 0 && options_.verbose > 0) {
    model()->out() << EpochTag(stopped_epoch_) << ": early stopping\n";
  }
}

void EarlyStopping::SaveState(CallbackState* state) const {
  state->SetInt("wait", wait_);
  state->SetDouble("best", best_);
  state->SetInt("stopped_epoch", stopped_epoch_);
  for (size_t i = 0; i < best_weights_.size(); ++i) {
    state->tensors.emplace_back(absl::StrCat("best_weights/", i), best_weights_[i]);
  }
}

void EarlyStopping::RestoreState(const CallbackState& state) {
  const int64_t wait = state.Int("wait"), stopped = state.Int("stopped_epoch");
  GRADWAY_CHECK(wait >= 0 && wait <= std::numeric_limits<int>::max() && stopped >= -1 &&
                    stopped <= std::numeric_limits<int>::max(),
                "EarlyStopping: saved wait ", wait, " or stopped_epoch ", stopped,
                " out of range");
  const NamedTensors params = model()->NamedParameters();
  std::vector<Tensor> weights;
  for (const auto& [name, t] : state.tensors) weights.push_back(t);
  GRADWAY_CHECK(weights.empty() || weights.size() == params.size(),
                "EarlyStopping: saved ", weights.size(), " best weights for a model with ",
                params.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    GRADWAY_CHECK(state.tensors[i].first == absl::StrCat("best_weights/", i) &&
                      weights[i].shape() == params[i].second.shape(),
                  "EarlyStopping: saved best weight '", state.tensors[i].first, "' ",
                  ShapeToString(weights[i].shape()), " does not fit '", params[i].first,
                  "' ", ShapeToString(params[i].second.shape()));
  }
  wait_ = static_cast<int>(wait);
  stopped_epoch_ = static_cast<int>(stopped);
  best_ = state.Double("best");
  best_weights_ = std::move(weights);
}

// ---- CSVLogger.
CSVLogger::CSVLogger(std::string filename, bool append, char separator)
    : filename_(std::move(filename)), append_(append), separator_(separator) {}

CSVLogger::CSVLogger(const CSVLogger& other)
    : Callback(other),
      filename_(other.filename_),
      append_(other.append_),
      separator_(other.separator_) {}

void CSVLogger::Open(bool append) {
  if (params().rank != 0) return;  // data-parallel: rank 0 writes the file
  file_.close();
  file_.clear();
  file_.open(filename_, append ? std::ios::app : std::ios::trunc);
  if (!file_) Fail("CSVLogger: cannot open '", filename_, "' for writing");
}

void CSVLogger::OnTrainBegin(const Logs&) {
  text_.clear();
  if (append_ && data::FileExists(filename_)) {
    absl::StatusOr<std::string> old = data::ReadFileToString(filename_);
    if (!old.ok()) Fail("CSVLogger: ", old.status().message());
    text_ = *std::move(old);
  }
  Open(append_);
}

void CSVLogger::OnEpochEnd(int epoch, const Logs& logs) {
  std::string rows;
  if (text_.empty()) {
    rows = "epoch";
    for (const auto& kv : logs.items()) absl::StrAppend(&rows, std::string(1, separator_), kv.first);
    rows += '\n';
  }
  absl::StrAppend(&rows, epoch + 1);
  for (const auto& kv : logs.items()) {
    absl::StrAppend(&rows, std::string(1, separator_), FloatRepr(kv.second));
  }
  rows += '\n';
  if (params().rank == 0) {
    file_ << rows;
    file_.flush();
    if (!file_) Fail("CSVLogger: writing '", filename_, "' failed");
  }
  text_ += rows;
}

void CSVLogger::OnTrainEnd(const Logs&) { file_.close(); }

void CSVLogger::SaveState(CallbackState* state) const { state->values["text"] = text_; }

void CSVLogger::RestoreState(const CallbackState& state) {
  text_ = state.String("text");
  if (params().rank != 0) return;
  absl::Status written = data::WriteFileAtomically(filename_, text_);
  if (!written.ok()) Fail("CSVLogger: ", written.message());
  Open(/*append=*/true);
}

// ---- TerminateOnNaN.
void TerminateOnNaN::OnBatchEnd(int64_t batch, const Logs& logs) {
  std::optional<double> loss = logs.Find("loss");
  if (loss && !std::isfinite(*loss)) {
    model()->out() << "Batch " << batch << ": Invalid loss, terminating training\n";
    model()->stop_training = true;
  }
}

// ---- LearningRateScheduler.
void LearningRateScheduler::OnEpochBegin(int epoch, const Logs&) {
  Optimizer* opt = model()->optimizer();
  GRADWAY_CHECK(opt != nullptr, "LearningRateScheduler: the model has no optimizer");
  double lr = schedule_(epoch, opt->learning_rate());
  GRADWAY_CHECK(std::isfinite(lr) && lr >= 0, "LearningRateScheduler: schedule returned ",
                lr, " for epoch ", epoch);
  opt->set_learning_rate(lr);
  if (verbose_ > 0) {
    model()->out() << "\n" << EpochTag(epoch) << ": LearningRateScheduler setting learning rate to "
                   << FloatRepr(lr) << ".\n";
  }
}

// ---- BackupAndRestore.
namespace {

constexpr char kBackupFormat[] = "gradway-backup";
constexpr char kCallbackPrefix[] = "callback/";
constexpr char kHistoryPrefix[] = "history/";

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

}  // namespace

BackupAndRestore::BackupAndRestore(BackupAndRestoreOptions options)
    : options_(std::move(options)) {
  GRADWAY_CHECK(!options_.backup_dir.empty(), "BackupAndRestore: backup_dir is empty");
  GRADWAY_CHECK(options_.save_freq >= 0, "BackupAndRestore: save_freq must be >= 0, got ",
                options_.save_freq);
}

std::string BackupAndRestore::path() const {
  return options_.backup_dir + "/backup.safetensors";
}

void BackupAndRestore::OnTrainBegin(const Logs&) {
  GRADWAY_CHECK(model()->fit_state() != nullptr, "BackupAndRestore: used outside Model::Fit");
  resumed_epoch_ = -1;
  resumed_batch_ = 0;
  // Data-parallel: rank 0 writes the backup; every rank restores from it (Fit then checks
  // that all ranks resumed at the same point, so the folder must be shared by all).
  if (params().rank == 0) {
    absl::Status made = data::MakeDirs(options_.backup_dir);
    if (!made.ok()) Fail("BackupAndRestore: ", made.message());
    data::RemoveStaleTemporaries(options_.backup_dir);  // of writes a crash interrupted
  }
  if (data::FileExists(path())) Restore();
}

void BackupAndRestore::OnBatchEnd(int64_t, const Logs&) {
  // The last batch of an epoch is saved by OnEpochEnd, with the epoch's results.
  if (options_.save_freq > 0 && model()->train_step() % options_.save_freq == 0 &&
      model()->fit_state()->batch < params().steps) {
    Save();
  }
}

void BackupAndRestore::OnEpochEnd(int, const Logs&) { Save(); }

void BackupAndRestore::OnTrainEnd(const Logs&) {
  if (!options_.delete_checkpoint || params().rank != 0) return;
  absl::Status removed = data::RemoveFileDurably(path());
  if (!removed.ok()) Fail("BackupAndRestore: ", removed.message());
  std::error_code ec;
  std::filesystem::remove(options_.backup_dir, ec);  // the folder too, when now empty
}

void BackupAndRestore::Save() {
  if (params().rank != 0) return;  // data-parallel: rank 0 writes the backup
  Model* m = model();
  const FitState& st = *m->fit_state();
  Metadata meta;
  NamedTensors tensors = m->CheckpointTensors(&meta);
  meta["format"] = kBackupFormat;
  meta["epoch"] = std::to_string(st.epoch);
  meta["batch"] = std::to_string(st.batch);
  meta["stop_training"] = m->stop_training ? "1" : "0";
  meta["epoch_learning_rate"] = JoinDoubles({st.epoch_learning_rate});
  meta["steps"] = std::to_string(params().steps);
  meta["samples"] = std::to_string(params().samples);
  meta["batch_size"] = std::to_string(params().batch_size);
  meta["seed"] = std::to_string(params().seed);
  meta["micro_shards"] = std::to_string(params().micro_shards);
  meta["metrics"] = JoinDoubles(m->MetricsState());
  std::vector<double> epochs(st.history.epoch.begin(), st.history.epoch.end());
  meta[absl::StrCat(kHistoryPrefix, "epoch")] = JoinDoubles(epochs);
  for (const auto& [key, values] : st.history.history) {
    meta[absl::StrCat(kHistoryPrefix, "logs/", key)] = JoinDoubles(values);
  }
  meta["callbacks"] = std::to_string(st.callbacks.size());
  for (size_t i = 0; i < st.callbacks.size(); ++i) {
    if (st.callbacks[i] == this) continue;
    CallbackState cs;
    st.callbacks[i]->SaveState(&cs);
    const std::string prefix = absl::StrCat(kCallbackPrefix, i, "/");
    for (const auto& [key, value] : cs.values) meta[prefix + key] = value;
    for (const auto& [name, t] : cs.tensors) tensors.emplace_back(prefix + name, t);
  }
  absl::Status saved = SaveSafetensors(path(), tensors, meta);
  if (!saved.ok()) Fail("BackupAndRestore: ", saved.message());
}

void BackupAndRestore::Restore() {
  const std::string file = path();
  auto fail = [&file](auto&&... why) {
    Fail("BackupAndRestore: ", file, ": ", why..., " (delete it to train afresh)");
  };
  absl::StatusOr<SafetensorsContents> contents = ReadSafetensors(file);
  if (!contents.ok()) {
    Fail("BackupAndRestore: ", contents.status().message(), " (delete it to train afresh)");
  }
  const Metadata& meta = contents->metadata;
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end()) fail("__metadata__ has no '", key, "'");
    return it->second;
  };
  auto get_int = [&](const std::string& key) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(get(key), &v)) fail("__metadata__ '", key, "' is not an integer");
    return v;
  };
  if (get("format") != kBackupFormat) fail("not a BackupAndRestore backup");
  Model* m = model();
  FitState& st = *m->fit_state();
  const TrainParams& p = params();
  const int64_t samples = get_int("samples"), batch_size = get_int("batch_size"),
                steps = get_int("steps");
  uint64_t seed = 0;
  if (!absl::SimpleAtoi(get("seed"), &seed)) fail("__metadata__ 'seed' is not a seed");
  // Older backups have no micro_shards: they were single-process runs.
  const int64_t micro_shards = meta.count("micro_shards") ? get_int("micro_shards") : 0;
  if (micro_shards != p.micro_shards) {
    fail("it was saved by a ",
         micro_shards ? absl::StrCat("data-parallel run with ", micro_shards, " micro-shards")
                      : std::string("single-process run"),
         " and this is a ",
         p.micro_shards ? absl::StrCat("data-parallel run with ", p.micro_shards, " micro-shards")
                        : std::string("single-process run"),
         ": the batches differ");
  }
  if (samples != p.samples || batch_size != p.batch_size || steps != p.steps ||
      seed != p.seed) {
    fail("it was saved by a run of ", samples, " samples in batches of ", batch_size,
         " with seed ", seed, "; this run has ", p.samples, " samples in batches of ",
         p.batch_size, " with seed ", p.seed);
  }
  const int64_t epoch = get_int("epoch"), batch = get_int("batch");
  if (epoch < 0 || epoch > std::numeric_limits<int>::max() || batch < 0 || batch > steps) {
    fail("epoch ", epoch, " and batch ", batch, " are out of range");
  }
  std::vector<double> lr, metrics, epochs;
  if (!SplitDoubles(get("epoch_learning_rate"), &lr) || lr.size() != 1) {
    fail("__metadata__ 'epoch_learning_rate' is not a number");
  }
  if (!SplitDoubles(get("metrics"), &metrics)) fail("__metadata__ 'metrics' is malformed");
  History history;
  if (!SplitDoubles(get(absl::StrCat(kHistoryPrefix, "epoch")), &epochs)) {
    fail("__metadata__ 'history/epoch' is malformed");
  }
  std::map<std::string, std::vector<double>> series;
  const std::string logs_prefix = absl::StrCat(kHistoryPrefix, "logs/");
  for (const auto& [key, value] : meta) {
    if (!absl::StartsWith(key, logs_prefix)) continue;
    std::vector<double>& values = series[key.substr(logs_prefix.size())];
    if (!SplitDoubles(value, &values) || values.size() != epochs.size()) {
      fail("__metadata__ '", key, "' is not ", epochs.size(), " numbers");
    }
  }
  for (size_t i = 0; i < epochs.size(); ++i) {
    if (!(epochs[i] >= 1 && epochs[i] <= epoch)) fail("history epoch ", epochs[i], " out of range");
    Logs logs;
    for (const auto& [key, values] : series) logs.Set(key, values[i]);
    history.Append(static_cast<int>(epochs[i]), logs);
  }
  if (get_int("callbacks") != static_cast<int64_t>(st.callbacks.size())) {
    fail("it holds the state of ", get("callbacks"), " callbacks but this Fit has ",
         st.callbacks.size());
  }
  // Every callback's state, then the model's: each checks what it is given.
  std::vector<CallbackState> states(st.callbacks.size());
  // "callback/<i>/<rest>" -> the state of callback i and <rest>, or a failure naming `what`.
  auto split = [&](const std::string& name, const char* what) {
    const size_t start = std::strlen(kCallbackPrefix);
    const size_t slash = name.find('/', start);
    size_t i = 0;
    if (slash == std::string::npos ||
        !absl::SimpleAtoi(name.substr(start, slash - start), &i) || i >= states.size()) {
      fail("unexpected ", what, " '", name, "'");
    }
    return std::make_pair(&states[i], name.substr(slash + 1));
  };
  for (const auto& [key, value] : meta) {
    if (!absl::StartsWith(key, kCallbackPrefix)) continue;
    auto [state, rest] = split(key, "__metadata__ key");
    state->values[rest] = value;
  }
  for (const auto& [name, t] : contents->tensors) {
    if (!absl::StartsWith(name, kCallbackPrefix)) continue;
    auto [state, rest] = split(name, "tensor");
    state->tensors.emplace_back(rest, t);
  }
  absl::Status loaded = m->LoadCheckpoint(file, contents->tensors, meta, kCallbackPrefix);
  if (!loaded.ok()) {
    Fail("BackupAndRestore: ", loaded.message(), " (delete it to train afresh)");
  }
  try {
    m->SetMetricsState(metrics);
    for (size_t i = 0; i < states.size(); ++i) {
      if (st.callbacks[i] != this) st.callbacks[i]->RestoreState(states[i]);
    }
  } catch (const Error& e) {
    fail(e.what());
  }
  st.epoch = static_cast<int>(epoch);
  st.batch = batch;
  st.epoch_learning_rate = lr[0];
  st.history = std::move(history);
  m->stop_training = get("stop_training") == "1";
  resumed_epoch_ = st.epoch;
  resumed_batch_ = st.batch;
  if (options_.verbose > 0) {
    m->out() << "Resuming from the backup " << file << ": epoch " << epoch + 1 << ", after "
             << batch << " of its " << steps << " batches\n";
  }
}

}  // namespace nn
}  // namespace gradway
