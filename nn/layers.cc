#include "nn/layers.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "autograd/functions.h"
#include "base/padding.h"
#include "base/splitmix.h"

namespace gradway {
namespace nn {

Tensor ApplyActivation(ActivationFunction a, const Tensor& x) {
  switch (a) {
    case ActivationFunction::kLinear: return x;
    case ActivationFunction::kRelu: return Relu(x);
    case ActivationFunction::kSigmoid: return Sigmoid(x);
    case ActivationFunction::kTanh: return Tanh(x);
    case ActivationFunction::kSoftmax: return ::gradway::Softmax(x);
    case ActivationFunction::kElu: return Elu(x);
    case ActivationFunction::kGelu: return Gelu(x);
    case ActivationFunction::kSilu: return Silu(x);
    case ActivationFunction::kHardSigmoid: return HardSigmoid(x);
    case ActivationFunction::kLeakyRelu: return LeakyRelu(x, kLeakyReluActivationSlope);
  }
  Fail("activation: unknown value ", static_cast<int>(a));
}

const char* ActivationName(ActivationFunction a) {
  switch (a) {
    case ActivationFunction::kLinear: return "linear";
    case ActivationFunction::kRelu: return "relu";
    case ActivationFunction::kSigmoid: return "sigmoid";
    case ActivationFunction::kTanh: return "tanh";
    case ActivationFunction::kSoftmax: return "softmax";
    case ActivationFunction::kElu: return "elu";
    case ActivationFunction::kGelu: return "gelu";
    case ActivationFunction::kSilu: return "silu";
    case ActivationFunction::kHardSigmoid: return "hard_sigmoid";
    case ActivationFunction::kLeakyRelu: return "leaky_relu";
  }
  return "?";
}

ActivationFunction ActivationFromName(const std::string& name) {
  for (ActivationFunction a : {kLinear, kRelu, kSigmoid, kTanh, kSoftmax, kElu, kGelu, kSilu,
                               kHardSigmoid, kLeakyRelu}) {
    if (name == ActivationName(a)) return a;
  }
  if (name == "swish") return kSilu;  // Keras' other name for it
  Fail("activation: unknown name '", name,
       "' (expected linear, relu, sigmoid, tanh, softmax, elu, gelu, silu (or swish), "
       "hard_sigmoid or leaky_relu)");
}

// ---- Dense.
Dense::Dense(DenseOptions options) : Layer("Dense", "dense"), options_(std::move(options)) {
  GRADWAY_CHECK(options_.units > 0, "Dense: units must be positive, got ", options_.units);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape Dense::DoBuild(const Shape& in) {
  GRADWAY_CHECK(!in.empty() && in.back() > 0, Description(),
                ": expects input (None, ..., features) with features > 0, got ",
                BatchShapeString(in));
  kernel_ = RegisterParameter(
      "kernel",
      MakeParameter({in.back(), options_.units}, options_.kernel_initializer, generator()));
  if (options_.use_bias) {
    bias_ = RegisterParameter(
        "bias", MakeParameter({options_.units}, options_.bias_initializer, generator()));
  }
  Shape out = in;
  out.back() = options_.units;
  return out;
}

Tensor Dense::Forward(const Tensor& x) {
  // (N, ..., in): the same product on every position, as rows of one matrix.
  if (x.rank() > 2) {
    Shape out = x.shape();
    out.back() = options_.units;
    return Forward(x.Reshape({-1, x.shape().back()})).Reshape(out);
  }
  // ReLU fused into the product: the GEMM's epilogue in forward, the weight-gradient
  // GEMM's prologue in backward (no separate pass either way).
  if (options_.activation == kRelu) return LinearRelu(x, kernel_, bias_);
  return ApplyActivation(options_.activation, Linear(x, kernel_, bias_));
}

// ---- Conv2D.
Conv2D::Conv2D(Conv2DOptions options)
    : Layer("Conv2D", "conv2d"), options_(std::move(options)) {
  const Conv2DOptions& o = options_;
  GRADWAY_CHECK(o.filters > 0 && o.kernel_h > 0 && o.kernel_w > 0 && o.stride_h > 0 &&
                    o.stride_w > 0,
                "Conv2D: filters, kernel size and strides must be positive, got filters ",
                o.filters, ", kernel ", o.kernel_h, "x", o.kernel_w, ", strides ", o.stride_h,
                "x", o.stride_w);
  if (!o.name.empty()) set_name(o.name);
  set_declared_input_shape(o.input_shape);
}

Shape Conv2D::DoBuild(const Shape& in) {
  const Conv2DOptions& o = options_;
  GRADWAY_CHECK(in.size() == 3, Description(),
                ": expects input (None, height, width, channels), got ", BatchShapeString(in));
  int64_t oh = WindowOutputSize(in[0], o.kernel_h, o.stride_h, o.padding);
  int64_t ow = WindowOutputSize(in[1], o.kernel_w, o.stride_w, o.padding);
  GRADWAY_CHECK(oh > 0 && ow > 0, Description(), ": kernel ", o.kernel_h, "x", o.kernel_w,
                " does not fit input ", BatchShapeString(in), " with padding '",
                PaddingName(o.padding), "'");
  kernel_ = RegisterParameter(
      "kernel", MakeParameter({o.kernel_h, o.kernel_w, in[2], o.filters}, o.kernel_initializer,
                              generator()));
  if (o.use_bias) {
    bias_ = RegisterParameter("bias",
                              MakeParameter({o.filters}, o.bias_initializer, generator()));
  }
  return {oh, ow, o.filters};
}

Tensor Conv2D::Forward(const Tensor& x) {
  const int sh = static_cast<int>(options_.stride_h), sw = static_cast<int>(options_.stride_w);
  // ReLU fused into the convolution kernels: the forward's epilogue, and the gradient mask
  // the backward kernels apply as they read the incoming gradient (no separate pass).
  if (options_.activation == kRelu) {
    return ::gradway::Conv2DRelu(x, kernel_, bias_, sh, sw, options_.padding);
  }
  return ApplyActivation(options_.activation,
                         ::gradway::Conv2D(x, kernel_, bias_, sh, sw, options_.padding));
}

// ---- Embedding.
Embedding::Embedding(EmbeddingOptions options)
    : Layer("Embedding", "embedding"), options_(std::move(options)) {
  GRADWAY_CHECK(options_.input_dim > 0 && options_.output_dim > 0,
                "Embedding: input_dim and output_dim must be positive, got ",
                options_.input_dim, " and ", options_.output_dim);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape Embedding::DoBuild(const Shape& in) {
  embeddings_ = RegisterParameter(
      "embeddings", MakeParameter({options_.input_dim, options_.output_dim},
                                  options_.embeddings_initializer, generator()));
  Shape out = in;
  out.push_back(options_.output_dim);
  return out;
}

Tensor Embedding::Forward(const Tensor& x) {
  std::vector<int64_t> ids(static_cast<size_t>(x.numel()));
  const float* v = x.data();
  for (size_t i = 0; i < ids.size(); ++i) {
    const float id = v[i];
    GRADWAY_CHECK(id >= 0.f && id < static_cast<float>(options_.input_dim) &&
                      id == std::floor(id),
                  Description(), ": id ", id, " at position ", i, " of input ",
                  ShapeToString(x.shape()), " is not an integer in [0, ", options_.input_dim,
                  ")");
    ids[i] = static_cast<int64_t>(id);
  }
  Shape out = x.shape();
  out.push_back(options_.output_dim);
  return Gather(embeddings_, ids, 0).Reshape(out);
}

MaskedTensor Embedding::CallWithMask(const Tensor& x, const Tensor& /*mask*/) {
  MaskedTensor out{(*this)(x), Tensor()};
  if (!options_.mask_zero) return out;
  GRADWAY_CHECK(x.rank() == 2, Description(), ": mask_zero needs ids [batch, steps], got ",
                ShapeToString(x.shape()));
  out.mask = Tensor::Zeros(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) out.mask.data()[i] = x.data()[i] != 0.f ? 1.f : 0.f;
  return out;
}

// ---- Conv1D.
Conv1D::Conv1D(Conv1DOptions options) : Layer("Conv1D", "conv1d"), options_(std::move(options)) {
  const Conv1DOptions& o = options_;
  GRADWAY_CHECK(o.filters > 0 && o.kernel_size > 0 && o.strides > 0,
                "Conv1D: filters, kernel_size and strides must be positive, got filters ",
                o.filters, ", kernel_size ", o.kernel_size, ", strides ", o.strides);
  if (!o.name.empty()) set_name(o.name);
  set_declared_input_shape(o.input_shape);
}

Shape Conv1D::DoBuild(const Shape& in) {
  const Conv1DOptions& o = options_;
  GRADWAY_CHECK(in.size() == 2, Description(), ": expects input (None, steps, channels), got ",
                BatchShapeString(in));
  // Causal: kernel_size - 1 zeros before the first step, then valid.
  const int64_t steps = o.causal ? in[0] + o.kernel_size - 1 : in[0];
  const int64_t out = WindowOutputSize(steps, o.kernel_size, o.strides,
                                       o.causal ? Padding::kValid : o.padding);
  GRADWAY_CHECK(out > 0, Description(), ": kernel_size ", o.kernel_size,
                " does not fit input ", BatchShapeString(in));
  kernel_ = RegisterParameter(
      "kernel", MakeParameter({o.kernel_size, in[1], o.filters}, o.kernel_initializer,
                              generator()));
  if (o.use_bias) {
    bias_ = RegisterParameter("bias",
                              MakeParameter({o.filters}, o.bias_initializer, generator()));
  }
  return {out, o.filters};
}

Tensor Conv1D::Forward(const Tensor& x) {
  const Conv1DOptions& o = options_;
  const int64_t n = x.size(0), steps = x.size(1), channels = x.size(2);
  Tensor image = x.Reshape({n, 1, steps, channels});
  if (o.causal) image = Pad(image, {{0, 0}, {0, 0}, {o.kernel_size - 1, 0}, {0, 0}});
  const Tensor kernel = kernel_.Reshape({1, o.kernel_size, channels, o.filters});
  const int stride = static_cast<int>(o.strides);
  const Padding padding = o.causal ? Padding::kValid : o.padding;
  const Tensor y =
      o.activation == kRelu
          ? ::gradway::Conv2DRelu(image, kernel, bias_, 1, stride, padding)
          : ApplyActivation(o.activation,
                            ::gradway::Conv2D(image, kernel, bias_, 1, stride, padding));
  return y.Reshape({n, y.size(2), o.filters});
}

// ---- Pooling.
namespace {

Shape PoolBuild(const std::string& who, Pooling2DOptions* o, const Shape& in) {
  GRADWAY_CHECK(in.size() == 3, who, ": expects input (None, height, width, channels), got ",
                BatchShapeString(in));
  if (o->stride_h == 0) o->stride_h = o->pool_h;
  if (o->stride_w == 0) o->stride_w = o->pool_w;
  int64_t oh = WindowOutputSize(in[0], o->pool_h, o->stride_h, o->padding);
  int64_t ow = WindowOutputSize(in[1], o->pool_w, o->stride_w, o->padding);
  GRADWAY_CHECK(oh > 0 && ow > 0, who, ": pool ", o->pool_h, "x", o->pool_w,
                " does not fit input ", BatchShapeString(in), " with padding '",
                PaddingName(o->padding), "'");
  return {oh, ow, in[2]};
}

void PoolCheckOptions(const char* type, const Pooling2DOptions& o) {
  GRADWAY_CHECK(o.pool_h > 0 && o.pool_w > 0 && o.stride_h >= 0 && o.stride_w >= 0, type,
                ": pool size must be positive and strides non-negative, got pool ", o.pool_h,
                "x", o.pool_w, ", strides ", o.stride_h, "x", o.stride_w);
}

}  // namespace

MaxPooling2D::MaxPooling2D(Pooling2DOptions options)
    : Layer("MaxPooling2D", "max_pooling2d"), options_(std::move(options)) {
  PoolCheckOptions("MaxPooling2D", options_);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape MaxPooling2D::DoBuild(const Shape& in) { return PoolBuild(Description(), &options_, in); }

Tensor MaxPooling2D::Forward(const Tensor& x) {
  const Pooling2DOptions& o = options_;
  return MaxPool2D(x, static_cast<int>(o.pool_h), static_cast<int>(o.pool_w),
                   static_cast<int>(o.stride_h), static_cast<int>(o.stride_w), o.padding);
}

AveragePooling2D::AveragePooling2D(Pooling2DOptions options)
    : Layer("AveragePooling2D", "average_pooling2d"), options_(std::move(options)) {
  PoolCheckOptions("AveragePooling2D", options_);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape AveragePooling2D::DoBuild(const Shape& in) { return PoolBuild(Description(), &options_, in); }

Tensor AveragePooling2D::Forward(const Tensor& x) {
  const Pooling2DOptions& o = options_;
  return AvgPool2D(x, static_cast<int>(o.pool_h), static_cast<int>(o.pool_w),
                   static_cast<int>(o.stride_h), static_cast<int>(o.stride_w), o.padding);
}

// ---- Global pooling.
namespace {

Shape GlobalPoolBuild(const std::string& who, const GlobalPooling2DOptions& o,
                      const Shape& in) {
  GRADWAY_CHECK(in.size() == 3, who, ": expects input (None, height, width, channels), got ",
                BatchShapeString(in));
  if (o.keepdims) return {1, 1, in[2]};
  return {in[2]};
}

// [N, C] -> [N, 1, 1, C] when keepdims.
Tensor KeepDims(const Tensor& y, bool keepdims) {
  return keepdims ? y.Reshape({y.size(0), 1, 1, y.size(1)}) : y;
}

}  // namespace

GlobalAveragePooling2D::GlobalAveragePooling2D(GlobalPooling2DOptions options)
    : Layer("GlobalAveragePooling2D", "global_average_pooling2d"),
      options_(std::move(options)) {
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape GlobalAveragePooling2D::DoBuild(const Shape& in) {
  return GlobalPoolBuild(Description(), options_, in);
}

Tensor GlobalAveragePooling2D::Forward(const Tensor& x) {
  return KeepDims(GlobalAvgPool2D(x), options_.keepdims);
}

GlobalMaxPooling2D::GlobalMaxPooling2D(GlobalPooling2DOptions options)
    : Layer("GlobalMaxPooling2D", "global_max_pooling2d"), options_(std::move(options)) {
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape GlobalMaxPooling2D::DoBuild(const Shape& in) {
  return GlobalPoolBuild(Description(), options_, in);
}

Tensor GlobalMaxPooling2D::Forward(const Tensor& x) {
  return KeepDims(GlobalMaxPool2D(x), options_.keepdims);
}

GlobalAveragePooling1D::GlobalAveragePooling1D(GlobalPooling1DOptions options)
    : Layer("GlobalAveragePooling1D", "global_average_pooling1d"),
      options_(std::move(options)) {
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

namespace {

Shape GlobalPool1DBuild(const std::string& who, const GlobalPooling1DOptions& o,
                        const Shape& in) {
  GRADWAY_CHECK(in.size() == 2, who, ": expects input (None, steps, features), got ",
                BatchShapeString(in));
  if (o.keepdims) return {1, in[1]};
  return {in[1]};
}

}  // namespace

Shape GlobalAveragePooling1D::DoBuild(const Shape& in) {
  return GlobalPool1DBuild(Description(), options_, in);
}

Tensor GlobalAveragePooling1D::Forward(const Tensor& x) {
  return Mean(x, 1, options_.keepdims);
}

MaskedTensor GlobalAveragePooling1D::CallWithMask(const Tensor& x, const Tensor& mask) {
  CheckInput(x);
  CheckMask(Description(), x, mask);
  if (!mask.defined()) return {Forward(x), Tensor()};
  // sum_t x[n, t] * mask[n, t] / max(sum_t mask[n, t], 1).
  const int64_t N = x.shape()[0], T = x.shape()[1];
  Tensor scale = Tensor::Zeros({N, 1, 1});
  for (int64_t n = 0; n < N; ++n) {
    float count = 0.f;
    for (int64_t t = 0; t < T; ++t) count += mask.data()[n * T + t] != 0.f ? 1.f : 0.f;
    scale.data()[n] = 1.f / std::max(count, 1.f);
  }
  Tensor keep = Tensor::Zeros({N, T, 1});
  for (int64_t i = 0; i < N * T; ++i) keep.data()[i] = mask.data()[i] != 0.f ? 1.f : 0.f;
  return {Sum(Mul(x, Mul(keep, scale)), 1, options_.keepdims), Tensor()};
}

GlobalMaxPooling1D::GlobalMaxPooling1D(GlobalPooling1DOptions options)
    : Layer("GlobalMaxPooling1D", "global_max_pooling1d"), options_(std::move(options)) {
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape GlobalMaxPooling1D::DoBuild(const Shape& in) {
  return GlobalPool1DBuild(Description(), options_, in);
}

Tensor GlobalMaxPooling1D::Forward(const Tensor& x) {
  return Max(x, 1, options_.keepdims).values;
}

// ---- ZeroPadding2D.
ZeroPadding2D::ZeroPadding2D(ZeroPadding2DOptions options)
    : Layer("ZeroPadding2D", "zero_padding2d"), options_(std::move(options)) {
  const ZeroPadding2DOptions& o = options_;
  GRADWAY_CHECK(o.top >= 0 && o.bottom >= 0 && o.left >= 0 && o.right >= 0,
                "ZeroPadding2D: padding must be non-negative, got ((", o.top, ", ", o.bottom,
                "), (", o.left, ", ", o.right, "))");
  if (!o.name.empty()) set_name(o.name);
  set_declared_input_shape(o.input_shape);
}

Shape ZeroPadding2D::DoBuild(const Shape& in) {
  const ZeroPadding2DOptions& o = options_;
  GRADWAY_CHECK(in.size() == 3, Description(),
                ": expects input (None, height, width, channels), got ", BatchShapeString(in));
  return {in[0] + o.top + o.bottom, in[1] + o.left + o.right, in[2]};
}

Tensor ZeroPadding2D::Forward(const Tensor& x) {
  const ZeroPadding2DOptions& o = options_;
  return Pad(x, {{0, 0}, {o.top, o.bottom}, {o.left, o.right}, {0, 0}});
}

// ---- Dropout.
Dropout::Dropout(DropoutOptions options)
    : Layer("Dropout", "dropout"), options_(std::move(options)) {
  GRADWAY_CHECK(options_.rate >= 0 && options_.rate < 1, "Dropout: rate must be in [0, 1), got ",
                options_.rate);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Shape Dropout::DoBuild(const Shape& in) {
  seed_ = options_.seed ? *options_.seed : generator().NextU64();
  return in;
}

Tensor Dropout::Forward(const Tensor& x) {
  if (!is_training() || options_.rate == 0) return x;
  const uint64_t seed = MixSeed(seed_, static_cast<uint64_t>(CurrentRandomStep()));
  return ::gradway::Dropout(x, static_cast<float>(options_.rate), true, seed);
}

// ---- Flatten, ReLU, Softmax.
Flatten::Flatten() : Layer("Flatten", "flatten") {}
Flatten::Flatten(Shape input_shape) : Flatten() {
  set_declared_input_shape(std::move(input_shape));
}

Shape Flatten::DoBuild(const Shape& in) { return {NumElements(in)}; }

Tensor Flatten::Forward(const Tensor& x) {
  return x.Reshape({x.size(0), NumElements(output_shape())});
}

ReLU::ReLU() : Layer("ReLU", "re_lu") {}
Tensor ReLU::Forward(const Tensor& x) { return Relu(x); }

Softmax::Softmax() : Layer("Softmax", "softmax") {}
Tensor Softmax::Forward(const Tensor& x) { return ::gradway::Softmax(x); }

Activation::Activation(nn::ActivationFunction function)
    : Layer("Activation", "activation"), function_(function) {}
Activation::Activation(const std::string& name) : Activation(ActivationFromName(name)) {}
Tensor Activation::Forward(const Tensor& x) { return ApplyActivation(function_, x); }

// ---- LeakyReLU, ELU.
LeakyReLU::LeakyReLU(LeakyReLUOptions options)
    : Layer("LeakyReLU", "leaky_re_lu"), options_(std::move(options)) {
  GRADWAY_CHECK(std::isfinite(options_.negative_slope) && options_.negative_slope >= 0,
                "LeakyReLU: negative_slope must be finite and >= 0, got ",
                options_.negative_slope);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Tensor LeakyReLU::Forward(const Tensor& x) { return LeakyRelu(x, options_.negative_slope); }

ELU::ELU(ELUOptions options) : Layer("ELU", "elu"), options_(std::move(options)) {
  GRADWAY_CHECK(std::isfinite(options_.alpha), "ELU: alpha must be finite, got ",
                options_.alpha);
  if (!options_.name.empty()) set_name(options_.name);
  set_declared_input_shape(options_.input_shape);
}

Tensor ELU::Forward(const Tensor& x) { return Elu(x, options_.alpha); }

}  // namespace nn
}  // namespace gradway
