// nn::Collective over MPI (Open MPI from Debian's libopenmpi-dev). A program trains
// data-parallel under `mpirun -np N` by passing WorldCollective() to Fit (as Horovod's
// hvd.init(); it is null when the program was not started by mpirun, so the same program
// also trains alone):
//
//   model.Fit(x, y, nn::FitOptions().Distributed(distributed::WorldCollective()));
//   mpirun -np 2 --bind-to core bazel-bin/examples/mnist_cnn --threads=1
//
// Detection: the environment mpirun gives each rank (OMPI_COMM_WORLD_SIZE, or PMIX_RANK /
// PMI_RANK of other launchers). MPI is initialised on the first use of the collective and
// finalised at exit; a rank that exits with a non-zero status (or dies) ends the whole job
// with that status instead of leaving the others waiting.
#ifndef GRADWAY_DISTRIBUTED_MPI_COLLECTIVE_H_
#define GRADWAY_DISTRIBUTED_MPI_COLLECTIVE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/collective.h"

namespace gradway {
namespace distributed {

// MPI_COMM_WORLD as a collective. Only the thread that made it may use it.
class MpiCollective : public nn::Collective {
 public:
  // Initialises MPI if needed. Throws gradway::Error when MPI fails to start.
  MpiCollective();
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // Recursive halving (reduce-scatter: partners at distance 1, 2, 4, ... each keep half
  // of their segment and add the partner's copy of it) then recursive doubling (all-gather):
  // each rank sends and receives 2 (p - 1) / p * n floats, as a ring all-reduce, and the
  // additions form the fixed tree nn/collective.h needs. Throws Error unless size() is a
  // power of two.
  void AllReduceTreeSum(float* data, int64_t n) override;
  void AllGather(const double* in, int64_t n, double* out) override;
  [[noreturn]] void Abort(const std::string& message) override;

  // Time spent in AllReduceTreeSum and how many floats it reduced, since the start.
  double reduce_seconds() const { return reduce_seconds_; }
  int64_t reduced_floats() const { return reduced_floats_; }

 private:
  int rank_ = 0, size_ = 1;
  std::vector<float> scratch_;
  double reduce_seconds_ = 0;
  int64_t reduced_floats_ = 0;
};

// True when this process was started by mpirun (or another MPI launcher).
bool LaunchedByMpi();

// The MPI collective when LaunchedByMpi(), else null. Made (and MPI initialised) on the
// first call; later calls return the same one.
std::shared_ptr<MpiCollective> WorldCollective();

}  // namespace distributed
}  // namespace gradway

#endif  // GRADWAY_DISTRIBUTED_MPI_COLLECTIVE_H_
