// The cost of MpiCollective::AllReduceTreeSum alone, without waiting for a slower rank:
// each of `reps` reductions of `floats` floats starts after a barrier.
//   mpirun -np 2 --bind-to core bazel-bin/distributed/allreduce_benchmark [floats] [reps]
// Rank 0 prints the median and mean milliseconds per reduction and the bandwidth (bytes
// each rank sends and receives: 2 (p - 1) / p of the data).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "distributed/mpi_collective.h"

int main(int argc, char** argv) {
  const int64_t floats = argc > 1 ? std::atoll(argv[1]) : 1199882;  // the MNIST CNN
  const int reps = argc > 2 ? std::atoi(argv[2]) : 100;
  std::shared_ptr<gradway::distributed::MpiCollective> world =
      gradway::distributed::WorldCollective();
  if (world == nullptr) {
    std::fprintf(stderr, "run it under mpirun\n");
    return 2;
  }
  std::vector<float> data(floats, 1.0f);
  std::vector<double> ms;
  for (int i = 0; i < reps + 3; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto start = std::chrono::steady_clock::now();
    world->AllReduceTreeSum(data.data(), floats);
    const double t =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
    if (i >= 3) ms.push_back(t);  // the first ones set up the shared-memory channels
    std::fill(data.begin(), data.end(), 1.0f);
  }
  std::sort(ms.begin(), ms.end());
  double mean = 0;
  for (double t : ms) mean += t / ms.size();
  const int p = world->size();
  const double moved = 2.0 * (p - 1) / p * floats * 4;
  if (world->rank() == 0) {
    std::printf("%d ranks, %lld floats (%.2f MB): median %.3f ms, mean %.3f ms per all-reduce, "
                "%.2f GB/s moved per rank\n",
                p, static_cast<long long>(floats), floats * 4 / 1e6, ms[ms.size() / 2], mean,
                moved / (ms[ms.size() / 2] / 1e3) / 1e9);
  }
  return 0;
}
