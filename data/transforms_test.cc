#include "data/transforms.h"

#include <vector>

#include "gtest/gtest.h"

namespace gradway::data {
namespace {

TEST(ToCategorical, OneHotRows) {
  const std::vector<float> y = ToCategorical({2, 0, 3}, 4);
  EXPECT_EQ(y, (std::vector<float>{0, 0, 1, 0,  //
                                   1, 0, 0, 0,  //
                                   0, 0, 0, 1}));
  EXPECT_TRUE(ToCategorical({}, 10).empty());
  EXPECT_EQ(ToCategorical({7}, 3), (std::vector<float>{0, 0, 0}));  // out of range: zeros
  EXPECT_TRUE(ToCategorical({1}, 0).empty());
}

TEST(Normalize, DividesBy255) {
  std::vector<float> x = {-1.f, -1.f, -1.f, -1.f};
  Normalize({0, 51, 255}, x.data());
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_FLOAT_EQ(x[1], 0.2f);
  EXPECT_EQ(x[2], 1.0f);
  EXPECT_EQ(x[3], -1.f);  // only pixels.size() values are written
  Normalize({}, nullptr);
}

}  // namespace
}  // namespace gradway::data
