// The models, data and closed-form values behind the committed checkpoints of
// nn/testdata/checkpoints/: write_checkpoints.cc wrote the files with them, and
// checkpoint_compat_test.cc builds the same models to load the files into and recomputes
// the values to compare with. The committed files keep what these functions returned when
// the files were written: never change what any of them returns (add new ones instead).
// Uses only the API of gradway as of commit f75d5e1, which wrote some of the files.
#ifndef GRADWAY_NN_TESTDATA_CHECKPOINT_MODELS_H_
#define GRADWAY_NN_TESTDATA_CHECKPOINT_MODELS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "autograd/autograd.h"
#include "nn/nn.h"

namespace gradway {
namespace nn {
namespace checkpoints {

// ---- The MLP checkpoint (Model::Save with Adam's state).
// Input 6 -> Dense 5 relu -> Dense 3 softmax, compiled with categorical cross-entropy,
// Adam(learning_rate) and accuracy.
Sequential MakeMlp(double learning_rate);
// 4 rows: x [4, 6], y one-hot [4, 3].
std::pair<Tensor, Tensor> MlpData();
constexpr double kMlpLearningRate = 0.01;  // the saved optimiser's
constexpr int64_t kMlpSteps = 2;           // TrainSteps before the save

// ---- The CNN checkpoint (Model::SaveWeights).
// Conv2D(2 filters, 3x3, relu) on 6x6x1 -> MaxPooling2D(2) -> Flatten -> Dense 3 softmax;
// built, not compiled.
Sequential MakeCnn();
// 3 images: x [3, 6, 6, 1].
Tensor CnnInput();

// ---- The backup (BackupAndRestore during a Fit that crashed).
// Input 2 -> Dense 4 relu -> Dense 3 softmax, compiled with categorical cross-entropy,
// Adam(kBackupLearningRate) and accuracy.
Sequential MakeBackupModel();
constexpr double kBackupLearningRate = 0.05;
// n rows starting at row `first` of an endless closed-form table: x [n, 2], y one-hot [n, 3].
std::pair<Tensor, Tensor> BackupData(int64_t n, int64_t first);
// The run: BackupData(24, 0) in batches of 8 (3 steps an epoch), validation on
// BackupData(6, 100), seed kBackupSeed, up to 4 epochs, callbacks {EarlyStopping (these
// options), a callback with no state, BackupAndRestore (save_freq 1)}; the process crashed
// at the end of step kBackupCrashStep, before that step's backup: the file is step 7's.
constexpr int64_t kBackupSamples = 24, kBackupBatchSize = 8, kBackupEpochs = 4;
constexpr uint64_t kBackupSeed = 3;
constexpr int64_t kBackupCrashStep = 8;
EarlyStoppingOptions BackupEarlyStopping();

// ---- Closed-form values.
// Element i of the tensor named `name` ("dense/kernel", "optimizer/m/dense/kernel"):
// multiples of 1/256 in [-127/256, 127/256], or for Adam's v slots ("optimizer/v/...")
// multiples of 1/65536 in (0, 255/65536]. Exact in float.
float Pattern(const std::string& name, int64_t i);
// Sets every tensor of `model`'s checkpoint (weights and, when attached, the optimiser's
// slots, Model::CheckpointTensors) to Pattern.
void SetPatternWeights(Model& model);
// FNV-1a (64 bits) of the tensors' names, shapes and float32 bytes, in order.
uint64_t Fingerprint(const NamedTensors& tensors);

}  // namespace checkpoints
}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_TESTDATA_CHECKPOINT_MODELS_H_
