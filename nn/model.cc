#include "nn/model.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/graph.h"
#include "autograd/nn_functions.h"
#include "base/shape_string.h"
#include "base/splitmix.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/progress.h"

namespace gradway {
namespace nn {
namespace {

constexpr const char* kOptimizerPrefix = "optimizer/";

std::string WithCommas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// 0..n-1 shuffled by Fisher-Yates with Generator(seed).
std::vector<int64_t> ShuffledOrder(int64_t n, uint64_t seed) {
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  Generator gen(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(idx[i], idx[gen.UniformInt(static_cast<uint64_t>(i + 1))]);
  }
  return idx;
}

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

// An ostream that discards everything (the output of ranks other than 0).
class NullStream : public std::ostream {
 public:
  NullStream() : std::ostream(nullptr) {}
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Restores a module's training mode on scope exit.
class ModeGuard {
 public:
  ModeGuard(Module* m, bool training) : m_(m), was_(m->is_training()) { m->Train(training); }
  ~ModeGuard() { m_->Train(was_); }

 private:
  Module* m_;
  bool was_;
};

}  // namespace

void History::Append(int epoch_number, const Logs& logs) {
  epoch.push_back(epoch_number);
  for (const auto& [k, v] : logs.items()) history[k].push_back(v);
  auto get = [&logs](const char* k) { return logs.Find(k).value_or(std::nan("")); };
  loss.push_back(get("loss"));
  accuracy.push_back(logs.Find("accuracy").value_or(get("acc")));
  val_loss.push_back(get("val_loss"));
  val_accuracy.push_back(logs.Find("val_accuracy").value_or(get("val_acc")));
  seconds.push_back(get("seconds"));
}

Model::Model(uint64_t seed, std::string type_name, std::string base_name)
    : Module(std::move(type_name), std::move(base_name)),
      seed_(seed),
      init_generator_(std::make_shared<Generator>(seed)) {
  SetGenerator(init_generator_);
}

void Model::Compile(Ref<Loss> loss, Ref<Optimizer> optimizer,
                    std::vector<std::string> metrics) {
  GRADWAY_CHECK(loss.get() != nullptr && optimizer.get() != nullptr, Description(),
                ": Compile needs a loss and an optimizer");
  std::vector<std::unique_ptr<Metric>> made;
  for (const std::string& name : metrics) {
    for (const auto& m : made) {
      GRADWAY_CHECK(m->name() != name, Description(), ": metric '", name, "' given twice");
    }
    made.push_back(MakeMetric(name));
  }
  loss_ = loss.get();
  optimizer_ = optimizer.get();
  metrics_ = std::move(made);
}

void Model::PrepareInput(const char* what, const Tensor& x) {
  GRADWAY_CHECK(x.defined(), what, ": x is undefined");
  GRADWAY_CHECK(x.rank() >= 2, what, ": x must be [samples, features...], got ",
                ShapeTuple(x.shape()));
  Shape sample(x.shape().begin() + 1, x.shape().end());
  if (!built()) Build(sample);
  if (sample != input_shape()) {
    Fail(what, ": ", InputLayer().Description(), " expects input ",
         BatchShapeString(input_shape()), ", got x of shape ", ShapeTuple(x.shape()));
  }
}

void Model::AttachOptimizer() {
  NamedTensors params = NamedTrainableParameters();
  const NamedTensors& attached = optimizer_->parameters();
  bool same = attached.size() == params.size();
  for (size_t i = 0; same && i < params.size(); ++i) {
    same = attached[i].first == params[i].first &&
           attached[i].second.impl() == params[i].second.impl();
  }
  if (!same) optimizer_->Attach(params);
}

void Model::CheckData(const char* what, const Dataset& data) {
  GRADWAY_CHECK(compiled(), what, ": ", Description(),
                " is not compiled; call Compile(loss, optimizer) first");
  const Shape sample = data.x_shape();
  if (!built()) Build(sample);
  if (sample != input_shape()) {
    Fail(what, ": ", InputLayer().Description(), " expects input ",
         BatchShapeString(input_shape()), ", got ", data.Description());
  }
}

void Model::CheckBatch(const char* what, const Tensor& x, const Tensor& y) {
  GRADWAY_CHECK(compiled(), what, ": ", Description(),
                " is not compiled; call Compile(loss, optimizer) first");
  PrepareInput(what, x);
  GRADWAY_CHECK(y.defined() && y.rank() >= 1, what, ": y is undefined or a scalar");
  GRADWAY_CHECK(x.size(0) == y.size(0), what, ": x has ", x.size(0), " samples but y has ",
                y.size(0), " (x ", ShapeTuple(x.shape()), ", y ", ShapeTuple(y.shape()), ")");
}

void Model::ResetMetrics() {
  loss_sum_ = 0;
  loss_count_ = 0;
  for (auto& m : metrics_) m->Reset();
}

Logs Model::UpdateMetrics(const Tensor& loss, const Tensor& y_pred, const Tensor& y) {
  const int64_t count = y_pred.size(0);
  loss_sum_ += static_cast<double>(loss.item()) * count;
  loss_count_ += count;
  Tensor pred = y_pred.Detach();
  for (auto& m : metrics_) m->Update(pred, y);
  return MetricsLogs();
}

Logs Model::TrainStep(const Tensor& x, const Tensor& y) {
  CheckBatch("TrainStep", x, y);
  ModeGuard mode(this, true);
  RandomStepScope random_step(train_step_++);
  ZeroGrad();
  Tensor y_pred = (*this)(x);
  Tensor loss = (*loss_)(y_pred, y);
  loss.Backward();
  AttachOptimizer();  // after the forward pass: it may have created parameters
  optimizer_->Step();
  return UpdateMetrics(loss, y_pred, y);
}

Logs Model::TestStep(const Tensor& x, const Tensor& y) {
  CheckBatch("TestStep", x, y);
  NoGradGuard no_grad;
  ModeGuard mode(this, false);
  Tensor y_pred = (*this)(x);
  return UpdateMetrics((*loss_)(y_pred, y), y_pred, y);
}

std::vector<double> Model::MetricsState() const {
  std::vector<double> state = {loss_sum_, static_cast<double>(loss_count_)};
  for (const auto& m : metrics_) {
    for (double v : m->State()) state.push_back(v);
  }
  return state;
}

void Model::SetMetricsState(const std::vector<double>& state) {
  size_t expected = 2;
  for (const auto& m : metrics_) expected += m->State().size();
  GRADWAY_CHECK(state.size() == expected, Description(), ": a metrics state of ",
                state.size(), " values for the loss and ", metrics_.size(),
                " metrics, which need ", expected);
  GRADWAY_CHECK(state[1] >= 0 && state[1] < 9.0e15 && state[1] == std::floor(state[1]),
                Description(), ": saved loss count ", state[1], " is not a count");
  size_t at = 2;
  for (auto& m : metrics_) {
    const size_t k = m->State().size();
    m->SetState(std::vector<double>(state.begin() + at, state.begin() + at + k));
    at += k;
  }
  loss_sum_ = state[0];
  loss_count_ = static_cast<int64_t>(state[1]);
}

Logs Model::MetricsLogs() const {
  Logs logs;
  logs.Set("loss", loss_count_ > 0 ? loss_sum_ / loss_count_ : 0.0);
  for (auto& m : metrics_) logs.Set(m->name(), m->Result());
  return logs;
}

// Data-parallel training's split of the data (nn/collective.h).
struct Model::ShardPlan {
  Collective* comm = nullptr;
  int shards = 0;                   // M
  int64_t first_row = 0;            // the training-set row x's row 0 holds
  std::vector<int64_t> part_begin;  // part j: rows [part_begin[j], part_begin[j + 1])
  std::vector<int64_t> shard_size;  // samples micro-shard j takes from part j per batch
  int64_t steps = 0;
  std::vector<std::vector<int64_t>> order;  // per part: this epoch's order of its rows
  std::vector<Tensor> x_buf, y_buf;         // per local micro-shard, reused
  std::vector<std::vector<float>> spare;    // gradient buffers, reused from step to step
  int first_shard() const { return comm->rank() * (shards / comm->size()); }
  int end_shard() const { return (comm->rank() + 1) * (shards / comm->size()); }
  // Micro-shard j's sample count in batch `step`.
  int64_t Count(int j, int64_t step) const {
    const int64_t n = part_begin[j + 1] - part_begin[j];
    return std::clamp<int64_t>(n - step * shard_size[j], 0, shard_size[j]);
  }
};

History Model::Fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  CheckBatch("Fit", x, y);
  return Fit(TensorDataset(x, y), options);
}

History Model::Fit(const Dataset& x, const FitOptions& options) {
  CheckData("Fit", x);
  GRADWAY_CHECK(x.size() > 0, "Fit: no training samples");
  GRADWAY_CHECK(options.batch_size > 0, "Fit: batch_size must be positive, got ",
                options.batch_size);
  GRADWAY_CHECK(options.epochs >= 0 && options.initial_epoch >= 0,
                "Fit: epochs and initial_epoch must be >= 0");
  std::shared_ptr<const Dataset> val = options.validation;
  if (val == nullptr && options.x_val.defined()) {
    GRADWAY_CHECK(options.y_val.defined(), "Fit: validation data has x but no y");
    CheckBatch("Fit (validation data)", options.x_val, options.y_val);
    val = std::make_shared<TensorDataset>(options.x_val, options.y_val);
  }
  const bool validate = val != nullptr;
  if (validate) CheckData("Fit (validation data)", *val);

  const int64_t bs = options.batch_size;
  const uint64_t shuffle_seed = options.seed.value_or(seed_);
  std::shared_ptr<Collective> comm;
  if (!options.single_process) {
    comm = options.collective ? options.collective : DefaultCollective();
  }
  ShardPlan plan;
  int64_t n = x.size();
  int64_t steps = (n + bs - 1) / bs;
  if (comm) {
    const int m = options.micro_shards;
    GRADWAY_CHECK(m >= 1 && (m & (m - 1)) == 0 && m <= bs,
                  "Fit: micro_shards must be a power of two of at most the batch size ", bs,
                  ", got ", m);
    n = options.train_total_rows < 0 ? x.size() : options.train_total_rows;
    const auto [need_first, need_end] = TrainRowsOfRank(n, m, comm->rank(), comm->size());
    const int64_t first = options.train_first_row;
    GRADWAY_CHECK(first >= 0 && first <= need_first && first + x.size() >= need_end,
                  "Fit: rank ", comm->rank(), " of ", comm->size(),
                  " needs training rows [", need_first, ", ", need_end, ") of ", n,
                  " but x holds rows [", first, ", ", first + x.size(), ")");
    plan.comm = comm.get();
    plan.shards = m;
    plan.first_row = first;
    for (int j = 0; j <= m; ++j) plan.part_begin.push_back(j * n / m);
    steps = 0;  // enough batches for the largest part
    for (int j = 0; j < m; ++j) {
      plan.shard_size.push_back((j + 1) * bs / m - j * bs / m);
      const int64_t part = plan.part_begin[j + 1] - plan.part_begin[j];
      steps = std::max(steps, (part + plan.shard_size[j] - 1) / plan.shard_size[j]);
    }
    plan.order.resize(m);
    plan.x_buf.resize(m);
    plan.y_buf.resize(m);
  } else {
    auto whole = [](int64_t first, int64_t total, const Dataset& d) {
      return first == 0 && (total < 0 || total == d.size());
    };
    GRADWAY_CHECK(whole(options.train_first_row, options.train_total_rows, x) &&
                      (!validate || whole(options.val_first_row, options.val_total_rows, *val)),
                  "Fit: one process trains on the whole data set, but TrainRows / "
                  "ValidationRows say x or x_val holds only part of it");
  }
  const int rank = comm ? comm->rank() : 0;
  NullStream null_out;
  std::ostream* const saved_out = out_;
  if (rank != 0) out_ = &null_out;  // only rank 0 prints
  struct RestoreOut {
    std::ostream** p;
    std::ostream* was;
    ~RestoreOut() { *p = was; }
  } restore_out{&out_, saved_out};

  // The progress bar first, then the given callbacks, those that run last (BackupAndRestore)
  // at the end.
  std::vector<std::shared_ptr<Callback>> callbacks;
  if (options.verbose > 0 && rank == 0) {
    callbacks.push_back(std::make_shared<ProgbarLogger>(out(), IsTerminal(out())));
  }
  for (const auto& c : options.callbacks) callbacks.push_back(c.get());
  std::stable_partition(callbacks.begin(), callbacks.end(),
                        [](const std::shared_ptr<Callback>& c) { return !c->RunsLast(); });
  TrainParams params;
  params.epochs = options.epochs;
  params.initial_epoch = options.initial_epoch;
  params.steps = steps;
  params.samples = n;
  params.batch_size = bs;
  params.verbose = options.verbose;
  params.seed = shuffle_seed;
  params.rank = rank;
  params.ranks = comm ? comm->size() : 1;
  params.micro_shards = comm ? plan.shards : 0;
  for (auto& c : callbacks) {
    c->SetModel(this);
    c->SetParams(params);
  }

  FitState state;
  state.epoch = options.initial_epoch;
  for (const auto& c : options.callbacks) state.callbacks.push_back(c.get().get());
  fit_state_ = &state;
  struct ClearState {
    FitState** p;
    ~ClearState() { *p = nullptr; }
  } clear_state{&fit_state_};
  ModeGuard mode(this, true);
  stop_training = false;
  Logs empty;
  // A callback may resume a run here (BackupAndRestore): state, weights, optimiser,
  // metrics and stop_training then continue where the run was saved.
  for (auto& c : callbacks) c->OnTrainBegin(empty);
  if (comm) {
    CheckReplicas(*comm, "at the start of Fit (or after resuming from a backup)",
                  {static_cast<double>(state.epoch), static_cast<double>(state.batch),
                   stop_training ? 1.0 : 0.0});
  }
  Tensor xb_full, yb_full, xb_tail, yb_tail;
  while (!stop_training && state.epoch < options.epochs) {
    const int epoch = state.epoch;
    if (state.batch == 0) state.epoch_learning_rate = optimizer_->learning_rate();
    optimizer_->set_learning_rate(state.epoch_learning_rate);
    optimizer_->OnEpochBegin(epoch);
    for (auto& c : callbacks) c->OnEpochBegin(epoch, empty);
    std::vector<int64_t> order;  // empty: batches are views in order
    if (comm) {  // each part in its own order
      for (int j = plan.first_shard(); j < plan.end_shard(); ++j) {
        const int64_t part = plan.part_begin[j + 1] - plan.part_begin[j];
        const uint64_t epoch_seed = MixSeed(shuffle_seed, static_cast<uint64_t>(epoch));
        plan.order[j] = options.shuffle ? ShuffledOrder(part, MixSeed(epoch_seed, j))
                                        : ShuffledOrder(part, 0);
        if (!options.shuffle) std::sort(plan.order[j].begin(), plan.order[j].end());
      }
    } else if (options.shuffle) {
      order = ShuffledOrder(n, MixSeed(shuffle_seed, static_cast<uint64_t>(epoch)));
    }
    if (state.batch == 0) ResetMetrics();  // else resumed mid-epoch with its running totals
    // Epoch e's step s is training step e * steps + s, so a resumed run draws the same
    // dropout masks as an uninterrupted one.
    train_step_ = static_cast<int64_t>(epoch) * steps + state.batch;
    Logs batch_logs;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t step = state.batch; step < steps; ++step) {
      if (comm) {
        for (auto& c : callbacks) c->OnBatchBegin(step, batch_logs);
        batch_logs = DataParallelStep(x, plan, step);
        state.batch = step + 1;
        if (options.replica_check_steps > 0 && train_step_ % options.replica_check_steps == 0) {
          CheckReplicas(*comm, "during Fit", {static_cast<double>(train_step_)});
        }
        for (auto& c : callbacks) c->OnBatchEnd(step, batch_logs);
        if (stop_training) break;
        continue;
      }
      const int64_t begin = step * bs;
      const int64_t count = std::min(bs, n - begin);
      Tensor xb, yb;
      if (options.shuffle) {  // gathered into buffers reused from step to step
        Tensor& x_buffer = count == bs ? xb_full : xb_tail;
        Tensor& y_buffer = count == bs ? yb_full : yb_tail;
        x.Gather(order.data() + begin, count, &x_buffer, &y_buffer);
        xb = x_buffer;
        yb = y_buffer;
      } else {  // in order: views where the dataset can
        x.Slice(begin, count, &xb, &yb);
      }
      for (auto& c : callbacks) c->OnBatchBegin(step, batch_logs);
      batch_logs = TrainStep(xb, yb);
      state.batch = step + 1;
      for (auto& c : callbacks) c->OnBatchEnd(step, batch_logs);
      if (stop_training) break;
    }
    const double seconds = Seconds(start);
    ZeroGrad();
    Logs logs = MetricsLogs();
    if (validate) {
      Logs val_logs = comm ? DataParallelEvaluate(*val, bs, options.val_first_row,
                                                  options.val_total_rows, *comm)
                           : Evaluate(*val, bs);
      for (const auto& [k, v] : val_logs.items()) logs.Set("val_" + k, v);
    }
    logs.Set("seconds", seconds);
    state.history.Append(epoch + 1, logs);
    state.epoch = epoch + 1;
    state.batch = 0;
    for (auto& c : callbacks) c->OnEpochEnd(epoch, logs);
    if (comm) {
      CheckReplicas(*comm, absl::StrCat("at the end of epoch ", epoch + 1).c_str(),
                    {stop_training ? 1.0 : 0.0});
    }
  }
  for (auto& c : callbacks) c->OnTrainEnd(empty);
  return std::move(state.history);
}

Logs Model::Evaluate(const Tensor& x, const Tensor& y, int64_t batch_size) {
  CheckBatch("Evaluate", x, y);
  return Evaluate(TensorDataset(x, y), batch_size);
}

Logs Model::Evaluate(const Dataset& data, int64_t batch_size) {
  CheckData("Evaluate", data);
  GRADWAY_CHECK(batch_size > 0, "Evaluate: batch_size must be positive, got ", batch_size);
  const int64_t n = data.size();
  Tensor x, y;
  ResetMetrics();
  Logs logs;
  logs.Set("loss", 0.0);
  for (auto& m : metrics_) logs.Set(m->name(), m->Result());
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t count = std::min(batch_size, n - begin);
    data.Slice(begin, count, &x, &y);
    logs = TestStep(x, y);
  }
  return logs;
}

Logs Model::DataParallelStep(const Dataset& data, const ShardPlan& plan_in, int64_t step) {
  ShardPlan& plan = const_cast<ShardPlan&>(plan_in);  // only its buffers change
  Collective& comm = *plan.comm;
  ModeGuard mode(this, true);
  int64_t total = 0;  // the global batch's samples
  for (int j = 0; j < plan.shards; ++j) total += plan.Count(j, step);
  const std::vector<double> running = MetricsState();
  const size_t width = running.size();
  std::vector<double> shard_metrics;  // per local micro-shard: its loss sum, count, metrics
  // The local part of the tree: a stack of (level, gradient sum), neighbours combined as
  // soon as they are at the same level.
  std::vector<std::pair<int, std::vector<float>>> tree;
  NamedTensors params;
  int64_t numel = 0;
  for (int j = plan.first_shard(); j < plan.end_shard(); ++j) {
    const int64_t count = plan.Count(j, step);
    std::vector<float> grad;  // stays empty (all zeros) for an empty micro-shard
    ResetMetrics();
    if (count > 0) {
      std::vector<int64_t> rows(count);
      for (int64_t i = 0; i < count; ++i) {
        rows[i] = plan.part_begin[j] + plan.order[j][step * plan.shard_size[j] + i] -
                  plan.first_row;
      }
      data.Gather(rows.data(), count, &plan.x_buf[j], &plan.y_buf[j]);
      ZeroGrad();
      // Micro-shard j of step s draws its dropout masks as step s * M + j.
      RandomStepScope random_step(train_step_ * plan.shards + j);
      Tensor y_pred = (*this)(plan.x_buf[j]);
      Tensor loss = (*loss_)(y_pred, plan.y_buf[j]);
      // The batch's loss is the mean over all `total` samples.
      (loss * (static_cast<float>(count) / static_cast<float>(total))).Backward();
      UpdateMetrics(loss, y_pred, plan.y_buf[j]);
      if (params.empty()) {
        params = NamedTrainableParameters();
        for (const auto& p : params) numel += p.second.numel();
      }
      if (!plan.spare.empty()) {
        grad = std::move(plan.spare.back());
        plan.spare.pop_back();
      }
      grad.resize(numel);
      int64_t at = 0;
      for (const auto& p : params) {
        Tensor g = p.second.grad();
        if (g.defined()) {
          std::memcpy(grad.data() + at, std::as_const(g).data(), g.numel() * sizeof(float));
        } else {
          std::fill(grad.begin() + at, grad.begin() + at + p.second.numel(), 0.f);
        }
        at += p.second.numel();
      }
    }
    std::vector<double> m = MetricsState();
    shard_metrics.insert(shard_metrics.end(), m.begin(), m.end());
    tree.emplace_back(0, std::move(grad));  // empty: all zeros
    while (tree.size() >= 2 && tree[tree.size() - 2].first == tree.back().first) {
      std::vector<float> b = std::move(tree.back().second);
      tree.pop_back();
      std::vector<float>& a = tree.back().second;
      if (a.empty()) {
        a = std::move(b);
      } else if (!b.empty()) {
        for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
        plan.spare.push_back(std::move(b));
      }
      ++tree.back().first;
    }
  }
  if (params.empty()) {  // no sample here this step: still take part with zeros
    params = NamedTrainableParameters();
    for (const auto& p : params) numel += p.second.numel();
  }
  std::vector<float>& sum = tree.back().second;
  if (sum.empty()) sum.assign(numel, 0.f);
  comm.AllReduceTreeSum(sum.data(), numel);
  int64_t at = 0;
  for (auto& p : params) {
    Tensor g = p.second.grad();
    if (!g.defined()) {  // this rank had no sample: make the gradient tensor
      p.second.Backward(Tensor::Zeros(p.second.shape()));
      g = p.second.grad();
    }
    std::memcpy(g.data(), sum.data() + at, g.numel() * sizeof(float));
    at += p.second.numel();
  }
  plan.spare.push_back(std::move(sum));
  AttachOptimizer();
  optimizer_->Step();
  ++train_step_;
  // Every micro-shard's loss and metrics, in micro-shard order.
  std::vector<double> all(shard_metrics.size() * comm.size());
  comm.AllGather(shard_metrics.data(), static_cast<int64_t>(shard_metrics.size()), all.data());
  std::vector<double> combined = running;
  for (size_t at_m = 0; at_m < all.size(); at_m += width) {
    for (size_t k = 0; k < width; ++k) combined[k] += all[at_m + k];
  }
  SetMetricsState(combined);
  return MetricsLogs();
}

Logs Model::DataParallelEvaluate(const Dataset& data, int64_t batch_size, int64_t first_row,
                                 int64_t total_rows, Collective& comm) {
  const int64_t n = total_rows < 0 ? data.size() : total_rows;
  const auto [mine_first, mine_end] = EvalRowsOfRank(n, batch_size, comm.rank(), comm.size());
  GRADWAY_CHECK(first_row >= 0 && first_row <= mine_first &&
                    first_row + data.size() >= mine_end,
                "Fit: rank ", comm.rank(), " of ", comm.size(),
                " evaluates validation rows [", mine_first, ", ", mine_end, ") of ", n,
                " but the validation data holds rows [", first_row, ", ",
                first_row + data.size(), ")");
  const int64_t batches = (n + batch_size - 1) / batch_size;
  ResetMetrics();
  const size_t width = MetricsState().size();
  // Row b: batch b's loss sum, count and metrics, filled in by the rank that owns it.
  std::vector<double> mine(batches * width, 0.0);
  for (int64_t begin = mine_first; begin < mine_end; begin += batch_size) {
    const int64_t count = std::min(batch_size, mine_end - begin);
    ResetMetrics();
    Tensor xb, yb;
    data.Slice(begin - first_row, count, &xb, &yb);
    TestStep(xb, yb);
    std::vector<double> m = MetricsState();
    std::copy(m.begin(), m.end(), mine.begin() + (begin / batch_size) * width);
  }
  std::vector<double> all(mine.size() * comm.size());
  comm.AllGather(mine.data(), static_cast<int64_t>(mine.size()), all.data());
  std::vector<double> combined(width, 0.0);
  for (int64_t b = 0; b < batches; ++b) {
    int owner = 0;
    while (EvalRowsOfRank(n, batch_size, owner, comm.size()).second <= b * batch_size) ++owner;
    for (size_t k = 0; k < width; ++k) combined[k] += all[(owner * batches + b) * width + k];
  }
  SetMetricsState(combined);
  return MetricsLogs();
}

void Model::CheckReplicas(Collective& comm, const char* when, std::vector<double> values) {
  std::vector<double> sum = WeightsChecksum(NamedParameters());
  values.insert(values.end(), sum.begin(), sum.end());
  std::vector<double> all(values.size() * comm.size());
  comm.AllGather(values.data(), static_cast<int64_t>(values.size()), all.data());
  for (int r = 1; r < comm.size(); ++r) {
    if (!std::equal(values.begin(), values.end(), all.begin() + r * values.size())) {
      Fail("Fit: rank ", r, " of ", comm.size(), " differs from rank 0 ", when,
           ": its weights or training state are not the same (same seed, data and "
           "backup folder on every rank?)");
    }
  }
}

Tensor Model::Predict(const Tensor& x, int64_t batch_size) {
  PrepareInput("Predict", x);
  GRADWAY_CHECK(batch_size > 0, "Predict: batch_size must be positive, got ", batch_size);
  NoGradGuard no_grad;
  ModeGuard mode(this, false);
  const int64_t n = x.size(0);
  Shape out_shape = output_shape();
  out_shape.insert(out_shape.begin(), n);
  Tensor result = Tensor::Empty(out_shape);
  const int64_t row = NumElements(output_shape());
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t count = std::min(batch_size, n - begin);
    Tensor out = (*this)(x.Narrow(0, begin, count));
    GRADWAY_CHECK(out.numel() == count * row, "Predict: ", Description(), " produced ",
                  ShapeTuple(out.shape()), " for a batch of ", count, ", expected ",
                  BatchShapeString(output_shape()));
    std::memcpy(result.data() + begin * row, std::as_const(out).data(),
                count * row * sizeof(float));
  }
  return result;
}

std::vector<const Module*> Model::SummaryLayers() const {
  std::vector<const Module*> out;
  for (const auto& c : children()) out.push_back(c.second.get());
  return out;
}

void Model::Summary(std::ostream& os) const {
  GRADWAY_CHECK(built(), "Summary: ", Description(),
                " is not built yet; give the first layer an InputShape, or call Fit or "
                "Predict first");
  std::vector<const Module*> layers = SummaryLayers();
  std::vector<std::array<std::string, 3>> rows = {{"Layer (type)", "Output Shape", "Param #"}};
  for (const Module* m : layers) {
    rows.push_back({m->Description(),
                    m->built() ? BatchShapeString(m->output_shape()) : "multiple",
                    std::to_string(m->ParameterCount())});
  }
  // Keras' column widths (29, 26, 10), widened to fit the longest entry plus a space, so
  // long layer or type names keep the columns aligned.
  int widths[3] = {29, 26, 10};
  for (const auto& r : rows) {
    for (int i = 0; i < 2; ++i) {
      widths[i] = std::max(widths[i], static_cast<int>(r[i].size()) + 1);
    }
    widths[2] = std::max(widths[2], static_cast<int>(r[2].size()));
  }
  const int kLine = widths[0] + widths[1] + widths[2];
  auto row = [&](const std::array<std::string, 3>& r) {
    std::string line;
    for (int i = 0; i < 3; ++i) {
      line += r[i];
      line.resize(line.size() + (widths[i] - r[i].size()), ' ');
    }
    os << line << '\n';
  };
  os << "Model: \"" << name() << "\"\n";
  os << std::string(kLine, '_') << '\n';
  row(rows[0]);
  os << std::string(kLine, '=') << '\n';
  for (size_t i = 0; i < layers.size(); ++i) {
    row(rows[i + 1]);
    os << std::string(kLine, i + 1 == layers.size() ? '=' : '_') << '\n';
  }
  if (layers.empty()) os << std::string(kLine, '=') << '\n';
  const int64_t total = ParameterCount(), trainable = TrainableParameterCount();
  os << "Total params: " << WithCommas(total) << '\n';
  os << "Trainable params: " << WithCommas(trainable) << '\n';
  os << "Non-trainable params: " << WithCommas(total - trainable) << '\n';
  os << std::string(kLine, '_') << '\n';
}

std::vector<Tensor> Model::GetWeights() const {
  std::vector<Tensor> out;
  for (const auto& p : NamedParameters()) out.push_back(p.second.Clone());
  return out;
}

void Model::SetWeights(const std::vector<Tensor>& weights) {
  NamedTensors params = NamedParameters();
  GRADWAY_CHECK(weights.size() == params.size(), "SetWeights: ", Description(), " has ",
                params.size(), " weights, got ", weights.size());
  for (size_t i = 0; i < params.size(); ++i) {
    GRADWAY_CHECK(weights[i].shape() == params[i].second.shape(), "SetWeights: '",
                  params[i].first, "' has shape ", ShapeToString(params[i].second.shape()),
                  ", got ", ShapeToString(weights[i].shape()));
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].second.CopyFrom(weights[i]);
}

bool Model::WeightsFinite() const {
  for (const auto& p : NamedParameters()) {
    const float* d = p.second.data();
    for (int64_t i = 0; i < p.second.numel(); ++i) {
      if (!std::isfinite(d[i])) return false;
    }
  }
  return true;
}

absl::Status Model::SaveWeights(const std::string& path) const {
  if (!built()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot save ", Description(), ": the model is not built"));
  }
  return SaveSafetensors(path, NamedParameters(), {{"format", "gradway"}});
}

absl::Status Model::LoadWeights(const std::string& path) {
  if (!built()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": cannot load into ", Description(), ": the model is not built"));
  }
  return LoadSafetensorsInto(path, NamedParameters(), kOptimizerPrefix);
}

NamedTensors Model::CheckpointTensors(Metadata* metadata) const {
  NamedTensors tensors = NamedParameters();
  (*metadata)["format"] = "gradway";
  if (optimizer_ != nullptr && optimizer_->attached()) {
    for (auto& [name, t] : optimizer_->StateTensors()) {
      tensors.emplace_back(kOptimizerPrefix + name, t);
    }
    (*metadata)["optimizer"] = optimizer_->name();
    (*metadata)["step"] = std::to_string(optimizer_->iterations());
    (*metadata)["learning_rate"] = absl::StrFormat("%.17g", optimizer_->learning_rate());
  }
  return tensors;
}

absl::Status Model::Save(const std::string& path) const {
  if (!built()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot save ", Description(), ": the model is not built"));
  }
  Metadata meta;
  NamedTensors tensors = CheckpointTensors(&meta);
  return SaveSafetensors(path, tensors, meta);
}

absl::Status Model::Load(const std::string& path) {
  absl::StatusOr<SafetensorsContents> contents = ReadSafetensors(path);
  if (!contents.ok()) return contents.status();
  return LoadCheckpoint(path, contents->tensors, contents->metadata);
}

absl::Status Model::LoadCheckpoint(const std::string& path, const NamedTensors& tensors,
                                   const Metadata& metadata,
                                   const std::string& ignore_prefix) {
  if (!built()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": cannot load into ", Description(), ": the model is not built"));
  }
  bool has_state = metadata.count("step") > 0;
  if (!has_state || optimizer_ == nullptr) {
    NamedTensors weights;  // without the optimiser's (and ignore_prefix's) tensors
    for (const auto& [name, t] : tensors) {
      if (absl::StartsWith(name, kOptimizerPrefix)) continue;
      if (!ignore_prefix.empty() && absl::StartsWith(name, ignore_prefix)) continue;
      weights.emplace_back(name, t);
    }
    return CopyTensorsInto(path, weights, NamedParameters());
  }
  if (metadata.count("optimizer") && metadata.at("optimizer") != optimizer_->name()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": optimizer state is for ", metadata.at("optimizer"),
                     " but the model is compiled with ", optimizer_->name()));
  }
  int64_t step = 0;
  double lr = optimizer_->learning_rate();
  if (!absl::SimpleAtoi(metadata.at("step"), &step) || step < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": __metadata__ step '", metadata.at("step"), "' is not a count"));
  }
  auto lr_it = metadata.find("learning_rate");
  if (lr_it != metadata.end() && !absl::SimpleAtod(lr_it->second, &lr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": __metadata__ learning_rate '", lr_it->second, "' is not a number"));
  }
  optimizer_->Attach(NamedTrainableParameters());
  NamedTensors targets = NamedParameters();
  for (auto& [name, t] : optimizer_->StateTensors()) {
    targets.emplace_back(kOptimizerPrefix + name, t);
  }
  absl::Status st = CopyTensorsInto(path, tensors, targets, ignore_prefix);
  if (!st.ok()) return st;
  optimizer_->set_iterations(step);
  optimizer_->set_learning_rate(lr);
  return absl::OkStatus();
}

// ---- Sequential.
Sequential::Sequential(uint64_t seed) : Model(seed, "Sequential", "sequential") {}

Module& Sequential::layer(size_t i) const {
  GRADWAY_CHECK(i < size(), Description(), ": layer index ", i, " out of range (", size(),
                " layers)");
  return *children()[i].second;
}

void Sequential::ThrowWrongLayerType(size_t i, const char* type) const {
  Fail(Description(), ": layer ", i, " is ", layer(i).Description(), ", not a ", type);
}

void Sequential::AddModule(std::shared_ptr<Module> layer) {
  GRADWAY_CHECK(layer != nullptr, Description(), ": Add got a null layer");
  GRADWAY_CHECK(layer.get() != this, Description(), ": cannot add a model to itself");
  // The layer's key in this model (its parameters' prefix): its explicit name, else its
  // base name made unique in this model.
  std::string key = layer->name();
  if (!layer->has_explicit_name()) {
    const std::string& base = layer->base_name();
    for (;;) {
      const int k = key_counts_[base]++;
      key = k == 0 ? base : absl::StrCat(base, "_", k);
      bool used = false;
      for (const auto& c : children()) used = used || c.first == key;
      if (!used) break;
    }
  }
  for (const auto& c : children()) {
    GRADWAY_CHECK(c.first != key, Description(), ": duplicate layer name '", key, "'");
  }
  if (built()) {
    layer->SetGenerator(init_generator());
    Shape out;
    if (layer->built()) {
      GRADWAY_CHECK(layer->input_shape() == output_shape(), Description(), ": ",
                    layer->Description(), " was built for input ",
                    BatchShapeString(layer->input_shape()), " but follows output ",
                    BatchShapeString(output_shape()));
      out = layer->output_shape();
    } else {
      out = layer->Build(output_shape());
    }
    RegisterModule(key, layer);
    set_output_shape(out);
  } else {
    RegisterModule(key, layer);
    if (size() == 1 && layer->declared_input_shape()) Build(*layer->declared_input_shape());
  }
}

Shape Sequential::DoBuild(const Shape& input_shape) {
  GRADWAY_CHECK(size() > 0, Description(), ": no layers; Add some before building");
  Shape shape = input_shape;
  for (const auto& [name, layer] : children()) {
    if (layer->built()) {
      GRADWAY_CHECK(layer->input_shape() == shape, Description(), ": ", layer->Description(),
                    " was built for input ", BatchShapeString(layer->input_shape()),
                    " but receives ", BatchShapeString(shape));
      shape = layer->output_shape();
    } else {
      shape = layer->Build(shape);
    }
  }
  return shape;
}

Tensor Sequential::Forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& c : children()) h = (*c.second)(h);
  return h;
}

const Module& Sequential::InputLayer() const {
  return size() > 0 ? *children().front().second : static_cast<const Module&>(*this);
}

}  // namespace nn
}  // namespace gradway
