// The next model after the chapter: a small ResNet on Fashion-MNIST, step by step. A
// functional model (nn/functional.h) of Conv-BatchNorm-ReLU blocks with skip connections,
// global average pooling, augmentation (flips, pad-and-crop) and Adam on a cosine schedule
// with a warm-up epoch; the chapter's callbacks (best checkpoint, early stopping,
// history.csv, crash-safe backups) and curves.
//
// Batch normalisation keeps Keras' momentum 0.99: its moving statistics, which validation
// and Predict use, need a few hundred steps to forget their initial values, so a run of a
// few thousand images validates poorly where the full set (469 steps an epoch) does not.
//
//   bazel run //examples:fashion_resnet -- --help
#include <algorithm>
#include <cstdio>
#include <memory>
#include <utility>

#include "absl/flags/flag.h"
#include "examples/cli.h"
#include "examples/mnist_common.h"
#include "examples/mnist_models.h"
#include "nn/nn.h"

ABSL_FLAG(int64_t, width, 16, "Filters of the first residual stage (x2, x4 in the next two).");
ABSL_FLAG(int, blocks, 2, "Residual blocks a stage.");
ABSL_FLAG(double, learning_rate, 2e-3, "Adam's peak learning rate, after the warm-up epoch.");

using namespace gradway;  // NOLINT: an example

int main(int argc, char** argv) {
  examples::MnistFlagDefaults defaults;
  defaults.dataset = "fashion";
  defaults.batch_size = 128;
  const examples::MnistConfig config = examples::ParseMnistFlags(
      argc, argv, "Trains a small ResNet on Fashion-MNIST (functional model, batch norm, "
      "augmentation, cosine schedule).", defaults);
  examples::ResNetOptions size;
  size.width = absl::GetFlag(FLAGS_width);
  size.blocks = absl::GetFlag(FLAGS_blocks);
  if (size.width < 1 || size.blocks < 1) examples::Die("--width and --blocks must be >= 1", 2);

  // 1. The data: 28x28 grey images of clothes, scaled to [0, 1] batch by batch; labels
  //    one-hot.
  examples::MnistData data =
      examples::LoadMnist(config, examples::MnistInputShape(examples::MnistModelKind::kResNet));
  examples::ShowTrainingImage(data, 0, config);

  // 2. The model (examples/mnist_models.cc): augmentation, a Conv-BN-ReLU stem, three
  //    residual stages, global average pooling, a softmax.
  std::unique_ptr<nn::Model> model = examples::MakeFashionResNet(config.seed, size);
  model->Summary();

  // 3. Training: Adam whose rate rises linearly over the first epoch to --learning_rate,
  //    then follows a cosine down to 0 at the last step (Keras' CosineDecay with warm-up).
  const int64_t steps_per_epoch = (data.train_rows + config.batch_size - 1) / config.batch_size;
  const int64_t total_steps = steps_per_epoch * config.epochs;
  const int64_t warmup = std::min(steps_per_epoch, total_steps - 1);
  nn::CosineDecay schedule(0.0, total_steps - warmup, /*alpha=*/0.0,
                           absl::GetFlag(FLAGS_learning_rate), warmup);
  model->Compile(nn::CategoricalCrossentropy(),
                 nn::Adam(nn::AdamOptions().LearningRate(std::move(schedule))), {"accuracy"});
  nn::History history = model->Fit(*data.train,
                                   nn::FitOptions()
                                       .Epochs(config.epochs)
                                       .BatchSize(config.batch_size)
                                       .Distributed(config.world)
                                       .TrainRows(data.train_first_row, data.train_rows)
                                       .ValidationData(data.test)
                                       .Callbacks(examples::ChapterCallbacks(config)));

  // 4. Test accuracy, the trained model (with --final_model) and the curves.
  nn::Logs test = model->Evaluate(*data.test, config.batch_size);
  examples::ReportDataParallel(history, data, config);
  examples::SaveFinalModel(*model, config);
  examples::WriteLossPlot(history, config, "Fashion-MNIST ResNet: loss per epoch");
  examples::WriteAccuracyPlot(history, config, "Fashion-MNIST ResNet: accuracy per epoch");
  return examples::ReportTestAccuracy(test.Get("accuracy"), config);
}
