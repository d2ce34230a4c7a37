#include "nn/augmentation.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "autograd/error.h"
#include "base/splitmix.h"
#include "nn/onnx_graph.h"
#include "ops/image_transform.h"

namespace gradway {
namespace nn {
namespace {

constexpr double kPi = 3.14159265358979323846;

ops::ImageFillMode FillModeOf(const std::string& who, const std::string& mode) {
  if (mode == "reflect") return ops::ImageFillMode::kReflect;
  if (mode == "wrap") return ops::ImageFillMode::kWrap;
  if (mode == "constant") return ops::ImageFillMode::kConstant;
  if (mode == "nearest") return ops::ImageFillMode::kNearest;
  Fail(who, ": unknown fill_mode '", mode, "' (expected reflect, wrap, constant or nearest)");
}

ops::ImageInterpolation InterpolationOf(const std::string& who, const std::string& mode) {
  if (mode == "bilinear") return ops::ImageInterpolation::kBilinear;
  if (mode == "nearest") return ops::ImageInterpolation::kNearest;
  Fail(who, ": unknown interpolation '", mode, "' (expected bilinear or nearest)");
}

void CheckFactor(const std::string& who, const char* what, const FactorRange& f) {
  GRADWAY_CHECK(f.lower >= -1 && f.upper <= 1, who, ": ", what,
                " must lie in [-1, 1], got [", f.lower, ", ", f.upper, "]");
}

// The transform that reads input point (x + dx, y + dy) for output pixel (x, y).
void Shift(float dx, float dy, float* t) {
  const float shift[8] = {1, 0, dx, 0, 1, dy, 0, 0};
  std::copy(shift, shift + 8, t);
}

}  // namespace

// ---- SampleRandom.
SampleRandom::SampleRandom(uint64_t seed, int64_t step, int64_t row)
    : key_(MixSeed(MixSeed(seed, static_cast<uint64_t>(step)), static_cast<uint64_t>(row))) {}

float SampleRandom::Uniform() {
  return static_cast<float>(MixSeed(key_, next_++) >> 40) * 0x1p-24f;
}

float SampleRandom::Uniform(float lo, float hi) { return lo + (hi - lo) * Uniform(); }

int64_t SampleRandom::UniformInt(int64_t n) {
  const uint64_t bits = MixSeed(key_, next_++) >> 32;
  return static_cast<int64_t>((bits * static_cast<uint64_t>(n)) >> 32);
}

// ---- ImageAugmentation.
ImageAugmentation::ImageAugmentation(std::string type_name, std::string base_name,
                                     std::optional<uint64_t> seed,
                                     std::optional<Shape> input_shape, const std::string& name,
                                     std::string fill_mode, std::string interpolation,
                                     float fill_value)
    : Module(type_name, std::move(base_name)),
      seed_option_(seed),
      fill_mode_(std::move(fill_mode)),
      interpolation_(std::move(interpolation)),
      fill_value_(fill_value) {
  FillModeOf(type_name, fill_mode_);
  InterpolationOf(type_name, interpolation_);
  if (!name.empty()) set_name(name);
  set_declared_input_shape(std::move(input_shape));
}

Shape ImageAugmentation::DoBuild(const Shape& in) {
  GRADWAY_CHECK(in.size() == 3 && in[0] > 0 && in[1] > 0 && in[2] > 0, Description(),
                ": expects images (None, height, width, channels), got ",
                BatchShapeString(in));
  Shape out = AugmentedShape(in);
  seed_ = seed_option_ ? *seed_option_ : generator().NextU64();
  return out;
}

std::vector<float> ImageAugmentation::TransformOf(int64_t step, int64_t row) const {
  GRADWAY_CHECK(built(), Description(), ": TransformOf before the layer is built");
  std::vector<float> t(8);
  SampleRandom random(seed_, step, row);
  SampleTransform(random, t.data());
  return t;
}

Tensor ImageAugmentation::Forward(const Tensor& x) {
  if (!is_training()) return Inference(x);
  const int64_t n = x.size(0);
  const int64_t step = CurrentRandomStep();
  std::vector<float> transforms(static_cast<size_t>(n) * 8);
  for (int64_t r = 0; r < n; ++r) {
    SampleRandom random(seed_, step, r);
    SampleTransform(random, transforms.data() + r * 8);
  }
  return Warp(x, transforms);
}

Tensor ImageAugmentation::Warp(const Tensor& x, const std::vector<float>& transforms) const {
  GRADWAY_CHECK(!x.requires_grad(), Description(),
                ": its input requires a gradient, but augmentation layers pass none back "
                "(they transform data): put them first in the model, before any layer with "
                "parameters");
  const Shape& in = input_shape();
  const Shape& out = output_shape();
  const int64_t n = x.size(0);
  Tensor y = Tensor::Empty({n, out[0], out[1], out[2]});
  const ops::ImageTransformShape shape{n, in[0], in[1], in[2], out[0], out[1]};
  ops::ImageProjectiveTransform(std::as_const(x).data(), transforms.data(), y.data(), shape,
                                InterpolationOf(type_name(), interpolation_),
                                FillModeOf(type_name(), fill_mode_), fill_value_);
  return y;
}

// ---- RandomFlip.
RandomFlip::RandomFlip(RandomFlipOptions options)
    : Layer("RandomFlip", "random_flip", options.seed, options.input_shape,
                        options.name, "reflect", "nearest", 0),
      options_(std::move(options)) {
  const std::string& m = options_.mode;
  GRADWAY_CHECK(m == "horizontal_and_vertical" || m == "horizontal" || m == "vertical",
                "RandomFlip: unknown mode '", m,
                "' (expected horizontal_and_vertical, horizontal or vertical)");
  horizontal_ = m != "vertical";
  vertical_ = m != "horizontal";
}

void RandomFlip::SampleTransform(SampleRandom& random, float* t) const {
  const float h = static_cast<float>(input_shape()[0]);
  const float w = static_cast<float>(input_shape()[1]);
  const bool left_right = horizontal_ && random.Uniform() < 0.5f;
  const bool up_down = vertical_ && random.Uniform() < 0.5f;
  Shift(left_right ? w - 1 : 0, up_down ? h - 1 : 0, t);
  if (left_right) t[0] = -1;
  if (up_down) t[4] = -1;
}

// ---- RandomTranslation.
RandomTranslation::RandomTranslation(RandomTranslationOptions options)
    : Layer("RandomTranslation", "random_translation", options.seed,
                        options.input_shape, options.name, options.fill_mode,
                        options.interpolation, options.fill_value),
      options_(std::move(options)) {
  CheckFactor("RandomTranslation", "height_factor", options_.height_factor);
  CheckFactor("RandomTranslation", "width_factor", options_.width_factor);
}

void RandomTranslation::SampleTransform(SampleRandom& random, float* t) const {
  const FactorRange& hf = options_.height_factor;
  const FactorRange& wf = options_.width_factor;
  const float h = static_cast<float>(input_shape()[0]);
  const float w = static_cast<float>(input_shape()[1]);
  // Keras: u * H in float32, u uniform in [lower, upper).
  const float dy = random.Uniform(static_cast<float>(hf.lower), static_cast<float>(hf.upper)) * h;
  const float dx = random.Uniform(static_cast<float>(wf.lower), static_cast<float>(wf.upper)) * w;
  Shift(-dx, -dy, t);
}

// ---- RandomRotation.
RandomRotation::RandomRotation(RandomRotationOptions options)
    : Layer("RandomRotation", "random_rotation", options.seed, options.input_shape,
                        options.name, options.fill_mode, options.interpolation,
                        options.fill_value),
      options_(std::move(options)) {
  CheckFactor("RandomRotation", "factor", options_.factor);
}

void RandomRotation::SampleTransform(SampleRandom& random, float* t) const {
  const float lo = static_cast<float>(options_.factor.lower * 2 * kPi);
  const float hi = static_cast<float>(options_.factor.upper * 2 * kPi);
  const float angle = random.Uniform(lo, hi);
  const float c = std::cos(angle), s = std::sin(angle);
  const float h1 = static_cast<float>(input_shape()[0]) - 1;
  const float w1 = static_cast<float>(input_shape()[1]) - 1;
  // Output (x, y) reads the input point rotated by -angle about the centre (tf.keras).
  const float x_offset = (w1 - (c * w1 - s * h1)) / 2;
  const float y_offset = (h1 - (s * w1 + c * h1)) / 2;
  const float rotation[8] = {c, -s, x_offset, s, c, y_offset, 0, 0};
  std::copy(rotation, rotation + 8, t);
}

// ---- RandomCrop.
RandomCrop::RandomCrop(RandomCropOptions options)
    : Layer("RandomCrop", "random_crop", options.seed, options.input_shape,
                        options.name, "constant", "nearest", 0),
      options_(std::move(options)) {
  const RandomCropOptions& o = options_;
  GRADWAY_CHECK(o.height > 0 && o.width > 0 && o.pad_h >= 0 && o.pad_w >= 0,
                "RandomCrop: height and width must be positive and padding non-negative, got ",
                o.height, "x", o.width, " with padding ", o.pad_h, "x", o.pad_w);
}

Shape RandomCrop::AugmentedShape(const Shape& in) const {
  const RandomCropOptions& o = options_;
  GRADWAY_CHECK(o.height <= in[0] + 2 * o.pad_h && o.width <= in[1] + 2 * o.pad_w,
                Description(), ": a ", o.height, "x", o.width,
                " crop does not fit input ", BatchShapeString(in), " padded by ", o.pad_h,
                "x", o.pad_w);
  return {o.height, o.width, in[2]};
}

void RandomCrop::SampleTransform(SampleRandom& random, float* t) const {
  const RandomCropOptions& o = options_;
  const int64_t top = random.UniformInt(input_shape()[0] + 2 * o.pad_h - o.height + 1);
  const int64_t left = random.UniformInt(input_shape()[1] + 2 * o.pad_w - o.width + 1);
  Shift(static_cast<float>(left - o.pad_w), static_cast<float>(top - o.pad_h), t);
}

std::pair<int64_t, int64_t> RandomCrop::CentreOffset() const {
  const RandomCropOptions& o = options_;
  return {(input_shape()[0] + 2 * o.pad_h - o.height) / 2 - o.pad_h,
          (input_shape()[1] + 2 * o.pad_w - o.width) / 2 - o.pad_w};
}

Tensor RandomCrop::Inference(const Tensor& x) const {
  const auto [top, left] = CentreOffset();
  if (top == 0 && left == 0 && output_shape() == input_shape()) return x;
  std::vector<float> transforms;
  for (int64_t r = 0; r < x.size(0); ++r) {
    float t[8];
    Shift(static_cast<float>(left), static_cast<float>(top), t);
    transforms.insert(transforms.end(), t, t + 8);
  }
  return Warp(x, transforms);
}

// ---- ONNX export: inference, where only RandomCrop's centre crop does anything.
std::string RandomFlip::ExportOnnx(OnnxGraph& /*graph*/, const std::string& input) const {
  return input;
}

std::string RandomTranslation::ExportOnnx(OnnxGraph& /*graph*/,
                                          const std::string& input) const {
  return input;
}

std::string RandomRotation::ExportOnnx(OnnxGraph& /*graph*/, const std::string& input) const {
  return input;
}

std::string RandomCrop::ExportOnnx(OnnxGraph& graph, const std::string& input) const {
  const auto [top, left] = CentreOffset();
  const Shape& in = input_shape();
  const Shape& out = output_shape();
  if (top == 0 && left == 0 && out == in) return input;
  const OnnxGraph::Layout layout = graph.layout(input);
  const int64_t axis_h = layout == OnnxGraph::Layout::kNchw ? 2 : 1, axis_w = axis_h + 1;
  // Zeros where the centred window reaches into the padding.
  const int64_t pad_top = std::max<int64_t>(0, -top), pad_left = std::max<int64_t>(0, -left);
  const int64_t pad_bottom = std::max<int64_t>(0, top + out[0] - in[0]);
  const int64_t pad_right = std::max<int64_t>(0, left + out[1] - in[1]);
  std::string x = input;
  Shape padded = in;
  if (pad_top + pad_left + pad_bottom + pad_right > 0) {
    std::vector<int64_t> pads(8, 0);  // [begin of each axis..., end of each axis...]
    pads[axis_h] = pad_top;
    pads[axis_w] = pad_left;
    pads[4 + axis_h] = pad_bottom;
    pads[4 + axis_w] = pad_right;
    padded = {in[0] + pad_top + pad_bottom, in[1] + pad_left + pad_right, in[2]};
    x = graph.Node("Pad", {x, graph.Int64Initializer(name() + "/pads", pads)}, name() + "/Pad",
                   padded, layout);
  }
  if (padded == out) return x;
  const int64_t h0 = top + pad_top, w0 = left + pad_left;
  return graph.Node("Slice",
                    {x, graph.Int64Initializer(name() + "/starts", {h0, w0}),
                     graph.Int64Initializer(name() + "/ends", {h0 + out[0], w0 + out[1]}),
                     graph.Int64Initializer(name() + "/axes", {axis_h, axis_w})},
                    name() + "/Slice", out, layout);
}

}  // namespace nn
}  // namespace gradway
