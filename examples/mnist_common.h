// What the two MNIST examples share: their command-line flags, loading and preparing the
// data, showing the first training image, and writing the training history. Each example
// (mnist_mlp.cc, mnist_cnn.cc) reads top to bottom like the seed's chapter and calls these.
#ifndef GRADWAY_EXAMPLES_MNIST_COMMON_H_
#define GRADWAY_EXAMPLES_MNIST_COMMON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "data/mnist.h"
#include "nn/callbacks.h"
#include "nn/model.h"

namespace gradway {
namespace examples {

// The flags, validated. See --help.
struct MnistConfig {
  std::string data_dir;
  std::string dataset;
  int epochs = 30;
  int64_t batch_size = 200;
  uint64_t seed = 42;
  int threads = 0;  // 0: the machine's cores
  std::string model_dir;
  std::string backup_dir;    // BackupAndRestore's folder ("<model_dir>/backup" by default)
  int64_t backup_freq = 0;   // also back up every N steps (0: at epoch ends only)
  std::string output_dir;
  std::string final_model;   // where to save the trained model at the end ("": nowhere)
  int patience = 10;
  double target_accuracy = 0;
  int64_t train_samples = 0;  // 0: all, else an evenly spaced subset
  int64_t test_samples = 0;   // 0: all, else an evenly spaced subset
  // Data-parallel training under mpirun (//distributed): the MPI world
  // (distributed::WorldCollective(), null for one process), for FitOptions().Distributed;
  // this process's rank and the rank count (0 and 1 for one process). Ranks other than 0
  // print nothing and write no file.
  std::shared_ptr<nn::Collective> world;
  int rank = 0, ranks = 1;
};

// The checkpoints' file names in --model_dir (ModelCheckpoint's template).
inline constexpr char kCheckpointTemplate[] = "{epoch:02d}-{val_loss:.4f}.safetensors";

// The defaults an example gives some flags before parsing (the command line overrides
// them): fashion_resnet trains on Fashion-MNIST in batches of 128; the text examples use
// fewer epochs and a shorter patience.
struct MnistFlagDefaults {
  std::string dataset = "mnist";
  int64_t batch_size = 200;
  int epochs = 30;
  int patience = 10;
};

// Parses and validates the flags (absl): unknown flags and bad values print a message and
// exit with a non-zero status. Sets the thread count (per rank) and prints it; under
// mpirun, joins the MPI job, prints the rank count, and silences the standard output of
// every rank but 0.
MnistConfig ParseMnistFlags(int argc, char** argv, const char* usage,
                            const MnistFlagDefaults& defaults = {});

// The data: the training and test images kept as bytes, scaled to floats in [0, 1]
// (byte / 255) batch by batch as Fit and Evaluate gather them, with one-hot labels; and
// what the data is (`info`: description and image size; its byte vectors are empty, moved
// into the datasets). Under mpirun, `train` holds only the rows this rank trains on: rows
// [train_first_row, train_first_row + train->size()) of train_rows (nn::TrainRowsOfRank);
// FitOptions().TrainRows takes them.
struct MnistData {
  data::Dataset info;
  std::shared_ptr<nn::ByteImageDataset> train, test;
  int64_t train_first_row = 0, train_rows = 0;
};

// Loads the dataset the flags choose (--data_dir, --dataset, else the official MNIST),
// keeps --train_samples/--test_samples (evenly spaced) of it, and prints which data it is
// and the train and test counts. Exits with status 1 and a message naming the file on
// error (missing, corrupt or empty files, images that do not fit `sample_shape`).
MnistData LoadMnist(const MnistConfig& config, const Shape& sample_shape);

// Prints training image `index` as its matrix of pixel values (0..255) with its class,
// writes it enlarged 10 times (nearest neighbour: 280x280 for MNIST) as
// train_image_<index>.png in the output folder, and prints its one-hot vector.
void ShowTrainingImage(const MnistData& data, int64_t index, const MnistConfig& config);

// The chapter's callbacks: ModelCheckpoint("<model_dir>/" + kCheckpointTemplate,
// monitor val_loss, save best only), EarlyStopping(val_loss, --patience, restoring the best
// weights when it stops) and CSVLogger("<output_dir>/history.csv"), and
// BackupAndRestore(--backup_dir, --backup_freq), so that running the same command again
// after a crash or a kill resumes the training where it was.
std::vector<nn::Ref<nn::Callback>> ChapterCallbacks(const MnistConfig& config);

// The output folder's path for `name` (created if missing).
std::string OutputPath(const MnistConfig& config, const std::string& name);

// Writes the train (blue) and validation (red) loss per epoch as an SVG plot.
void WriteLossPlot(const nn::History& history, const MnistConfig& config,
                   const std::string& title);

// Writes the train and validation accuracy per epoch as an SVG plot (accuracy.svg).
void WriteAccuracyPlot(const nn::History& history, const MnistConfig& config,
                       const std::string& title);

// Saves the trained model (Model::Save: weights and optimiser state) to --final_model, if
// given, and says so. Exits with status 1 and the file error when the write fails.
void SaveFinalModel(const nn::Model& model, const MnistConfig& config);

// Under mpirun: prints (rank 0) the training throughput in samples per second over all
// ranks, and the time the gradients' all-reduce took, as a share of the training time.
void ReportDataParallel(const nn::History& history, const MnistData& data,
                        const MnistConfig& config);

// The indices 0 .. n-1 ordered by MixSeed(seed, index) (base/splitmix.h), ties by index:
// the text examples' seeded shuffle before their train/validation/test split, which their
// PyTorch twin (benchmarks/pytorch_text.py) computes the same way.
std::vector<size_t> SeededOrder(size_t n, uint64_t seed);

// Prints " Test Accuracy: 0.xxxx" and returns the exit status: 1 when below
// --target_accuracy.
int ReportTestAccuracy(double accuracy, const MnistConfig& config);

}  // namespace examples
}  // namespace gradway

#endif  // GRADWAY_EXAMPLES_MNIST_COMMON_H_
