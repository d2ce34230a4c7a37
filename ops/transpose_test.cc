#include "ops/transpose.h"

#include <vector>

#include "gtest/gtest.h"

namespace gradway {
namespace ops {
namespace {

TEST(TransposeTest, MatchesDefinitionOnOddShapes) {
  for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {1, 17}, {17, 1}, {7, 13}, {33, 31}, {127, 129}, {300, 5}}) {
    std::vector<float> in(r * c), out(r * c, -1.f);
    for (int64_t i = 0; i < r * c; ++i) in[i] = static_cast<float>(i) * 0.5f;
    Transpose2D(in.data(), r, c, out.data());
    for (int64_t i = 0; i < r; ++i) {
      for (int64_t j = 0; j < c; ++j) {
        ASSERT_EQ(out[j * r + i], in[i * c + j]) << r << "x" << c << " at " << i << "," << j;
      }
    }
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
