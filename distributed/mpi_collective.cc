#include "distributed/mpi_collective.h"

#include <mpi.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <utility>

#include "autograd/error.h"

namespace gradway {
namespace distributed {
namespace {

// Runs at exit with the exit status: a clean exit finalises MPI; a failing one aborts the
// whole job, so that no other rank waits forever for this one.
void FinalizeOrAbort(int status, void*) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (status == 0) {
    MPI_Finalize();
  } else {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "gradway: rank %d exited with status %d; ending the MPI job\n", rank,
                 status);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, status);
  }
}

void Check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  Fail("MPI: ", what, " failed: ", std::string(text, len));
}

// Receives `recv_n` floats from `partner` into `recv` while sending it send[0, send_n).
void Exchange(const float* send, int64_t send_n, float* recv, int64_t recv_n, int partner) {
  MPI_Request req;
  Check(MPI_Irecv(recv, static_cast<int>(recv_n), MPI_FLOAT, partner, 0, MPI_COMM_WORLD, &req),
        "MPI_Irecv");
  Check(MPI_Send(send, static_cast<int>(send_n), MPI_FLOAT, partner, 0, MPI_COMM_WORLD),
        "MPI_Send");
  Check(MPI_Wait(&req, MPI_STATUS_IGNORE), "MPI_Wait");
}

}  // namespace

bool LaunchedByMpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr || std::getenv("PMI_RANK") != nullptr;
}

MpiCollective::MpiCollective() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    on_exit(FinalizeOrAbort, nullptr);
  }
  // Errors end the job (MPI_ERRORS_ARE_FATAL, the default): a dead peer never hangs a rank.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  Check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  Check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

void MpiCollective::AllReduceTreeSum(float* data, int64_t n) {
  GRADWAY_CHECK(size_ >= 1 && (size_ & (size_ - 1)) == 0,
                "AllReduceTreeSum: the tree needs a power-of-two rank count, got ", size_);
  GRADWAY_CHECK(n >= 0 && n <= std::numeric_limits<int>::max(), "AllReduceTreeSum: count ",
                n, " out of range");
  const auto start = std::chrono::steady_clock::now();
  // Reduce-scatter. At distance d, ranks r and r ^ d hold sums over the same segment for
  // the two neighbouring groups of d ranks; each keeps one half and adds the other's.
  std::vector<std::pair<int64_t, int64_t>> parents;
  int64_t lo = 0, hi = n;
  for (int d = 1; d < size_; d <<= 1) {
    const int partner = rank_ ^ d;
    const int64_t mid = lo + (hi - lo) / 2;
    const bool low = (rank_ & d) == 0;
    const int64_t keep_lo = low ? lo : mid, keep_hi = low ? mid : hi;
    const int64_t send_lo = low ? mid : lo, send_hi = low ? hi : mid;
    const int64_t keep_n = keep_hi - keep_lo;
    scratch_.resize(keep_n);
    Exchange(data + send_lo, send_hi - send_lo, scratch_.data(), keep_n, partner);
    float* keep = data + keep_lo;
    for (int64_t i = 0; i < keep_n; ++i) keep[i] += scratch_[i];  // a + b == b + a exactly
    parents.emplace_back(lo, hi);
    lo = keep_lo;
    hi = keep_hi;
  }
  // All-gather: undo the halvings, swapping the reduced halves with the partners.
  for (int d = size_ >> 1; d >= 1; d >>= 1) {
    const int partner = rank_ ^ d;
    const auto [plo, phi] = parents.back();
    parents.pop_back();
    const int64_t other_lo = lo == plo ? hi : plo, other_hi = lo == plo ? phi : lo;
    Exchange(data + lo, hi - lo, data + other_lo, other_hi - other_lo, partner);
    lo = plo;
    hi = phi;
  }
  reduce_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  reduced_floats_ += n;
}

void MpiCollective::AllGather(const double* in, int64_t n, double* out) {
  GRADWAY_CHECK(n >= 0 && n <= std::numeric_limits<int>::max(), "AllGather: count ", n);
  Check(MPI_Allgather(in, static_cast<int>(n), MPI_DOUBLE, out, static_cast<int>(n),
                      MPI_DOUBLE, MPI_COMM_WORLD),
        "MPI_Allgather");
}

void MpiCollective::Abort(const std::string& message) {
  std::fprintf(stderr, "gradway: rank %d: %s\n", rank_, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

std::shared_ptr<MpiCollective> WorldCollective() {
  static std::once_flag once;
  static std::shared_ptr<MpiCollective>* world = new std::shared_ptr<MpiCollective>;
  std::call_once(once, [] {
    if (LaunchedByMpi()) *world = std::make_shared<MpiCollective>();
  });
  return *world;
}

}  // namespace distributed
}  // namespace gradway
