// The runtime the kernels of ops/ run in: one object that holds what they share across
// calls, as gemma.cpp's MatMulEnv does for its matmuls:
//   - the thread count (oneTBB's limit, which every parallel loop obeys);
//   - the convolution policy: which algorithm kAuto means (ops/conv.h);
//   - the scratch pool: per-thread buffers reused from call to call (base/scratch.h).
// There is one per process, Runtime::Default(); the kernels read it, and the free
// functions below (what nn/, the examples and the benchmarks call) set it. None of it
// changes a result: a run gives the same bits at any thread count, and a convolution's
// algorithm is fixed by the shape and this policy.
#ifndef GRADWAY_BASE_RUNTIME_H_
#define GRADWAY_BASE_RUNTIME_H_

#include <atomic>
#include <memory>
#include <mutex>

#include "base/conv_algorithm.h"
#include "base/scratch.h"

namespace gradway {

class Runtime {
 public:
  // The process's runtime, made on first use: the machine's cores, ConvAlgorithm::kAuto,
  // an empty scratch pool. Lives until the process exits.
  static Runtime& Default();

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Limits the kernels to `threads` worker threads (>= 1; 0 means the machine's cores).
  // Call before heavy work starts; later calls replace the limit. Thread-safe.
  void SetNumThreads(int threads);
  // The number of threads kernels may use (the machine's cores unless SetNumThreads chose).
  int num_threads() const;

  // Makes every later convolution use `algorithm` where its caller asks for kAuto (kAuto:
  // the automatic choice per shape and pass again). Thread-safe; set it while no
  // convolution runs.
  void set_conv_algorithm(ConvAlgorithm algorithm) {
    conv_algorithm_.store(algorithm, std::memory_order_relaxed);
  }
  // What kAuto currently means.
  ConvAlgorithm conv_algorithm() const { return conv_algorithm_.load(std::memory_order_relaxed); }

  // The kernels' scratch buffers.
  ScratchPool& scratch() { return scratch_; }

 private:
  struct ThreadLimit;  // oneTBB's global_control

  Runtime();
  ~Runtime();

  std::mutex mutex_;  // guards thread_limit_
  std::unique_ptr<ThreadLimit> thread_limit_;
  // 0: not set, use the hardware. Atomic: num_threads() is read on the kernels' hot path.
  std::atomic<int> threads_{0};
  std::atomic<ConvAlgorithm> conv_algorithm_{ConvAlgorithm::kAuto};
  ScratchPool scratch_;
};

// The machine's hardware concurrency.
int HardwareThreads();

// Runtime::Default()'s settings, for code that does not need the object itself:
// Runtime::Default().SetNumThreads(threads), .num_threads(), .set_conv_algorithm(a) and
// .conv_algorithm(). Convolution paths round differently (each within 1e-5 of a float64
// reference, relative to the output's largest magnitude) but each is deterministic.
void SetNumThreads(int threads);
int NumThreads();
void SetConvAlgorithm(ConvAlgorithm algorithm);
ConvAlgorithm GetConvAlgorithm();

}  // namespace gradway

#endif  // GRADWAY_BASE_RUNTIME_H_
