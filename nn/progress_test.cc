#include "nn/progress.h"

#include <regex>
#include <sstream>

#include "gtest/gtest.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

TEST(ProgressBarTest, Pieces) {
  EXPECT_EQ(ProgressBar::Bar(40, 40), "[==============================]");
  EXPECT_EQ(ProgressBar::Bar(12, 40), "[========>.....................]");
  EXPECT_EQ(ProgressBar::Bar(0, 40), "[..............................]");
  Logs l;
  l.Set("loss", 0.07123);
  l.Set("accuracy", 0.97814);
  l.Set("tiny", 0.0001234);
  l.Set("seconds", 5);
  EXPECT_EQ(ProgressBar::Values(l), " - loss: 0.0712 - accuracy: 0.9781 - tiny: 1.2340e-04");
  EXPECT_EQ(ProgressBar::TimePerStep(0.125), "125ms/step");
  EXPECT_EQ(ProgressBar::TimePerStep(3.2), "3s/step");
  EXPECT_EQ(ProgressBar::TimePerStep(8e-5), "80us/step");
  EXPECT_EQ(ProgressBar::Eta(3.7), "3s");
  EXPECT_EQ(ProgressBar::Eta(65), "1:05");
  EXPECT_EQ(ProgressBar::Eta(3665), "1:01:05");
}

TEST(ProgressBarTest, FinalLineAndInPlaceRedraw) {
  Logs l;
  l.Set("loss", 0.5);
  std::ostringstream plain;
  ProgressBar bar(40, plain, /*dynamic=*/false);
  bar.Update(12, l);  // not a terminal: nothing until the end
  EXPECT_EQ(plain.str(), "");
  bar.Finish(l, 5.0, 8000);
  EXPECT_EQ(plain.str(),
            "40/40 [==============================] - 5s 125ms/step - loss: 0.5000 - 1600 samples/s\n");
  std::ostringstream tty;
  ProgressBar live(40, tty, /*dynamic=*/true);
  live.Update(12, l);
  EXPECT_EQ(tty.str().substr(0, 47), "\r12/40 [========>.....................] - ETA: ");
  live.Finish(l, 5.0, 8000);
  EXPECT_NE(tty.str().find("\r40/40 [====="), std::string::npos);
  std::ostringstream two;
  ProgressBar v2(40, two, false, /*verbose=*/2);
  v2.Finish(l, 5.0, 0);
  EXPECT_EQ(two.str(), "40/40 - 5s - loss: 0.5000\n");
}

TEST(ProgressBarTest, FitPrintsOneLinePerEpochWhenNotATerminal) {
  auto [x, y] = testing::Blobs(30, 1);
  auto [xv, yv] = testing::Blobs(9, 2);
  Sequential model(1);
  model.Add(Dense(DenseOptions(3).Activation(kSoftmax).InputShape({2})));
  model.Compile(CategoricalCrossentropy(), Adam(), {"accuracy"});
  std::ostringstream out;
  model.SetOutput(&out);
  model.Fit(x, y, FitOptions().Epochs(2).BatchSize(8).ValidationData(xv, yv));
  std::regex line(
      "Epoch 1/2\n4/4 \\[==============================\\] - \\d+s \\d+[mu]?s/step - loss: "
      "\\d\\.\\d{4} - accuracy: \\d\\.\\d{4} - val_loss: \\d\\.\\d{4} - val_accuracy: "
      "\\d\\.\\d{4} - \\d+ samples/s\nEpoch 2/2\n4/4 .*\n");
  EXPECT_TRUE(std::regex_match(out.str(), line)) << out.str();
  std::ostringstream quiet;
  model.SetOutput(&quiet);
  model.Fit(x, y, FitOptions().Epochs(1).Verbose(0));
  EXPECT_EQ(quiet.str(), "");
}

}  // namespace
}  // namespace nn
}  // namespace gradway
