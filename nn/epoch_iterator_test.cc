#include "nn/epoch_iterator.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "base/splitmix.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

std::vector<int64_t> Iota(int64_t begin, int64_t end) {
  std::vector<int64_t> v(end - begin);
  std::iota(v.begin(), v.end(), begin);
  return v;
}

// Rows [first, end): x [n, 1] = the row's index, y [n, 2] = (-index, 2 * index).
TensorDataset IndexData(int64_t first, int64_t end) {
  const int64_t n = end - first;
  Tensor x = Tensor::Empty({n, 1}), y = Tensor::Empty({n, 2});
  for (int64_t i = 0; i < n; ++i) {
    x.data()[i] = static_cast<float>(first + i);
    y.data()[2 * i] = -static_cast<float>(first + i);
    y.data()[2 * i + 1] = 2.f * (first + i);
  }
  return TensorDataset(x, y);
}

// The row indices a batch holds (from x), checking that y belongs to the same rows.
std::vector<int64_t> BatchRows(const Tensor& x, const Tensor& y) {
  EXPECT_EQ(x.rank(), 2);
  EXPECT_EQ(y.size(0), x.size(0));
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < x.size(0); ++i) {
    rows.push_back(static_cast<int64_t>(x.data()[i]));
    EXPECT_EQ(y.data()[2 * i], -x.data()[i]);
    EXPECT_EQ(y.data()[2 * i + 1], 2 * x.data()[i]);
  }
  return rows;
}

bool IsPermutation(std::vector<int64_t> v, int64_t n) {
  std::sort(v.begin(), v.end());
  return v == Iota(0, n);
}

TEST(ShuffledOrderTest, IsAPermutationDeterministicPerSeed) {
  const std::vector<int64_t> a = ShuffledOrder(50, 7);
  EXPECT_TRUE(IsPermutation(a, 50));
  EXPECT_NE(a, Iota(0, 50));
  EXPECT_EQ(ShuffledOrder(50, 7), a);
  EXPECT_NE(ShuffledOrder(50, 8), a);
  EXPECT_TRUE(ShuffledOrder(0, 7).empty());
  EXPECT_EQ(ShuffledOrder(1, 7), (std::vector<int64_t>{0}));
}

// Every batch of epoch `epoch`, as row indices.
std::vector<std::vector<int64_t>> Epoch(EpochIterator* it, int epoch) {
  it->BeginEpoch(epoch);
  std::vector<std::vector<int64_t>> batches;
  for (int64_t s = 0; s < it->steps(); ++s) {
    Tensor x, y;
    it->Batch(s, &x, &y);
    batches.push_back(BatchRows(x, y));
  }
  return batches;
}

std::vector<int64_t> Flatten(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

TEST(EpochIteratorTest, StepsRoundUp) {
  const TensorDataset data = IndexData(0, 10);
  EXPECT_EQ(EpochIterator(data, 4, false, 1).steps(), 3);
  EXPECT_EQ(EpochIterator(data, 5, false, 1).steps(), 2);
  EXPECT_EQ(EpochIterator(data, 10, true, 1).steps(), 1);
  EXPECT_EQ(EpochIterator(data, 11, true, 1).steps(), 1);
  EXPECT_EQ(EpochIterator(data, 1, true, 1).steps(), 10);
}

TEST(EpochIteratorTest, InOrderBatchesAreViewsOfConsecutiveRows) {
  const TensorDataset data = IndexData(0, 10);
  EpochIterator it(data, 4, /*shuffle=*/false, 1);
  for (int epoch : {0, 1}) {
    it.BeginEpoch(epoch);
    for (int64_t s = 0; s < 3; ++s) {
      Tensor x, y;
      it.Batch(s, &x, &y);
      const int64_t count = s < 2 ? 4 : 2;
      EXPECT_EQ(x.shape(), (Shape{count, 1}));
      EXPECT_EQ(y.shape(), (Shape{count, 2}));
      EXPECT_EQ(BatchRows(x, y), Iota(4 * s, 4 * s + count));
      EXPECT_EQ(x.data(), data.x().data() + 4 * s);  // a view, not a copy
      EXPECT_EQ(y.data(), data.y().data() + 2 * 4 * s);
    }
  }
}

TEST(EpochIteratorTest, ShuffledEpochsCoverEveryRowOnceInAnOrderPerEpoch) {
  const TensorDataset data = IndexData(0, 10);
  EpochIterator it(data, 4, /*shuffle=*/true, 42);
  const auto epoch0 = Epoch(&it, 0);
  const auto epoch1 = Epoch(&it, 1);
  for (const auto* batches : {&epoch0, &epoch1}) {
    ASSERT_EQ(batches->size(), 3u);
    EXPECT_EQ((*batches)[0].size(), 4u);
    EXPECT_EQ((*batches)[1].size(), 4u);
    EXPECT_EQ((*batches)[2].size(), 2u);
    EXPECT_TRUE(IsPermutation(Flatten(*batches), 10));
  }
  EXPECT_NE(Flatten(epoch0), Iota(0, 10));
  EXPECT_NE(Flatten(epoch0), Flatten(epoch1));
  EXPECT_EQ(Epoch(&it, 0), epoch0);  // the same epoch draws the same order again
  // As documented: Fisher-Yates with the seed mixed with the epoch.
  EXPECT_EQ(Flatten(epoch1), ShuffledOrder(10, MixSeed(42, 1)));
  // Another seed, another order.
  EpochIterator other(data, 4, true, 43);
  EXPECT_NE(Flatten(Epoch(&other, 0)), Flatten(epoch0));
}

// n = 24 rows, batch 12, 8 micro-shards: parts of 3 rows; micro-shards take 1, 2, 1, 2, ...
// samples per batch.
TEST(ShardedEpochIteratorTest, SplitsBatchesIntoMicroShardsOfContiguousParts) {
  const TensorDataset data = IndexData(0, 24);
  for (bool shuffle : {false, true}) {
    SCOPED_TRACE(shuffle ? "shuffled" : "in order");
    ShardedEpochIterator it(data, 12, shuffle, 5, 8, 0, 1, 0, 24);
    EXPECT_EQ(it.steps(), 3);
    EXPECT_EQ(it.micro_shards(), 8);
    EXPECT_EQ(it.first_shard(), 0);
    EXPECT_EQ(it.end_shard(), 8);
    for (int j = 0; j < 8; ++j) {
      const bool odd = j % 2 == 1;
      EXPECT_EQ(it.Count(j, 0), odd ? 2 : 1) << j;
      EXPECT_EQ(it.Count(j, 1), 1) << j;
      EXPECT_EQ(it.Count(j, 2), odd ? 0 : 1) << j;
    }
    EXPECT_EQ(it.BatchSize(0), 12);
    EXPECT_EQ(it.BatchSize(1), 8);
    EXPECT_EQ(it.BatchSize(2), 4);
    for (int epoch : {0, 1}) {
      it.BeginEpoch(epoch);
      std::vector<int64_t> all;
      for (int j = 0; j < 8; ++j) {
        std::vector<int64_t> part;
        for (int64_t s = 0; s < it.steps(); ++s) {
          if (it.Count(j, s) == 0) continue;
          const std::vector<int64_t> rows = it.Rows(j, s);
          EXPECT_EQ(static_cast<int64_t>(rows.size()), it.Count(j, s));
          part.insert(part.end(), rows.begin(), rows.end());
        }
        if (!shuffle) {
          EXPECT_EQ(part, Iota(3 * j, 3 * j + 3)) << j;
        } else {
          std::vector<int64_t> sorted = part;
          std::sort(sorted.begin(), sorted.end());
          EXPECT_EQ(sorted, Iota(3 * j, 3 * j + 3)) << j;  // part j's rows only
        }
        all.insert(all.end(), part.begin(), part.end());
      }
      EXPECT_TRUE(IsPermutation(all, 24));
    }
  }
}

TEST(ShardedEpochIteratorTest, ShuffleDiffersPerEpochAndRepeatsForTheSameEpoch) {
  const TensorDataset data = IndexData(0, 24);
  ShardedEpochIterator it(data, 12, true, 5, 2, 0, 1, 0, 24);  // two parts of 12 rows
  auto rows = [&](int epoch) {
    it.BeginEpoch(epoch);
    std::vector<int64_t> all;
    for (int64_t s = 0; s < it.steps(); ++s) {
      for (int j = 0; j < 2; ++j) {
        const std::vector<int64_t> r = it.Rows(j, s);
        all.insert(all.end(), r.begin(), r.end());
      }
    }
    return all;
  };
  const std::vector<int64_t> epoch0 = rows(0);
  EXPECT_NE(rows(1), epoch0);
  EXPECT_EQ(rows(0), epoch0);
}

TEST(ShardedEpochIteratorTest, EachRankTakesItsMicroShardsFromItsRowsOnly) {
  const TensorDataset all = IndexData(0, 24);
  const TensorDataset upper = IndexData(12, 24);  // rank 1's half only
  ShardedEpochIterator one(all, 12, true, 5, 8, 0, 1, 0, 24);
  ShardedEpochIterator rank1(upper, 12, true, 5, 8, 1, 2, 12, 24);
  EXPECT_EQ(rank1.first_shard(), 4);
  EXPECT_EQ(rank1.end_shard(), 8);
  EXPECT_EQ(rank1.steps(), 3);
  const TensorDataset lower = IndexData(0, 12);
  ShardedEpochIterator rank0(lower, 12, true, 5, 8, 0, 2, 0, 24);
  EXPECT_EQ(rank0.first_shard(), 0);
  EXPECT_EQ(rank0.end_shard(), 4);
  for (int epoch : {0, 1}) {
    one.BeginEpoch(epoch);
    rank1.BeginEpoch(epoch);
    for (int j = 4; j < 8; ++j) {
      for (int64_t s = 0; s < 3; ++s) {
        if (rank1.Count(j, s) == 0) continue;
        const std::vector<int64_t> local = rank1.Rows(j, s);
        std::vector<int64_t> global;
        for (int64_t r : local) {
          ASSERT_GE(r, 0);
          ASSERT_LT(r, upper.size());
          global.push_back(static_cast<int64_t>(upper.x().data()[r]));  // x = global row
        }
        // The same samples as the single-process split.
        EXPECT_EQ(global, one.Rows(j, s)) << "j " << j << " step " << s;
      }
    }
  }
}

std::string ConstructionError(const Dataset& data, int64_t batch_size, int micro_shards,
                              int rank, int ranks, int64_t first_row, int64_t total_rows) {
  try {
    ShardedEpochIterator it(data, batch_size, false, 1, micro_shards, rank, ranks, first_row,
                            total_rows);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for micro_shards " << micro_shards;
  return "";
}

TEST(ShardedEpochIteratorTest, RejectsBadMicroShardCountsAndMissingRows) {
  const TensorDataset data = IndexData(0, 24);
  EXPECT_EQ(ConstructionError(data, 12, 3, 0, 1, 0, 24),
            "Fit: micro_shards must be a power of two of at most the batch size 12, got 3");
  EXPECT_EQ(ConstructionError(data, 12, 16, 0, 1, 0, 24),
            "Fit: micro_shards must be a power of two of at most the batch size 12, got 16");
  EXPECT_EQ(ConstructionError(data, 12, 0, 0, 1, 0, 24),
            "Fit: micro_shards must be a power of two of at most the batch size 12, got 0");
  const TensorDataset short_upper = IndexData(12, 23);
  EXPECT_EQ(ConstructionError(short_upper, 12, 8, 1, 2, 12, 24),
            "Fit: rank 1 of 2 needs training rows [12, 24) of 24 but x holds rows [12, 23)");
  const TensorDataset upper = IndexData(13, 24);
  EXPECT_EQ(ConstructionError(upper, 12, 8, 1, 2, 13, 24),
            "Fit: rank 1 of 2 needs training rows [12, 24) of 24 but x holds rows [13, 24)");
  const TensorDataset lower = IndexData(0, 12);
  EXPECT_EQ(ConstructionError(lower, 12, 8, 1, 2, 0, 24),
            "Fit: rank 1 of 2 needs training rows [12, 24) of 24 but x holds rows [0, 12)");
}

}  // namespace
}  // namespace nn
}  // namespace gradway
