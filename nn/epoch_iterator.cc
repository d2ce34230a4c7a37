#include "nn/epoch_iterator.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "autograd/error.h"
#include "autograd/generator.h"
#include "base/splitmix.h"
#include "nn/collective.h"

namespace gradway {
namespace nn {

std::vector<int64_t> ShuffledOrder(int64_t n, uint64_t seed) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  Generator gen(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(idx[i], idx[gen.UniformInt(static_cast<uint64_t>(i + 1))]);
  }
  return idx;
}

EpochIterator::EpochIterator(const Dataset& data, int64_t batch_size, bool shuffle,
                             uint64_t seed)
    : data_(data),
      batch_size_(batch_size),
      steps_((data.size() + batch_size - 1) / batch_size),
      shuffle_(shuffle),
      seed_(seed) {}

void EpochIterator::BeginEpoch(int epoch) {
  if (!shuffle_) return;
  order_ = ShuffledOrder(data_.size(), MixSeed(seed_, static_cast<uint64_t>(epoch)));
}

void EpochIterator::Batch(int64_t step, Tensor* x, Tensor* y) {
  const int64_t begin = step * batch_size_;
  const int64_t count = std::min(batch_size_, data_.size() - begin);
  if (!shuffle_) {
    data_.Slice(begin, count, x, y);
    return;
  }
  Tensor& x_buffer = count == batch_size_ ? x_full_ : x_tail_;
  Tensor& y_buffer = count == batch_size_ ? y_full_ : y_tail_;
  data_.Gather(order_.data() + begin, count, &x_buffer, &y_buffer);
  *x = x_buffer;
  *y = y_buffer;
}

ShardedEpochIterator::ShardedEpochIterator(const Dataset& data, int64_t batch_size,
                                           bool shuffle, uint64_t seed, int micro_shards,
                                           int rank, int ranks, int64_t first_row,
                                           int64_t total_rows)
    : shuffle_(shuffle), seed_(seed), shards_(micro_shards), first_row_(first_row) {
  const int m = micro_shards;
  GRADWAY_CHECK(m >= 1 && (m & (m - 1)) == 0 && m <= batch_size,
                "Fit: micro_shards must be a power of two of at most the batch size ",
                batch_size, ", got ", m);
  const int64_t n = total_rows;
  const auto [need_first, need_end] = TrainRowsOfRank(n, m, rank, ranks);
  GRADWAY_CHECK(first_row >= 0 && first_row <= need_first && first_row + data.size() >= need_end,
                "Fit: rank ", rank, " of ", ranks, " needs training rows [", need_first, ", ",
                need_end, ") of ", n, " but x holds rows [", first_row, ", ",
                first_row + data.size(), ")");
  first_shard_ = rank * (m / ranks);
  end_shard_ = (rank + 1) * (m / ranks);
  for (int j = 0; j <= m; ++j) part_begin_.push_back(j * n / m);
  for (int j = 0; j < m; ++j) {
    shard_size_.push_back((j + 1) * batch_size / m - j * batch_size / m);
    const int64_t part = part_begin_[j + 1] - part_begin_[j];
    steps_ = std::max(steps_, (part + shard_size_[j] - 1) / shard_size_[j]);
  }
  order_.resize(m);
}

int64_t ShardedEpochIterator::Count(int j, int64_t step) const {
  const int64_t n = part_begin_[j + 1] - part_begin_[j];
  return std::clamp<int64_t>(n - step * shard_size_[j], 0, shard_size_[j]);
}

int64_t ShardedEpochIterator::BatchSize(int64_t step) const {
  int64_t total = 0;
  for (int j = 0; j < shards_; ++j) total += Count(j, step);
  return total;
}

void ShardedEpochIterator::BeginEpoch(int epoch) {
  const uint64_t epoch_seed = MixSeed(seed_, static_cast<uint64_t>(epoch));
  for (int j = first_shard_; j < end_shard_; ++j) {
    const int64_t part = part_begin_[j + 1] - part_begin_[j];
    if (shuffle_) {
      order_[j] = ShuffledOrder(part, MixSeed(epoch_seed, static_cast<uint64_t>(j)));
    } else {
      order_[j].resize(part);
      std::iota(order_[j].begin(), order_[j].end(), 0);
    }
  }
}

std::vector<int64_t> ShardedEpochIterator::Rows(int j, int64_t step) const {
  const int64_t count = Count(j, step);
  std::vector<int64_t> rows(count);
  for (int64_t i = 0; i < count; ++i) {
    rows[i] = part_begin_[j] + order_[j][step * shard_size_[j] + i] - first_row_;
  }
  return rows;
}

}  // namespace nn
}  // namespace gradway
