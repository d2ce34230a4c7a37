#include "nn/callbacks.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/error.h"
#include "data/file_util.h"
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
  std::string out;
  for (const Piece& piece : pieces_) {
    if (!piece.is_field) {
      out += piece.text;
      continue;
    }
    const bool is_int = piece.text == "epoch";
    double value = epoch + 1;
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
      s = absl::StrFormat(piece.zero ? "%0*d" : "%*d", piece.width, epoch + 1);
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

void ModelCheckpoint::OnTrainBegin(const Logs&) {}

void ModelCheckpoint::SaveTo(const std::string& path) {
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

// ---- CSVLogger.
CSVLogger::CSVLogger(std::string filename, bool append, char separator)
    : filename_(std::move(filename)), append_(append), separator_(separator) {}

CSVLogger::CSVLogger(const CSVLogger& other)
    : Callback(other),
      filename_(other.filename_),
      append_(other.append_),
      separator_(other.separator_) {}

void CSVLogger::OnTrainBegin(const Logs&) {
  header_written_ = false;
  if (append_) {
    std::error_code ec;
    auto size = std::filesystem::file_size(filename_, ec);
    header_written_ = !ec && size > 0;
  }
  file_.close();
  file_.clear();
  file_.open(filename_, append_ ? std::ios::app : std::ios::trunc);
  if (!file_) Fail("CSVLogger: cannot open '", filename_, "' for writing");
}

void CSVLogger::OnEpochEnd(int epoch, const Logs& logs) {
  if (!header_written_) {
    file_ << "epoch";
    for (const auto& kv : logs.items()) file_ << separator_ << kv.first;
    file_ << '\n';
    header_written_ = true;
  }
  file_ << epoch + 1;
  for (const auto& kv : logs.items()) file_ << separator_ << FloatRepr(kv.second);
  file_ << '\n';
  file_.flush();
  if (!file_) Fail("CSVLogger: writing '", filename_, "' failed");
}

void CSVLogger::OnTrainEnd(const Logs&) { file_.close(); }

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

}  // namespace nn
}  // namespace gradway
