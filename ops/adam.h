// Fused optimizer updates (one SIMD pass over the parameters, parallel over fixed
// chunks) with Keras 2 semantics.
#ifndef GRADWAY_OPS_ADAM_H_
#define GRADWAY_OPS_ADAM_H_

#include <cstdint>

namespace gradway {
namespace ops {

struct AdamParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
  float weight_decay = 0.0f;  // decoupled (AdamW); 0 for plain Adam
  int64_t step = 1;           // 1-based count of updates, including this one
};

// One Adam (Keras 2) / AdamW step, in place, for i < n:
//   param -= lr * weight_decay * param                (only if weight_decay != 0)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   param -= lr_t * m / (sqrt(v) + epsilon),  lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
// with t = p.step (>= 1). param, grad, m, v: [n]; param, m, v updated in place (m and v
// start at zero before step 1).
void AdamUpdate(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamParams& p);

// One SGD step (Keras semantics), in place, for i < n:
//   momentum == 0: param -= lr * g (velocity unused, may be null)
//   else:          v = momentum * v - lr * g;  param += nesterov ? momentum * v - lr * g : v
// param, grad, velocity: [n]; velocity starts at zero.
void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n, float lr,
               float momentum, bool nesterov);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_ADAM_H_
