#include "nn/data_parallel.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <typeinfo>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/graph.h"
#include "base/shape_string.h"
#include "nn/merge.h"
#include "nn/normalization.h"

namespace gradway {
namespace nn {
namespace {

// FNV-1a over the weights' bytes, as two exact doubles (32 bits each), for comparing
// replicas across ranks.
std::vector<double> WeightsChecksum(const NamedTensors& params) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& [name, t] : params) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
    const size_t bytes = static_cast<size_t>(t.numel()) * sizeof(float);
    for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return {static_cast<double>(h >> 32), static_cast<double>(h & 0xffffffffu)};
}

int64_t CountElements(const NamedTensors& params) {
  int64_t numel = 0;
  for (const auto& p : params) numel += p.second.numel();
  return numel;
}

// The first BatchNormalization in `m` (m itself included) that normalises with the batch's
// statistics in training (a trainable one), or null.
const BatchNormalization* SyncedBatchNorm(const Module& m) {
  if (const auto* bn = dynamic_cast<const BatchNormalization*>(&m)) {
    return bn->trainable() ? bn : nullptr;
  }
  for (const auto& child : m.children()) {
    if (const BatchNormalization* bn = SyncedBatchNorm(*child.second)) return bn;
  }
  return nullptr;
}

// Throws Error unless every module on the way down to a trainable BatchNormalization is a
// Sequential or a functional model (exactly: a subclass may run its layers in a Forward
// of its own), whose layers can be run one at a time.
void CheckLayerByLayer(const Module& m) {
  const BatchNormalization* bn = SyncedBatchNorm(m);
  if (bn == nullptr || bn == &m) return;
  const auto* model = dynamic_cast<const Model*>(&m);
  const bool layer_by_layer = typeid(m) == typeid(Sequential) ||
                              (typeid(m) == typeid(Model) && model->functional());
  GRADWAY_CHECK(layer_by_layer, "Fit: data-parallel training normalises ", bn->Description(),
                " over the whole batch, which needs the model's layers run one at a time on "
                "every micro-shard; ", m.Description(), " is not a Sequential or a "
                "functional model, whose layers can be run so (a subclass may run them in a "
                "Forward of its own): make it one, freeze the layer with SetTrainable(false), "
                "or train in one process");
  for (const auto& child : m.children()) CheckLayerByLayer(*child.second);
}

// Training mode for a step, the module's own restored at the end.
class TrainingMode {
 public:
  explicit TrainingMode(Module& m) : m_(m), was_(m.is_training()) { m.Train(true); }
  ~TrainingMode() { m_.Train(was_); }

 private:
  Module& m_;
  bool was_;
};

}  // namespace

void DataParallelTrainer::Accumulate(std::vector<float> grad) {
  tree_.emplace_back(0, std::move(grad));
  while (tree_.size() >= 2 && tree_[tree_.size() - 2].first == tree_.back().first) {
    std::vector<float> b = std::move(tree_.back().second);
    tree_.pop_back();
    std::vector<float>& a = tree_.back().second;
    if (a.empty()) {
      a = std::move(b);
    } else if (!b.empty()) {
      for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
      spare_.push_back(std::move(b));
    }
    ++tree_.back().first;
  }
}

std::vector<float> DataParallelTrainer::Gradients(
    const NamedTensors& params, int64_t numel,
    const std::function<Tensor(const Tensor&)>& grad_of) {
  std::vector<float> grad;
  if (!spare_.empty()) {
    grad = std::move(spare_.back());
    spare_.pop_back();
  }
  grad.resize(numel);
  int64_t at = 0;
  for (const auto& p : params) {
    const Tensor g = grad_of(p.second);
    if (g.defined()) {
      std::memcpy(grad.data() + at, g.data(), g.numel() * sizeof(float));
    } else {
      std::fill(grad.begin() + at, grad.begin() + at + p.second.numel(), 0.f);
    }
    at += p.second.numel();
  }
  return grad;
}

Logs DataParallelTrainer::TrainStep(const Dataset& data, const ShardedEpochIterator& batches,
                                    int64_t step) {
  const std::vector<double> running = model_.MetricsState();
  std::vector<double> shard_metrics;  // per local micro-shard: its loss sum, count, metrics
  tree_.clear();
  if (SyncedBatchNorm(model_) != nullptr) {
    CheckLayerByLayer(model_);
    LayerByLayer(data, batches, step, &shard_metrics);
    const NamedTensors params = model_.NamedTrainableParameters();
    return FinishStep(params, CountElements(params), running, shard_metrics);
  }
  const int64_t total = batches.BatchSize(step);  // the global batch's samples
  // Taken after the first forward pass, which may create parameters.
  NamedTensors params;
  int64_t numel = 0;
  auto take_params = [&] {
    if (!params.empty()) return;
    params = model_.NamedTrainableParameters();
    numel = CountElements(params);
  };
  for (int j = batches.first_shard(); j < batches.end_shard(); ++j) {
    const int64_t count = batches.Count(j, step);
    std::vector<float> grad;  // stays empty (all zeros) for an empty micro-shard
    model_.ResetMetrics();
    if (count > 0) {
      const std::vector<int64_t> rows = batches.Rows(j, step);
      data.Gather(rows.data(), count, &x_, &y_);
      // The batch's loss is the mean over all `total` samples.
      model_.ComputeGradients(x_, y_, static_cast<float>(count) / static_cast<float>(total),
                              model_.train_step() * batches.micro_shards() + j);
      take_params();
      grad = Gradients(params, numel, [](const Tensor& p) { return p.grad(); });
    }
    std::vector<double> m = model_.MetricsState();
    shard_metrics.insert(shard_metrics.end(), m.begin(), m.end());
    Accumulate(std::move(grad));
  }
  take_params();  // this rank had no sample this step: it still takes part, with zeros
  return FinishStep(params, numel, running, shard_metrics);
}

Logs DataParallelTrainer::FinishStep(const NamedTensors& params, int64_t numel,
                                     const std::vector<double>& running,
                                     const std::vector<double>& shard_metrics) {
  std::vector<float>& sum = tree_.back().second;
  if (sum.empty()) sum.assign(numel, 0.f);
  comm_.AllReduceTreeSum(sum.data(), numel);
  int64_t at = 0;
  for (const auto& p : params) {
    Tensor g = p.second.grad();
    if (!g.defined()) {  // this rank had no sample: make the gradient tensor
      p.second.Backward(Tensor::Zeros(p.second.shape()));
      g = p.second.grad();
    }
    std::memcpy(g.data(), sum.data() + at, g.numel() * sizeof(float));
    at += p.second.numel();
  }
  spare_.push_back(std::move(sum));
  tree_.clear();
  model_.ApplyGradients();
  // Every micro-shard's loss and metrics, in micro-shard order.
  const size_t width = running.size();
  std::vector<double> all(shard_metrics.size() * comm_.size());
  comm_.AllGather(shard_metrics.data(), static_cast<int64_t>(shard_metrics.size()), all.data());
  std::vector<double> combined = running;
  for (size_t at_m = 0; at_m < all.size(); at_m += width) {
    for (size_t k = 0; k < width; ++k) combined[k] += all[at_m + k];
  }
  model_.SetMetricsState(combined);
  return model_.MetricsLogs();
}

DataParallelTrainer::LocalShards DataParallelTrainer::TakeShards(
    const Dataset& data, const ShardedEpochIterator& batches, int64_t step) {
  LocalShards local;
  const int64_t total = batches.BatchSize(step);
  for (int j = batches.first_shard(); j < batches.end_shard(); ++j) {
    const int64_t count = batches.Count(j, step);
    if (count == 0) continue;
    const std::vector<int64_t> rows = batches.Rows(j, step);
    Tensor x, y;
    data.Gather(rows.data(), count, &x, &y);
    local.tags.push_back(j);
    local.xs.push_back(x);
    local.ys.push_back(y);
    local.scales.push_back(static_cast<float>(count) / static_cast<float>(total));
  }
  // A rank without a sample in this step still takes part in the batch norm layers'
  // exchanges: it runs its data's first row as a placeholder, left out of the statistics
  // (its exchanged values are zeros), the loss (scale 0), the metrics and the gradients.
  local.placeholder = local.tags.empty();
  if (local.placeholder) {
    const int64_t row = 0;
    Tensor x, y;
    data.Gather(&row, 1, &x, &y);
    local.tags.push_back(batches.first_shard());
    local.xs.push_back(x);
    local.ys.push_back(y);
    local.scales.push_back(0.f);
  }
  for (size_t s = 0; s < local.xs.size(); ++s) {
    model_.CheckBatch("ComputeGradients", local.xs[s], local.ys[s]);
  }
  return local;
}

std::vector<Tensor> DataParallelTrainer::RunLayer(Module& layer,
                                                  const std::vector<std::vector<Tensor>>& inputs,
                                                  const LocalShards& local, int64_t first_step,
                                                  const ShardGather& gather,
                                                  const Model::LayerShardsFn& run) {
  std::vector<Tensor> firsts, ys;
  for (const std::vector<Tensor>& in : inputs) firsts.push_back(in.empty() ? Tensor() : in[0]);
  if (auto* bn = dynamic_cast<BatchNormalization*>(&layer)) {
    return bn->ForwardShards(firsts, local.tags, gather);
  }
  if (SyncedBatchNorm(layer) != nullptr) {  // a nested model (CheckLayerByLayer)
    for (const std::vector<Tensor>& out : dynamic_cast<Model&>(layer).ForwardShards(firsts, run)) {
      ys.push_back(out.size() == 1 ? out[0] : PackRows(out));
    }
    return ys;
  }
  auto* merge = dynamic_cast<MergeLayer*>(&layer);
  for (size_t s = 0; s < inputs.size(); ++s) {
    ShardTagScope tag(local.tags[s]);
    RandomStepScope random(first_step + local.tags[s]);
    ys.push_back(merge != nullptr ? (*merge)(inputs[s]) : layer(inputs[s][0]));
  }
  return ys;
}

ShardGather DataParallelTrainer::Exchange(const LocalShards& local, int first_shard,
                                          int shards_per_rank) {
  return [this, &local, first_shard, shards_per_rank](const std::vector<double>& values,
                                                      int64_t width) {
    // This rank's part: `width` values per micro-shard it trains, zeros for those without
    // samples (and for a placeholder).
    std::vector<double> mine(static_cast<size_t>(shards_per_rank * width), 0.0);
    for (size_t i = 0; !local.placeholder && i < local.tags.size(); ++i) {
      std::copy(values.begin() + i * width, values.begin() + (i + 1) * width,
                mine.begin() + (local.tags[i] - first_shard) * width);
    }
    std::vector<double> all(mine.size() * comm_.size());
    comm_.AllGather(mine.data(), static_cast<int64_t>(mine.size()), all.data());
    return all;
  };
}

void DataParallelTrainer::LayerByLayer(const Dataset& data, const ShardedEpochIterator& batches,
                                       int64_t step, std::vector<double>* shard_metrics) {
  const LocalShards local = TakeShards(data, batches, step);
  const size_t n = local.tags.size();
  TrainingMode mode(model_);
  model_.ZeroGrad();
  ShardGradientSink sink;
  const ShardGather gather = Exchange(local, batches.first_shard(),
                                      batches.end_shard() - batches.first_shard());
  const int64_t first_step = model_.train_step() * batches.micro_shards();
  const Model::LayerShardsFn run = [&](Module& layer,
                                       const std::vector<std::vector<Tensor>>& inputs) {
    return RunLayer(layer, inputs, local, first_step, gather, run);
  };
  const std::vector<std::vector<Tensor>> outputs = model_.ForwardShards(local.xs, run);
  std::vector<Tensor> loss(n);
  std::vector<std::vector<Tensor>> losses(n), targets(n);
  for (size_t s = 0; s < n; ++s) {
    ShardTagScope tag(local.tags[s]);
    RandomStepScope random(first_step + local.tags[s]);
    loss[s] = model_.ComputeLoss(outputs[s], local.ys[s], &losses[s], &targets[s]);
    GRADWAY_CHECK(loss[s].numel() == 1, model_.Description(), ": the loss gave ",
                  ShapeToString(loss[s].shape()), ", not one value");
  }
  // One backward pass for all of them, each loss scaled by its share of the batch.
  Tensor stacked = Stack(loss, 0), scales = Tensor::Empty(stacked.shape());
  std::copy(local.scales.begin(), local.scales.end(), scales.data());
  stacked.Backward(scales);
  const NamedTensors params = model_.NamedTrainableParameters();
  const int64_t numel = CountElements(params);
  for (const auto& [name, p] : params) {
    GRADWAY_CHECK(!p.grad().defined(), "Fit: ", name, " got a gradient outside any micro-shard");
  }
  size_t s = 0;
  for (int j = batches.first_shard(); j < batches.end_shard(); ++j) {
    model_.ResetMetrics();
    std::vector<float> grad;  // stays empty (all zeros) for a micro-shard without samples
    if (!local.placeholder && s < n && local.tags[s] == j) {
      model_.UpdateMetrics(loss[s], losses[s], outputs[s], targets[s]);
      grad = Gradients(params, numel, [&](const Tensor& p) { return sink.grad(p, j); });
      ++s;
    }
    std::vector<double> m = model_.MetricsState();
    shard_metrics->insert(shard_metrics->end(), m.begin(), m.end());
    Accumulate(std::move(grad));
  }
}

Logs DataParallelTrainer::Evaluate(const Dataset& data, int64_t batch_size, int64_t first_row,
                                   int64_t total_rows) {
  const int64_t n = total_rows < 0 ? data.size() : total_rows;
  const auto [mine_first, mine_end] =
      EvalRowsOfRank(n, batch_size, comm_.rank(), comm_.size());
  GRADWAY_CHECK(first_row >= 0 && first_row <= mine_first &&
                    first_row + data.size() >= mine_end,
                "Fit: rank ", comm_.rank(), " of ", comm_.size(),
                " evaluates validation rows [", mine_first, ", ", mine_end, ") of ", n,
                " but the validation data holds rows [", first_row, ", ",
                first_row + data.size(), ")");
  const int64_t batches = (n + batch_size - 1) / batch_size;
  model_.ResetMetrics();
  const size_t width = model_.MetricsState().size();
  // Row b: batch b's loss sum, count and metrics, filled in by the rank that owns it.
  std::vector<double> mine(batches * width, 0.0);
  for (int64_t begin = mine_first; begin < mine_end; begin += batch_size) {
    const int64_t count = std::min(batch_size, mine_end - begin);
    model_.ResetMetrics();
    Tensor xb, yb;
    data.Slice(begin - first_row, count, &xb, &yb);
    model_.TestStep(xb, yb);
    std::vector<double> m = model_.MetricsState();
    std::copy(m.begin(), m.end(), mine.begin() + (begin / batch_size) * width);
  }
  std::vector<double> all(mine.size() * comm_.size());
  comm_.AllGather(mine.data(), static_cast<int64_t>(mine.size()), all.data());
  std::vector<double> combined(width, 0.0);
  for (int64_t b = 0; b < batches; ++b) {
    int owner = 0;
    while (EvalRowsOfRank(n, batch_size, owner, comm_.size()).second <= b * batch_size) {
      ++owner;
    }
    for (size_t k = 0; k < width; ++k) combined[k] += all[(owner * batches + b) * width + k];
  }
  model_.SetMetricsState(combined);
  return model_.MetricsLogs();
}

void DataParallelTrainer::CheckReplicas(const char* when, std::vector<double> values) {
  std::vector<double> sum = WeightsChecksum(model_.NamedParameters());
  values.insert(values.end(), sum.begin(), sum.end());
  std::vector<double> all(values.size() * comm_.size());
  comm_.AllGather(values.data(), static_cast<int64_t>(values.size()), all.data());
  for (int r = 1; r < comm_.size(); ++r) {
    if (!std::equal(values.begin(), values.end(), all.begin() + r * values.size())) {
      Fail("Fit: rank ", r, " of ", comm_.size(), " differs from rank 0 ", when,
           ": its weights or training state are not the same (same seed, data and "
           "backup folder on every rank?)");
    }
  }
}

}  // namespace nn
}  // namespace gradway

