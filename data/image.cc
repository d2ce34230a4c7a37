#include "data/image.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace gradway::data {
namespace {

constexpr int kMnistSide = 28;
constexpr int kMnistBox = 20;
// Pixels at most this far above the background are not ink when finding the digit's box.
constexpr int kInkThreshold = 32;

absl::Status CheckImage(const GrayImage& image, const char* what) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: not a valid image (%dx%d with %d pixels)", what, image.width, image.height,
        image.pixels.size()));
  }
  return absl::OkStatus();
}

// Resamples `in` (in_w x in_h floats) to out_w x out_h by area averaging: each output
// pixel is the mean of the input area it covers, partial pixels weighted by coverage.
std::vector<float> ResizeArea(const std::vector<float>& in, int in_w, int in_h, int out_w,
                              int out_h) {
  // Weights of 1-D area averaging: for output i, input j gets the overlap of
  // [i*s, (i+1)*s) with [j, j+1), divided by s.
  auto weights = [](int in_n, int out_n) {
    std::vector<std::vector<std::pair<int, float>>> w(out_n);
    const double s = static_cast<double>(in_n) / out_n;
    for (int i = 0; i < out_n; ++i) {
      const double lo = i * s, hi = (i + 1) * s;
      for (int j = static_cast<int>(std::floor(lo)); j < in_n && j < hi; ++j) {
        const double overlap = std::min<double>(hi, j + 1) - std::max<double>(lo, j);
        if (overlap > 0) w[i].push_back({j, static_cast<float>(overlap / s)});
      }
    }
    return w;
  };
  const auto wx = weights(in_w, out_w), wy = weights(in_h, out_h);
  std::vector<float> rows(static_cast<size_t>(in_h) * out_w, 0.f);
  for (int y = 0; y < in_h; ++y) {
    for (int x = 0; x < out_w; ++x) {
      float sum = 0;
      for (const auto& [j, w] : wx[x]) sum += w * in[static_cast<size_t>(y) * in_w + j];
      rows[static_cast<size_t>(y) * out_w + x] = sum;
    }
  }
  std::vector<float> out(static_cast<size_t>(out_h) * out_w, 0.f);
  for (int y = 0; y < out_h; ++y) {
    for (const auto& [j, w] : wy[y]) {
      for (int x = 0; x < out_w; ++x) {
        out[static_cast<size_t>(y) * out_w + x] += w * rows[static_cast<size_t>(j) * out_w + x];
      }
    }
  }
  return out;
}

// One output coordinate's source for bilinear resizing: the two neighbouring input
// coordinates (clamped to the image) and the weight of the upper one.
struct BilinearTap {
  int lower, upper;
  float lerp;
};

// As TensorFlow's ResizeBilinear with half_pixel_centers (its compute_interpolation_weights
// and HalfPixelScaler), in float as it computes them: output i samples the input at
// (i + 0.5) * (in_size / out_size) - 0.5.
std::vector<BilinearTap> BilinearTaps(int in_size, int out_size) {
  std::vector<BilinearTap> taps(out_size);
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int i = 0; i < out_size; ++i) {
    const float in = (static_cast<float>(i) + 0.5f) * scale - 0.5f;
    const float in_floor = std::floor(in);
    taps[i].lower = std::max(static_cast<int>(in_floor), 0);
    taps[i].upper = std::min(static_cast<int>(std::ceil(in)), in_size - 1);
    taps[i].lerp = in - in_floor;
  }
  return taps;
}

}  // namespace

absl::Status ResizeBilinear(const Image& image, int out_height, int out_width, float* out) {
  const int w = image.width, h = image.height, c = image.channels;
  if (w <= 0 || h <= 0 || c < 1 || c > 4 ||
      image.pixels.size() != static_cast<size_t>(w) * h * c) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ResizeBilinear: not a valid image (%dx%d, %d channels, %d samples)", w, h, c,
        image.pixels.size()));
  }
  if (out_height <= 0 || out_width <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ResizeBilinear: cannot resize a %dx%d image to %dx%d", w, h, out_width, out_height));
  }
  if (out_height == h && out_width == w) {
    std::copy(image.pixels.begin(), image.pixels.end(), out);
    return absl::OkStatus();
  }
  const std::vector<BilinearTap> ys = BilinearTaps(h, out_height);
  const std::vector<BilinearTap> xs = BilinearTaps(w, out_width);
  const size_t row = static_cast<size_t>(w) * c;
  for (int y = 0; y < out_height; ++y) {
    const uint8_t* top = image.pixels.data() + ys[y].lower * row;
    const uint8_t* bottom = image.pixels.data() + ys[y].upper * row;
    const float y_lerp = ys[y].lerp;
    for (int x = 0; x < out_width; ++x) {
      const size_t left = static_cast<size_t>(xs[x].lower) * c;
      const size_t right = static_cast<size_t>(xs[x].upper) * c;
      const float x_lerp = xs[x].lerp;
      for (int k = 0; k < c; ++k) {
        // TensorFlow's compute_lerp, operation for operation.
        const float top_left = top[left + k], top_right = top[right + k];
        const float bottom_left = bottom[left + k], bottom_right = bottom[right + k];
        const float upper = top_left + (top_right - top_left) * x_lerp;
        const float lower = bottom_left + (bottom_right - bottom_left) * x_lerp;
        *out++ = upper + (lower - upper) * y_lerp;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<GrayImage> ScaleNearest(const GrayImage& image, int factor) {
  if (absl::Status s = CheckImage(image, "ScaleNearest"); !s.ok()) return s;
  if (factor < 1 || static_cast<int64_t>(image.width) * factor > (1 << 15) ||
      static_cast<int64_t>(image.height) * factor > (1 << 15)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ScaleNearest: cannot enlarge a %dx%d image %d times", image.width, image.height,
        factor));
  }
  GrayImage out;
  out.width = image.width * factor;
  out.height = image.height * factor;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height);
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src = image.pixels.data() + static_cast<size_t>(y / factor) * image.width;
    uint8_t* dst = out.pixels.data() + static_cast<size_t>(y) * out.width;
    for (int x = 0; x < out.width; ++x) dst[x] = src[x / factor];
  }
  return out;
}

absl::StatusOr<GrayImage> ToMnistDigit(const GrayImage& image) {
  if (absl::Status s = CheckImage(image, "ToMnistDigit"); !s.ok()) return s;
  const int w = image.width, h = image.height;
  auto at = [&](int x, int y) { return image.pixels[static_cast<size_t>(y) * w + x]; };

  // The background: the mean of the border pixels. A light one means dark ink: invert.
  double border_sum = 0;
  int64_t border_count = 0;
  for (int x = 0; x < w; ++x) {
    border_sum += at(x, 0) + (h > 1 ? at(x, h - 1) : 0);
    border_count += h > 1 ? 2 : 1;
  }
  for (int y = 1; y + 1 < h; ++y) {
    border_sum += at(0, y) + (w > 1 ? at(w - 1, y) : 0);
    border_count += w > 1 ? 2 : 1;
  }
  const double border = border_sum / border_count;
  const bool invert = border > 127.5;
  const double background = invert ? 255.0 - border : border;
  auto ink_at = [&](int x, int y) {
    return (invert ? 255.0 - at(x, y) : at(x, y)) - background;
  };

  // The ink's bounding box, and its strongest value (which becomes 255).
  int x0 = w, x1 = -1, y0 = h, y1 = -1;
  double peak = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double above = ink_at(x, y);
      peak = std::max(peak, above);
      if (above > kInkThreshold) {
        x0 = std::min(x0, x);
        x1 = std::max(x1, x);
        y0 = std::min(y0, y);
        y1 = std::max(y1, y);
      }
    }
  }
  if (x1 < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ToMnistDigit: the %dx%d image holds no digit (no pixel stands out from the "
        "background level %.0f)",
        w, h, invert ? 255.0 - background : background));
  }

  // The box, scaled to fit 20x20 keeping its aspect ratio.
  const int box_w = x1 - x0 + 1, box_h = y1 - y0 + 1;
  std::vector<float> box(static_cast<size_t>(box_w) * box_h);
  for (int y = 0; y < box_h; ++y) {
    for (int x = 0; x < box_w; ++x) {
      box[static_cast<size_t>(y) * box_w + x] = static_cast<float>(
          std::clamp(ink_at(x + x0, y + y0) * 255.0 / peak, 0.0, 255.0));
    }
  }
  const double scale = static_cast<double>(kMnistBox) / std::max(box_w, box_h);
  const int out_w = std::clamp(static_cast<int>(std::lround(box_w * scale)), 1, kMnistBox);
  const int out_h = std::clamp(static_cast<int>(std::lround(box_h * scale)), 1, kMnistBox);
  const std::vector<float> digit = ResizeArea(box, box_w, box_h, out_w, out_h);

  // Centre of mass to the centre of the 28x28 field.
  double mass = 0, mx = 0, my = 0;
  for (int y = 0; y < out_h; ++y) {
    for (int x = 0; x < out_w; ++x) {
      const double v = digit[static_cast<size_t>(y) * out_w + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const double cx = mass > 0 ? mx / mass : out_w / 2.0;
  const double cy = mass > 0 ? my / mass : out_h / 2.0;
  // Keep the whole digit inside the field even when its mass is far off-centre.
  const int left = std::clamp(static_cast<int>(std::lround(kMnistSide / 2.0 - cx)), 0,
                              kMnistSide - out_w);
  const int top = std::clamp(static_cast<int>(std::lround(kMnistSide / 2.0 - cy)), 0,
                             kMnistSide - out_h);
  GrayImage out;
  out.width = out.height = kMnistSide;
  out.pixels.assign(kMnistSide * kMnistSide, 0);
  for (int y = 0; y < out_h; ++y) {
    for (int x = 0; x < out_w; ++x) {
      out.pixels[static_cast<size_t>(y + top) * kMnistSide + x + left] = static_cast<uint8_t>(
          std::lround(std::clamp(digit[static_cast<size_t>(y) * out_w + x], 0.f, 255.f)));
    }
  }
  return out;
}

}  // namespace gradway::data
