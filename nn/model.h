// Model: Keras' compile / fit / evaluate / predict / summary on top of Module, and
// Sequential, the layer stack.
//
//   nn::Sequential model(/*seed=*/42);
//   model.Add(nn::Dense(nn::DenseOptions(128).Activation(nn::kRelu).InputShape({784})));
//   model.Add(nn::Dense(nn::DenseOptions(10).Activation(nn::kSoftmax)));
//   model.Compile(nn::CategoricalCrossentropy(), nn::Adam(), {"accuracy"});
//   nn::History h = model.Fit(x, y, nn::FitOptions().Epochs(5).BatchSize(128));
//
// Data: x [N, per-sample input shape...] (images NHWC: [N, 28, 28, 1]); y [N, classes]
// (one-hot, for CategoricalCrossentropy) or [N] class indices (Sparse...).
//
// One seed fixes everything random: the initial weights and dropout seeds (drawn from a
// Generator(seed) in build order), and the batch order (epoch e's permutation is drawn from
// (FitOptions::seed or the model seed, e)). Results do not depend on the thread count.
//
// Misuse (Fit before Compile, x/y sample counts that differ, x of the wrong shape) throws
// gradway::Error; file operations return absl::Status.
#ifndef GRADWAY_NN_MODEL_H_
#define GRADWAY_NN_MODEL_H_

#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "autograd/tensor.h"
#include "nn/callback.h"
#include "nn/collective.h"
#include "nn/dataset.h"
#include "nn/functional.h"
#include "nn/losses.h"
#include "nn/metrics.h"
#include "nn/module.h"
#include "nn/optimizers.h"
#include "nn/training_state.h"

namespace gradway {
namespace nn {

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  Tensor x_val, y_val;  // validation data (optional)
  std::shared_ptr<const Dataset> validation;  // or validation data as a Dataset
  std::vector<Ref<Callback>> callbacks;
  bool shuffle = true;
  int verbose = 1;      // 0 silent, 1 progress bar, 2 one line per epoch
  std::optional<uint64_t> seed;  // for the batch order; defaults to the model seed
  int initial_epoch = 0;         // to resume: trains epochs [initial_epoch, epochs)
  // ---- Data-parallel training over several processes (nn/collective.h).
  // The ranks to train with (e.g. distributed::WorldCollective() under mpirun); null:
  // this process alone.
  std::shared_ptr<Collective> collective;
  int micro_shards = 8;         // a power of two, at most batch_size; rank counts divide it
  // x and y hold rows [train_first_row, train_first_row + x.size(0)) of a training set of
  // train_total_rows rows (-1: x is the whole set), e.g. TrainRowsOfRank's; the same for
  // the validation data (EvalRowsOfRank). Data-parallel training only.
  int64_t train_first_row = 0, train_total_rows = -1;
  int64_t val_first_row = 0, val_total_rows = -1;
  // Data-parallel: every N steps (0: only at the start and at epoch ends) all ranks compare
  // a checksum of their weights, and Fit throws Error when they differ.
  int64_t replica_check_steps = 0;

  FitOptions& Epochs(int v) { epochs = v; return *this; }
  FitOptions& BatchSize(int64_t v) { batch_size = v; return *this; }
  FitOptions& ValidationData(Tensor x, Tensor y) {
    x_val = std::move(x);
    y_val = std::move(y);
    return *this;
  }
  FitOptions& ValidationData(std::shared_ptr<const Dataset> data) {
    validation = std::move(data);
    return *this;
  }
  FitOptions& Callbacks(std::vector<Ref<Callback>> v) { callbacks = std::move(v); return *this; }
  FitOptions& Shuffle(bool v) { shuffle = v; return *this; }
  FitOptions& Verbose(int v) { verbose = v; return *this; }
  FitOptions& Seed(uint64_t v) { seed = v; return *this; }
  FitOptions& InitialEpoch(int v) { initial_epoch = v; return *this; }
  FitOptions& Distributed(std::shared_ptr<Collective> c) { collective = std::move(c); return *this; }
  FitOptions& MicroShards(int v) { micro_shards = v; return *this; }
  FitOptions& TrainRows(int64_t first, int64_t total) {
    train_first_row = first;
    train_total_rows = total;
    return *this;
  }
  FitOptions& ValidationRows(int64_t first, int64_t total) {
    val_first_row = first;
    val_total_rows = total;
    return *this;
  }
  FitOptions& CheckReplicasEvery(int64_t steps) { replica_check_steps = steps; return *this; }
};

// Packs per-sample tensors side by side: tensors [N, ...] -> [N, sum of their per-sample
// sizes], row i holding row i of each, flattened, in order. How a model with several inputs
// or outputs holds them in one batch (its Fit, Evaluate and Predict taking vectors do it
// for you). Throws Error when the tensors differ in N or are scalars.
Tensor PackRows(const std::vector<Tensor>& tensors);

class Model : public Module {
 public:
  // A model of your own (subclass Model and override Forward), or the base of Sequential.
  explicit Model(uint64_t seed = 0, std::string type_name = "Model",
                 std::string base_name = "model");
  // A functional model (nn/functional.h): the layers between `inputs` (made by nn::Input)
  // and `outputs`, built at once in the order they were called, their initial weights
  // drawn from Generator(seed). Throws Error naming the layer when an output needs an
  // input not among `inputs` ("graph disconnected"), or when a layer cannot take what it
  // was called on. With several inputs the model's per-sample input is PackRows of them
  // (Fit, Evaluate and Predict take vectors); with several outputs its Forward returns
  // PackRows of the outputs (so a model with several outputs used as a layer of another
  // gives them packed), and its loss is the (weighted) sum over the outputs. When a layer
  // cannot be built, the layers before it stay built (with weights from this seed).
  Model(const std::vector<SymbolicTensor>& inputs, const std::vector<SymbolicTensor>& outputs,
        uint64_t seed = 0);
  Model(const SymbolicTensor& input, const SymbolicTensor& output, uint64_t seed = 0)
      : Model(std::vector<SymbolicTensor>{input}, std::vector<SymbolicTensor>{output}, seed) {}
  uint64_t seed() const { return seed_; }

  // ---- Functional models.
  // The functional model's computation; throws Error for a Model that is neither
  // functional nor a subclass overriding Forward.
  Tensor Forward(const Tensor& x) override;
  // The outputs one by one: a functional model's, or {Forward(x)}. x is one batch, packed
  // as the model's input (PackRows for several inputs).
  std::vector<Tensor> ForwardOutputs(const Tensor& x);
  bool functional() const { return !graph_outputs_.empty(); }
  int num_inputs() const { return functional() ? static_cast<int>(graph_inputs_.size()) : 1; }
  int num_outputs() const {
    return functional() ? static_cast<int>(graph_outputs_.size()) : 1;
  }
  // The output names ("dense_1"), the prefixes of a multi-output model's logs.
  std::vector<std::string> OutputNames() const;
  // A functional model with one input and one output exports its layer calls in order
  // (SaveOnnx, nn/onnx_export.h); others throw Error saying so.
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;

  // Sets the loss, the optimiser and metric names ("accuracy", "mse", "mae").
  void Compile(Ref<Loss> loss, Ref<Optimizer> optimizer, std::vector<std::string> metrics = {});
  // For several outputs: one loss per output (or one for all), each weighted by
  // loss_weights (default 1): the model minimises the weighted sum. Logs hold "loss" (the
  // sum) and, per output, "<output>_loss" and "<output>_<metric>" (each metric on every
  // output, as Keras 2 does with a flat list; <output> is the output layer's name). Throws
  // Error when the counts do not match the outputs. One loss alone goes without braces:
  // Compile(nn::MeanSquaredError(), ...) ({loss} is ambiguous between the two forms).
  void Compile(std::vector<Ref<Loss>> losses, Ref<Optimizer> optimizer,
               std::vector<std::string> metrics = {}, std::vector<double> loss_weights = {});
  bool compiled() const { return loss_ != nullptr; }
  Loss* loss() const { return loss_.get(); }
  Optimizer* optimizer() const { return optimizer_.get(); }

  // ---- Steps (Keras' train_step / test_step): Fit and Evaluate are loops over these,
  // and a hand-written training loop can use them too (README: "A training loop of your
  // own"). x is one batch [batch, input_shape...], y its targets.
  //
  // One optimisation step in training mode: ComputeGradients(x, y), then ApplyGradients().
  // Returns the running logs since the last ResetMetrics(): "loss" (the mean over the
  // samples seen) and each metric. Builds the model on first use. Throws Error before
  // Compile, or for x and y that do not fit the model or each other.
  Logs TrainStep(const Tensor& x, const Tensor& y);
  Logs TrainStep(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys);
  // The first half of TrainStep: in training mode, the parameters' gradients set afresh
  // (ZeroGrad) by forward, the compiled loss (fused with a final softmax, see nn/losses.h)
  // and backward, the loss's gradient scaled by `loss_scale`; the batch added to the
  // running loss and metrics, whose logs it returns. Dropout layers draw their masks from
  // (their seed, random_step), by default train_step(). Data-parallel training calls it
  // per micro-shard, with the micro-shard's share of the batch as loss_scale.
  Logs ComputeGradients(const Tensor& x, const Tensor& y, float loss_scale = 1.0f,
                        std::optional<int64_t> random_step = std::nullopt);
  // The second half: the optimiser's update from the gradients (attaching the trainable
  // parameters first when they changed); then train_step() + 1.
  void ApplyGradients();
  // The same without training: eval mode, no graph, no update; the logs include this batch.
  Logs TestStep(const Tensor& x, const Tensor& y);
  // Starts the running loss and metrics afresh (Fit does at each epoch, Evaluate first).
  void ResetMetrics();
  // The running loss and metrics as logs ("loss", then each metric).
  Logs MetricsLogs() const;
  // The number of training steps taken, as Fit counts them (epoch * steps_per_epoch +
  // step); the dropout masks' step. set_train_step restores it, e.g. when resuming.
  int64_t train_step() const { return train_step_; }
  void set_train_step(int64_t step) { train_step_ = step; }

  // Trains on x, y (see the file comment) for options.epochs epochs in batches of
  // options.batch_size (the last batch may be smaller): a TrainStep per batch, then an
  // Evaluate of the validation data, and the callbacks. Builds the model from x's shape if
  // needed. Returns per-epoch logs. The loop is nn/fit_loop.h's.
  // With a collective (FitOptions::collective), trains data-parallel as nn/collective.h
  // describes: every rank returns the same history and holds the same weights; only rank
  // 0 shows progress and writes files from its callbacks. Throws Error for a rank count that does not divide the
  // micro-shards, rows that do not cover the rank's share, or ranks whose weights or
  // resumed state differ.
  History Fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  // Several inputs and/or outputs, one tensor each (in the order the model lists them):
  // packed with PackRows. Validation data in options is packed the same way by the caller
  // (FitOptions::ValidationData(PackRows(xs), PackRows(ys))).
  History Fit(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
              const FitOptions& options = {});
  // The same over a Dataset (nn/dataset.h), e.g. images kept as bytes and scaled to floats
  // batch by batch.
  History Fit(const Dataset& data, const FitOptions& options = {});
  // The loss and metrics on x, y: ResetMetrics, then a TestStep per batch.
  // {"loss", "accuracy", ...}.
  Logs Evaluate(const Tensor& x, const Tensor& y, int64_t batch_size = 32);
  Logs Evaluate(const Dataset& data, int64_t batch_size = 32);
  Logs Evaluate(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                int64_t batch_size = 32);
  // The model's output (probabilities for a softmax model) for x, in eval mode, batched.
  // With several outputs it returns them packed (PackRows); the vector form unpacks them.
  Tensor Predict(const Tensor& x, int64_t batch_size = 32);
  std::vector<Tensor> Predict(const std::vector<Tensor>& xs, int64_t batch_size = 32);

  // Prints a Keras-style table: layer name (type), output shape, parameter count, then the
  // total / trainable / non-trainable counts.
  void Summary(std::ostream& os = std::cout) const;

  // Weights only (the names of NamedParameters()), with the format and version metadata of
  // nn/checkpoint.h.
  absl::Status SaveWeights(const std::string& path) const;
  // Loads weights saved by SaveWeights or Save (optimiser state is ignored). The model must
  // be built. Errors name the file and the tensor, or the file's format version when it is
  // newer than this gradway reads (CheckFormatVersion); on error nothing is changed.
  absl::Status LoadWeights(const std::string& path);
  // Weights and, when compiled, the optimiser's state (see nn/checkpoint.h).
  absl::Status Save(const std::string& path) const;
  // Loads what Save wrote. Requires a compiled model to restore optimiser state; a file
  // without optimiser state loads the weights and resets nothing else. Errors as
  // LoadWeights'.
  absl::Status Load(const std::string& path);

  // Copies of all weights (NamedParameters order) and their restore.
  std::vector<Tensor> GetWeights() const;
  void SetWeights(const std::vector<Tensor>& weights);
  // True when every weight is finite.
  bool WeightsFinite() const;

  // Set by callbacks (EarlyStopping, TerminateOnNaN) to end Fit after the current batch.
  bool stop_training = false;

  // ---- For saving and resuming training (nn/training_state.h).
  // The running loss and metric totals since ResetMetrics, and their restore; Error for a
  // state that does not fit the compiled metrics.
  std::vector<double> MetricsState() const;
  void SetMetricsState(const std::vector<double>& state);
  // What Save writes, without writing it: the weights and, when attached, the optimiser's
  // slots ("optimizer/<slot>/<param>") with its name, step and learning rate in `metadata`,
  // and there also "format", "format_version" and "gradway_version" (nn/checkpoint.h).
  NamedTensors CheckpointTensors(std::map<std::string, std::string>* metadata) const;
  // Load from `tensors` and `metadata` already read from `path` (named in errors); refuses
  // a format version newer than this gradway reads. On error nothing is changed.
  absl::Status LoadCheckpoint(const std::string& path, const NamedTensors& tensors,
                              const std::map<std::string, std::string>& metadata);

  // Where Fit's progress bar and the callbacks' messages go (default std::cout).
  void SetOutput(std::ostream* os) { out_ = os; }
  std::ostream& out() const { return *out_; }

 protected:
  // One row per layer for Summary: the direct sub-modules by default.
  virtual std::vector<const Module*> SummaryLayers() const;
  // Summary's table: a header row, then one row per layer (a functional model's inputs and
  // layers, with what each is connected to).
  std::vector<std::vector<std::string>> SummaryRows() const;
  // The module whose input shape errors should name ("conv2d (Conv2D)").
  virtual const Module& InputLayer() const { return *this; }
  // Builds if needed and checks x's per-sample shape; `what` is "Fit" etc.
  void PrepareInput(const char* what, const Tensor& x);
  // The generator layers draw their initial weights from.
  const std::shared_ptr<Generator>& init_generator() const { return init_generator_; }
  // The key of `layer` in this model (its parameters' prefix): its explicit name, else its
  // base name made unique among the children ("dense", "dense_1"). Throws Error when taken.
  std::string NewLayerKey(const Module& layer);
  // A functional model builds its layers here.
  Shape DoBuild(const Shape& input_shape) override;
  // Data-parallel training of a model holding a BatchNormalization (nn/data_parallel.cc):
  // the model on several micro-shards at once, layer by layer (a functional model's calls
  // in order; Sequential overrides it with its layers in turn), each layer through
  // `run(layer, inputs)`, which runs it on every shard (inputs[s]: shard s's inputs to it)
  // and returns the shards' outputs. Returns each shard's outputs, as ForwardOutputs
  // would. A Model subclass with a Forward of its own cannot: it throws Error.
  using LayerShardsFn = std::function<std::vector<Tensor>(
      Module& layer, const std::vector<std::vector<Tensor>>& inputs)>;
  virtual std::vector<std::vector<Tensor>> ForwardShards(const std::vector<Tensor>& xs,
                                                         const LayerShardsFn& run);

 private:
  friend class DataParallelTrainer;  // its steps use the loss and metrics below
  // Attaches the trainable parameters to the optimiser unless they already are.
  void AttachOptimizer();
  // Compiled and the data's samples fit the model (building it if needed).
  void CheckData(const char* what, const Dataset& data);
  // Throws Error naming `what` unless compiled.
  void CheckCompiled(const char* what) const;
  // Compiled, x fits the model and y has as many samples; `what` names the caller.
  void CheckBatch(const char* what, const Tensor& x, const Tensor& y);
  // Adds a batch's loss and predictions to the running loss and metrics; their logs.
  Logs UpdateMetrics(const Tensor& loss, const std::vector<Tensor>& losses,
                     const std::vector<Tensor>& y_pred, const std::vector<Tensor>& y);
  // The compiled loss of outputs `y_pred` against packed targets y: the total, and each
  // output's in *losses (several outputs only). *ys receives y split per output.
  Tensor ComputeLoss(const std::vector<Tensor>& y_pred, const Tensor& y,
                     std::vector<Tensor>* losses, std::vector<Tensor>* ys);
  // ComputeGradients without its checks (TrainStep has made them).
  Logs Gradients(const Tensor& x, const Tensor& y, float loss_scale, int64_t random_step);
  // The functional graph's layer calls run in order on packed input x.
  std::vector<Tensor> RunGraph(const Tensor& x);
  void BuildGraph();
  Tensor PackedInputs(const std::vector<Tensor>& xs, const char* what) const;
  // PackRows of the targets, one per output, checked (errors name `what` and the output);
  // records their shapes, which ComputeLoss splits packed targets by.
  Tensor PackedTargets(const std::vector<Tensor>& ys, const char* what);
  uint64_t seed_;
  int64_t train_step_ = 0;
  double loss_sum_ = 0;
  int64_t loss_count_ = 0;
  std::shared_ptr<Generator> init_generator_;
  std::shared_ptr<Loss> loss_;
  std::vector<std::shared_ptr<Loss>> losses_;  // several outputs: one per output
  std::vector<double> loss_weights_;
  // Several outputs: each metric's output index and log name, and each output's running
  // loss sum.
  std::vector<int> metric_outputs_;
  std::vector<std::string> metric_names_;
  std::vector<double> output_loss_sums_;
  // A functional model's graph: its inputs, outputs and layer calls in order.
  std::vector<std::shared_ptr<internal::LayerCall>> graph_inputs_, graph_outputs_, graph_;
  std::vector<Shape> target_shapes_;  // per output, set by the vector forms of Fit etc.
  std::map<std::string, int> key_counts_;  // by base name, for NewLayerKey
  std::shared_ptr<Optimizer> optimizer_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  std::ostream* out_ = &std::cout;
};

// A stack of layers; each layer's output is the next one's input.
class Sequential : public Model {
 public:
  explicit Sequential(uint64_t seed = 0);

  // Appends a layer and returns a reference to it, typed, so its weights can be read after
  // Fit:
  //   nn::Dense& head = model.Add<nn::Dense>(10, nn::kSoftmax);  // constructed in place
  //   nn::Conv2D& conv = model.Add(nn::Conv2D(32, 3, nn::kRelu)); // a temporary, moved in
  //   model.Add(shared_dense);                                   // a std::shared_ptr, shared
  // The model keys an unnamed layer's parameters by its base name made unique in this
  // model ("dense", "dense_1": see Module::name()). If the model is built (or
  // this is the first layer and declares an InputShape) the layer is built at once.
  // Throws Error on a duplicate name or when the layer cannot take the previous layer's
  // output. The model holds the layer for its lifetime.
  template <typename T, typename... Args>
  T& Add(Args&&... args) {
    auto layer = std::make_shared<T>(std::forward<Args>(args)...);
    AddModule(layer);
    return *layer;
  }
  template <typename T, typename = std::enable_if_t<std::is_base_of_v<Module, T> &&
                                                    !std::is_lvalue_reference_v<T>>>
  T& Add(T&& layer) {
    auto held = std::make_shared<T>(std::move(layer));
    AddModule(held);
    return *held;
  }
  template <typename T, typename = std::enable_if_t<std::is_base_of_v<Module, T>>>
  T& Add(T& layer) {
    static_assert(sizeof(T) == 0,
                  "modules are not copyable: Add a temporary (model.Add(nn::Dense(10))), "
                  "std::move(layer), or a std::shared_ptr to share it");
    return layer;
  }
  template <typename T, typename = std::enable_if_t<std::is_base_of_v<Module, T>>>
  T& Add(std::shared_ptr<T> layer) {
    AddModule(layer);
    return *layer;
  }
  size_t size() const { return children().size(); }
  // Layer i (0-based).
  Module& layer(size_t i) const;
  // Layer i as its type T; throws Error naming the layer when it is not a T.
  template <typename T>
  T& layer(size_t i) const {
    T* typed = dynamic_cast<T*>(&layer(i));
    if (typed == nullptr) ThrowWrongLayerType(i, typeid(T).name());
    return *typed;
  }

  Tensor Forward(const Tensor& x) override;
  // Its layers' nodes, in order (SaveOnnx, nn/onnx_export.h).
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;

 protected:
  Shape DoBuild(const Shape& input_shape) override;
  const Module& InputLayer() const override;
  std::vector<std::vector<Tensor>> ForwardShards(const std::vector<Tensor>& xs,
                                                 const LayerShardsFn& run) override;

 private:
  void AddModule(std::shared_ptr<Module> layer);
  [[noreturn]] void ThrowWrongLayerType(size_t i, const char* type) const;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_MODEL_H_
