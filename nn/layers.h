// Keras-like layers. Images are NHWC (channels-last): a layer given InputShape({28, 28, 1})
// takes batches x [N, 28, 28, 1]. Every layer takes an Options struct with chainable
// setters (Keras keyword arguments); the common ones convert from their first argument,
// so nn::Dense(10), nn::MaxPooling2D(2) and nn::Dropout(0.5) work.
//
// Names: a layer left unnamed gets a Keras name unique in the process (conv2d, conv2d_1,
// max_pooling2d, dropout, dropout_1, flatten, dense, dense_1, ...; see Module::name()).
// Parameters: kernel and bias, keyed in a model by the layer's place in it
// ("dense_1/kernel" for its second Dense), whatever else the process built.
//
// Shapes below are per batch; "in" means the layer's per-sample input shape. Errors (input
// of the wrong rank, a kernel larger than the image) throw gradway::Error naming the layer.
#ifndef GRADWAY_NN_LAYERS_H_
#define GRADWAY_NN_LAYERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "autograd/nn_functions.h"
#include "autograd/tensor.h"
#include "base/padding.h"
#include "nn/init.h"
#include "nn/masking.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

// Keras padding: kValid (no padding) or kSame (out = ceil(in / stride)).
using gradway::Padding;

// Activation functions a layer applies to its output. kSoftmax is over the last axis; the
// others are elementwise, as Keras 3's functions of the same names (autograd/functions.h):
// kElu with alpha 1; kGelu the exact (erf) form, Keras' default; kSilu x * sigmoid(x)
// (Keras' "swish" too); kHardSigmoid relu6(x + 3) / 6 (Keras 3's and PyTorch's; Keras 2's
// was clip(0.2 x + 0.5, 0, 1)); kLeakyRelu with negative slope 0.2, Keras 3's default for
// the "leaky_relu" string (the LeakyReLU layer below defaults to 0.3, as Keras').
enum class ActivationFunction {
  kLinear, kRelu, kSigmoid, kTanh, kSoftmax, kElu, kGelu, kSilu, kHardSigmoid, kLeakyRelu
};
// Short names, as Keras' strings: nn::Dense(10, nn::kSoftmax).
inline constexpr ActivationFunction kLinear = ActivationFunction::kLinear;
inline constexpr ActivationFunction kRelu = ActivationFunction::kRelu;
inline constexpr ActivationFunction kSigmoid = ActivationFunction::kSigmoid;
inline constexpr ActivationFunction kTanh = ActivationFunction::kTanh;
inline constexpr ActivationFunction kSoftmax = ActivationFunction::kSoftmax;
inline constexpr ActivationFunction kElu = ActivationFunction::kElu;
inline constexpr ActivationFunction kGelu = ActivationFunction::kGelu;
inline constexpr ActivationFunction kSilu = ActivationFunction::kSilu;
inline constexpr ActivationFunction kHardSigmoid = ActivationFunction::kHardSigmoid;
inline constexpr ActivationFunction kLeakyRelu = ActivationFunction::kLeakyRelu;
// kLeakyRelu's negative slope (Keras 3's activations.leaky_relu default).
inline constexpr float kLeakyReluActivationSlope = 0.2f;

// Applies `a` to x (differentiable).
Tensor ApplyActivation(ActivationFunction a, const Tensor& x);
// "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "gelu", "silu", "hard_sigmoid",
// "leaky_relu".
const char* ActivationName(ActivationFunction a);
// The inverse of ActivationName, also taking Keras' alias "swish" for kSilu; throws Error
// naming the unknown string.
ActivationFunction ActivationFromName(const std::string& name);

// ---------------------------------------------------------------------------------------
// Dense: y = activation(x · kernel + bias). x [N, in] -> y [N, units]; as Keras, an input
// of more axes [N, ..., in] is multiplied along its last axis -> [N, ..., units] (every
// position by the same kernel; a softmax is over the last axis).
// kernel [in, units] (GlorotUniform), bias [units] (Zeros). With kRelu the layer runs
// LinearRelu: bias and ReLU in the GEMM's epilogue, the ReLU's gradient mask in the weight
// gradient's GEMM prologue. ONNX: Gemm for (N, in); MatMul and Add over the last axis for
// more axes (ONNX Runtime runs it; OpenCV 4.6 cannot).
struct DenseOptions {
  DenseOptions(int64_t units) : units(units) {}  // NOLINT(runtime/explicit)
  int64_t units;
  ActivationFunction activation = kLinear;
  bool use_bias = true;
  Initializer kernel_initializer = GlorotUniform();
  Initializer bias_initializer = Zeros();
  std::optional<Shape> input_shape;
  std::string name;

  DenseOptions& Activation(ActivationFunction v) { activation = v; return *this; }
  DenseOptions& UseBias(bool v) { use_bias = v; return *this; }
  DenseOptions& KernelInitializer(Initializer v) { kernel_initializer = std::move(v); return *this; }
  DenseOptions& BiasInitializer(Initializer v) { bias_initializer = std::move(v); return *this; }
  // The per-sample input shape, for the first layer of a Sequential: InputShape({784}).
  DenseOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  DenseOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class Dense : public Layer<Dense> {
 public:
  Dense(DenseOptions options);  // NOLINT(runtime/explicit)
  // The short form: nn::Dense(128, nn::kRelu).
  Dense(int64_t units, ActivationFunction activation)
      : Dense(DenseOptions(units).Activation(activation)) {}
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const DenseOptions& options() const { return options_; }
  Tensor kernel() const { return kernel_; }  // [in, units]; undefined until built
  Tensor bias() const { return bias_; }      // [units]; undefined without bias

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  DenseOptions options_;
  Tensor kernel_, bias_;
};

// ---------------------------------------------------------------------------------------
// Conv2D: y = activation(conv(x, kernel) + bias).
// x [N, H, W, Cin] -> y [N, OH, OW, filters]; kernel [kh, kw, Cin, filters] (HWIO,
// GlorotUniform), bias [filters]. valid: O = ceil((I - k + 1) / s); same: O = ceil(I / s).
// With kRelu the layer runs Conv2DRelu: bias and ReLU in the convolution's epilogue, the
// ReLU's gradient mask applied by the backward kernels. 3x3 stride-1 kernels run Winograd
// (ops/conv.h chooses the algorithm per pass).
struct Conv2DOptions {
  Conv2DOptions(int64_t filters, int64_t kernel_size)
      : filters(filters), kernel_h(kernel_size), kernel_w(kernel_size) {}
  int64_t filters;
  int64_t kernel_h, kernel_w;
  int64_t stride_h = 1, stride_w = 1;
  gradway::Padding padding = gradway::Padding::kValid;
  ActivationFunction activation = kLinear;
  bool use_bias = true;
  Initializer kernel_initializer = GlorotUniform();
  Initializer bias_initializer = Zeros();
  std::optional<Shape> input_shape;
  std::string name;

  Conv2DOptions& KernelSize(int64_t h, int64_t w) { kernel_h = h; kernel_w = w; return *this; }
  Conv2DOptions& Strides(int64_t s) { stride_h = stride_w = s; return *this; }
  Conv2DOptions& Strides(int64_t h, int64_t w) { stride_h = h; stride_w = w; return *this; }
  Conv2DOptions& Padding(gradway::Padding v) { padding = v; return *this; }
  Conv2DOptions& Activation(ActivationFunction v) { activation = v; return *this; }
  Conv2DOptions& UseBias(bool v) { use_bias = v; return *this; }
  Conv2DOptions& KernelInitializer(Initializer v) { kernel_initializer = std::move(v); return *this; }
  Conv2DOptions& BiasInitializer(Initializer v) { bias_initializer = std::move(v); return *this; }
  // Per-sample input shape {height, width, channels}.
  Conv2DOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  Conv2DOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class Conv2D : public Layer<Conv2D> {
 public:
  explicit Conv2D(Conv2DOptions options);
  // The short form: nn::Conv2D(32, 3, nn::kRelu) (3x3 kernel, stride 1, valid padding).
  Conv2D(int64_t filters, int64_t kernel_size, ActivationFunction activation = kLinear)
      : Conv2D(Conv2DOptions(filters, kernel_size).Activation(activation)) {}
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const Conv2DOptions& options() const { return options_; }
  Tensor kernel() const { return kernel_; }  // [kh, kw, Cin, filters]
  Tensor bias() const { return bias_; }      // [filters]

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  Conv2DOptions options_;
  Tensor kernel_, bias_;
};

// Embedding (Keras' layer): integer ids [N, ...] -> their rows of the table
// embeddings [input_dim, output_dim] (RandomUniform(-0.05, 0.05), Keras' default): output
// [N, ..., output_dim]. A model's inputs are float tensors, so the ids arrive as floats
// (exact integers up to 2^24); the lookup itself is autograd's Gather on integer indices,
// its gradient a deterministic scatter-add. An id that is not an integer in
// [0, input_dim) is an Error naming the layer, the id and its position. ONNX: Cast to
// int64 and Gather. Keras' mask_zero is not supported yet (masks do not travel between
// layers).
struct EmbeddingOptions {
  EmbeddingOptions(int64_t input_dim, int64_t output_dim)
      : input_dim(input_dim), output_dim(output_dim) {}
  int64_t input_dim;
  int64_t output_dim;
  Initializer embeddings_initializer = RandomUniform(-0.05f, 0.05f);
  // Id 0 is padding: the output's mask (nn/masking.h) marks the steps whose id is not 0.
  bool mask_zero = false;
  std::optional<Shape> input_shape;
  std::string name;

  EmbeddingOptions& MaskZero(bool v) { mask_zero = v; return *this; }
  EmbeddingOptions& EmbeddingsInitializer(Initializer v) {
    embeddings_initializer = std::move(v);
    return *this;
  }
  // Per-sample input shape, e.g. {sequence_length}.
  EmbeddingOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  EmbeddingOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class Embedding : public Layer<Embedding>, public MaskingLayer {
 public:
  // Throws Error for input_dim or output_dim < 1.
  explicit Embedding(EmbeddingOptions options);
  Embedding(int64_t input_dim, int64_t output_dim)
      : Embedding(EmbeddingOptions(input_dim, output_dim)) {}
  Tensor Forward(const Tensor& x) override;
  // The lookup, with the mask of the non-zero ids when mask_zero (else none); the ids'
  // [N, T] for a mask (an input of other rank with mask_zero is an Error).
  MaskedTensor CallWithMask(const Tensor& x, const Tensor& mask) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const EmbeddingOptions& options() const { return options_; }
  Tensor embeddings() const { return embeddings_; }  // [input_dim, output_dim]

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  EmbeddingOptions options_;
  Tensor embeddings_;
};

// Conv1D (Keras' layer, channels last): x [N, steps, channels] -> [N, out_steps, filters];
// kernel [kernel_size, channels, filters] (Keras' layout, GlorotUniform), bias [filters]
// (Zeros). Padding: valid, same (Keras' rules, as Conv2D), or causal (Causal(): kernel_size
// - 1 zeros before the first step, so output t sees inputs up to t; Keras'
// padding="causal"). Runs Conv2D's kernels on [N, 1, steps, channels] (and with kRelu its
// fused ReLU). ONNX: a 1-D Conv between two Transposes.
struct Conv1DOptions {
  Conv1DOptions(int64_t filters, int64_t kernel_size)
      : filters(filters), kernel_size(kernel_size) {}
  int64_t filters;
  int64_t kernel_size;
  int64_t strides = 1;
  gradway::Padding padding = gradway::Padding::kValid;
  bool causal = false;
  ActivationFunction activation = kLinear;
  bool use_bias = true;
  Initializer kernel_initializer = GlorotUniform();
  Initializer bias_initializer = Zeros();
  std::optional<Shape> input_shape;
  std::string name;

  Conv1DOptions& Strides(int64_t v) { strides = v; return *this; }
  Conv1DOptions& Padding(gradway::Padding v) { padding = v; causal = false; return *this; }
  Conv1DOptions& Causal() { causal = true; return *this; }
  Conv1DOptions& Activation(ActivationFunction v) { activation = v; return *this; }
  Conv1DOptions& UseBias(bool v) { use_bias = v; return *this; }
  Conv1DOptions& KernelInitializer(Initializer v) { kernel_initializer = std::move(v); return *this; }
  Conv1DOptions& BiasInitializer(Initializer v) { bias_initializer = std::move(v); return *this; }
  // Per-sample input shape {steps, channels}.
  Conv1DOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  Conv1DOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class Conv1D : public Layer<Conv1D> {
 public:
  // Throws Error for filters, kernel_size or strides < 1.
  explicit Conv1D(Conv1DOptions options);
  Conv1D(int64_t filters, int64_t kernel_size, ActivationFunction activation = kLinear)
      : Conv1D(Conv1DOptions(filters, kernel_size).Activation(activation)) {}
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const Conv1DOptions& options() const { return options_; }
  Tensor kernel() const { return kernel_; }  // [kernel_size, channels, filters]
  Tensor bias() const { return bias_; }      // [filters]

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  Conv1DOptions options_;
  Tensor kernel_, bias_;
};

// ---------------------------------------------------------------------------------------
// Pooling over pool_h x pool_w windows; strides default to the pool size (Keras).
// x [N, H, W, C] -> [N, OH, OW, C] with O as for Conv2D.
struct Pooling2DOptions {
  Pooling2DOptions(int64_t pool_size)  // NOLINT(runtime/explicit)
      : pool_h(pool_size), pool_w(pool_size) {}
  int64_t pool_h, pool_w;
  int64_t stride_h = 0, stride_w = 0;  // 0: the pool size
  gradway::Padding padding = gradway::Padding::kValid;
  std::optional<Shape> input_shape;
  std::string name;

  Pooling2DOptions& PoolSize(int64_t h, int64_t w) { pool_h = h; pool_w = w; return *this; }
  Pooling2DOptions& Strides(int64_t s) { stride_h = stride_w = s; return *this; }
  Pooling2DOptions& Strides(int64_t h, int64_t w) { stride_h = h; stride_w = w; return *this; }
  Pooling2DOptions& Padding(gradway::Padding v) { padding = v; return *this; }
  Pooling2DOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  Pooling2DOptions& Name(std::string v) { name = std::move(v); return *this; }
};

// Max pooling; the gradient goes to the first maximum of each window.
class MaxPooling2D : public Layer<MaxPooling2D> {
 public:
  MaxPooling2D(Pooling2DOptions options);  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  Pooling2DOptions options_;
};

// Average pooling; with kSame, padded cells are left out of the mean (Keras).
class AveragePooling2D : public Layer<AveragePooling2D> {
 public:
  AveragePooling2D(Pooling2DOptions options);  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  Pooling2DOptions options_;
};

// ---------------------------------------------------------------------------------------
// Global pooling (Keras' GlobalAveragePooling2D, GlobalMaxPooling2D): the mean / maximum
// of each channel over the whole image. x [N, H, W, C] -> [N, C], or [N, 1, 1, C] with
// Keepdims(true) (Keras' keepdims). Images are channels_last (Keras' data_format
// "channels_last", its default; there is no channels_first). The average sums the H * W
// positions in a fixed order; the maximum's gradient goes to the first maximum of each
// channel, and a NaN makes its channel's maximum NaN (as PyTorch's adaptive_max_pool2d;
// see GlobalMaxPool2D in autograd/nn_functions.h). An input that is not (None, height,
// width, channels) is an Error naming the layer.
struct GlobalPooling2DOptions {
  bool keepdims = false;
  std::optional<Shape> input_shape;
  std::string name;

  GlobalPooling2DOptions& Keepdims(bool v) { keepdims = v; return *this; }
  GlobalPooling2DOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  GlobalPooling2DOptions& Name(std::string v) { name = std::move(v); return *this; }
};

// Named "global_average_pooling2d", as Keras.
class GlobalAveragePooling2D : public Layer<GlobalAveragePooling2D> {
 public:
  GlobalAveragePooling2D(GlobalPooling2DOptions options = {});  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const GlobalPooling2DOptions& options() const { return options_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  GlobalPooling2DOptions options_;
};

// Named "global_max_pooling2d", as Keras.
class GlobalMaxPooling2D : public Layer<GlobalMaxPooling2D> {
 public:
  GlobalMaxPooling2D(GlobalPooling2DOptions options = {});  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const GlobalPooling2DOptions& options() const { return options_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  GlobalPooling2DOptions options_;
};

// GlobalAveragePooling1D / GlobalMaxPooling1D (Keras' layers, channels last): the mean or
// the maximum over the steps of a sequence, (None, steps, features) -> (None, features),
// or (None, 1, features) with keepdims; the maximum's gradient goes to the first maximum.
// Another input shape is an Error naming the layer. GlobalAveragePooling1D takes Keras'
// mask (nn/masking.h): the mean of the real steps only (a sequence without any gives zeros,
// where Keras divides 0 by 0). The options are GlobalPooling2DOptions' (keepdims,
// input_shape, name).
using GlobalPooling1DOptions = GlobalPooling2DOptions;

// Named "global_average_pooling1d", as Keras.
class GlobalAveragePooling1D : public Layer<GlobalAveragePooling1D>, public MaskingLayer {
 public:
  GlobalAveragePooling1D(GlobalPooling1DOptions options = {});  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  // The mean over the steps `mask` keeps (all when undefined); the output has no mask.
  MaskedTensor CallWithMask(const Tensor& x, const Tensor& mask) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const GlobalPooling1DOptions& options() const { return options_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  GlobalPooling1DOptions options_;
};

// Named "global_max_pooling1d", as Keras.
class GlobalMaxPooling1D : public Layer<GlobalMaxPooling1D> {
 public:
  GlobalMaxPooling1D(GlobalPooling1DOptions options = {});  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const GlobalPooling1DOptions& options() const { return options_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  GlobalPooling1DOptions options_;
};

// ---------------------------------------------------------------------------------------
// ZeroPadding2D (Keras): rows of zeros above and below the image, columns left and right.
// x [N, H, W, C] -> [N, top + H + bottom, left + W + right, C] (channels_last only). The
// padding takes Keras' three forms: nn::ZeroPadding2D(2) pads 2 on all four sides,
// nn::ZeroPadding2D({1, 2}) 1 row above and below and 2 columns left and right
// (symmetric_height_pad, symmetric_width_pad), nn::ZeroPadding2D({{1, 0}, {2, 3}})
// ((top, bottom), (left, right)); nn::ZeroPadding2D() pads 1 all round, Keras' default.
// Pads must be >= 0 (Error naming the layer). The gradient is the part of the incoming
// gradient over x (autograd/functions.h's Pad). Named "zero_padding2d", as Keras.
struct ZeroPadding2DOptions {
  ZeroPadding2DOptions(int64_t padding = 1)  // NOLINT(runtime/explicit)
      : top(padding), bottom(padding), left(padding), right(padding) {}
  ZeroPadding2DOptions(int64_t height_pad, int64_t width_pad)
      : top(height_pad), bottom(height_pad), left(width_pad), right(width_pad) {}
  ZeroPadding2DOptions(std::pair<int64_t, int64_t> top_bottom,
                       std::pair<int64_t, int64_t> left_right)
      : top(top_bottom.first), bottom(top_bottom.second), left(left_right.first),
        right(left_right.second) {}
  int64_t top, bottom, left, right;
  std::optional<Shape> input_shape;
  std::string name;

  ZeroPadding2DOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  ZeroPadding2DOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class ZeroPadding2D : public Layer<ZeroPadding2D> {
 public:
  ZeroPadding2D(ZeroPadding2DOptions options = {});  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const ZeroPadding2DOptions& options() const { return options_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  ZeroPadding2DOptions options_;
};

// ---------------------------------------------------------------------------------------
// Dropout (inverted): in training mode zeroes each element with probability `rate` and
// scales the others by 1 / (1 - rate); in eval mode it is the identity. Shape unchanged.
// The mask depends only on the layer's seed and the training step (CurrentRandomStep(),
// which Model::ComputeGradients sets): the seed is drawn from the model's generator at build
// unless Seed() fixes it. The layer holds no other state, so the same layer called twice
// in one step draws the same mask.
struct DropoutOptions {
  DropoutOptions(double rate) : rate(rate) {}  // NOLINT(runtime/explicit)
  double rate;
  std::optional<uint64_t> seed;
  std::optional<Shape> input_shape;
  std::string name;

  DropoutOptions& Seed(uint64_t v) { seed = v; return *this; }
  DropoutOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  DropoutOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class Dropout : public Layer<Dropout> {
 public:
  Dropout(DropoutOptions options);  // NOLINT(runtime/explicit); rate must be in [0, 1)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  DropoutOptions options_;
  uint64_t seed_ = 0;
};

// ---------------------------------------------------------------------------------------
// Flatten: x [N, d1, d2, ...] -> [N, d1*d2*...] (a view).
class Flatten : public Layer<Flatten> {
 public:
  Flatten();
  // With the per-sample input shape, as a first layer: nn::Flatten({28, 28, 1}).
  explicit Flatten(Shape input_shape);
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;

 protected:
  Shape DoBuild(const Shape& input_shape) override;
};

// ReLU: max(x, 0), any shape.
class ReLU : public Layer<ReLU> {
 public:
  ReLU();
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
};

// Softmax over the last axis, any shape. A cross-entropy loss fuses it (see nn/losses.h).
class Softmax : public Layer<Softmax> {
 public:
  Softmax();
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
};

// Applies an activation function, any shape (Keras' layers.Activation):
// nn::Activation("relu"), nn::Activation(nn::kTanh). Throws Error for an unknown name.
class Activation : public Layer<Activation> {
 public:
  explicit Activation(ActivationFunction function);
  explicit Activation(const std::string& name);
  explicit Activation(const char* name) : Activation(std::string(name)) {}
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  ActivationFunction function() const { return function_; }

 private:
  ActivationFunction function_;
};

// LeakyReLU: x where x > 0, else negative_slope * x, any shape (Keras' layers.LeakyReLU:
// negative_slope 0.3 by default, in Keras 3 as in Keras 2, where it was called alpha).
// nn::LeakyReLU() or nn::LeakyReLU(0.1). Throws Error for a negative or non-finite slope
// (Keras 3 refuses negative ones too).
struct LeakyReLUOptions {
  LeakyReLUOptions(float negative_slope = 0.3f)  // NOLINT(runtime/explicit)
      : negative_slope(negative_slope) {}
  float negative_slope;
  std::optional<Shape> input_shape;
  std::string name;

  LeakyReLUOptions& NegativeSlope(float v) { negative_slope = v; return *this; }
  LeakyReLUOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  LeakyReLUOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class LeakyReLU : public Layer<LeakyReLU> {
 public:
  LeakyReLU(LeakyReLUOptions options = {});  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const LeakyReLUOptions& options() const { return options_; }

 private:
  LeakyReLUOptions options_;
};

// ELU: x where x > 0, else alpha * (e^x - 1), any shape (Keras' layers.ELU, alpha 1.0).
// nn::ELU() or nn::ELU(0.5). Throws Error for a non-finite alpha.
struct ELUOptions {
  ELUOptions(float alpha = 1.f) : alpha(alpha) {}  // NOLINT(runtime/explicit)
  float alpha;
  std::optional<Shape> input_shape;
  std::string name;

  ELUOptions& Alpha(float v) { alpha = v; return *this; }
  ELUOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  ELUOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class ELU : public Layer<ELU> {
 public:
  ELU(ELUOptions options = {});  // NOLINT(runtime/explicit)
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const ELUOptions& options() const { return options_; }

 private:
  ELUOptions options_;
};


}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_LAYERS_H_
