// Constant padding of a row-major tensor of any rank, and its backward (the crop that takes
// the padded tensor's gradient back to the input's shape). Copies whole contiguous runs
// (memcpy) and fills the padding; parallel over rows; no arithmetic, so the results are
// the same bits whatever the thread count.
#ifndef GRADWAY_OPS_PAD_H_
#define GRADWAY_OPS_PAD_H_

#include <cstdint>
#include <vector>

namespace gradway {
namespace ops {

// y = x with before[d] cells of `value` added before axis d and after[d] after it:
// y's shape is shape[d] + before[d] + after[d], and y[i] = x[i - before] where that is
// inside x, else value. shape, before and after have one entry per axis (rank 0: y = x);
// pads are >= 0 (not checked). y is overwritten and must not overlap x.
void PadForward(const float* x, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                float value, float* y);

// The inverse crop: dx[i] = dy[i + before] for every index i of `shape` (dy has the padded
// shape, as PadForward's y). dx is overwritten and must not overlap dy.
void PadBackward(const float* dy, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                 float* dx);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_PAD_H_
