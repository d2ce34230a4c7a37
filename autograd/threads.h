// The kernels' thread count, for code above autograd (nn/, examples/), which may not use
// ops/ directly. These are the functions of ops/parallel.h, declared again here and
// defined in ops/parallel.cc (autograd/threads_test.cc checks that the two declarations
// agree).
#ifndef GRADWAY_AUTOGRAD_THREADS_H_
#define GRADWAY_AUTOGRAD_THREADS_H_

namespace gradway {

// Limits the kernels to `threads` worker threads (>= 1; 0 means the machine's cores).
// Call before heavy work starts; later calls replace the limit.
void SetNumThreads(int threads);

// The number of threads kernels may use (the machine's cores unless SetNumThreads was called).
int NumThreads();

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_THREADS_H_
