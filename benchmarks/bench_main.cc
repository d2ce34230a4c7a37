// main() for gradway's Google Benchmark binaries: accepts --threads=N (stripped before
// benchmark::Initialize), sets the kernels' thread count and prints it.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/runtime.h"

int main(int argc, char** argv) {
  int threads = 0;  // 0: all cores.
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  argv[argc] = nullptr;
  gradway::SetNumThreads(threads);
  std::fprintf(stderr, "gradway threads: %d\n", gradway::NumThreads());
  benchmark::AddCustomContext("gradway_threads", std::to_string(gradway::NumThreads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
