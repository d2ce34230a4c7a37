// Batch sources for Fit (Keras' trainers/epoch_iterator.py): which rows make up each
// training batch of each epoch.
//
// EpochIterator: one process. Epoch e's order is 0..n-1 shuffled by Fisher-Yates with
// Generator(MixSeed(seed, e)) (or kept in order); batch s holds rows [s*bs, (s+1)*bs) of it,
// the last batch smaller.
//
// ShardedEpochIterator: data-parallel training's split, as nn/collective.h describes it;
// part j is shuffled per epoch with Generator(MixSeed(MixSeed(seed, e), j)).
#ifndef GRADWAY_NN_EPOCH_ITERATOR_H_
#define GRADWAY_NN_EPOCH_ITERATOR_H_

#include <cstdint>
#include <vector>

#include "autograd/tensor.h"
#include "nn/dataset.h"

namespace gradway {
namespace nn {

// 0..n-1 shuffled by Fisher-Yates with Generator(seed).
std::vector<int64_t> ShuffledOrder(int64_t n, uint64_t seed);

class EpochIterator {
 public:
  // Batches of `batch_size` (> 0) rows of `data` (not owned; it must outlive this).
  EpochIterator(const Dataset& data, int64_t batch_size, bool shuffle, uint64_t seed);
  int64_t steps() const { return steps_; }
  // Draws epoch `epoch`'s order.
  void BeginEpoch(int epoch);
  // Batch `step` of the epoch into *x and *y. Shuffled batches are gathered into buffers
  // reused from step to step (valid until the next call); batches in order are views where
  // the data set can.
  void Batch(int64_t step, Tensor* x, Tensor* y);

 private:
  const Dataset& data_;
  int64_t batch_size_, steps_;
  bool shuffle_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  Tensor x_full_, y_full_, x_tail_, y_tail_;
};

class ShardedEpochIterator {
 public:
  // `data` holds rows [first_row, first_row + data.size()) of a training set of
  // `total_rows` rows. Throws Error unless `micro_shards` is a power of two of at most
  // batch_size that `ranks` divides, or when data lacks rows this rank needs.
  ShardedEpochIterator(const Dataset& data, int64_t batch_size, bool shuffle, uint64_t seed,
                       int micro_shards, int rank, int ranks, int64_t first_row,
                       int64_t total_rows);
  int64_t steps() const { return steps_; }  // enough batches for the largest part
  int micro_shards() const { return shards_; }
  // This rank's micro-shards: [first_shard(), end_shard()).
  int first_shard() const { return first_shard_; }
  int end_shard() const { return end_shard_; }
  // Micro-shard j's sample count in batch `step`, and the whole batch's.
  int64_t Count(int j, int64_t step) const;
  int64_t BatchSize(int64_t step) const;
  // Draws epoch `epoch`'s order of this rank's parts.
  void BeginEpoch(int epoch);
  // Micro-shard j's rows of batch `step` (j one of this rank's, Count(j, step) > 0), as
  // rows of the data set given to the constructor.
  std::vector<int64_t> Rows(int j, int64_t step) const;

 private:
  bool shuffle_;
  uint64_t seed_;
  int shards_, first_shard_, end_shard_;
  int64_t first_row_, steps_ = 0;
  std::vector<int64_t> part_begin_;  // part j: rows [part_begin_[j], part_begin_[j + 1])
  std::vector<int64_t> shard_size_;  // samples micro-shard j takes from part j per batch
  std::vector<std::vector<int64_t>> order_;  // per part: this epoch's order of its rows
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_EPOCH_ITERATOR_H_
