#include "base/shape_string.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace gradway {
namespace {

// Python's tuple notation, as Keras prints shapes: a one-element tuple keeps its comma.
TEST(ShapeStringTest, KerasTuples) {
  EXPECT_EQ(ShapeToString({}), "()");
  EXPECT_EQ(ShapeToString({5}), "(5,)");
  EXPECT_EQ(ShapeToString(std::vector<int64_t>{32, 784}), "(32, 784)");
  EXPECT_EQ(ShapeToString({0, 3, 1}), "(0, 3, 1)");
  EXPECT_EQ(ShapeToString({0, -1}), "(0, -1)");
  EXPECT_EQ(BatchShapeString({}), "(None,)");
  EXPECT_EQ(BatchShapeString({10}), "(None, 10)");
  EXPECT_EQ(BatchShapeString(std::vector<int64_t>{26, 26, 32}), "(None, 26, 26, 32)");
}

}  // namespace
}  // namespace gradway
