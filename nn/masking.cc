#include "nn/masking.h"

#include <cstdint>
#include <string>
#include <utility>

#include "autograd/error.h"
#include "autograd/functions.h"
#include "base/shape_string.h"

namespace gradway {
namespace nn {

MaskingLayer::~MaskingLayer() = default;

void CheckMask(const std::string& who, const Tensor& x, const Tensor& mask) {
  if (!mask.defined()) return;
  GRADWAY_CHECK(x.rank() >= 2, who, ": a mask needs an input of steps [N, T, ...], got ",
                ShapeToString(x.shape()));
  const Shape want{x.shape()[0], x.shape()[1]};
  GRADWAY_CHECK(mask.shape() == want, who, ": the mask must be ", ShapeToString(want),
                " for input of shape ", ShapeToString(x.shape()), ", got ",
                ShapeToString(mask.shape()));
}

Masking::Masking(MaskingOptions options)
    : Layer("Masking", "masking"), options_(std::move(options)) {
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape Masking::DoBuild(const Shape& in) {
  GRADWAY_CHECK(in.size() >= 2, Description(), ": expects input (None, timesteps, ...), got ",
                BatchShapeString(in));
  return in;
}

Tensor Masking::Forward(const Tensor& x) { return CallWithMask(x, Tensor()).value; }

MaskedTensor Masking::CallWithMask(const Tensor& x, const Tensor& /*mask*/) {
  CheckInput(x);
  const int64_t N = x.shape()[0], T = x.shape()[1], step = T > 0 ? x.numel() / (N * T) : 0;
  Tensor keep = Tensor::Zeros({N, T});
  const float* v = x.data();
  for (int64_t s = 0; s < N * T; ++s) {
    bool real = false;
    for (int64_t i = 0; i < step && !real; ++i) real = v[s * step + i] != options_.mask_value;
    if (real) keep.data()[s] = 1.f;
  }
  Shape per_step = {N, T};
  per_step.resize(x.rank(), 1);
  return {Mul(x, keep.Reshape(per_step)), keep};
}

std::string Masking::ExportOnnx(OnnxGraph&, const std::string&) const {
  Fail("cannot export ", Description(), " to ONNX: masks are not exported yet, and the "
       "layers after it would read the padding");
}

}  // namespace nn
}  // namespace gradway
