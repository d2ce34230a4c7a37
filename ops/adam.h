// Fused optimizer updates (one SIMD pass over the parameters, parallel over fixed
// chunks) with Keras 2 semantics, and the gradient clipping applied before them.
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

struct SgdParams {
  float lr = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // decoupled, as AdamParams::weight_decay; 0 for none
};

// SgdUpdate above with decoupled weight decay first, as AdamUpdate does it:
//   param -= lr * weight_decay * param                (only if weight_decay != 0)
// then the SGD step.
void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n,
               const SgdParams& p);

// The sum of x[i]^2 for i < n (a gradient's squared L2 norm, for clipping): each fixed
// chunk of the elements summed in float, the chunks' sums added in index order in double,
// so the result does not depend on the thread count. 0 for n == 0.
double SumOfSquares(const float* x, int64_t n);

// y[i] = x[i] clamped to [-limit, limit] (Keras' clipvalue, PyTorch's clip_grad_value_);
// NaN stays NaN. limit >= 0. y may alias x.
void ClipByValue(const float* x, float limit, float* y, int64_t n);

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_ADAM_H_
