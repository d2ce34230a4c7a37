// Data-parallel training's steps (nn/collective.h describes the scheme): a training step is
// Model::ComputeGradients on each of this rank's micro-shards, the gradients summed in the
// fixed binary tree over all micro-shards (inside the rank, then across ranks), and
// Model::ApplyGradients; evaluation splits the batches between the ranks. Fit uses it when
// FitOptions::collective is set.
#ifndef GRADWAY_NN_DATA_PARALLEL_H_
#define GRADWAY_NN_DATA_PARALLEL_H_

#include <cstdint>
#include <vector>

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
