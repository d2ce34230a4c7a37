// The projective image warp vs a plain per-element reference written independently of the
// kernel (fill modes as repeated reflections and shifts, not the kernel's fmod), cases
// computed by hand from TF's documented conventions, and bit-identical results for 1, 2 and
// 7 threads. The kernel is scalar (no Highway targets to loop over).
#include "ops/image_transform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using Interp = ImageInterpolation;
using Fill = ImageFillMode;

const char* Name(Fill m) {
  switch (m) {
    case Fill::kReflect: return "reflect";
    case Fill::kWrap: return "wrap";
    case Fill::kConstant: return "constant";
    case Fill::kNearest: return "nearest";
  }
  return "?";
}

// ---- The reference: one output element at a time.

float RefMap(float c, int64_t len, Fill mode) {
  const float n = static_cast<float>(len);
  switch (mode) {
    case Fill::kConstant:
      return c;
    case Fill::kNearest:
      break;
    case Fill::kReflect:
      if (len == 1) return 0;
      // Mirror about -0.5 or len - 0.5 until within one pixel of the image (what is left
      // outside clamps to the edge pixel, as its mirror image would).
      while (c < -1 || c > n) c = c < 0 ? -1 - c : 2 * n - 1 - c;
      break;
    case Fill::kWrap:
      if (len == 1) return 0;
      if (c < 0) {
        while (c < 0) c += n;
      } else {
        while (c > n - 1) c -= n;
      }
      break;
  }
  return std::min(std::max(c, 0.0f), n - 1);
}

float RefRead(const float* img, int64_t h, int64_t w, int64_t c, int64_t y, int64_t x,
              int64_t ch, float fill) {
  return y >= 0 && y < h && x >= 0 && x < w ? img[(y * w + x) * c + ch] : fill;
}

float RefElement(const float* img, const float* t, const ImageTransformShape& s, int64_t oy,
                 int64_t ox, int64_t ch, Interp interp, Fill mode, float fill) {
  const float fx = static_cast<float>(ox), fy = static_cast<float>(oy);
  const float k = t[6] * fx + t[7] * fy + 1.f;
  if (k == 0) return fill;
  const float px = (t[0] * fx + t[1] * fy + t[2]) / k;
  const float py = (t[3] * fx + t[4] * fy + t[5]) / k;
  if (std::isnan(px) || std::isnan(py)) return fill;
  const float x = RefMap(px, s.w, mode), y = RefMap(py, s.h, mode);
  if (!(x >= 0 && x <= s.w - 1 && y >= 0 && y <= s.h - 1)) return fill;
  if (interp == Interp::kNearest) {
    return RefRead(img, s.h, s.w, s.c, static_cast<int64_t>(std::round(y)),
                   static_cast<int64_t>(std::round(x)), ch, fill);
  }
  const float x0 = std::floor(x), y0 = std::floor(y), x1 = x0 + 1, y1 = y0 + 1;
  auto f = [&](float yy, float xx) {
    return RefRead(img, s.h, s.w, s.c, static_cast<int64_t>(yy), static_cast<int64_t>(xx), ch,
                   fill);
  };
  const float top = (x1 - x) * f(y0, x0) + (x - x0) * f(y0, x1);
  const float bottom = (x1 - x) * f(y1, x0) + (x - x0) * f(y1, x1);
  return (y1 - y) * top + (y - y0) * bottom;
}

std::vector<float> RefTransform(const std::vector<float>& x, const std::vector<float>& t,
                                const ImageTransformShape& s, Interp interp, Fill mode,
                                float fill) {
  std::vector<float> y;
  for (int64_t b = 0; b < s.n; ++b) {
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        for (int64_t ch = 0; ch < s.c; ++ch) {
          y.push_back(RefElement(x.data() + b * s.h * s.w * s.c, t.data() + b * 8, s, oy, ox,
                                 ch, interp, mode, fill));
        }
      }
    }
  }
  return y;
}

std::vector<float> Warp(const std::vector<float>& x, const std::vector<float>& t,
                       const ImageTransformShape& s, Interp interp, Fill mode, float fill) {
  std::vector<float> y(static_cast<size_t>(s.n * s.out_h * s.out_w * s.c), -123.f);
  ImageProjectiveTransform(x.data(), t.data(), y.data(), s, interp, mode, fill);
  return y;
}

// A translation by (dx, dy) (output (x, y) reads input (x - dx, y - dy)), as Keras builds it.
std::vector<float> Translation(float dx, float dy) { return {1, 0, -dx, 0, 1, -dy, 0, 0}; }

// ---- Cases by hand.

TEST(ImageTransformTest, MapsCoordinatesAsTheDocumentedFillModes) {
  // Reflect, a b c d = 0 1 2 3: d c b a | a b c d | d c b a | a b ...
  const float reflect[][2] = {{-1, 0}, {-2, 1}, {-4, 3}, {-5, 3}, {-6, 2}, {-8, 0}, {-9, 0},
                              {4, 3},  {5, 2},  {7, 0},  {8, 0},  {9, 1},  {-0.25f, 0},
                              {3.5f, 3}, {-1.5f, 0.5f}, {4.25f, 2.75f}, {1.5f, 1.5f}};
  for (const auto& [c, want] : reflect) {
    EXPECT_EQ(MapImageCoordinate(c, 4, Fill::kReflect), want) << c;
  }
  // Wrap: a b c d | a b c d | a b c d; between d and the next a, the side of the image
  // the point came from (TF's clamp: -0.5 reads d, 3.5 reads a).
  const float wrap[][2] = {{-1, 3}, {-2, 2}, {-4, 0}, {-5, 3}, {4, 0},  {5, 1}, {10, 2},
                           {-0.5f, 3}, {3.5f, 0}, {6.5f, 2.5f}, {-1.25f, 2.75f}, {2, 2}};
  for (const auto& [c, want] : wrap) {
    EXPECT_EQ(MapImageCoordinate(c, 4, Fill::kWrap), want) << c;
  }
  EXPECT_EQ(MapImageCoordinate(-3, 4, Fill::kNearest), 0);
  EXPECT_EQ(MapImageCoordinate(7.5f, 4, Fill::kNearest), 3);
  EXPECT_EQ(MapImageCoordinate(2.5f, 4, Fill::kNearest), 2.5f);
  EXPECT_EQ(MapImageCoordinate(-3, 4, Fill::kConstant), -3);
  EXPECT_EQ(MapImageCoordinate(9, 4, Fill::kConstant), 9);
  for (Fill m : {Fill::kReflect, Fill::kWrap, Fill::kNearest}) {
    EXPECT_EQ(MapImageCoordinate(5.5f, 1, m), 0) << Name(m);
    EXPECT_EQ(MapImageCoordinate(-2, 1, m), 0) << Name(m);
  }
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isnan(MapImageCoordinate(std::nanf(""), 4, Fill::kNearest)));
  EXPECT_TRUE(std::isnan(MapImageCoordinate(inf, 4, Fill::kReflect)));
  EXPECT_TRUE(std::isnan(MapImageCoordinate(-inf, 4, Fill::kWrap)));
  EXPECT_EQ(MapImageCoordinate(inf, 4, Fill::kNearest), 3);
}

struct RowCase {
  float dx;
  Interp interp;
  Fill mode;
  std::vector<float> want;
};

TEST(ImageTransformTest, TranslatesOneRowByHand) {
  // The row 1 2 3 4 (two channels: v and 10 v), fill value 9.
  const std::vector<float> x = {1, 10, 2, 20, 3, 30, 4, 40};
  const ImageTransformShape s{1, 1, 4, 2, 1, 4};
  const Interp kN = Interp::kNearest, kB = Interp::kBilinear;
  const std::vector<RowCase> cases = {
      // Whole pixels right: the points -2 and -1 come from outside.
      {2, kN, Fill::kReflect, {2, 1, 1, 2}},
      {2, kN, Fill::kWrap, {3, 4, 1, 2}},
      {2, kN, Fill::kConstant, {9, 9, 1, 2}},
      {2, kN, Fill::kNearest, {1, 1, 1, 2}},
      {2, kB, Fill::kReflect, {2, 1, 1, 2}},
      // Half a pixel right: x reads x - 0.5. The point -0.5 is outside [0, 3]: reflect and
      // nearest read a, wrap reads d (its side), constant the fill value as a whole.
      {0.5f, kB, Fill::kReflect, {1, 1.5f, 2.5f, 3.5f}},
      {0.5f, kB, Fill::kWrap, {4, 1.5f, 2.5f, 3.5f}},
      {0.5f, kB, Fill::kConstant, {9, 1.5f, 2.5f, 3.5f}},
      {0.5f, kB, Fill::kNearest, {1, 1.5f, 2.5f, 3.5f}},
      // Half a pixel left: 3.5 reads d, but a with wrap.
      {-0.5f, kB, Fill::kReflect, {1.5f, 2.5f, 3.5f, 4}},
      {-0.5f, kB, Fill::kWrap, {1.5f, 2.5f, 3.5f, 1}},
      {-0.5f, kB, Fill::kConstant, {1.5f, 2.5f, 3.5f, 9}},
      // Nearest rounds halves away from zero: 0.5 -> 1, 1.5 -> 2, 2.5 -> 3.
      {0.5f, kN, Fill::kReflect, {1, 2, 3, 4}},
      {-0.25f, kB, Fill::kReflect, {1.25f, 2.25f, 3.25f, 4}},
  };
  for (const RowCase& k : cases) {
    const std::vector<float> y = Warp(x, Translation(k.dx, 0), s, k.interp, k.mode, 9);
    std::vector<float> want;
    for (float v : k.want) {
      want.push_back(v);
      want.push_back(v == 9 ? 9 : 10 * v);
    }
    EXPECT_EQ(y, want) << "dx " << k.dx << " " << Name(k.mode)
                       << (k.interp == kN ? " nearest" : " bilinear");
  }
}

TEST(ImageTransformTest, TransposesCropsAndFillsByHand) {
  // A 3x3 image 0..8; x' = y, y' = x transposes it (not separable).
  std::vector<float> x(9);
  for (int i = 0; i < 9; ++i) x[i] = static_cast<float>(i);
  const std::vector<float> transpose = {0, 1, 0, 1, 0, 0, 0, 0};
  for (Interp interp : {Interp::kNearest, Interp::kBilinear}) {
    EXPECT_EQ(Warp(x, transpose, {1, 3, 3, 1, 3, 3}, interp, Fill::kReflect, 0),
              (std::vector<float>{0, 3, 6, 1, 4, 7, 2, 5, 8}));
  }
  // A 2x2 window at (1, 1) of a 3x3 output size 2x2; a 2x4 window at row 1, column -1
  // with zeros around.
  EXPECT_EQ(Warp(x, Translation(-1, -1), {1, 3, 3, 1, 2, 2}, Interp::kNearest,
                Fill::kConstant, 0),
            (std::vector<float>{4, 5, 7, 8}));
  EXPECT_EQ(Warp(x, Translation(1, -1), {1, 3, 3, 1, 2, 4}, Interp::kNearest,
                Fill::kConstant, 0),
            (std::vector<float>{0, 3, 4, 5, 0, 6, 7, 8}));
  // A flip: x' = 2 - x.
  EXPECT_EQ(Warp(x, {-1, 0, 2, 0, 1, 0, 0, 0}, {1, 3, 3, 1, 3, 3}, Interp::kNearest,
                Fill::kReflect, 0),
            (std::vector<float>{2, 1, 0, 5, 4, 3, 8, 7, 6}));
  // Perspective: k = 1 - x is 0 at column 1, whose pixels are the fill value.
  const std::vector<float> y = Warp(x, {1, 0, 0, 0, 1, 0, -1, 0}, {1, 3, 3, 1, 3, 3},
                                   Interp::kNearest, Fill::kNearest, 7);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(y[r * 3 + 1], 7) << r;
  EXPECT_EQ(y[0], 0);  // column 0: k = 1, the identity
}

// ---- Against the reference.

// A random transform: rotation, anisotropic scale and shear, translation up to twice the
// image, and (for `perspective`) small c0, c1; or (for `separable`) flips and scales only.
std::vector<float> RandomTransform(std::mt19937& rng, int64_t h, int64_t w, int kind) {
  std::uniform_real_distribution<float> u(-1, 1);
  const float angle = kind == 1 ? 0 : 3.2f * u(rng);
  const float sx = (1 + 0.4f * u(rng)) * (kind == 1 && u(rng) < 0 ? -1 : 1);
  const float sy = 1 + 0.4f * u(rng);
  std::vector<float> t = {sx * std::cos(angle), -sy * std::sin(angle), 2 * w * u(rng),
                          sx * std::sin(angle), sy * std::cos(angle),  2 * h * u(rng),
                          0, 0};
  if (kind == 2) {
    t[6] = 0.03f * u(rng);
    t[7] = 0.03f * u(rng);
  }
  return t;
}

TEST(ImageTransformTest, MatchesTheReferenceAtOddSizes) {
  const ImageTransformShape shapes[] = {
      {3, 7, 9, 3, 7, 9}, {2, 5, 5, 1, 6, 4}, {1, 1, 6, 2, 3, 6}, {2, 6, 1, 5, 6, 2},
      {1, 11, 13, 4, 5, 17}, {2, 1, 1, 1, 2, 3},
  };
  std::mt19937 rng(5);
  int exact = 0, compared = 0;
  for (const ImageTransformShape& s : shapes) {
    const std::vector<float> x = test::RandomVector(s.n * s.h * s.w * s.c, 11, -2, 2);
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<float> t;
      for (int64_t b = 0; b < s.n; ++b) {
        const std::vector<float> tb = RandomTransform(rng, s.h, s.w, kind);
        t.insert(t.end(), tb.begin(), tb.end());
      }
      for (Interp interp : {Interp::kNearest, Interp::kBilinear}) {
        for (Fill mode : {Fill::kReflect, Fill::kWrap, Fill::kConstant, Fill::kNearest}) {
          const std::string tag = "shape " + std::to_string(s.h) + "x" + std::to_string(s.w) +
                                  "x" + std::to_string(s.c) + " kind " +
                                  std::to_string(kind) + " " + Name(mode) +
                                  (interp == Interp::kNearest ? " nearest" : " bilinear");
          const std::vector<float> want = RefTransform(x, t, s, interp, mode, 0.5f);
          const std::vector<float> got = Warp(x, t, s, interp, mode, 0.5f);
          ASSERT_EQ(want.size(), got.size());
          // Clamping and the constant fill do the same arithmetic as the reference: the
          // same bits. Reflect and wrap reach the same points by other roundings.
          if (mode == Fill::kConstant || mode == Fill::kNearest) {
            EXPECT_EQ(want, got) << tag;
            ++exact;
          } else {
            test::ExpectAllNear(want.data(), got.data(), static_cast<int64_t>(got.size()),
                                1e-5f, 1e-5f, tag);
          }
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 6 * 3 * 2 * 4);
  EXPECT_EQ(exact, compared / 2);
}

TEST(ImageTransformTest, SameBitsForAnyThreadCount) {
  const ImageTransformShape s{8, 64, 61, 3, 63, 64};  // 504 output rows: many chunks
  const std::vector<float> x = test::RandomVector(s.n * s.h * s.w * s.c, 3);
  std::mt19937 rng(9);
  std::vector<float> t;
  for (int64_t b = 0; b < s.n; ++b) {
    const std::vector<float> tb = RandomTransform(rng, s.h, s.w, static_cast<int>(b % 3));
    t.insert(t.end(), tb.begin(), tb.end());
  }
  std::vector<float> first;
  for (int threads : {1, 2, 7}) {
    SetNumThreads(threads);
    const std::vector<float> y = Warp(x, t, s, Interp::kBilinear, Fill::kReflect, 0);
    if (first.empty()) {
      first = y;
    } else {
      EXPECT_TRUE(test::SameBits(first.data(), y.data(), static_cast<int64_t>(y.size())))
          << threads << " threads";
    }
  }
  SetNumThreads(0);
}

TEST(ImageTransformTest, RejectsBadSizes) {
  std::vector<float> x(4), t = Translation(0, 0), y(4);
  EXPECT_THROW(ImageProjectiveTransform(x.data(), t.data(), y.data(), {1, -2, 2, 1, 2, 2},
                                        Interp::kNearest, Fill::kReflect, 0),
               std::invalid_argument);
  EXPECT_THROW(ImageProjectiveTransform(x.data(), t.data(), y.data(), {1, 0, 2, 1, 2, 2},
                                        Interp::kNearest, Fill::kReflect, 0),
               std::invalid_argument);
  // Nothing to write: nothing read either.
  ImageProjectiveTransform(nullptr, nullptr, nullptr, {0, 3, 3, 1, 3, 3}, Interp::kNearest,
                           Fill::kReflect, 0);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
