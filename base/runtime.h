// The kernels' process-wide settings: how many threads they may use, and which algorithm
// computes 2-D convolutions. Every layer may set them (nn/, examples/, benchmarks/); the
// kernels of ops/ read them.
#ifndef GRADWAY_BASE_RUNTIME_H_
#define GRADWAY_BASE_RUNTIME_H_

#include "base/conv_algorithm.h"

namespace gradway {

// Limits the kernels to `threads` worker threads (>= 1; 0 means the machine's cores).
// Call before heavy work starts; later calls replace the limit.
void SetNumThreads(int threads);

// The number of threads kernels may use (the machine's cores unless SetNumThreads was called).
int NumThreads();

// The machine's hardware concurrency.
int HardwareThreads();

// Makes every later convolution in the process use `algorithm` when its caller asks for
// kAuto (kAuto: the automatic choice per shape and pass again), e.g. to compare the paths
// on a whole model. Results stay deterministic on each path; the paths round differently
// (each within 1e-5 of a float64 reference, relative to the output's largest magnitude).
// Thread-safe; set it while no convolution runs.
void SetConvAlgorithm(ConvAlgorithm algorithm);

// The algorithm kAuto currently means (kAuto unless SetConvAlgorithm chose one).
ConvAlgorithm GetConvAlgorithm();

}  // namespace gradway

#endif  // GRADWAY_BASE_RUNTIME_H_
