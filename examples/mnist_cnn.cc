// The seed's MNIST CNN, step by step: look at the data, build the model, train it with Adam
// (batch 200, up to 30 epochs, keeping the best checkpoint and stopping early), test it,
// and plot the loss curves.
//
//   bazel run //examples:mnist_cnn -- --help
#include <cstdio>

#include "examples/mnist_common.h"
#include "examples/mnist_models.h"
#include "nn/nn.h"

using namespace gradway;  // NOLINT: an example

constexpr examples::MnistModelKind kModel = examples::MnistModelKind::kCnn;

int main(int argc, char** argv) {
  const examples::MnistConfig config = examples::ParseMnistFlags(
      argc, argv, "Trains the MNIST CNN (conv32-conv64-pool-dropout-dense128-dropout-dense10).");

  // 1. The data: 28x28 grey images with one channel (height, width, channels, as Keras),
  //    kept as bytes and scaled to [0, 1] batch by batch; labels one-hot.
  examples::MnistData data = examples::LoadMnist(config, examples::MnistInputShape(kModel));
  examples::ShowTrainingImage(data, 0, config);

  // 2. The model, as in the chapter (examples/mnist_models.cc).
  nn::Sequential model(config.seed);
  examples::AddMnistLayers(kModel, model);
  model.Summary();

  // 3. Training: categorical cross-entropy, Adam, validation on the test set, and the
  //    chapter's callbacks: the best checkpoint by val_loss, early stopping, history.csv.
  model.Compile(nn::CategoricalCrossentropy(), nn::Adam(), {"accuracy"});
  nn::History history = model.Fit(*data.train,
                                  nn::FitOptions()
                                      .Epochs(config.epochs)
                                      .BatchSize(config.batch_size)
                                      .Distributed(config.world)
                                      .TrainRows(data.train_first_row, data.train_rows)
                                      .ValidationData(data.test)
                                      .Callbacks(examples::ChapterCallbacks(config)));

  // 4. Test accuracy (of the best weights when early stopping ended the run), the trained
  //    model (with --final_model) and the loss curves.
  nn::Logs test = model.Evaluate(*data.test, config.batch_size);
  examples::ReportDataParallel(history, data, config);
  examples::SaveFinalModel(model, config);
  examples::WriteLossPlot(history, config, "MNIST CNN: loss per epoch");
  return examples::ReportTestAccuracy(test.Get("accuracy"), config);
}
