// The one place gradway's kernels go parallel: a thin wrapper over oneTBB.
//
// The thread count is process-wide, set with base/runtime.h's SetNumThreads (which limits
// oneTBB) and reported by NumThreads.
// Determinism: ParallelFor splits [0, n) into chunks whose boundaries depend only on n and
// `grain`, never on the thread count or the scheduler, so a kernel that reduces within a
// chunk and combines the chunks' partial results in index order gets bit-identical results
// with 1, 2 or 16 threads.
#ifndef GRADWAY_OPS_PARALLEL_H_
#define GRADWAY_OPS_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace gradway {

// Calls body(begin, end) for consecutive chunks [begin, end) that cover [0, n), each at most
// `grain` long (the last may be shorter); chunks run in parallel. Chunk boundaries are
// multiples of `grain`, whatever the thread count. Runs inline when n <= grain.
void ParallelFor(int64_t n, int64_t grain,
                 const std::function<void(int64_t begin, int64_t end)>& body);

// The number of chunks ParallelFor(n, grain, ...) makes: ceil(n / grain).
inline int64_t NumChunks(int64_t n, int64_t grain) {
  return n <= 0 ? 0 : (n + grain - 1) / grain;
}

// Splits [0, total) into `parts` nearly equal ranges (fixed by total and parts, not by the
// thread count); returns the start of range `i` (i = parts gives total).
inline int64_t SplitBegin(int64_t total, int64_t parts, int64_t i) { return total * i / parts; }

}  // namespace gradway

#endif  // GRADWAY_OPS_PARALLEL_H_
