// Plain implementation (to be replaced by the Highway + oneTBB kernel).
#include "ops/matmul.h"

namespace gradway {
namespace ops {

void MatMul(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
            bool trans_a, bool trans_b, const float* bias, bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float s = 0.f;
      for (int64_t p = 0; p < k; ++p) {
        const float av = trans_a ? a[p * m + i] : a[i * k + p];
        const float bv = trans_b ? b[j * k + p] : b[p * n + j];
        s += av * bv;
      }
      if (bias) s += bias[j];
      c[i * n + j] = accumulate ? c[i * n + j] + s : s;
    }
  }
}

}  // namespace ops
}  // namespace gradway
