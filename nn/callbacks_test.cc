#include "nn/callbacks.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
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
  EXPECT_EQ(FloatRepr(0.1), "0.1");
  EXPECT_EQ(FloatRepr(2.0), "2.0");
  EXPECT_EQ(FloatRepr(std::nan("")), "nan");
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
      c->SetModel(model());
      c->SetParams(params());
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

}  // namespace
}  // namespace nn
}  // namespace gradway
