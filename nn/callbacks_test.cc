#include "nn/callbacks.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "autograd/error.h"
#include "gtest/gtest.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::Blobs;
using testing::TempPath;

Logs MakeLogs(double loss, double val_loss) {
  Logs l;
  l.Set("loss", loss);
  l.Set("accuracy", 0.5);
  l.Set("val_loss", val_loss);
  return l;
}

TEST(FilepathTemplateTest, FormatsLikePython) {
  Logs logs = MakeLogs(0.123456, 0.0789612);
  EXPECT_EQ(FilepathTemplate("./model/{epoch:02d}-{val_loss:.4f}").Format(2, logs),
            "./model/03-0.0790");
  EXPECT_EQ(FilepathTemplate("m{epoch}.st").Format(11, logs), "m12.st");
  EXPECT_EQ(FilepathTemplate("{loss:.2e}_{accuracy}").Format(0, logs), "1.23e-01_0.5");
  EXPECT_EQ(FilepathTemplate("{epoch:03}_{loss:8.3f}").Format(0, logs), "001_   0.123");
  EXPECT_EQ(FilepathTemplate("{{literal}}-{epoch:.1f}").Format(0, logs), "{literal}-1.0");
  EXPECT_EQ(FilepathTemplate("{loss:.3}").Format(0, logs), "0.123");
  // The largest epoch index still formats (1-based) without overflowing an int.
  EXPECT_EQ(FilepathTemplate("{epoch:02d}-{epoch:.1f}").Format(2147483647, logs),
            "2147483648-2147483648.0");
  EXPECT_EQ(FloatRepr(0.1), "0.1");
  EXPECT_EQ(FloatRepr(2.0), "2.0");
  EXPECT_EQ(FloatRepr(std::nan("")), "nan");
  // Python's repr: positional from 1e-4 up to 1e16, scientific outside.
  EXPECT_EQ(FloatRepr(5e-4), "0.0005");
  EXPECT_EQ(FloatRepr(-0.00012), "-0.00012");
  EXPECT_EQ(FloatRepr(1e-5), "1e-05");
  EXPECT_EQ(FloatRepr(1.5e-7), "1.5e-07");
  EXPECT_EQ(FloatRepr(123.456), "123.456");
  EXPECT_EQ(FloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(FloatRepr(1e16), "1e+16");
  EXPECT_EQ(FloatRepr(1.2345678901234567e17), "1.2345678901234566e+17");
  EXPECT_EQ(FloatRepr(0.0), "0.0");
  EXPECT_EQ(FloatRepr(-0.0), "-0.0");
  EXPECT_EQ(FloatRepr(5e-324), "5e-324");
  EXPECT_EQ(FloatRepr(0.1 + 0.2), "0.30000000000000004");
}

TEST(FilepathTemplateTest, RejectsMalformedTemplates) {
  for (const char* bad : {"model/{epoch", "model/epoch}", "{}", "{:02d}", "{epoch:02x}",
                          "{val loss}", "{epoch:.}", "{loss:.2d}", "{a{b}}"}) {
    try {
      FilepathTemplate t(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("malformed filepath template"), std::string::npos)
          << e.what();
    }
  }
  Logs logs = MakeLogs(1, 2);
  try {
    FilepathTemplate("{vall_loss:.4f}").Format(0, logs);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'vall_loss', which is not in the logs (available: "
                                         "epoch, loss, accuracy, val_loss)"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(FilepathTemplate("{loss:02d}").Format(0, logs), Error);
}

// A model whose Fit reports a scripted val_loss per epoch (through a callback placed
// before the ones under test, which overwrite nothing else).
class ScriptedModel {
 public:
  ScriptedModel() : model_(1) {
    model_.Add(Dense(DenseOptions(3).Activation(kSoftmax).InputShape({2})));
    model_.Compile(CategoricalCrossentropy(), Adam(), {"accuracy"});
    model_.SetOutput(&out_);
  }
  Sequential& model() { return model_; }
  std::string output() const { return out_.str(); }

 private:
  Sequential model_;
  std::ostringstream out_;
};

// Replaces val_loss in the logs the later callbacks see.
class ScriptVal : public Callback {
 public:
  ScriptVal(std::vector<double> values, std::vector<Ref<Callback>> inner)
      : values_(std::move(values)), inner_(std::move(inner)) {}
  void OnTrainBegin(const Logs& l) override {
    for (auto& c : inner_) {
      c->SetFit(model(), params(), run());
      c->OnTrainBegin(l);
    }
  }
  void OnEpochEnd(int epoch, const Logs& logs) override {
    Logs l = logs;
    l.Set("val_loss", values_[epoch]);
    for (auto& c : inner_) c->OnEpochEnd(epoch, l);
  }
  void OnTrainEnd(const Logs& l) override {
    for (auto& c : inner_) c->OnTrainEnd(l);
  }

 private:
  std::vector<double> values_;
  std::vector<Ref<Callback>> inner_;
};

TEST(ModelCheckpointTest, SaveBestOnlyMessagesAndFiles) {
  ScriptedModel s;
  auto [x, y] = Blobs(30, 1);
  const std::string dir = TempPath("ckpt_best");
  std::filesystem::remove_all(dir);
  auto ckpt = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions(dir + "/sub/{epoch:02d}-{val_loss:.4f}").Monitor("val_loss")
          .SaveBestOnly(true));
  s.model().Fit(x, y, FitOptions().Epochs(4).BatchSize(10).Verbose(0).Callbacks(
                          {ScriptVal({0.2, 0.08447, 0.0789612, 0.09}, {ckpt})}));
  const std::string out = s.output();
  EXPECT_NE(out.find("\nEpoch 00001: val_loss improved from inf to 0.20000, saving model to " +
                     dir + "/sub/01-0.2000\n"),
            std::string::npos) << out;
  EXPECT_NE(out.find("\nEpoch 00003: val_loss improved from 0.08447 to 0.07896, saving model to " +
                     dir + "/sub/03-0.0790\n"),
            std::string::npos) << out;
  EXPECT_NE(out.find("\nEpoch 00004: val_loss did not improve from 0.07896\n"), std::string::npos)
      << out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/sub/03-0.0790"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/sub/04-0.0900"));
  EXPECT_EQ(ckpt->last_saved(), dir + "/sub/03-0.0790");
  // Full saves include the optimizer state; weights-only ones don't.
  auto c = ReadSafetensors(ckpt->last_saved());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->metadata.count("step"), 1u);
  EXPECT_EQ(c->tensors.size(), 2u + 4u);
}

TEST(ModelCheckpointTest, EveryEpochWeightsOnlyAndMaxMode) {
  ScriptedModel s;
  auto [x, y] = Blobs(30, 1);
  const std::string path = TempPath("every_{epoch}.safetensors");
  s.model().Fit(x, y, FitOptions().Epochs(2).BatchSize(10).Verbose(0).Callbacks(
                          {ModelCheckpoint(ModelCheckpointOptions(path).SaveWeightsOnly(true))}));
  EXPECT_NE(s.output().find("\nEpoch 00002: saving model to " + TempPath("every_2.safetensors")),
            std::string::npos) << s.output();
  auto c = ReadSafetensors(TempPath("every_2.safetensors"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tensors.size(), 2u);
  Sequential other(5);
  other.Add(Dense(DenseOptions(3).Activation(kSoftmax).InputShape({2})));
  ASSERT_TRUE(other.LoadWeights(TempPath("every_2.safetensors")).ok());
  EXPECT_EQ(other.GetWeights()[0].ToVector(), s.model().GetWeights()[0].ToVector());
}

TEST(EarlyStoppingTest, StopsAfterPatienceAndRestoresBest) {
  ScriptedModel s;
  auto [x, y] = Blobs(30, 1);
  std::vector<double> val = {1.0, 0.5, 0.4, 0.45, 0.41, 0.42, 0.3, 0.2, 0.1, 0.05};
  std::vector<std::vector<Tensor>> weights_at_end;
  auto stop = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions().Monitor("val_loss").Patience(3).RestoreBestWeights(true));
  LambdaCallback record;
  record.EpochEnd([&](int, const Logs&) { weights_at_end.push_back(s.model().GetWeights()); });
  History h = s.model().Fit(
      x, y, FitOptions().Epochs(10).BatchSize(10).Verbose(0).Callbacks(
                {record, ScriptVal(val, {stop})}));
  // Best at epoch index 2 (0.4); three epochs without improvement: stop at index 5.
  EXPECT_EQ(stop->stopped_epoch(), 5);
  EXPECT_EQ(h.size(), 6u);
  EXPECT_DOUBLE_EQ(stop->best(), 0.4);
  EXPECT_NE(s.output().find("Restoring model weights from the end of the best epoch.\n"),
            std::string::npos);
  EXPECT_NE(s.output().find("Epoch 00006: early stopping\n"), std::string::npos) << s.output();
  auto w = s.model().GetWeights();
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(w[i].ToVector(), weights_at_end[2][i].ToVector());
  }
}

TEST(EarlyStoppingTest, MinDeltaAndMaxMode) {
  ScriptedModel s;
  auto [x, y] = Blobs(30, 1);
  // Improvements of 0.001 do not count with min_delta 0.01: stops at index 2.
  auto stop = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions().Patience(2).MinDelta(0.01).Verbose(0));
  s.model().Fit(x, y, FitOptions().Epochs(6).BatchSize(10).Verbose(0).Callbacks(
                          {ScriptVal({1.0, 0.999, 0.998, 0.5, 0.4, 0.3}, {stop})}));
  EXPECT_EQ(stop->stopped_epoch(), 2);
  EXPECT_EQ(s.output().find("early stopping"), std::string::npos);
  // Accuracy is maximised (auto mode).
  auto acc = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions().Monitor("accuracy").Patience(100));
  s.model().Fit(x, y, FitOptions().Epochs(2).BatchSize(10).Verbose(0).Callbacks({acc}));
  EXPECT_GT(acc->best(), 0);
}

TEST(TerminateOnNaNTest, StopsAndKeepsLastGoodCheckpoint) {
  ScriptedModel s;
  auto [x, y] = Blobs(60, 2);
  const std::string path = TempPath("nan_guard.safetensors");
  std::filesystem::remove(path);
  int epoch_now = 0;
  std::vector<Tensor> good;
  LambdaCallback poison;
  poison.EpochBegin([&](int e, const Logs&) { epoch_now = e; })
      .BatchBegin([&](int64_t b, const Logs&) {
        if (epoch_now == 2 && b == 3) s.model().Parameters()[0].data()[0] = std::nanf("");
      })
      .EpochEnd([&](int e, const Logs&) {
        if (e == 1) good = s.model().GetWeights();
      });
  History h = s.model().Fit(
      x, y, FitOptions().Epochs(5).BatchSize(10).Verbose(0).Callbacks(
                {poison, TerminateOnNaN(), ModelCheckpoint(ModelCheckpointOptions(path).Monitor("loss"))}));
  EXPECT_EQ(h.size(), 3u);
  EXPECT_TRUE(std::isnan(h.loss.back()));
  EXPECT_NE(s.output().find("Batch 3: Invalid loss, terminating training\n"), std::string::npos)
      << s.output();
  EXPECT_NE(s.output().find("\nEpoch 00003: loss is nan, not saving the model\n"),
            std::string::npos) << s.output();
  Sequential fresh(3);
  fresh.Add(Dense(DenseOptions(3).Activation(kSoftmax).InputShape({2})));
  ASSERT_TRUE(fresh.LoadWeights(path).ok());
  auto w = fresh.GetWeights();
  ASSERT_EQ(good.size(), w.size());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(w[i].ToVector(), good[i].ToVector());
}

TEST(CSVLoggerTest, WritesOneRowPerEpoch) {
  ScriptedModel s;
  auto [x, y] = Blobs(30, 1);
  auto [xv, yv] = Blobs(9, 2);
  const std::string path = TempPath("log.csv");
  History h = s.model().Fit(x, y, FitOptions().Epochs(3).BatchSize(10).Verbose(0)
                                      .ValidationData(xv, yv).Callbacks({CSVLogger(path)}));
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "epoch,loss,accuracy,val_loss,val_accuracy,seconds");
  EXPECT_EQ(lines[1].substr(0, 2 + FloatRepr(h.loss[0]).size()), "1," + FloatRepr(h.loss[0]));
  EXPECT_EQ(lines[3].substr(0, 2), "3,");
  // Appending continues the file without a second header.
  s.model().Fit(x, y, FitOptions().Epochs(1).BatchSize(10).Verbose(0).ValidationData(xv, yv)
                          .Callbacks({CSVLogger(path, /*append=*/true)}));
  std::ifstream again(path);
  int count = 0, headers = 0;
  for (std::string line; std::getline(again, line); ++count) headers += line[0] == 'e';
  EXPECT_EQ(count, 5);
  EXPECT_EQ(headers, 1);
}

TEST(LearningRateSchedulerTest, SetsRatePerEpoch) {
  ScriptedModel s;
  auto [x, y] = Blobs(30, 1);
  std::vector<double> seen;
  LambdaCallback spy;
  spy.EpochBegin([&](int, const Logs&) { seen.push_back(s.model().optimizer()->learning_rate()); });
  s.model().Fit(x, y, FitOptions().Epochs(3).BatchSize(10).Verbose(0).Callbacks(
                          {LearningRateScheduler([](int epoch, double lr) {
                             return epoch == 0 ? 0.1 : lr * 0.5;
                           }),
                           spy}));
  EXPECT_EQ(seen, (std::vector<double>{0.1, 0.05, 0.025}));
  // The optimizer's own hook.
  s.model().optimizer()->SetSchedule([](int epoch, double) { return 0.001 * (epoch + 1); });
  s.model().Fit(x, y, FitOptions().Epochs(2).BatchSize(10).Verbose(0));
  EXPECT_DOUBLE_EQ(s.model().optimizer()->learning_rate(), 0.002);
}

// ---- ReduceLROnPlateau.

// The learning rate at the start of each epoch, through Keras' algorithm by hand.
TEST(ReduceLROnPlateauTest, FollowsKerasPatienceCooldownAndMinLr) {
  ScriptedModel s;  // Adam, learning rate 1e-3
  auto [x, y] = Blobs(30, 1);
  auto reduce = std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions()
                                                        .Patience(2)
                                                        .Factor(0.5)
                                                        .Cooldown(2)
                                                        .MinDelta(0.01)
                                                        .MinLR(2e-4)
                                                        .Verbose(1));
  std::vector<double> seen;
  LambdaCallback spy;
  spy.EpochBegin(
      [&](int, const Logs&) { seen.push_back(s.model().optimizer()->learning_rate()); });
  const std::vector<double> val = {1.0,   0.95,  0.949, 0.948, 0.947, 0.90,  0.899, 0.898,
                                   0.897, 0.896, 0.895, 0.894, 0.893, 0.892, 0.891};
  s.model().Fit(x, y, FitOptions().Epochs(15).BatchSize(10).Verbose(0).Callbacks(
                          {ScriptVal(val, {reduce}), spy}));
  // Epoch 3 (0-based) is the 2nd without an improvement of 0.01: halved, then 2 epochs of
  // cooldown (the 2nd resets wait as it ends); 0.90 improves at epoch 5; halved again at
  // 7 and 10 (to min_lr, not 1.25e-4), then wait counts on at the floor.
  const std::vector<double> want = {1e-3,   1e-3,   1e-3,   1e-3, 5e-4, 5e-4, 5e-4, 5e-4,
                                    2.5e-4, 2.5e-4, 2.5e-4, 2e-4, 2e-4, 2e-4, 2e-4};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(s.model().optimizer()->learning_rate(), 2e-4);
  EXPECT_EQ(reduce->best(), 0.90);
  EXPECT_EQ(reduce->wait(), 3);
  EXPECT_EQ(reduce->cooldown_counter(), 0);
  const std::string out = s.output();
  EXPECT_NE(out.find("\nEpoch 00004: ReduceLROnPlateau reducing learning rate to 0.0005.\n"),
            std::string::npos) << out;
  EXPECT_NE(out.find("\nEpoch 00011: ReduceLROnPlateau reducing learning rate to 0.0002.\n"),
            std::string::npos) << out;
  EXPECT_EQ(out.find("Epoch 00014: ReduceLROnPlateau"), std::string::npos) << out;
}

TEST(ReduceLROnPlateauTest, MaxModeAndMissingMonitor) {
  ScriptedModel s;
  auto [x, y] = Blobs(30, 1);
  // "acc" in the name: higher is better, so a rising accuracy never reduces the rate.
  auto reduce = std::make_shared<ReduceLROnPlateau>(
      ReduceLROnPlateauOptions().Monitor("accuracy").Patience(0).MinDelta(-1));
  s.model().Fit(x, y, FitOptions().Epochs(3).BatchSize(10).Verbose(0).Callbacks({reduce}));
  EXPECT_GT(reduce->best(), 0);
  EXPECT_EQ(s.model().optimizer()->learning_rate(), 1e-3);
  // A monitor the logs do not have: said once, nothing changes.
  s.model().Fit(x, y, FitOptions().Epochs(3).BatchSize(10).Verbose(0).Callbacks(
                          {ReduceLROnPlateau(ReduceLROnPlateauOptions().Patience(0))}));
  const std::string out = s.output();
  const std::string message =
      "Learning rate reduction is conditioned on metric `val_loss` which is not available. "
      "Available metrics are: loss, accuracy, seconds\n";
  ASSERT_NE(out.find(message), std::string::npos) << out;
  EXPECT_EQ(out.find(message, out.find(message) + 1), std::string::npos) << out;
  EXPECT_EQ(s.model().optimizer()->learning_rate(), 1e-3);
}

TEST(ReduceLROnPlateauTest, RefusesAStepScheduleAndBadOptions) {
  Sequential model(3);
  model.Add(Dense(DenseOptions(3).Activation(kSoftmax).InputShape({2})));
  model.Compile(CategoricalCrossentropy(),
                SGD(SGDOptions().LearningRate(CosineDecay(0.1, 100))));
  auto [x, y] = Blobs(30, 1);
  for (bool plateau : {true, false}) {
    try {
      Ref<Callback> callback = plateau ? Ref<Callback>(ReduceLROnPlateau())
                                       : Ref<Callback>(LearningRateScheduler(
                                             [](int, double lr) { return lr / 2; }));
      model.Fit(x, y, FitOptions().Epochs(2).BatchSize(10).Verbose(0).Callbacks({callback}));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string want =
          plateau ? "ReduceLROnPlateau: the optimizer's learning rate is the schedule "
                    "CosineDecay, which sets it at every step, so it cannot be reduced"
                  : "SGD: its learning rate is the schedule CosineDecay, which sets it at "
                    "every step, so it cannot be set";
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(model.optimizer()->iterations(), 0);  // both refused before the first step
  try {
    ReduceLROnPlateau(ReduceLROnPlateauOptions().Factor(1.0));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ReduceLROnPlateau: factor must be in [0, 1) (it does "
                                         "not support a factor >= 1.0), got 1"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(ReduceLROnPlateau(ReduceLROnPlateauOptions().Cooldown(-1)), Error);
  EXPECT_THROW(ReduceLROnPlateau(ReduceLROnPlateauOptions().MinLR(-1e-3)), Error);
}

// ---- BackupAndRestore.

// Thrown by Crash to stand for a process killed at that point.
struct Crashed {};

// Throws Crashed at the end of global training step `at_step` (1-based, batch end), or at
// the end of 0-based epoch `at_epoch` (before the callbacks after it run).
class Crash : public Callback {
 public:
  Crash(int64_t at_step, int at_epoch) : at_step_(at_step), at_epoch_(at_epoch) {}
  void OnBatchEnd(int64_t, const Logs&) override {
    if (model()->train_step() == at_step_) throw Crashed{};
  }
  void OnEpochEnd(int epoch, const Logs&) override {
    if (epoch == at_epoch_) throw Crashed{};
  }

 private:
  int64_t at_step_;
  int at_epoch_;
};

// One training run of a small dropout MLP with the chapter's callbacks, all files in `dir`.
struct BackupRun {
  explicit BackupRun(const std::string& dir, int64_t save_freq, int64_t crash_step = -1,
                     int crash_epoch = -1)
      : model(7) {
    std::filesystem::create_directories(dir);
    model.Add(Dense(DenseOptions(16).Activation(kRelu).InputShape({2})));
    model.Add(Dropout(DropoutOptions(0.3)));
    model.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
    model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.02)),
                  {"accuracy"});
    model.SetOutput(&out);
    auto [x, y] = Blobs(70, 3);
    auto [xv, yv] = Blobs(30, 4);
    backup = std::make_shared<BackupAndRestore>(
        BackupAndRestoreOptions(dir + "/backup").SaveFreq(save_freq));
    stop = std::make_shared<EarlyStopping>(
        EarlyStoppingOptions().Patience(3).MinDelta(0.02).RestoreBestWeights(true));
    history = model.Fit(
        x, y,
        FitOptions().Epochs(30).BatchSize(16).Verbose(0).ValidationData(xv, yv).Callbacks(
            {backup,  // listed first: Fit still runs it after the others
             Crash(crash_step, crash_epoch),
             ModelCheckpoint(ModelCheckpointOptions(dir + "/{epoch:02d}-{val_loss:.4f}")
                                 .SaveBestOnly(true)),
             stop, CSVLogger(dir + "/history.csv"),
             LearningRateScheduler([](int, double lr) { return lr * 0.9; })}));
  }
  Sequential model;
  std::ostringstream out;
  std::shared_ptr<BackupAndRestore> backup;
  std::shared_ptr<EarlyStopping> stop;
  History history;
};

// The files of `dir` (recursively) and their bytes; history.csv without its "seconds"
// column (the last one, wall time).
std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (e.path().filename() == "history.csv") {
      std::string kept;
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        kept += line.substr(0, line.rfind(',')) + "\n";
      }
      text = kept;
    }
    out[std::filesystem::relative(e.path(), dir).string()] = text;
  }
  return out;
}

void ExpectSameRun(BackupRun& a, BackupRun& b) {
  std::vector<Tensor> wa = a.model.GetWeights(), wb = b.model.GetWeights();
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(wa[i].ToVector(), wb[i].ToVector()) << i;
  EXPECT_EQ(a.history.epoch, b.history.epoch);
  for (const auto& [key, values] : a.history.history) {
    if (key == "seconds") continue;
    EXPECT_EQ(values, b.history.history[key]) << key;
  }
  EXPECT_EQ(a.history.loss, b.history.loss);
  EXPECT_EQ(a.history.val_accuracy, b.history.val_accuracy);
  EXPECT_EQ(a.stop->stopped_epoch(), b.stop->stopped_epoch());
  EXPECT_EQ(a.model.optimizer()->iterations(), b.model.optimizer()->iterations());
  EXPECT_EQ(a.model.optimizer()->learning_rate(), b.model.optimizer()->learning_rate());
}

TEST(BackupAndRestoreTest, ResumesBitIdenticalAfterCrashes) {
  const std::string ref_dir = TempPath("backup_ref");
  std::filesystem::remove_all(ref_dir);
  BackupRun ref(ref_dir, /*save_freq=*/2);
  ASSERT_GE(ref.stop->stopped_epoch(), 3) << "the run must stop early for this test";
  EXPECT_EQ(ref.backup->resumed_epoch(), -1);
  EXPECT_FALSE(std::filesystem::exists(ref_dir + "/backup/backup.safetensors"));
  const auto ref_files = Files(ref_dir);
  ASSERT_GE(ref_files.size(), 3u);  // history.csv and at least two checkpoints

  // 5 steps per epoch. Crashes: mid-epoch after a step backup (step 7), right after an
  // epoch-end backup (step 11), at an epoch end before its backup (epoch 2), between two
  // step backups (step 18), at the end of the last epoch; then a clean finish.
  const std::string dir = TempPath("backup_crashed");
  std::filesystem::remove_all(dir);
  const std::vector<std::pair<int64_t, int>> crashes = {
      {7, -1}, {11, -1}, {-1, 2}, {18, -1}, {-1, ref.stop->stopped_epoch()}};
  for (const auto& [step, epoch] : crashes) {
    try {
      BackupRun crashed(dir, /*save_freq=*/2, step, epoch);
      FAIL() << "no crash at step " << step << " epoch " << epoch;
    } catch (const Crashed&) {
    }
    EXPECT_TRUE(std::filesystem::exists(dir + "/backup/backup.safetensors"));
  }
  BackupRun resumed(dir, /*save_freq=*/2);
  EXPECT_GE(resumed.backup->resumed_epoch(), ref.stop->stopped_epoch());
  EXPECT_NE(resumed.out.str().find("Resuming from the backup " + dir +
                                   "/backup/backup.safetensors: epoch "),
            std::string::npos) << resumed.out.str();
  ExpectSameRun(ref, resumed);
  EXPECT_EQ(Files(dir), ref_files);  // no backup left; checkpoints and CSV identical
}

TEST(BackupAndRestoreTest, ResumesMidEpochWithRunningMetrics) {
  const std::string ref_dir = TempPath("backup_mid_ref");
  std::filesystem::remove_all(ref_dir);
  BackupRun ref(ref_dir, /*save_freq=*/1);
  const std::string dir = TempPath("backup_mid");
  std::filesystem::remove_all(dir);
  try {
    BackupRun crashed(dir, /*save_freq=*/1, /*crash_step=*/9);
  } catch (const Crashed&) {
  }
  BackupRun resumed(dir, /*save_freq=*/1);
  EXPECT_EQ(resumed.backup->resumed_epoch(), 1);
  EXPECT_EQ(resumed.backup->resumed_batch(), 3);  // step 9's backup was not written
  ExpectSameRun(ref, resumed);
  EXPECT_EQ(Files(dir), Files(ref_dir));
}

TEST(BackupAndRestoreTest, RejectsAnotherRunsBackupAndGarbage) {
  const std::string dir = TempPath("backup_other");
  std::filesystem::remove_all(dir);
  try {
    BackupRun crashed(dir, 0, -1, /*crash_epoch=*/1);
  } catch (const Crashed&) {
  }
  const std::string file = dir + "/backup/backup.safetensors";
  ASSERT_TRUE(std::filesystem::exists(file));
  // Other data: 40 samples instead of 70.
  Sequential other(7);
  other.Add(Dense(DenseOptions(3).Activation(kSoftmax).InputShape({2})));
  other.Compile(CategoricalCrossentropy(), Adam());
  auto [x, y] = Blobs(40, 3);
  try {
    other.Fit(x, y, FitOptions().BatchSize(16).Verbose(0).Callbacks(
                        {BackupAndRestore(dir + "/backup")}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file + ": it was saved by a run of 70 samples in "
                                         "batches of 16 with seed 7; this run has 40"),
              std::string::npos) << e.what();
  }
  // Same data, another model: the tensors do not fit.
  auto [x70, y70] = Blobs(70, 3);
  try {
    other.Fit(x70, y70, FitOptions().BatchSize(16).Verbose(0).Seed(7).Callbacks(
                            {BackupAndRestore(dir + "/backup")}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::exists(file));  // kept
  // A truncated backup: a clear error, never a crash.
  std::filesystem::resize_file(file, 100);
  try {
    BackupRun again(dir, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("delete it to train afresh"), std::string::npos);
  }
  EXPECT_THROW(BackupAndRestore(BackupAndRestoreOptions("x").SaveFreq(-1)), Error);
  EXPECT_THROW(BackupAndRestore(""), Error);
}

// A run whose learning rate changes within it: either ReduceLROnPlateau (before the crash
// point, so an epoch end can reduce the rate and then crash before its backup) over Adam
// with clipnorm, or SGD with a warm-up cosine schedule, Nesterov momentum, weight decay and
// global_clipnorm. Both with dropout. `rates` is the learning rate of each training step.
struct LrRun {
  LrRun(const std::string& dir, bool scheduled, int64_t crash_step = -1, int crash_epoch = -1)
      : model(11) {
    std::filesystem::create_directories(dir);
    model.Add(Dense(DenseOptions(16).Activation(kRelu).InputShape({2})));
    model.Add(Dropout(DropoutOptions(0.2)));
    model.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
    if (scheduled) {
      model.Compile(CategoricalCrossentropy(),
                    SGD(SGDOptions()
                            .LearningRate(CosineDecay(0.0, 40, 0.1, /*warmup_target=*/0.2,
                                                      /*warmup_steps=*/9))
                            .Momentum(0.9)
                            .Nesterov(true)
                            .WeightDecay(0.01)
                            .GlobalClipNorm(0.5)));
    } else {
      model.Compile(CategoricalCrossentropy(),
                    Adam(AdamOptions().LearningRate(0.05).ClipNorm(1.0)));
    }
    model.SetOutput(&out);
    auto [x, y] = Blobs(70, 3);
    auto [xv, yv] = Blobs(30, 4);
    backup = std::make_shared<BackupAndRestore>(
        BackupAndRestoreOptions(dir + "/backup").SaveFreq(2).Verbose(0));
    reduce = std::make_shared<ReduceLROnPlateau>(
        ReduceLROnPlateauOptions().Patience(1).Factor(0.5).Cooldown(2).MinDelta(0.05).MinLR(
            0.004));
    LambdaCallback spy;
    spy.BatchBegin([this](int64_t, const Logs&) {
      rates[model.train_step()] = model.optimizer()->learning_rate();
    });
    std::vector<Ref<Callback>> callbacks = {backup, spy};
    if (!scheduled) callbacks.push_back(reduce);
    callbacks.push_back(Crash(crash_step, crash_epoch));
    history = model.Fit(x, y, FitOptions().Epochs(12).BatchSize(16).Verbose(0).ValidationData(
                                  xv, yv).Callbacks(callbacks));
  }
  Sequential model;
  std::ostringstream out;
  std::shared_ptr<BackupAndRestore> backup;
  std::shared_ptr<ReduceLROnPlateau> reduce;
  std::map<int64_t, double> rates;
  History history;
};

// Train straight vs crash (several times, at several kinds of points) and resume: the
// same weights, learning rates, optimiser steps, history and ReduceLROnPlateau state, bit
// for bit.
void ExpectResumedRunIsIdentical(bool scheduled) {
  const std::string tag = scheduled ? "schedule" : "plateau";
  const std::string ref_dir = TempPath("lr_ref_" + tag), dir = TempPath("lr_crashed_" + tag);
  std::filesystem::remove_all(ref_dir);
  std::filesystem::remove_all(dir);
  LrRun ref(ref_dir, scheduled);
  std::set<double> distinct;
  for (const auto& [step, rate] : ref.rates) distinct.insert(rate);
  ASSERT_GE(distinct.size(), scheduled ? 40u : 3u) << "the rate must change for this test";
  // 5 steps per epoch: mid-epoch after a step backup (7), at an epoch end before its backup
  // (epoch 3: ReduceLROnPlateau has already acted), between step backups (23), late (47).
  const std::vector<std::pair<int64_t, int>> crashes = {{7, -1}, {-1, 3}, {23, -1}, {47, -1}};
  for (const auto& [step, epoch] : crashes) {
    try {
      LrRun crashed(dir, scheduled, step, epoch);
      FAIL() << "no crash at step " << step << " epoch " << epoch;
    } catch (const Crashed&) {
    }
  }
  LrRun resumed(dir, scheduled);
  EXPECT_GE(resumed.backup->resumed_epoch(), 9);
  std::vector<Tensor> wa = ref.model.GetWeights(), wb = resumed.model.GetWeights();
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(wa[i].ToVector(), wb[i].ToVector()) << i;
  ASSERT_FALSE(resumed.rates.empty());
  for (const auto& [step, rate] : resumed.rates) EXPECT_EQ(rate, ref.rates[step]) << step;
  EXPECT_EQ(resumed.model.optimizer()->learning_rate(), ref.model.optimizer()->learning_rate());
  EXPECT_EQ(resumed.model.optimizer()->iterations(), ref.model.optimizer()->iterations());
  EXPECT_EQ(resumed.history.loss, ref.history.loss);
  EXPECT_EQ(resumed.history.val_loss, ref.history.val_loss);
  EXPECT_EQ(resumed.reduce->best(), ref.reduce->best());
  EXPECT_EQ(resumed.reduce->wait(), ref.reduce->wait());
  EXPECT_EQ(resumed.reduce->cooldown_counter(), ref.reduce->cooldown_counter());
}

TEST(BackupAndRestoreTest, ReduceLROnPlateauResumesBitIdentical) {
  ExpectResumedRunIsIdentical(/*scheduled=*/false);
}

TEST(BackupAndRestoreTest, StepScheduleClippingAndWeightDecayResumeBitIdentical) {
  ExpectResumedRunIsIdentical(/*scheduled=*/true);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
