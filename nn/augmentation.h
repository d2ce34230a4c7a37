// Image augmentation layers, as Keras' RandomFlip, RandomTranslation, RandomRotation and
// RandomCrop: in training each image of an NHWC batch [N, H, W, C] gets a random
// transform; at inference (eval mode: Predict, Evaluate) they are the identity, but
// RandomCrop, which takes the centred window (the identity when it is the whole image).
//
//   model.Add(nn::RandomFlip(nn::RandomFlipOptions("horizontal").InputShape({28, 28, 1})));
//   model.Add(nn::RandomTranslation(0.1, 0.1));   // up to 10% of the height and width
//   model.Add(nn::RandomRotation(0.05));          // up to 0.05 * 2 pi either way
//   model.Add(nn::RandomCrop(nn::RandomCropOptions(28, 28).Padding(4)));
//
// Randomness. Each layer draws its seed from the model's generator when built (unless
// Seed() gives one), as Dropout does. The transform of row r of a batch comes from
// (seed, CurrentRandomStep(), r) alone, through SplitMix64 (base/splitmix.h): the same bits
// for any thread count; the same in data-parallel training whatever the rank count (its
// random step is train_step * micro_shards + shard and r the row within the micro-shard);
// and a Fit resumed by BackupAndRestore, which restores the step count, draws what the
// uninterrupted run drew. The same layer called twice in one step transforms alike.
//
// Gradients. The layers transform data and record no graph. Put them first in a model,
// before any layer with parameters: in training, an input that requires a gradient throws
// Error naming the layer (Keras would pass gradients through; gradway has no use for it).
//
// Warps (RandomTranslation, RandomRotation) are TF's ImageProjectiveTransformV3, which
// Keras' layers run (ops/image_transform.h): pixel centres at integer coordinates;
// interpolation "bilinear" or "nearest"; fill_mode for points outside the image:
//   "reflect"  (d c b a | a b c d | d c b a), reflected about the edge of the last pixel
//   "wrap"     (a b c d | a b c d | a b c d)
//   "constant" (k k k k | a b c d | k k k k), k = fill_value
//   "nearest"  (a a a a | a b c d | d d d d)
// with TF's conventions at the edges (a point within half a pixel beyond the last pixel
// reads it; with "constant", a point outside reads fill_value whole, unblended).
//
// Shapes: input (None, H, W, C); output the same, but RandomCrop's (None, height, width, C).
// Errors (gradway::Error naming the layer): an unknown mode string, a factor outside
// [-1, 1], input that is not (None, H, W, C), a crop larger than the padded input.
#ifndef GRADWAY_NN_AUGMENTATION_H_
#define GRADWAY_NN_AUGMENTATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

// A Keras factor range: a number f means [-|f|, |f|]; a pair {a, b} means [min, max]. The
// layers take fractions (of the image size, or of a full turn) in [-1, 1].
struct FactorRange {
  FactorRange(double factor)  // NOLINT(runtime/explicit)
      : lower(factor < 0 ? factor : -factor), upper(factor < 0 ? -factor : factor) {}
  FactorRange(double a, double b) : lower(a < b ? a : b), upper(a < b ? b : a) {}
  double lower, upper;
};

// The random numbers of one sample: uniform draws keyed by (seed, step, row), the k-th draw
// being SplitMix64's output MixSeed(MixSeed(MixSeed(seed, step), row), k).
class SampleRandom {
 public:
  SampleRandom(uint64_t seed, int64_t step, int64_t row);
  // The next draw as a float in [0, 1) (24 random bits).
  float Uniform();
  // lo + (hi - lo) * Uniform(), in float (a draw from [lo, hi), as Keras' uniform).
  float Uniform(float lo, float hi);
  // The next draw as an integer in [0, n), n in [1, 2^32].
  int64_t UniformInt(int64_t n);

 private:
  uint64_t key_;
  uint64_t next_ = 0;
};

// ---------------------------------------------------------------------------------------
// The base of the layers below: the (None, H, W, C) check, the seed, the per-sample
// transforms and the warp. Not used directly.
class ImageAugmentation : public Module {
 public:
  Tensor Forward(const Tensor& x) override;
  // The seed the transforms are drawn from (the option, or drawn at build).
  uint64_t seed() const { return seed_; }
  // The transform (a0, a1, a2, b0, b1, b2, c0, c1) of ops/image_transform.h: output pixel
  // (x, y) reads input point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y
  // + 1; what this (built) layer applies in training to row `row` at random step `step`.
  std::vector<float> TransformOf(int64_t step, int64_t row) const;

 protected:
  // `fill_mode` and `interpolation` are Keras' strings (checked here, naming `type_name`).
  ImageAugmentation(std::string type_name, std::string base_name, std::optional<uint64_t> seed,
                    std::optional<Shape> input_shape, const std::string& name,
                    std::string fill_mode, std::string interpolation, float fill_value);
  // Checks (H, W, C), draws the seed; returns AugmentedShape.
  Shape DoBuild(const Shape& input_shape) override;
  // The per-sample output shape for input {H, W, C}; throws Error for one it cannot take.
  virtual Shape AugmentedShape(const Shape& input_shape) const { return input_shape; }
  // Writes the 8 transform coefficients of one sample from its random numbers.
  virtual void SampleTransform(SampleRandom& random, float* transform) const = 0;
  // The eval-mode output: x itself here.
  virtual Tensor Inference(const Tensor& x) const { return x; }
  // Applies one transform row per image (transforms [N * 8]) with this layer's fill mode,
  // interpolation and fill value, giving output_shape() images. Throws Error naming the
  // layer when x requires a gradient.
  Tensor Warp(const Tensor& x, const std::vector<float>& transforms) const;

 private:
  std::optional<uint64_t> seed_option_;
  uint64_t seed_ = 0;
  std::string fill_mode_, interpolation_;
  float fill_value_;
};

// ---------------------------------------------------------------------------------------
// RandomFlip: each image flipped left-right and/or upside down, each with probability 1/2
// (independently with "horizontal_and_vertical"). Keras' name "random_flip".
struct RandomFlipOptions {
  RandomFlipOptions(std::string mode = "horizontal_and_vertical")  // NOLINT
      : mode(std::move(mode)) {}
  RandomFlipOptions(const char* mode) : mode(mode) {}  // NOLINT(runtime/explicit)
  std::string mode;  // "horizontal_and_vertical", "horizontal" or "vertical"
  std::optional<uint64_t> seed;
  std::optional<Shape> input_shape;
  std::string name;

  RandomFlipOptions& Seed(uint64_t v) { seed = v; return *this; }
  // The per-sample input shape {height, width, channels}, for the first layer.
  RandomFlipOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  RandomFlipOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class RandomFlip : public Layer<RandomFlip, ImageAugmentation> {
 public:
  RandomFlip(RandomFlipOptions options = {});  // NOLINT(runtime/explicit)
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const RandomFlipOptions& options() const { return options_; }

 protected:
  void SampleTransform(SampleRandom& random, float* transform) const override;

 private:
  RandomFlipOptions options_;
  bool horizontal_, vertical_;
};

// ---------------------------------------------------------------------------------------
// RandomTranslation: each image shifted by dy = u * H rows (down for u > 0) and dx = v * W
// columns (right for v > 0), u uniform in height_factor's range and v in width_factor's,
// as Keras. Keras' name "random_translation".
struct RandomTranslationOptions {
  RandomTranslationOptions(FactorRange height_factor, FactorRange width_factor)
      : height_factor(height_factor), width_factor(width_factor) {}
  FactorRange height_factor, width_factor;
  std::string fill_mode = "reflect";       // "reflect", "wrap", "constant" or "nearest"
  std::string interpolation = "bilinear";  // "bilinear" or "nearest"
  float fill_value = 0;                    // read outside the image with "constant"
  std::optional<uint64_t> seed;
  std::optional<Shape> input_shape;
  std::string name;

  RandomTranslationOptions& FillMode(std::string v) { fill_mode = std::move(v); return *this; }
  RandomTranslationOptions& Interpolation(std::string v) { interpolation = std::move(v); return *this; }
  RandomTranslationOptions& FillValue(float v) { fill_value = v; return *this; }
  RandomTranslationOptions& Seed(uint64_t v) { seed = v; return *this; }
  RandomTranslationOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  RandomTranslationOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class RandomTranslation : public Layer<RandomTranslation, ImageAugmentation> {
 public:
  explicit RandomTranslation(RandomTranslationOptions options);
  // The short form: nn::RandomTranslation(0.1, {-0.2, 0.3}).
  RandomTranslation(FactorRange height_factor, FactorRange width_factor)
      : RandomTranslation(RandomTranslationOptions(height_factor, width_factor)) {}
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const RandomTranslationOptions& options() const { return options_; }

 protected:
  void SampleTransform(SampleRandom& random, float* transform) const override;

 private:
  RandomTranslationOptions options_;
};

// ---------------------------------------------------------------------------------------
// RandomRotation: each image rotated about its centre ((W - 1) / 2, (H - 1) / 2) by an
// angle u * 2 pi, u uniform in factor's range, counter-clockwise for u > 0 (tf.keras'
// get_rotation_matrix). Keras' name "random_rotation".
struct RandomRotationOptions {
  RandomRotationOptions(FactorRange factor) : factor(factor) {}  // NOLINT(runtime/explicit)
  FactorRange factor;
  std::string fill_mode = "reflect";
  std::string interpolation = "bilinear";
  float fill_value = 0;
  std::optional<uint64_t> seed;
  std::optional<Shape> input_shape;
  std::string name;

  RandomRotationOptions& FillMode(std::string v) { fill_mode = std::move(v); return *this; }
  RandomRotationOptions& Interpolation(std::string v) { interpolation = std::move(v); return *this; }
  RandomRotationOptions& FillValue(float v) { fill_value = v; return *this; }
  RandomRotationOptions& Seed(uint64_t v) { seed = v; return *this; }
  RandomRotationOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  RandomRotationOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class RandomRotation : public Layer<RandomRotation, ImageAugmentation> {
 public:
  explicit RandomRotation(RandomRotationOptions options);
  // The short form: nn::RandomRotation(0.1), nn::RandomRotation({-0.05, 0.1}).
  explicit RandomRotation(FactorRange factor) : RandomRotation(RandomRotationOptions(factor)) {}
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const RandomRotationOptions& options() const { return options_; }

 protected:
  void SampleTransform(SampleRandom& random, float* transform) const override;

 private:
  RandomRotationOptions options_;
};

// ---------------------------------------------------------------------------------------
// RandomCrop: a height x width window of each image, in training at a random offset
// (uniform over the windows that fit), at inference the centred one (offsets
// floor((H - height) / 2), floor((W - width) / 2)). With Padding(p) the image is first
// padded with p zeros on each side, as torchvision's RandomCrop(size, padding): the classic
// "pad by 4 and crop back" is RandomCropOptions(28, 28).Padding(4), which is the identity
// at inference. Keras' name "random_crop".
//
// Where it differs from Keras, and why: Keras picks one offset per batch, gradway one per
// image (as torchvision's per-sample transforms, and so that a sample's crop depends on
// its row only); Keras at inference takes the largest centred window of the target aspect
// ratio and resizes it to height x width, gradway crops the centre without resizing (the
// network sees its training scale, as torchvision's RandomCrop/CenterCrop pair, and it
// exports as one ONNX Slice); Keras resizes an input smaller than the crop, gradway throws
// Error (a crop larger than the padded input).
struct RandomCropOptions {
  RandomCropOptions(int64_t height, int64_t width) : height(height), width(width) {}
  int64_t height, width;
  int64_t pad_h = 0, pad_w = 0;  // zeros added above and below, left and right
  std::optional<uint64_t> seed;
  std::optional<Shape> input_shape;
  std::string name;

  RandomCropOptions& Padding(int64_t p) { pad_h = pad_w = p; return *this; }
  RandomCropOptions& Padding(int64_t h, int64_t w) { pad_h = h; pad_w = w; return *this; }
  RandomCropOptions& Seed(uint64_t v) { seed = v; return *this; }
  RandomCropOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  RandomCropOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class RandomCrop : public Layer<RandomCrop, ImageAugmentation> {
 public:
  explicit RandomCrop(RandomCropOptions options);
  // Keras' form: nn::RandomCrop(24, 24).
  RandomCrop(int64_t height, int64_t width) : RandomCrop(RandomCropOptions(height, width)) {}
  // Identity, or (in the centre-crop form) a Slice, after a Pad when the centred window
  // reaches into the padding.
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const RandomCropOptions& options() const { return options_; }

 protected:
  Shape AugmentedShape(const Shape& input_shape) const override;
  void SampleTransform(SampleRandom& random, float* transform) const override;
  Tensor Inference(const Tensor& x) const override;

 private:
  // The inference window's top-left corner in input coordinates (negative in the padding).
  std::pair<int64_t, int64_t> CentreOffset() const;
  RandomCropOptions options_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_AUGMENTATION_H_
