// Layout kernels.
#ifndef GRADWAY_OPS_TRANSPOSE_H_
#define GRADWAY_OPS_TRANSPOSE_H_

#include <cstdint>

namespace gradway {
namespace ops {

// out[c x r] = transpose of in[r x c] (row-major; in and out must not overlap).
// Cache-blocked and parallel over row blocks.
void Transpose2D(const float* in, int64_t rows, int64_t cols, float* out);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_TRANSPOSE_H_
