// Data-parallel training's steps (nn/collective.h describes the scheme): a training step is
// Model::ComputeGradients on each of this rank's micro-shards, the gradients summed in the
// fixed binary tree over all micro-shards (inside the rank, then across ranks), and
// Model::ApplyGradients; evaluation splits the batches between the ranks. Fit uses it when
// FitOptions::collective is set.
//
// A model holding a trainable BatchNormalization normalises over the whole global batch
// (synchronised batch norm). Its step runs the rank's micro-shards layer by layer instead
// of one after the other: each layer (a Sequential's in turn, a functional model's calls in
// order, nested models alike) on every micro-shard j, recorded in ShardTagScope(j) and
// RandomStepScope(step * M + j), so each micro-shard computes what it would alone; a
// BatchNormalization normalises them all at once with the statistics of every micro-shard
// of every rank (BatchNormalization::ForwardShards). One backward pass then runs through
// all of them (the engine runs each micro-shard's ops in the order of its own graph,
// autograd/graph.h), the per-micro-shard gradients are taken from a ShardGradientSink, and
// they are summed in the same tree as above. Every rank makes the same exchanges in the
// same order; a rank without a sample in a step runs one placeholder row, which counts in
// nothing. The weights, moving statistics, logs and checkpoints are bit-identical for any
// rank count dividing the micro-shards.
#ifndef GRADWAY_NN_DATA_PARALLEL_H_
#define GRADWAY_NN_DATA_PARALLEL_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "autograd/nn_functions.h"
#include "autograd/tensor.h"
#include "nn/callback.h"
#include "nn/collective.h"
#include "nn/dataset.h"
#include "nn/epoch_iterator.h"
#include "nn/model.h"

namespace gradway {
namespace nn {

class DataParallelTrainer {
 public:
  // `model` (compiled and built) and `comm` must outlive this.
  DataParallelTrainer(Model& model, Collective& comm) : model_(model), comm_(comm) {}

  // Trains batch `step` of `batches` over `data`; returns the running logs over every
  // micro-shard of every rank, as one process training the whole batch would. Micro-shard
  // j of training step s draws its dropout masks as step s * M + j.
  Logs TrainStep(const Dataset& data, const ShardedEpochIterator& batches, int64_t step);
  // Model::Evaluate over a validation set of `total_rows` rows (-1: data is the whole set)
  // of which `data` holds rows [first_row, ...): each rank tests its run of batches
  // (EvalRowsOfRank) and the results are combined in batch order. Throws Error when data
  // lacks rows this rank evaluates.
  Logs Evaluate(const Dataset& data, int64_t batch_size, int64_t first_row, int64_t total_rows);
  // Throws Error, saying `when`, unless every rank holds the same weights and `values`.
  void CheckReplicas(const char* when, std::vector<double> values);

 private:
  // Adds this micro-shard's gradients (all zeros when `count` is 0) to the local tree.
  void Accumulate(std::vector<float> grad);
  // A micro-shard's gradients, `numel` floats: each parameter's grad_of(parameter), or
  // zeros where undefined (in a buffer reused from an earlier step).
  std::vector<float> Gradients(const NamedTensors& params, int64_t numel,
                               const std::function<Tensor(const Tensor&)>& grad_of);
  // This rank's micro-shards with samples in a step, in order (or one placeholder).
  struct LocalShards {
    std::vector<int> tags;      // their micro-shard indices
    std::vector<Tensor> xs, ys;
    std::vector<float> scales;  // each one's share of the global batch (0: placeholder)
    bool placeholder = false;   // no sample here: one row that counts in nothing
  };
  LocalShards TakeShards(const Dataset& data, const ShardedEpochIterator& batches,
                         int64_t step);
  // The exchange of synchronised batch norm over comm_: each rank's `width` values per
  // micro-shard it trains (zeros for those without samples), gathered in micro-shard
  // order.
  ShardGather Exchange(const LocalShards& local, int first_shard, int shards_per_rank);
  // One layer on every local micro-shard (Model::ForwardShards' `run`): a
  // BatchNormalization on all at once, a nested model holding one layer by layer, any
  // other layer on each micro-shard j in ShardTagScope(j) and RandomStepScope(first_step
  // + j).
  std::vector<Tensor> RunLayer(Module& layer, const std::vector<std::vector<Tensor>>& inputs,
                               const LocalShards& local, int64_t first_step,
                               const ShardGather& gather, const Model::LayerShardsFn& run);
  // The step with synchronised batch norm (the file comment); appends each local
  // micro-shard's metrics state to *shard_metrics and leaves their gradients in the tree.
  void LayerByLayer(const Dataset& data, const ShardedEpochIterator& batches, int64_t step,
                    std::vector<double>* shard_metrics);
  // The end of a step: sums the tree across ranks into the parameters' gradients, applies
  // them, and returns the logs of `running` plus every rank's micro-shards' metrics.
  Logs FinishStep(const NamedTensors& params, int64_t numel,
                  const std::vector<double>& running,
                  const std::vector<double>& shard_metrics);
  Model& model_;
  Collective& comm_;
  // The local part of the tree: a stack of (level, gradient sum), neighbours combined as
  // soon as they are at the same level; an empty sum stands for zeros.
  std::vector<std::pair<int, std::vector<float>>> tree_;
  Tensor x_, y_;                           // a micro-shard's batch, reused
  std::vector<std::vector<float>> spare_;  // gradient buffers, reused from step to step
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_DATA_PARALLEL_H_
