// Gather (index-select) along one axis and its backward, a deterministic scatter-add, on
// dense row-major float buffers seen as [outer, size, inner]: the axis has `size` entries,
// `outer` is the product of the dimensions before it and `inner` of those after.
//
// Determinism: the backward sums the gradient rows that land on the same entry in
// ascending order of their position in `indices` (an inverted index, built once), one
// task per output row: no atomics, so the result is the same bits for any thread count.
#ifndef GRADWAY_OPS_GATHER_H_
#define GRADWAY_OPS_GATHER_H_

#include <cstdint>

namespace gradway {
namespace ops {

// y[o, i, :] = x[o, indices[i], :] for i < n. x [outer, size, inner], y [outer, n, inner].
// Precondition (the caller validates): 0 <= indices[i] < size.
void Gather(const float* x, const int64_t* indices, int64_t outer, int64_t size, int64_t n,
            int64_t inner, float* y);

// The backward: dx [outer, size, inner] = 0, then dx[o, indices[i], :] += dy[o, i, :] for
// i = 0, 1, ..., n - 1 in that order. Same precondition as Gather.
void GatherBackward(const float* dy, const int64_t* indices, int64_t outer, int64_t size,
                    int64_t n, int64_t inner, float* dx);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_GATHER_H_
