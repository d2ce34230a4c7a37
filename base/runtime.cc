#include "base/runtime.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include <oneapi/tbb/global_control.h>

namespace gradway {
namespace {

std::mutex g_mutex;  // guards g_control
std::unique_ptr<oneapi::tbb::global_control> g_control;
// 0: not set, use the hardware. Atomic: NumThreads is read on the kernels' hot path.
std::atomic<int> g_threads{0};
// What kAuto means process-wide (SetConvAlgorithm).
std::atomic<ConvAlgorithm> g_conv_algorithm{ConvAlgorithm::kAuto};

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

void SetConvAlgorithm(ConvAlgorithm algorithm) {
  g_conv_algorithm.store(algorithm, std::memory_order_relaxed);
}

ConvAlgorithm GetConvAlgorithm() { return g_conv_algorithm.load(std::memory_order_relaxed); }

}  // namespace gradway
