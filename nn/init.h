// Weight initialisers (Keras' kernel_initializer / bias_initializer).
//
// An Initializer fills a parameter tensor in place from the model's Generator, given the
// tensor's fans. Fans follow Keras: a Dense kernel [in, out] has fan_in = in and
// fan_out = out; a Conv2D kernel [kh, kw, cin, cout] has fan_in = kh*kw*cin and
// fan_out = kh*kw*cout; a 1-D tensor [n] has fan_in = fan_out = n.
//
//   nn::DenseOptions(64).KernelInitializer(nn::HeNormal()).BiasInitializer(nn::Zeros())
//
// The *Normal variance-scaling initialisers (GlorotNormal, HeNormal, LecunNormal) draw from
// a normal truncated at two standard deviations, rescaled so the variance is the target
// (as Keras: stddev = sqrt(scale / fan) / 0.87962566103423978), by rejection sampling.
#ifndef GRADWAY_NN_INIT_H_
#define GRADWAY_NN_INIT_H_

#include <cstdint>
#include <functional>

#include "autograd/generator.h"
#include "autograd/shape.h"
#include "autograd/tensor.h"

namespace gradway {
namespace nn {

struct Fans {
  int64_t fan_in = 1;
  int64_t fan_out = 1;
};

// Keras' _compute_fans for a kernel or bias shape.
Fans ComputeFans(const Shape& shape);

// Fills `param` (already allocated) in place, drawing from `gen` in row-major order.
using Initializer = std::function<void(Tensor& param, const Fans& fans, Generator& gen)>;

Initializer Zeros();
Initializer Ones();
Initializer Constant(float value);
// Uniform in [lo, hi) / normal(mean, stddev), whatever the fans.
Initializer RandomUniform(float lo = -0.05f, float hi = 0.05f);
Initializer RandomNormal(float mean = 0.f, float stddev = 0.05f);
// U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)). The Keras default for kernels.
Initializer GlorotUniform();
// Truncated normal, stddev sqrt(2 / (fan_in + fan_out)).
Initializer GlorotNormal();
// U(-limit, limit), limit = sqrt(6 / fan_in); truncated normal stddev sqrt(2 / fan_in).
Initializer HeUniform();
Initializer HeNormal();
// U(-limit, limit), limit = sqrt(3 / fan_in); truncated normal stddev sqrt(1 / fan_in).
Initializer LecunUniform();
Initializer LecunNormal();
// Keras' Orthogonal (the default recurrent_initializer): the tensor seen as a matrix
// [numel / last, last] gets orthonormal rows (when it is wide) or columns (when tall),
// times `gain`: the Q of a QR decomposition of a standard normal matrix, with the signs of
// R's diagonal taken out as Keras does. Throws Error for a negative gain.
Initializer Orthogonal(float gain = 1.f);

// Creates a tensor of `shape` filled by `init` (fans from ComputeFans(shape)).
Tensor MakeParameter(const Shape& shape, const Initializer& init, Generator& gen);

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_INIT_H_
