#include "ops/parallel.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>

namespace gradway {
namespace {

std::mutex g_mutex;  // guards g_control
std::unique_ptr<oneapi::tbb::global_control> g_control;
// 0: not set, use the hardware. Atomic: NumThreads is read on the kernels' hot path.
std::atomic<int> g_threads{0};

}  // namespace

int HardwareThreads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

void SetNumThreads(int threads) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (threads <= 0) threads = HardwareThreads();
  g_control.reset();
  g_control = std::make_unique<oneapi::tbb::global_control>(
      oneapi::tbb::global_control::max_allowed_parallelism, threads);
  g_threads.store(threads, std::memory_order_relaxed);
}

int NumThreads() {
  const int threads = g_threads.load(std::memory_order_relaxed);
  if (threads > 0) return threads;
  return static_cast<int>(oneapi::tbb::global_control::active_value(
      oneapi::tbb::global_control::max_allowed_parallelism));
}

void ParallelFor(int64_t n, int64_t grain,
                 const std::function<void(int64_t begin, int64_t end)>& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n <= grain) {
    body(0, n);
    return;
  }
  const int64_t chunks = NumChunks(n, grain);
  // One task per chunk (simple_partitioner with grain 1 over chunk indices): the
  // boundaries are fixed by `grain`, the scheduler only decides who runs which chunk.
  oneapi::tbb::parallel_for(
      oneapi::tbb::blocked_range<int64_t>(0, chunks, 1),
      [&](const oneapi::tbb::blocked_range<int64_t>& r) {
        for (int64_t c = r.begin(); c != r.end(); ++c) {
          const int64_t begin = c * grain;
          body(begin, std::min(n, begin + grain));
        }
      },
      oneapi::tbb::simple_partitioner());
}

}  // namespace gradway
