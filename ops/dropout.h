// Inverted dropout with a counter-based random stream: element i's keep/drop decision is a
// hash of (seed, i), so the mask for a given seed is the same whatever the thread count or
// SIMD target. Use a different seed per step (e.g. hash of a base seed and the step).
#ifndef GRADWAY_OPS_DROPOUT_H_
#define GRADWAY_OPS_DROPOUT_H_

#include <cstdint>

namespace gradway {
namespace ops {

// mask[i] = 1 with probability 1 - rate (else 0), from (seed, i) only;
// y[i] = mask[i] ? x[i] * (1 / (1 - rate)) : 0. x, y, mask: [n]; y and mask overwritten;
// y may alias x. rate in [0, 1); rate 0 copies x and sets every mask byte to 1.
// The keep probability is quantised to multiples of 2^-24.
void DropoutForward(const float* x, float* y, uint8_t* mask, int64_t n, float rate,
                    uint64_t seed);

// dx[i] = mask[i] ? dy[i] * (1 / (1 - rate)) : 0, with mask and rate from DropoutForward.
// dy, mask, dx: [n]; dx overwritten, may alias dy.
void DropoutBackward(const float* dy, const uint8_t* mask, float* dx, int64_t n,
                     float rate);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_DROPOUT_H_
