#include "data/png.h"

#include <png.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

struct Decoded {
  bool ok = false;
  int width = 0, height = 0, color_type = -1, bit_depth = 0;
  std::vector<uint8_t> pixels;
};

// Reads a PNG back with libpng's simplified API, in its own format.
Decoded ReadPng(const std::string& path, bool rgb) {
  Decoded out;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) return out;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.color_type = (image.format & PNG_FORMAT_FLAG_COLOR) ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
  image.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  out.ok = png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr) != 0;
  png_image_free(&image);
  return out;
}

TEST(Png, GrayRoundTrip) {
  const int w = 29, h = 17;  // odd sizes
  std::vector<uint8_t> pixels(w * h);
  for (int i = 0; i < w * h; ++i) pixels[i] = static_cast<uint8_t>(i * 7 + 3);
  const std::string path = TmpPath("gray.png");
  ASSERT_TRUE(WriteGrayPng(path, pixels.data(), w, h).ok());
  const Decoded d = ReadPng(path, false);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.width, w);
  EXPECT_EQ(d.height, h);
  EXPECT_EQ(d.color_type, PNG_COLOR_TYPE_GRAY);
  EXPECT_EQ(d.pixels, pixels);
}

TEST(Png, RgbRoundTrip) {
  const int w = 5, h = 3;
  std::vector<uint8_t> pixels(w * h * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 11);
  const std::string path = TmpPath("rgb.png");
  ASSERT_TRUE(WriteRgbPng(path, pixels.data(), w, h).ok());
  const Decoded d = ReadPng(path, true);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.width, w);
  EXPECT_EQ(d.height, h);
  EXPECT_EQ(d.color_type, PNG_COLOR_TYPE_RGB);
  EXPECT_EQ(d.pixels, pixels);
}

TEST(Png, Errors) {
  const uint8_t pixel = 0;
  const std::string path = TmpPath("bad.png");
  absl::Status s = WriteGrayPng(path, &pixel, 0, 1);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  EXPECT_FALSE(WriteGrayPng(path, nullptr, 1, 1).ok());

  const std::string missing = TmpPath("no/such/dir/x.png");
  s = WriteGrayPng(missing, &pixel, 1, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(missing), std::string::npos) << s;
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s;
}

TEST(Png, OverwritesAtomically) {
  const std::string path = TmpPath("over.png");
  std::vector<uint8_t> a(4, 10), b(9, 200);
  ASSERT_TRUE(WriteGrayPng(path, a.data(), 2, 2).ok());
  ASSERT_TRUE(WriteGrayPng(path, b.data(), 3, 3).ok());
  const Decoded d = ReadPng(path, false);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.width, 3);
  EXPECT_EQ(d.pixels, b);
}

}  // namespace
}  // namespace gradway::data
