// Test helper: how much memory code asks for. Replaces the global operator new (and
// delete) of the test binary that links it, to record the largest single request made
// while a function runs, e.g. to check that a reader given a hostile header does not
// allocate what the header claims before the data is there.
#ifndef GRADWAY_DATA_ALLOC_PROBE_H_
#define GRADWAY_DATA_ALLOC_PROBE_H_

#include <cstddef>
#include <functional>

namespace gradway::data {

// The largest single operator new request (in bytes) made while `f` runs, by any thread.
// Allocations through malloc (e.g. by zlib or libpng) are not seen.
size_t LargestAllocationDuring(const std::function<void()>& f);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_ALLOC_PROBE_H_
