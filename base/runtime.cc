#include "base/runtime.h"

#include <algorithm>
#include <thread>

#include <oneapi/tbb/global_control.h>

namespace gradway {

struct Runtime::ThreadLimit {
  explicit ThreadLimit(int threads)
      : control(oneapi::tbb::global_control::max_allowed_parallelism, threads) {}
  oneapi::tbb::global_control control;
};

Runtime& Runtime::Default() {
  static Runtime runtime;
  return runtime;
}

Runtime::Runtime() = default;

Runtime::~Runtime() = default;

void Runtime::SetNumThreads(int threads) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (threads <= 0) threads = HardwareThreads();
  thread_limit_.reset();
  thread_limit_ = std::make_unique<ThreadLimit>(threads);
  threads_.store(threads, std::memory_order_relaxed);
}

int Runtime::num_threads() const {
  const int threads = threads_.load(std::memory_order_relaxed);
  if (threads > 0) return threads;
  return static_cast<int>(oneapi::tbb::global_control::active_value(
      oneapi::tbb::global_control::max_allowed_parallelism));
}

int HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

void SetNumThreads(int threads) { Runtime::Default().SetNumThreads(threads); }

int NumThreads() { return Runtime::Default().num_threads(); }

void SetConvAlgorithm(ConvAlgorithm algorithm) {
  Runtime::Default().set_conv_algorithm(algorithm);
}

ConvAlgorithm GetConvAlgorithm() { return Runtime::Default().conv_algorithm(); }

}  // namespace gradway
