#include "ops/transpose.h"

#include <algorithm>

#include "ops/parallel.h"

namespace gradway {
namespace ops {

void Transpose2D(const float* in, int64_t rows, int64_t cols, float* out) {
  constexpr int64_t kBlock = 32;
  ParallelFor(rows, kBlock * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t rb = r0; rb < r1; rb += kBlock) {
      const int64_t re = std::min(r1, rb + kBlock);
      for (int64_t cb = 0; cb < cols; cb += kBlock) {
        const int64_t ce = std::min(cols, cb + kBlock);
        for (int64_t r = rb; r < re; ++r) {
          for (int64_t c = cb; c < ce; ++c) out[c * rows + r] = in[r * cols + c];
        }
      }
    }
  });
}

}  // namespace ops
}  // namespace gradway
