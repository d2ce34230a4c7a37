// Keras-style progress bar for Model::Fit.
//
//   Epoch 3/30
//   40/40 [==============================] - 5s 125ms/step - loss: 0.0712 - accuracy: 0.9781 - val_loss: 0.0310 - val_accuracy: 0.9900 - 1600 samples/s
//
// On a terminal the line is redrawn in place with '\r' after every batch, with an ETA while
// running ("12/40 [========>.....................] - ETA: 3s - loss: 0.1234"); otherwise
// (a file, a pipe, a test stream) exactly one line is printed per epoch. The time shown at
// the end of an epoch is its training time (validation excluded), from logs "seconds".
#ifndef GRADWAY_NN_PROGRESS_H_
#define GRADWAY_NN_PROGRESS_H_

#include <chrono>
#include <memory>
#include <cstdint>
#include <ostream>
#include <string>

#include "nn/callback.h"

namespace gradway {
namespace nn {

// A progress bar over `target` steps (keras.utils.Progbar). verbose 1: the bar;
// verbose 2: only the final "40/40 - 5s - loss: ..." line; 0: nothing.
class ProgressBar {
 public:
  ProgressBar(int64_t target, std::ostream& os, bool dynamic, int verbose = 1);
  // Step `current` done (1-based) with running `values`. Redraws when dynamic.
  void Update(int64_t current, const Logs& values);
  // Prints the final line: `values` (including val_ ones), `seconds` of work for
  // `samples` samples (0 to omit the samples/s field).
  void Finish(const Logs& values, double seconds, int64_t samples);

  // Formatting helpers (public for tests).
  // "[========>.....................]" for current of target, width 30.
  static std::string Bar(int64_t current, int64_t target);
  // " - loss: 0.0712 - accuracy: 0.9781" (Keras: %.4f, or %.4e when |v| <= 1e-3);
  // the "seconds" key is skipped.
  static std::string Values(const Logs& values);
  // "125ms/step", "3s/step", "80us/step".
  static std::string TimePerStep(double seconds_per_step);
  // "3s", "1:05", "1:01:05".
  static std::string Eta(double seconds);

 private:
  int64_t target_;
  std::ostream& os_;
  bool dynamic_;
  int verbose_;
  size_t last_width_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// True when `os` is std::cout and standard output is a terminal.
bool IsTerminal(const std::ostream& os);

// The callback Fit installs first when verbose > 0: prints "Epoch 3/30" and the bar.
class ProgbarLogger : public Callback {
 public:
  ProgbarLogger(std::ostream& os, bool dynamic) : os_(os), dynamic_(dynamic) {}
  void OnEpochBegin(int epoch, const Logs& logs) override;
  void OnBatchEnd(int64_t batch, const Logs& logs) override;
  void OnEpochEnd(int epoch, const Logs& logs) override;

 private:
  std::ostream& os_;
  bool dynamic_;
  int64_t seen_steps_ = 0;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_PROGRESS_H_
