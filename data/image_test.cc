#include "data/image.h"

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

}  // namespace
}  // namespace gradway::data
