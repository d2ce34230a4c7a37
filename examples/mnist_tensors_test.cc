#include "examples/mnist_tensors.h"

#include <string>

#include "autograd/autograd.h"
#include "gtest/gtest.h"

namespace gradway {
namespace examples {
namespace {

// 5 train and 3 test images of 2x3 pixels; pixel p of image i is 10 * i + p.
data::Dataset Tiny() {
  data::Dataset d;
  d.description = "tiny";
  d.rows = 2;
  d.cols = 3;
  for (int i = 0; i < 5; ++i) {
    for (int p = 0; p < 6; ++p) d.train_images.push_back(static_cast<uint8_t>(10 * i + p));
    d.train_labels.push_back(static_cast<uint8_t>(9 - i));
  }
  for (int i = 0; i < 3; ++i) {
    for (int p = 0; p < 6; ++p) d.test_images.push_back(static_cast<uint8_t>(200 + i));
    d.test_labels.push_back(static_cast<uint8_t>(i));
  }
  return d;
}

TEST(MnistTensorsTest, RowRangeScaledAndOneHot) {
  const data::Dataset d = Tiny();
  MnistTensors t = ToTensors(d, Split::kTrain, 1, 3, {2, 3, 1});
  EXPECT_EQ(t.x.shape(), (Shape{3, 2, 3, 1}));
  EXPECT_EQ(t.y.shape(), (Shape{3, 10}));
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t p = 0; p < 6; ++p) {
      EXPECT_EQ(t.x.at({i, p / 3, p % 3, 0}), (10.f * (i + 1) + p) / 255.f);
    }
    for (int64_t k = 0; k < 10; ++k) EXPECT_EQ(t.y.at({i, k}), k == 9 - (i + 1) ? 1.f : 0.f);
  }
  MnistTensors test = ToTensors(d, Split::kTest, 0, -1, {6});  // to the end, flat
  EXPECT_EQ(test.x.shape(), (Shape{3, 6}));
  EXPECT_EQ(test.x.at({2, 5}), 202.f / 255.f);
  EXPECT_EQ(test.y.at({2, 2}), 1.f);
  EXPECT_EQ(ToTensors(d, Split::kTrain, 5, 0, {6}).x.shape(), (Shape{0, 6}));
}

TEST(MnistTensorsTest, ErrorsNameTheDataSet) {
  const data::Dataset d = Tiny();
  try {
    ToTensors(d, Split::kTrain, 3, 3, {6});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "tiny: rows [3, 3 + 3) are outside the 5 training images");
  }
  try {
    ToTensors(d, Split::kTest, 0, 1, {28, 28, 1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "tiny: images of 2x3 do not fit the model's input shape (28, 28, 1)");
  }
}

}  // namespace
}  // namespace examples
}  // namespace gradway
