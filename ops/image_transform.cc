// Projective image warps (ops/image_transform.h). Per output row: each pixel's input point,
// its tap on each axis (the fill mode and interpolation applied), then every channel.
// Transforms without rotation, shear or perspective (a1 = b0 = c0 = c1 = 0: translations,
// flips, crops, scalings) are separable: their column taps are computed once per image and
// their row tap once per row, by the same function on the same floats as the per-pixel
// path, so both give the same bits.
#include "ops/image_transform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/parallel.h"

namespace gradway {
namespace ops {
namespace {

// Output elements per parallel chunk.
constexpr int64_t kOutputGrain = 8192;

// c outside [0, len - 1], len >= 2: reflected about -0.5 and len - 0.5 (period 2 len).
float Reflect(float c, int64_t len) {
  const float period = static_cast<float>(2 * len);
  const float r = std::fmod(c, period);  // exact; r == c when |c| < 2 len
  if (c < 0) return r < -static_cast<float>(len) ? r + period : -r - 1;
  return r >= static_cast<float>(len) ? period - r - 1 : r;
}

// c outside [0, len - 1], len >= 2: moved by a multiple of len into [0, len] (c < 0) or
// (-1, len - 1] (c > len - 1).
float Wrap(float c, int64_t len) {
  const float period = static_cast<float>(len);
  const float r = std::fmod(c, period);  // exact; r == c when |c| < len
  if (c < 0) return r < 0 ? r + period : r;
  return r > period - 1 ? r - period : r;
}

// Where one output pixel reads along one axis.
struct Tap {
  bool outside;    // the point is outside the image (kConstant) or k = 0: the fill value
  int64_t i0, i1;  // nearest: i0; bilinear: floor and floor + 1; -1 past the axis' end
  float w0, w1;    // bilinear: the weights of i0 and i1
};

Tap AxisTap(float coord, int64_t len, ImageInterpolation interpolation, ImageFillMode mode) {
  Tap t{};
  const float c = MapImageCoordinate(coord, len, mode);
  if (!(c >= 0 && c <= static_cast<float>(len - 1))) {  // also NaN
    t.outside = true;
    return t;
  }
  auto index = [len](float v) {
    const int64_t i = static_cast<int64_t>(v);
    return i < len ? i : -1;
  };
  if (interpolation == ImageInterpolation::kNearest) {
    t.i0 = index(std::round(c));
    return t;
  }
  const float lo = std::floor(c), hi = lo + 1;
  t.i0 = index(lo);
  t.i1 = index(hi);
  t.w0 = hi - c;
  t.w1 = c - lo;
  return t;
}

// The input point of output pixel (ox, oy) under transform t (TF's arithmetic); false when
// k = 0.
bool InputPoint(const float* t, int64_t ox, int64_t oy, float* x, float* y) {
  const float fx = static_cast<float>(ox), fy = static_cast<float>(oy);
  const float k = t[6] * fx + t[7] * fy + 1.f;
  if (k == 0) return false;
  *x = (t[0] * fx + t[1] * fy + t[2]) / k;
  *y = (t[3] * fx + t[4] * fy + t[5]) / k;
  return true;
}

bool Separable(const float* t) { return t[1] == 0 && t[3] == 0 && t[6] == 0 && t[7] == 0; }

struct Warp {
  const ImageTransformShape& s;
  ImageInterpolation interpolation;
  ImageFillMode mode;
  float fill;

  // The row and column taps of output pixel (ox, oy) under transform t.
  void Taps(const float* t, int64_t ox, int64_t oy, Tap* row, Tap* column) const {
    float x, y;
    if (!InputPoint(t, ox, oy, &x, &y)) {
      *row = *column = Tap{true, 0, 0, 0, 0};
      return;
    }
    *row = AxisTap(y, s.h, interpolation, mode);
    *column = AxisTap(x, s.w, interpolation, mode);
  }

  // Writes the c channels of one output pixel of image `img` from its taps.
  void Pixel(const float* img, const Tap& ty, const Tap& tx, float* out) const {
    const int64_t c = s.c;
    if (ty.outside || tx.outside) {
      std::fill(out, out + c, fill);
      return;
    }
    auto at = [&](int64_t iy, int64_t ix) -> const float* {
      return iy < 0 || ix < 0 ? nullptr : img + (iy * s.w + ix) * c;
    };
    if (interpolation == ImageInterpolation::kNearest) {
      const float* p = at(ty.i0, tx.i0);
      for (int64_t ch = 0; ch < c; ++ch) out[ch] = p != nullptr ? p[ch] : fill;
      return;
    }
    const float* p00 = at(ty.i0, tx.i0);
    const float* p01 = at(ty.i0, tx.i1);
    const float* p10 = at(ty.i1, tx.i0);
    const float* p11 = at(ty.i1, tx.i1);
    for (int64_t ch = 0; ch < c; ++ch) {
      const float v00 = p00 != nullptr ? p00[ch] : fill;
      const float v01 = p01 != nullptr ? p01[ch] : fill;
      const float v10 = p10 != nullptr ? p10[ch] : fill;
      const float v11 = p11 != nullptr ? p11[ch] : fill;
      out[ch] = ty.w0 * (tx.w0 * v00 + tx.w1 * v01) + ty.w1 * (tx.w0 * v10 + tx.w1 * v11);
    }
  }

  // Output rows [r0, r1) of the whole batch (row r is row r % out_h of image r / out_h).
  void Rows(const float* x, const float* transforms, float* y, int64_t r0, int64_t r1) const {
    std::vector<Tap> columns;  // the separable column taps of image `columns_of`
    int64_t columns_of = -1;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / s.out_h, oy = r % s.out_h;
      const float* t = transforms + b * 8;
      const float* img = x + b * s.h * s.w * s.c;
      float* out = y + r * s.out_w * s.c;
      Tap row, column;
      if (!Separable(t)) {
        for (int64_t ox = 0; ox < s.out_w; ++ox) {
          Taps(t, ox, oy, &row, &column);
          Pixel(img, row, column, out + ox * s.c);
        }
        continue;
      }
      if (columns_of != b) {
        columns.resize(static_cast<size_t>(s.out_w));
        for (int64_t ox = 0; ox < s.out_w; ++ox) Taps(t, ox, 0, &row, &columns[ox]);
        columns_of = b;
      }
      Taps(t, 0, oy, &row, &column);
      for (int64_t ox = 0; ox < s.out_w; ++ox) Pixel(img, row, columns[ox], out + ox * s.c);
    }
  }
};

}  // namespace

float MapImageCoordinate(float coord, int64_t len, ImageFillMode mode) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float last = static_cast<float>(len - 1);
  float c = coord;
  if (std::isnan(c) || mode == ImageFillMode::kConstant) return c;
  if (c < 0 || c > last) {
    if (mode == ImageFillMode::kReflect || mode == ImageFillMode::kWrap) {
      if (std::isinf(c)) return nan;
      if (len <= 1) {
        c = 0;
      } else {
        c = mode == ImageFillMode::kReflect ? Reflect(c, len) : Wrap(c, len);
      }
    }
  }
  return std::min(std::max(c, 0.0f), last);
}

void ImageProjectiveTransform(const float* x, const float* transforms, float* y,
                              const ImageTransformShape& s,
                              ImageInterpolation interpolation, ImageFillMode fill_mode,
                              float fill_value) {
  if (s.n < 0 || s.h < 0 || s.w < 0 || s.c < 0 || s.out_h < 0 || s.out_w < 0) {
    throw std::invalid_argument(
        "ImageProjectiveTransform: negative size: input [" + std::to_string(s.n) + ", " +
        std::to_string(s.h) + ", " + std::to_string(s.w) + ", " + std::to_string(s.c) +
        "], output " + std::to_string(s.out_h) + "x" + std::to_string(s.out_w));
  }
  const int64_t row_elements = s.out_w * s.c;
  if (s.n == 0 || s.out_h == 0 || row_elements == 0) return;
  if (s.h == 0 || s.w == 0) {
    throw std::invalid_argument("ImageProjectiveTransform: an empty input image (" +
                                std::to_string(s.h) + "x" + std::to_string(s.w) +
                                ") has no pixel to sample");
  }
  const Warp warp{s, interpolation, fill_mode, fill_value};
  ParallelFor(s.n * s.out_h, std::max<int64_t>(1, kOutputGrain / row_elements),
              [&](int64_t r0, int64_t r1) { warp.Rows(x, transforms, y, r0, r1); });
}

}  // namespace ops
}  // namespace gradway
