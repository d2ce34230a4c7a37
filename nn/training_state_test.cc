#include "nn/training_state.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "base/version.h"
#include "gtest/gtest.h"
#include "nn/checkpoint.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::TempPath;

// Equal as bits (so NaN equals NaN and -0 differs from 0).
bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

void ExpectSameDoubles(const std::vector<double>& got, const std::vector<double>& want,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(SameBits(got[i], want[i])) << what << "[" << i << "]: " << got[i] << " vs "
                                           << want[i];
  }
}

void ExpectSameTensors(const std::vector<std::pair<std::string, Tensor>>& got,
                       const std::vector<std::pair<std::string, Tensor>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.shape(), want[i].second.shape()) << want[i].first;
    ASSERT_EQ(got[i].second.numel(), want[i].second.numel()) << want[i].first;
    EXPECT_EQ(std::memcmp(got[i].second.data(), want[i].second.data(),
                          sizeof(float) * want[i].second.numel()),
              0)
        << want[i].first;
  }
}

// A state using every field, with values that a lossy encoding would change.
RunState FullState() {
  RunState s;
  s.samples = 1000;
  s.batch_size = 32;
  s.steps = 5;
  s.seed = 18446744073709551557ull;  // 2^64 - 59: above 2^53 and 2^63
  s.micro_shards = 8;
  s.epoch = 3;
  s.batch = 2;
  s.stop_training = true;
  s.epoch_learning_rate = 0.1 + 0.2;  // 0.30000000000000004
  s.metrics = {1.0 / 3.0, 2.5, 1e-300};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int e = 1; e <= 3; ++e) {
    Logs logs;
    logs.Set("loss", 1.0 / (e + 6));
    logs.Set("accuracy", 0.1 * e + 0.2);
    logs.Set("val_loss", e == 2 ? nan : 2.0 / 7.0 * e);
    logs.Set("mse", e == 1 ? nan : 1e-17 * e);
    logs.Set("seconds", 0.7 * e);
    s.history.Append(e, logs);
  }
  s.model_tensors = {{"dense/kernel", Tensor::FromVector({0.1f, -0.f, 1e-40f, 3.5f}, {2, 2})},
                     {"dense/bias", Tensor::FromVector({7.f, -8.f}, {2})},
                     {"optimizer/m/dense/kernel", Tensor::Zeros({2, 2})}};
  s.model_metadata = {{"optimizer", "adam"}, {"step", "17"}, {"learning_rate", "0.001"}};
  CallbackState first;
  first.SetDouble("best", 0.1 + 0.7);
  first.SetInt("wait", 2);
  first.values["mode"] = "min";
  first.tensors = {{"best_weights", Tensor::FromVector({1.f, 2.f, 3.f}, {3})}};
  CallbackState third;
  third.values["rows"] = "epoch,loss\n0,0.5\n";
  third.tensors = {{"a", Tensor::Scalar(4.f)}, {"b/c", Tensor::FromVector({-1.f}, {1, 1})}};
  s.callbacks = {first, CallbackState(), third};
  return s;
}

TEST(RunStateTest, SaveThenLoadRoundTripsEveryField) {
  const RunState s = FullState();
  const std::string path = TempPath("round_trip.backup");
  ASSERT_TRUE(s.Save(path).ok());
  absl::StatusOr<RunState> loaded = RunState::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const RunState& r = *loaded;
  EXPECT_EQ(r.samples, s.samples);
  EXPECT_EQ(r.batch_size, s.batch_size);
  EXPECT_EQ(r.steps, s.steps);
  EXPECT_EQ(r.seed, 18446744073709551557ull);
  EXPECT_EQ(r.micro_shards, s.micro_shards);
  EXPECT_EQ(r.epoch, s.epoch);
  EXPECT_EQ(r.batch, s.batch);
  EXPECT_EQ(r.stop_training, true);
  EXPECT_TRUE(SameBits(r.epoch_learning_rate, 0.1 + 0.2)) << r.epoch_learning_rate;
  ExpectSameDoubles(r.metrics, s.metrics, "metrics");

  EXPECT_EQ(r.history.epoch, (std::vector<int>{1, 2, 3}));
  ASSERT_EQ(r.history.history.size(), s.history.history.size());
  for (const auto& [key, values] : s.history.history) {
    ASSERT_EQ(r.history.history.count(key), 1u) << key;
    ExpectSameDoubles(r.history.history.at(key), values, "history " + key);
  }
  ExpectSameDoubles(r.history.loss, s.history.loss, "loss");
  ExpectSameDoubles(r.history.accuracy, s.history.accuracy, "accuracy");
  ExpectSameDoubles(r.history.val_loss, s.history.val_loss, "val_loss");
  ExpectSameDoubles(r.history.val_accuracy, s.history.val_accuracy, "val_accuracy");
  ExpectSameDoubles(r.history.seconds, s.history.seconds, "seconds");

  ExpectSameTensors(r.model_tensors, s.model_tensors);
  EXPECT_EQ(r.model_metadata, s.model_metadata);  // the optimiser's keys, and only those

  ASSERT_EQ(r.callbacks.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("callback " + std::to_string(i));
    EXPECT_EQ(r.callbacks[i].values, s.callbacks[i].values);
    ExpectSameTensors(r.callbacks[i].tensors, s.callbacks[i].tensors);
  }
  EXPECT_TRUE(SameBits(r.callbacks[0].Double("best"), 0.1 + 0.7));
  EXPECT_EQ(r.callbacks[0].Int("wait"), 2);
  EXPECT_TRUE(r.callbacks[1].values.empty());
  EXPECT_TRUE(r.callbacks[1].tensors.empty());
}

// Saves FullState() to a fresh file, lets `edit` change its metadata and tensors, and
// writes them back: a backup damaged in one place.
std::string Damaged(const std::string& name,
                    const std::function<void(Metadata*, NamedTensors*)>& edit) {
  const std::string path = TempPath(name);
  EXPECT_TRUE(FullState().Save(path).ok());
  absl::StatusOr<SafetensorsContents> c = ReadSafetensors(path);
  EXPECT_TRUE(c.ok()) << c.status();
  edit(&c->metadata, &c->tensors);
  EXPECT_TRUE(SaveSafetensors(path, c->tensors, c->metadata).ok());
  return path;
}

// Load's error for `path`, which must name the file and contain `expected`.
void ExpectLoadError(const std::string& path, const std::string& expected) {
  absl::StatusOr<RunState> r = RunState::Load(path);
  ASSERT_FALSE(r.ok()) << path;
  const std::string message(r.status().message());
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << message;
}

TEST(RunStateTest, LoadRejectsAFileThatIsNotABackup) {
  const std::string path = TempPath("checkpoint.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, {{"w", Tensor::Zeros({2})}}, {{"format", "pt"}}).ok());
  ExpectLoadError(path, "not a BackupAndRestore backup");
}

TEST(RunStateTest, LoadNamesAMissingKey) {
  ExpectLoadError(Damaged("missing.backup", [](Metadata* m, NamedTensors*) {
                    m->erase("batch_size");
                  }),
                  "__metadata__ has no 'batch_size'");
}

TEST(RunStateTest, LoadRejectsAMalformedNumber) {
  ExpectLoadError(Damaged("malformed.backup", [](Metadata* m, NamedTensors*) {
                    (*m)["samples"] = "1000x";
                  }),
                  "'samples' is not an integer");
  ExpectLoadError(Damaged("malformed_lr.backup", [](Metadata* m, NamedTensors*) {
                    (*m)["epoch_learning_rate"] = "0.3,0.4";
                  }),
                  "'epoch_learning_rate' is not a number");
}

TEST(RunStateTest, LoadRejectsAPositionOutOfRange) {
  // steps is 5: batch 5 (the epoch done) is fine, 6 is not.
  ASSERT_TRUE(RunState::Load(Damaged("batch_end.backup", [](Metadata* m, NamedTensors*) {
                (*m)["batch"] = "5";
              })).ok());
  ExpectLoadError(Damaged("batch.backup", [](Metadata* m, NamedTensors*) {
                    (*m)["batch"] = "6";
                  }),
                  "epoch 3 and batch 6 are out of range");
  ExpectLoadError(Damaged("epoch.backup", [](Metadata* m, NamedTensors*) {
                    (*m)["epoch"] = "-1";
                  }),
                  "epoch -1 and batch 2 are out of range");
}

TEST(RunStateTest, LoadRejectsAHistorySeriesOfTheWrongLength) {
  ExpectLoadError(Damaged("history.backup", [](Metadata* m, NamedTensors*) {
                    (*m)["history/logs/loss"] = "0.5,0.25";
                  }),
                  "'history/logs/loss' is not 3 numbers");
}

TEST(RunStateTest, LoadRejectsATensorOfNoCallback) {
  ExpectLoadError(Damaged("tensor.backup", [](Metadata*, NamedTensors* t) {
                    t->emplace_back("callback/7/x", Tensor::Zeros({1}));
                  }),
                  "unexpected tensor 'callback/7/x'");
}

TEST(RunStateTest, SaveWritesTheFormatAndTheVersionThatWroteIt) {
  const std::string path = TempPath("versioned.backup");
  ASSERT_TRUE(FullState().Save(path).ok());
  absl::StatusOr<SafetensorsContents> c = ReadSafetensors(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metadata.at("format"), "gradway-backup");
  EXPECT_EQ(c->metadata.at("format_version"), "1");
  EXPECT_EQ(c->metadata.at("gradway_version"), GRADWAY_VERSION_STRING);
}

TEST(RunStateTest, LoadReadsABackupWithoutAFormatVersion) {
  const std::string path = Damaged("unversioned.backup", [](Metadata* m, NamedTensors*) {
    m->erase("format_version");
    m->erase("gradway_version");
  });
  absl::StatusOr<RunState> r = RunState::Load(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->epoch, 3);
  ExpectSameTensors(r->model_tensors, FullState().model_tensors);
}

TEST(RunStateTest, LoadRefusesANewerFormatVersion) {
  ExpectLoadError(Damaged("newer.backup", [](Metadata* m, NamedTensors*) {
                    (*m)["format_version"] = "2";
                    (*m)["gradway_version"] = "2.0.1";
                  }),
                  "checkpoint format version 2 (written by gradway 2.0.1) is newer than "
                  "gradway " GRADWAY_VERSION_STRING " reads (format versions up to 1)");
  ExpectLoadError(Damaged("not_integer.backup", [](Metadata* m, NamedTensors*) {
                    (*m)["format_version"] = "v1";
                  }),
                  "checkpoint format version 'v1' (written by gradway " GRADWAY_VERSION_STRING
                  ") is not a positive integer");
}

TEST(RunStateTest, LoadNamesAMissingFile) {
  ExpectLoadError(TempPath("no_such.backup"), "no_such.backup");
}

TEST(HistoryTest, AppendFillsTheFieldsAndTheMap) {
  History h;
  Logs full;
  full.Set("loss", 0.5);
  full.Set("accuracy", 0.75);
  full.Set("val_loss", 0.625);
  full.Set("val_accuracy", 0.875);
  full.Set("mse", 0.125);
  full.Set("seconds", 2.0);
  h.Append(1, full);
  Logs keras1;  // Keras 1's names, and no validation or time
  keras1.Set("loss", 0.25);
  keras1.Set("acc", 0.5);
  keras1.Set("val_acc", 0.25);
  h.Append(2, keras1);

  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.epoch, (std::vector<int>{1, 2}));
  EXPECT_EQ(h.loss, (std::vector<double>{0.5, 0.25}));
  EXPECT_EQ(h.accuracy, (std::vector<double>{0.75, 0.5}));
  EXPECT_EQ(h.val_accuracy, (std::vector<double>{0.875, 0.25}));
  ASSERT_EQ(h.val_loss.size(), 2u);
  EXPECT_EQ(h.val_loss[0], 0.625);
  EXPECT_TRUE(std::isnan(h.val_loss[1]));
  ASSERT_EQ(h.seconds.size(), 2u);
  EXPECT_EQ(h.seconds[0], 2.0);
  EXPECT_TRUE(std::isnan(h.seconds[1]));
  // The map holds each key for the epochs that logged it.
  EXPECT_EQ(h.history.size(), 8u);
  EXPECT_EQ(h.history.at("loss"), (std::vector<double>{0.5, 0.25}));
  EXPECT_EQ(h.history.at("mse"), (std::vector<double>{0.125}));
  EXPECT_EQ(h.history.at("acc"), (std::vector<double>{0.5}));
  EXPECT_EQ(h.history.at("val_acc"), (std::vector<double>{0.25}));
  EXPECT_EQ(h.history.at("val_accuracy"), (std::vector<double>{0.875}));
}

}  // namespace
}  // namespace nn
}  // namespace gradway
