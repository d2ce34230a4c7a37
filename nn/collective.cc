#include "nn/collective.h"

#include <algorithm>

#include "autograd/error.h"

namespace gradway {
namespace nn {
std::pair<int64_t, int64_t> TrainRowsOfRank(int64_t total, int micro_shards, int rank,
                                            int ranks) {
  GRADWAY_CHECK(ranks >= 1 && (ranks & (ranks - 1)) == 0 && micro_shards >= 1 &&
                    micro_shards % ranks == 0,
                "data-parallel training needs a power-of-two rank count that divides the ",
                micro_shards, " micro-shards (FitOptions::MicroShards); got ", ranks,
                " ranks");
  GRADWAY_CHECK(rank >= 0 && rank < ranks, "rank ", rank, " out of [0, ", ranks, ")");
  const int per_rank = micro_shards / ranks;
  auto part_begin = [&](int64_t j) { return j * total / micro_shards; };
  return {part_begin(static_cast<int64_t>(rank) * per_rank),
          part_begin(static_cast<int64_t>(rank + 1) * per_rank)};
}

std::pair<int64_t, int64_t> EvalRowsOfRank(int64_t total, int64_t batch_size, int rank,
                                           int ranks) {
  GRADWAY_CHECK(batch_size > 0 && ranks >= 1 && rank >= 0 && rank < ranks,
                "EvalRowsOfRank: batch size ", batch_size, ", rank ", rank, " of ", ranks);
  const int64_t batches = (total + batch_size - 1) / batch_size;
  const int64_t first = rank * batches / ranks, end = (rank + 1) * batches / ranks;
  return {std::min(first * batch_size, total), std::min(end * batch_size, total)};
}

}  // namespace nn
}  // namespace gradway
