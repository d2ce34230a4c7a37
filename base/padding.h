// Keras/TensorFlow padding of a convolution or pooling window, and the output-size rule
// that goes with it. Every layer uses these: the kernels (ops/conv.h, ops/pool.h) to lay
// out a pass, autograd's ops and nn's layers to check and report shapes.
#ifndef GRADWAY_BASE_PADDING_H_
#define GRADWAY_BASE_PADDING_H_

#include <cstdint>

namespace gradway {

// kValid: no padding; the window stays inside the input.
// kSame: zero padding so that out = ceil(in / stride).
enum class Padding { kValid, kSame };

// "valid" or "same", as Keras spells them.
const char* PaddingName(Padding padding);

// The output length of one spatial dimension: a window of `window` cells moved by `stride`
// (>= 1) over `in` (>= 0) cells.
//   kValid: ceil((in - window + 1) / stride), and 0 when in < window.
//   kSame:  ceil(in / stride).
int64_t WindowOutputSize(int64_t in, int64_t window, int64_t stride, Padding padding);

// The zero cells padded before the first input cell (top or left) in that dimension: 0 for
// kValid; for kSame, half of max((out - 1) * stride + window - in, 0), rounded down (the
// extra cell of an odd total goes after the last input cell, as in TensorFlow).
int64_t WindowPadBefore(int64_t in, int64_t window, int64_t stride, Padding padding);

}  // namespace gradway

#endif  // GRADWAY_BASE_PADDING_H_
