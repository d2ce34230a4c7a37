#include "ops/parallel.h"

#include <algorithm>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace gradway {
namespace {

// ThreadSanitizer and oneTBB. Debian's libtbb is not instrumented, so TSAN does not see
// the synchronisation parallel_for provides: a task is spawned by one thread and run by
// another through libtbb's deques, task memory is recycled between threads by libtbb's
// pool, and the caller waits for the chunks inside libtbb. These annotations state those
// edges for the objects gradway owns, and no others (they compile to nothing outside TSAN
// builds):
//   - every ChunkBody (the caller's, and each copy oneTBB makes into a task) is released
//     at its address once written, and acquired there before it is read, so a chunk sees
//     the caller's state and the task's copy of the body;
//   - a chunk releases its ChunkBody when done and a new ChunkBody built at that address
//     acquires it first (libtbb's pool recycling that memory);
//   - each chunk releases the call's Call when done, and the caller acquires it when
//     parallel_for returns.
// Chunks are ordered only where libtbb orders them too (a task's memory reused by a later
// task), so chunks that run at the same time stay unordered and a race between them is
// still reported. What oneTBB's own header code does with its own objects is covered by
// third_party/tsan.supp.
#if defined(__SANITIZE_THREAD__)
inline void TsanRelease(const void* sync) { __tsan_release(const_cast<void*>(sync)); }
inline void TsanAcquire(const void* sync) { __tsan_acquire(const_cast<void*>(sync)); }
#else
inline void TsanRelease(const void*) {}
inline void TsanAcquire(const void*) {}
#endif

// What one ParallelFor call shares with its chunks; it lives in the caller's frame.
struct Call {
  int64_t n;
  int64_t grain;
  const std::function<void(int64_t begin, int64_t end)>* body;
};

// The body oneTBB copies into each of its tasks: one pointer to the Call. Its
// constructors and call operator only add the TSAN annotations above to what a lambda
// capturing the Call would do.
class ChunkBody {
 public:
  explicit ChunkBody(const Call* call) : call_(call) { TsanRelease(this); }
  ChunkBody(const ChunkBody& other) : call_(Read(other, this)) { TsanRelease(this); }
  ChunkBody& operator=(const ChunkBody&) = delete;

  void operator()(const oneapi::tbb::blocked_range<int64_t>& r) const {
    TsanAcquire(this);
    const Call& call = *call_;
    for (int64_t c = r.begin(); c != r.end(); ++c) {
      const int64_t begin = c * call.grain;
      (*call.body)(begin, std::min(call.n, begin + call.grain));
    }
    TsanRelease(&call);
    TsanRelease(this);
  }

 private:
  static const Call* Read(const ChunkBody& from, const ChunkBody* to) {
    TsanAcquire(&from);
    TsanAcquire(to);
    return from.call_;
  }

  const Call* call_;
};

}  // namespace

void ParallelFor(int64_t n, int64_t grain,
                 const std::function<void(int64_t begin, int64_t end)>& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n <= grain) {
    body(0, n);
    return;
  }
  const int64_t chunks = NumChunks(n, grain);
  const Call call{n, grain, &body};
  // One task per chunk (simple_partitioner with grain 1 over chunk indices): the
  // boundaries are fixed by `grain`, the scheduler only decides who runs which chunk.
  oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<int64_t>(0, chunks, 1),
                            ChunkBody(&call), oneapi::tbb::simple_partitioner());
  TsanAcquire(&call);
}

}  // namespace gradway
