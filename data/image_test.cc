#include "data/image.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

GrayImage Filled(int w, int h, uint8_t value) {
  return GrayImage{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h, value)};
}

void Set(GrayImage& image, int x, int y, uint8_t v) {
  image.pixels[static_cast<size_t>(y) * image.width + x] = v;
}

uint8_t At(const GrayImage& image, int x, int y) {
  return image.pixels[static_cast<size_t>(y) * image.width + x];
}

// The ink's bounding box: {x0, y0, x1, y1} of pixels above `threshold`.
std::vector<int> InkBox(const GrayImage& image, int threshold = 0) {
  std::vector<int> box = {image.width, image.height, -1, -1};
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      if (At(image, x, y) > threshold) {
        box[0] = std::min(box[0], x);
        box[1] = std::min(box[1], y);
        box[2] = std::max(box[2], x);
        box[3] = std::max(box[3], y);
      }
    }
  }
  return box;
}

// A digit-like stroke pattern: a "7" of width 3 in a w x h field at (x0, y0), 10x16.
GrayImage Seven(int w, int h, int x0, int y0, uint8_t ink, uint8_t paper) {
  GrayImage image = Filled(w, h, paper);
  for (int x = 0; x < 10; ++x) {
    for (int t = 0; t < 3; ++t) Set(image, x0 + x, y0 + t, ink);
  }
  for (int y = 3; y < 16; ++y) {
    const int x = x0 + 9 - (y - 3) * 6 / 13;
    for (int t = 0; t < 3 && x - t >= x0; ++t) Set(image, x - t, y0 + y, ink);
  }
  return image;
}

TEST(ScaleNearest, EachPixelBecomesABlock) {
  GrayImage image{3, 2, {1, 2, 3, 4, 5, 6}};
  absl::StatusOr<GrayImage> big = ScaleNearest(image, 4);
  ASSERT_TRUE(big.ok()) << big.status();
  ASSERT_EQ(big->width, 12);
  ASSERT_EQ(big->height, 8);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 12; ++x) {
      ASSERT_EQ(At(*big, x, y), At(image, x / 4, y / 4)) << x << "," << y;
    }
  }
  absl::StatusOr<GrayImage> same = ScaleNearest(image, 1);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->pixels, image.pixels);
}

TEST(ScaleNearest, Errors) {
  GrayImage image{3, 2, {1, 2, 3, 4, 5, 6}};
  EXPECT_TRUE(absl::IsInvalidArgument(ScaleNearest(image, 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ScaleNearest(image, 20000).status()));
  GrayImage inconsistent{3, 3, {1, 2, 3}};
  absl::Status s = ScaleNearest(inconsistent, 2).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(), "ScaleNearest: not a valid image (3x3 with 3 pixels)");
}

TEST(ToMnistDigit, FitsTheInkIn20x20AndCentresItsMass) {
  // A 10x16 "7" in the corner of a 50x40 field.
  absl::StatusOr<GrayImage> digit = ToMnistDigit(Seven(50, 40, 2, 3, 255, 0));
  ASSERT_TRUE(digit.ok()) << digit.status();
  ASSERT_EQ(digit->width, 28);
  ASSERT_EQ(digit->height, 28);
  // The taller side becomes 20 pixels, the other keeps the aspect ratio (10/16 * 20).
  const std::vector<int> box = InkBox(*digit);
  EXPECT_EQ(box[3] - box[1] + 1, 20);
  EXPECT_EQ(box[2] - box[0] + 1, 13);  // round(12.5)
  // Centre of mass within half a pixel of the field's centre.
  double mass = 0, mx = 0, my = 0;
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 28; ++x) {
      mass += At(*digit, x, y);
      mx += At(*digit, x, y) * (x + 0.5);
      my += At(*digit, x, y) * (y + 0.5);
    }
  }
  EXPECT_NEAR(mx / mass, 14.0, 0.5);
  EXPECT_NEAR(my / mass, 14.0, 0.5);
}

TEST(ToMnistDigit, DarkInkOnPaperGivesTheSameDigit) {
  absl::StatusOr<GrayImage> white_on_black = ToMnistDigit(Seven(40, 40, 11, 9, 255, 0));
  absl::StatusOr<GrayImage> black_on_white = ToMnistDigit(Seven(40, 40, 11, 9, 0, 255));
  // Grey paper and ink: the background level is removed and the contrast stretched.
  absl::StatusOr<GrayImage> pencil = ToMnistDigit(Seven(40, 40, 11, 9, 40, 200));
  ASSERT_TRUE(white_on_black.ok() && black_on_white.ok() && pencil.ok());
  EXPECT_EQ(black_on_white->pixels, white_on_black->pixels);
  EXPECT_EQ(pencil->pixels, white_on_black->pixels);
}

TEST(ToMnistDigit, UndoesANearestNeighbourEnlargement) {
  // An MNIST-style digit (20 pixels tall, centred), enlarged 10 times as the examples
  // write it, comes back as nearly the same 28x28 digit.
  absl::StatusOr<GrayImage> digit = ToMnistDigit(Seven(30, 30, 5, 5, 255, 0));
  ASSERT_TRUE(digit.ok());
  absl::StatusOr<GrayImage> big = ScaleNearest(*digit, 10);
  ASSERT_TRUE(big.ok());
  absl::StatusOr<GrayImage> back = ToMnistDigit(*big);
  ASSERT_TRUE(back.ok()) << back.status();
  int64_t total_diff = 0, ink = 0;
  for (size_t i = 0; i < back->pixels.size(); ++i) {
    total_diff += std::abs(back->pixels[i] - digit->pixels[i]);
    ink += digit->pixels[i];
  }
  EXPECT_LT(total_diff, ink / 10) << "more than 10% of the ink moved";
}

TEST(ToMnistDigit, Errors) {
  absl::Status s = ToMnistDigit(Filled(28, 28, 0)).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("holds no digit"), std::string::npos) << s;
  GrayImage faint = Filled(28, 28, 255);
  Set(faint, 14, 14, 240);  // Within the noise threshold of white paper.
  EXPECT_TRUE(absl::IsInvalidArgument(ToMnistDigit(faint).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ToMnistDigit(GrayImage{}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ToMnistDigit(GrayImage{2, 2, {1}}).status()));
  // One pixel of ink is a (tiny) digit: it is scaled up to fill the box.
  GrayImage dot = Filled(5, 5, 0);
  Set(dot, 2, 2, 255);
  absl::StatusOr<GrayImage> blob = ToMnistDigit(dot);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ(InkBox(*blob), (std::vector<int>{4, 4, 23, 23}));
}

// The HWC test image of data/testdata/resize_bilinear_pytorch.py.
Image TestImage(int h, int w, int c) {
  Image image{w, h, c, std::vector<uint8_t>(static_cast<size_t>(h) * w * c)};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) {
        image.pixels[(static_cast<size_t>(y) * w + x) * c + k] =
            static_cast<uint8_t>((37 * y + 11 * x + 5 * k) % 256);
      }
    }
  }
  return image;
}

TEST(ResizeBilinear, MatchesPyTorchsHalfPixelBilinear) {
  // Expected values: data/testdata/resize_bilinear_pytorch.py (PyTorch 1.13, float64).
  const std::vector<float> up_down = {
      12.3333333, 17.3333333, 19.6666667, 24.6666667, 28.2222222, 33.2222222, 36.7777778,
      41.7777778, 45.3333333, 50.3333333, 53.8888889, 58.8888889, 62.4444444, 67.4444444,
      71,         76,         78.3333333, 83.3333333, 74,         79,         81.3333333,
      86.3333333, 89.8888889, 94.8888889, 98.4444444, 103.444444, 107,        112,
      115.555556, 120.555556, 124.111111, 129.111111, 132.666667, 137.666667, 140,
      145,        135.666667, 140.666667, 143,        148,        151.555556, 156.555556,
      160.111111, 165.111111, 168.666667, 173.666667, 177.222222, 182.222222, 185.777778,
      190.777778, 194.333333, 199.333333, 201.666667, 206.666667};
  const std::vector<float> reduced = {48.225,  72.425,  96.625,  120.825, 145.025,
                                      168.475, 192.675, 216.875, 145.075, 105.275,
                                      32.725,  56.925,  81.125,  105.325, 129.525,
                                      152.975, 177.175, 201.375, 225.575, 160.175};
  struct Case {
    int h, w, c, out_h, out_w;
    const std::vector<float>* expected;
  };
  for (const Case& k : {Case{5, 7, 2, 3, 9, &up_down}, Case{13, 11, 1, 4, 5, &reduced}}) {
    std::vector<float> out(static_cast<size_t>(k.out_h) * k.out_w * k.c, -1.f);
    ASSERT_TRUE(ResizeBilinear(TestImage(k.h, k.w, k.c), k.out_h, k.out_w, out.data()).ok());
    ASSERT_EQ(out.size(), k.expected->size());
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_NEAR(out[i], (*k.expected)[i], 1e-5 * std::abs((*k.expected)[i])) << i;
    }
  }
}

TEST(ResizeBilinear, HalfPixelCentresByHand) {
  // Two pixels 0 and 100 widened to 4: samples at -0.25 (clamped), 0.25, 0.75, 1.25
  // (clamped), as tf.image.resize gives them.
  std::vector<float> out(4);
  ASSERT_TRUE(ResizeBilinear(Image{2, 1, 1, {0, 100}}, 1, 4, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{0, 25, 75, 100}));
  // Halved: each output the mean of its two inputs (samples at 0.5, 2.5).
  ASSERT_TRUE(ResizeBilinear(Image{4, 1, 1, {0, 10, 20, 30}}, 1, 2, out.data()).ok());
  EXPECT_EQ(out[0], 5);
  EXPECT_EQ(out[1], 25);
}

TEST(ResizeBilinear, SameSizeIsAnExactCopy) {
  const Image image = TestImage(9, 7, 3);
  std::vector<float> out(image.pixels.size());
  ASSERT_TRUE(ResizeBilinear(image, 9, 7, out.data()).ok());
  for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], image.pixels[i]);
}

TEST(ResizeBilinear, Errors) {
  float out[16];
  absl::Status s = ResizeBilinear(Image{2, 2, 1, {1, 2, 3}}, 2, 2, out);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("ResizeBilinear: not a valid image (2x2, 1 channels, 3 samples)"),
            std::string::npos)
      << s;
  EXPECT_TRUE(absl::IsInvalidArgument(ResizeBilinear(Image{1, 1, 5, {1, 2, 3, 4, 5}}, 1, 1, out)));
  s = ResizeBilinear(Image{1, 1, 1, {7}}, 0, 3, out);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("cannot resize a 1x1 image to 3x0"), std::string::npos) << s;
}

}  // namespace
}  // namespace gradway::data
