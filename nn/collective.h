// Collective: what data-parallel training needs from the processes it runs on, and how
// Model::Fit splits its data between them. nn/ defines the interface; distributed/
// implements it over MPI (distributed/mpi_collective.h), so nn/ and its users need no MPI.
//
// Data-parallel Fit (FitOptions::collective, e.g. distributed::WorldCollective()) with
// `micro_shards` M (FitOptions::MicroShards, default 8) and p ranks:
//   - The training rows are cut into M contiguous parts; micro-shard j of every batch takes
//     its samples from part j (shuffled within the part per epoch). Rank r trains
//     micro-shards [r*M/p, (r+1)*M/p), so it needs only the rows of those parts
//     (TrainRowsOfRank). Batches hold the same samples whatever p is.
//   - Each micro-shard's gradient is computed on its own; they are summed in one fixed
//     binary tree over the M micro-shards (pairs of neighbours, then pairs of pairs): first
//     inside each rank, then across ranks (Collective::AllReduceTreeSum). The sum, hence
//     every weight, is bit-identical for any p that is a power of two dividing M.
//   - A model holding a trainable BatchNormalization runs the rank's micro-shards layer by
//     layer instead, normalising over the whole global batch (statistics gathered from all
//     ranks, nn/data_parallel.h); each micro-shard's gradient is still its own and summed
//     in the same tree.
//   - Validation batches are split between ranks in contiguous runs (EvalRowsOfRank) and
//     their losses and metrics combined in batch order, as one process would.
#ifndef GRADWAY_NN_COLLECTIVE_H_
#define GRADWAY_NN_COLLECTIVE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace gradway {
namespace nn {

class Collective {
 public:
  virtual ~Collective() = default;
  // This process's rank in [0, size()), and the number of ranks.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sums data[0, n) element-wise over the ranks; every rank receives the sum. The additions
  // follow one fixed binary tree over the ranks in rank order (ranks 2i and 2i+1 first,
  // then neighbouring pairs, ...), so the result is bit-identical on every rank and equal to
  // that tree's sum. Requires size() to be a power of two.
  virtual void AllReduceTreeSum(float* data, int64_t n) = 0;
  // Each rank's in[0, n), concatenated in rank order into out[0, size() * n).
  virtual void AllGather(const double* in, int64_t n, double* out) = 0;
  // Ends every rank of the job with `message` on stderr and exit status 1.
  [[noreturn]] virtual void Abort(const std::string& message) = 0;
};

// The rows [first, end) of a training set of `total` rows that rank `rank` of `ranks`
// needs with `micro_shards` micro-shards. Throws Error unless ranks is a power of two
// dividing micro_shards.
std::pair<int64_t, int64_t> TrainRowsOfRank(int64_t total, int micro_shards, int rank,
                                            int ranks);
// The rows [first, end) of a validation set of `total` rows that rank `rank` of `ranks`
// evaluates in batches of `batch_size`.
std::pair<int64_t, int64_t> EvalRowsOfRank(int64_t total, int64_t batch_size, int rank,
                                           int ranks);

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_COLLECTIVE_H_
