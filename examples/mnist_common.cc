#include "examples/mnist_common.h"

#include <algorithm>
#include <numeric>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "base/conv_algorithm.h"
#include "base/runtime.h"
#include "base/splitmix.h"
#include "data/file_util.h"
#include "data/image.h"
#include "data/plot.h"
#include "data/png.h"
#include "distributed/mpi_collective.h"
#include "examples/cli.h"

ABSL_FLAG(std::string, data_dir, "",
          "A folder holding the four MNIST-format IDX files (train-images-idx3-ubyte, "
          "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; raw or "
          ".gz). Overrides --dataset.");
ABSL_FLAG(std::string, dataset, "mnist",
          "mnist: the official MNIST (60,000 train / 10,000 test) that "
          "third_party/install.sh puts in ~/.cache/gradway/mnist; fashion: Fashion-MNIST "
          "(60,000 / 10,000) from Debian's dataset-fashion-mnist.");
ABSL_FLAG(int, epochs, 30, "Maximum number of training epochs.");
ABSL_FLAG(int64_t, batch_size, 200, "Training batch size.");
ABSL_FLAG(uint64_t, seed, 42, "Seed for the initial weights, batch order and dropout.");
ABSL_FLAG(int, threads, 0, "Worker threads (0: the machine's cores).");
ABSL_FLAG(std::string, conv_algorithm, "auto",
          "How the convolutions run: auto (per layer and pass, the faster: Winograd for 3x3 "
          "stride-1 kernels except where direct wins), direct, winograd (F(4x4,3x3)) or "
          "winograd2x2 (F(2x2,3x3)).");
ABSL_FLAG(std::string, model_dir, "./model",
          "Where ModelCheckpoint saves the best model "
          "({epoch:02d}-{val_loss:.4f}.safetensors).");
ABSL_FLAG(std::string, backup_dir, "",
          "Where BackupAndRestore keeps the backup of the training in progress, so that "
          "running the same command after a crash or a kill resumes it (default: "
          "<model_dir>/backup). Removed when training ends.");
ABSL_FLAG(int64_t, backup_freq, 0,
          "Also back up every N training steps (0: at the end of every epoch only).");
ABSL_FLAG(std::string, output_dir, "./output",
          "Where the first image (PNG), history.csv and the loss plot (SVG) go.");
ABSL_FLAG(std::string, final_model, "",
          "Also save the trained model (the best epoch's weights when early stopping "
          "restored them, and the optimiser's state) to this file at the end.");
ABSL_FLAG(int, patience, 10, "EarlyStopping patience on val_loss, in epochs.");
ABSL_FLAG(double, target_accuracy, 0.0,
          "Exit with status 1 when the final test accuracy is below this.");
ABSL_FLAG(int64_t, train_samples, 0,
          "Use only N evenly spaced training samples (0: all), for quick runs.");
ABSL_FLAG(int64_t, test_samples, 0,
          "Use only N evenly spaced test samples (0: all), for quick runs.");

namespace gradway {
namespace examples {

namespace {

// The first training image is written this many times larger (280x280 for MNIST), with
// nearest-neighbour pixels, so that an image viewer shows the digit, not a speck.
constexpr int kPngScale = 10;

// MNIST's digits (and Fashion-MNIST's articles): 10 classes.
constexpr int kNumClasses = 10;

}  // namespace

MnistConfig ParseMnistFlags(int argc, char** argv, const char* usage,
                            const MnistFlagDefaults& defaults) {
  absl::SetFlag(&FLAGS_dataset, defaults.dataset);
  absl::SetFlag(&FLAGS_batch_size, defaults.batch_size);
  absl::SetFlag(&FLAGS_epochs, defaults.epochs);
  absl::SetFlag(&FLAGS_patience, defaults.patience);
  ParseFlags(argc, argv, usage);
  MnistConfig c;
  c.data_dir = absl::GetFlag(FLAGS_data_dir);
  c.dataset = absl::GetFlag(FLAGS_dataset);
  c.epochs = absl::GetFlag(FLAGS_epochs);
  c.batch_size = absl::GetFlag(FLAGS_batch_size);
  c.seed = absl::GetFlag(FLAGS_seed);
  c.threads = absl::GetFlag(FLAGS_threads);
  c.model_dir = absl::GetFlag(FLAGS_model_dir);
  c.backup_dir = absl::GetFlag(FLAGS_backup_dir);
  c.backup_freq = absl::GetFlag(FLAGS_backup_freq);
  c.output_dir = absl::GetFlag(FLAGS_output_dir);
  c.final_model = absl::GetFlag(FLAGS_final_model);
  c.patience = absl::GetFlag(FLAGS_patience);
  c.target_accuracy = absl::GetFlag(FLAGS_target_accuracy);
  c.train_samples = absl::GetFlag(FLAGS_train_samples);
  c.test_samples = absl::GetFlag(FLAGS_test_samples);
  c.world = distributed::WorldCollective();
  if (c.world != nullptr) {
    c.rank = c.world->rank();
    c.ranks = c.world->size();
    // Only rank 0 prints; the others' errors still reach stderr.
    if (c.rank != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) {
      Die("cannot silence the standard output of a rank", 1);
    }
  }
  if (c.epochs < 1) Die(absl::StrCat("--epochs must be at least 1, got ", c.epochs), 2);
  if (c.batch_size < 1) {
    Die(absl::StrCat("--batch_size must be at least 1, got ", c.batch_size), 2);
  }
  if (c.threads < 0) Die(absl::StrCat("--threads must be >= 0, got ", c.threads), 2);
  if (c.patience < 0) Die(absl::StrCat("--patience must be >= 0, got ", c.patience), 2);
  if (!(c.target_accuracy >= 0 && c.target_accuracy <= 1)) {
    Die(absl::StrCat("--target_accuracy must be in [0, 1], got ", c.target_accuracy), 2);
  }
  if (c.train_samples < 0 || c.test_samples < 0) {
    Die("--train_samples and --test_samples must be >= 0", 2);
  }
  if (c.model_dir.empty()) Die("--model_dir must not be empty", 2);
  if (c.output_dir.empty()) Die("--output_dir must not be empty", 2);
  if (c.backup_freq < 0) Die(absl::StrCat("--backup_freq must be >= 0, got ", c.backup_freq), 2);
  for (std::string* path : {&c.data_dir, &c.model_dir, &c.backup_dir, &c.output_dir,
                             &c.final_model}) {
    *path = UserPath(*path);
  }
  if (c.backup_dir.empty()) c.backup_dir = c.model_dir + "/backup";
  int threads = c.threads;
  if (threads == 0 && c.ranks > 1) {
    // All cores, shared between the ranks on this machine rather than each taking all.
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const int local_ranks = local != nullptr ? std::max(1, std::atoi(local)) : 1;
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local_ranks);
  }
  const std::string conv_name = absl::GetFlag(FLAGS_conv_algorithm);
  const std::optional<ConvAlgorithm> conv_algorithm = ConvAlgorithmFromName(conv_name);
  if (!conv_algorithm) {
    Die(absl::StrCat("--conv_algorithm: unknown convolution algorithm '", conv_name,
                     "': expected ", ConvAlgorithmNames()),
        2);
  }
  SetConvAlgorithm(*conv_algorithm);
  SetNumThreads(threads);
  std::printf("Using %d thread%s\n", NumThreads(), NumThreads() == 1 ? "" : "s");
  if (c.world != nullptr) {
    std::printf("Data-parallel training on %d MPI ranks (%d thread%s each)\n", c.ranks,
                NumThreads(), NumThreads() == 1 ? "" : "s");
  }
  return c;
}

MnistData LoadMnist(const MnistConfig& config, const Shape& sample_shape) {
  // Under mpirun each rank reads only the training rows it trains on: first the files'
  // headers (and the test images), for the training-set size, then those rows.
  absl::StatusOr<data::Dataset> loaded = data::ResolveDataset(
      config.data_dir, config.dataset, config.ranks > 1 ? data::IdxRange{0, 0} : data::IdxRange{});
  if (!loaded.ok()) Die(std::string(loaded.status().message()), 1);
  const int64_t file_rows = loaded->train_total;
  // --train_samples: an evenly spaced subset (row i is the file's row i * file_rows / n),
  // so that a quick run still sees every part of the data.
  const int64_t n = config.train_samples > 0 && config.train_samples < file_rows
                        ? config.train_samples
                        : file_rows;
  auto file_row = [&](int64_t i) { return i * file_rows / n; };
  MnistData d;
  d.train_rows = n;
  int64_t end = n;
  if (config.ranks > 1) {
    std::tie(d.train_first_row, end) =
        nn::TrainRowsOfRank(n, nn::FitOptions().micro_shards, config.rank, config.ranks);
    const data::IdxRange range =
        end > d.train_first_row ? data::IdxRange{file_row(d.train_first_row), file_row(end - 1) + 1}
                                : data::IdxRange{0, 0};
    loaded = data::ResolveDataset(config.data_dir, config.dataset, range);
    if (!loaded.ok()) Die(std::string(loaded.status().message()), 1);
  }
  d.info = *std::move(loaded);
  data::Dataset& raw = d.info;
  const int64_t pixels = raw.image_size();
  // Keeps rows `pick(i)` (indices into the rows held), i in [0, count).
  auto keep = [pixels](std::vector<uint8_t>& images, std::vector<uint8_t>& labels,
                       int64_t count, auto pick) {
    std::vector<uint8_t> kept_images(count * pixels), kept_labels(count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t from = pick(i);
      kept_labels[i] = labels[from];
      std::copy(images.begin() + from * pixels, images.begin() + (from + 1) * pixels,
                kept_images.begin() + i * pixels);
    }
    images = std::move(kept_images);
    labels = std::move(kept_labels);
  };
  if (n != file_rows || config.ranks > 1) {
    keep(raw.train_images, raw.train_labels, end - d.train_first_row,
         [&](int64_t i) { return file_row(d.train_first_row + i) - raw.train_first; });
  }
  const int64_t test_rows = raw.test_count();
  if (config.test_samples > 0 && config.test_samples < test_rows) {
    keep(raw.test_images, raw.test_labels, config.test_samples,
         [&](int64_t i) { return i * test_rows / config.test_samples; });
  }
  std::printf("Data: %s\n", raw.description.c_str());
  std::printf("Using %lld training and %lld test images\n", static_cast<long long>(n),
              static_cast<long long>(raw.test_count()));
  try {  // images that do not fit sample_shape: a message naming the data, status 1
    if (NumElements(sample_shape) != pixels) {
      Fail(raw.description, ": images of ", raw.rows, "x", raw.cols,
           " do not fit the model's input shape ", ShapeToString(sample_shape));
    }
    // The bytes move into the datasets: the images are held once, as bytes.
    d.train = std::make_shared<nn::ByteImageDataset>(
        std::move(raw.train_images), std::move(raw.train_labels), sample_shape,
        kNumClasses, /*one_hot=*/true, "training images of " + raw.description);
    d.test = std::make_shared<nn::ByteImageDataset>(
        std::move(raw.test_images), std::move(raw.test_labels), sample_shape, kNumClasses,
        /*one_hot=*/true, "test images of " + raw.description);
  } catch (const Error& e) {
    Die(e.what(), 1);
  }
  raw.train_images.clear();
  raw.train_labels.clear();
  raw.test_images.clear();
  raw.test_labels.clear();
  return d;
}

std::string OutputPath(const MnistConfig& config, const std::string& name) {
  absl::Status made = data::MakeDirs(config.output_dir);
  if (!made.ok()) Die(std::string(made.message()), 1);
  return absl::StrCat(config.output_dir, "/", name);
}

void ShowTrainingImage(const MnistData& data, int64_t index, const MnistConfig& config) {
  if (config.rank != 0) return;  // data-parallel: rank 0 shows it (and holds row 0)
  const data::Dataset& info = data.info;
  GRADWAY_CHECK(index >= 0 && index < data.train->size(), "mnist: no training image ", index);
  const uint8_t* image = data.train->pixels().data() + index * info.image_size();
  const int label = data.train->labels()[index];
  std::printf("\nTraining image %lld (%lldx%lld), class %d:\n", static_cast<long long>(index),
              static_cast<long long>(info.rows), static_cast<long long>(info.cols), label);
  for (int64_t r = 0; r < info.rows; ++r) {
    for (int64_t c = 0; c < info.cols; ++c) std::printf("%4d", image[r * info.cols + c]);
    std::printf("\n");
  }
  const std::string png = OutputPath(config, absl::StrCat("train_image_", index, ".png"));
  const data::GrayImage digit{static_cast<int>(info.cols), static_cast<int>(info.rows),
                              std::vector<uint8_t>(image, image + info.image_size())};
  absl::StatusOr<data::GrayImage> enlarged = data::ScaleNearest(digit, kPngScale);
  if (!enlarged.ok()) Die(std::string(enlarged.status().message()), 1);
  absl::Status written =
      data::WriteGrayPng(png, enlarged->pixels.data(), enlarged->width, enlarged->height);
  if (!written.ok()) Die(std::string(written.message()), 1);
  std::printf("Saved it, enlarged %d times (%dx%d), as %s\n", kPngScale, enlarged->width,
              enlarged->height, png.c_str());
  // Its one-hot label, as the model sees it.
  int64_t row = index;
  Tensor x, y;
  data.train->Gather(&row, 1, &x, &y);
  std::printf("Its one-hot label: [");
  for (int k = 0; k < kNumClasses; ++k) std::printf("%s%.0f", k ? ", " : "", y.at({0, k}));
  std::printf("]\n\n");
}

std::vector<nn::Ref<nn::Callback>> ChapterCallbacks(const MnistConfig& config) {
  return {nn::ModelCheckpoint(
              nn::ModelCheckpointOptions(config.model_dir + "/" + kCheckpointTemplate)
                  .Monitor("val_loss")
                  .SaveBestOnly(true)),
          nn::EarlyStopping(nn::EarlyStoppingOptions()
                                .Monitor("val_loss")
                                .Patience(config.patience)
                                .RestoreBestWeights(true)),
          nn::CSVLogger(OutputPath(config, "history.csv")),
          nn::BackupAndRestore(
              nn::BackupAndRestoreOptions(config.backup_dir).SaveFreq(config.backup_freq))};
}

void WriteLossPlot(const nn::History& history, const MnistConfig& config,
                   const std::string& title) {
  if (config.rank != 0) return;  // data-parallel: rank 0 writes the files
  const std::string path = OutputPath(config, "loss.svg");
  absl::Status written = data::WriteLossPlot(path, history.loss, history.val_loss, title);
  if (!written.ok()) Die(std::string(written.message()), 1);
  std::printf("Saved the loss curves as %s\n", path.c_str());
}

void WriteAccuracyPlot(const nn::History& history, const MnistConfig& config,
                       const std::string& title) {
  if (config.rank != 0) return;  // data-parallel: rank 0 writes the files
  const std::string path = OutputPath(config, "accuracy.svg");
  absl::Status written =
      data::WriteLossPlot(path, history.accuracy, history.val_accuracy, title, "accuracy");
  if (!written.ok()) Die(std::string(written.message()), 1);
  std::printf("Saved the accuracy curves as %s\n", path.c_str());
}

void SaveFinalModel(const nn::Model& model, const MnistConfig& config) {
  if (config.final_model.empty() || config.rank != 0) return;
  absl::Status saved = model.Save(config.final_model);
  if (!saved.ok()) Die(std::string(saved.message()), 1);
  std::printf("Saved the trained model as %s\n", config.final_model.c_str());
}

void ReportDataParallel(const nn::History& history, const MnistData& data,
                        const MnistConfig& config) {
  std::shared_ptr<distributed::MpiCollective> world = distributed::WorldCollective();
  if (world == nullptr || history.size() == 0) return;
  double seconds = 0;
  for (double s : history.seconds) seconds += s;
  const int64_t steps_per_epoch = (data.train_rows + config.batch_size - 1) / config.batch_size;
  const int64_t steps = steps_per_epoch * static_cast<int64_t>(history.size());
  const double floats_per_step =
      steps > 0 ? static_cast<double>(world->reduced_floats()) / steps : 0.0;
  std::printf(
      "Data-parallel: %d ranks trained %.0f samples/s; the gradient all-reduce (%.2f MB a "
      "step) took %.2f s of rank 0's %.2f s of training (%.1f%%, %.2f ms a step)\n",
      world->size(), data.train_rows * static_cast<double>(history.size()) / seconds,
      floats_per_step * 4 / 1e6, world->reduce_seconds(), seconds,
      100 * world->reduce_seconds() / seconds,
      steps > 0 ? 1e3 * world->reduce_seconds() / steps : 0.0);
}

std::vector<size_t> SeededOrder(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::vector<uint64_t> key(n);
  for (size_t i = 0; i < n; ++i) key[i] = MixSeed(seed, i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return key[a] != key[b] ? key[a] < key[b] : a < b;
  });
  return order;
}

int ReportTestAccuracy(double accuracy, const MnistConfig& config) {
  std::printf(" Test Accuracy: %.4f\n", accuracy);
  if (accuracy < config.target_accuracy) {
    std::fprintf(stderr, "Test accuracy %.4f is below --target_accuracy=%.4f\n", accuracy,
                 config.target_accuracy);
    return 1;
  }
  return 0;
}

}  // namespace examples
}  // namespace gradway
