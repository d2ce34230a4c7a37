#include "nn/data_parallel.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "autograd/error.h"

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

Logs DataParallelTrainer::TrainStep(const Dataset& data, const ShardedEpochIterator& batches,
                                    int64_t step) {
  const int64_t total = batches.BatchSize(step);  // the global batch's samples
  const std::vector<double> running = model_.MetricsState();
  std::vector<double> shard_metrics;  // per local micro-shard: its loss sum, count, metrics
  // Taken after the first forward pass, which may create parameters.
  NamedTensors params;
  int64_t numel = 0;
  auto take_params = [&] {
    if (!params.empty()) return;
    params = model_.NamedTrainableParameters();
    numel = CountElements(params);
  };
  tree_.clear();
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
      if (!spare_.empty()) {
        grad = std::move(spare_.back());
        spare_.pop_back();
      }
      grad.resize(numel);
      int64_t at = 0;
      for (const auto& p : params) {
        const Tensor g = p.second.grad();
        if (g.defined()) {
          std::memcpy(grad.data() + at, g.data(), g.numel() * sizeof(float));
        } else {
          std::fill(grad.begin() + at, grad.begin() + at + p.second.numel(), 0.f);
        }
        at += p.second.numel();
      }
    }
    std::vector<double> m = model_.MetricsState();
    shard_metrics.insert(shard_metrics.end(), m.begin(), m.end());
    Accumulate(std::move(grad));
  }
  take_params();  // this rank had no sample this step: it still takes part, with zeros
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

