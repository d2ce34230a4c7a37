// Dropout vs the scalar reference (the stream's definition), on every compiled target.
#include "ops/dropout.h"

#include <cmath>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "hwy/tests/hwy_gtest.h"
#include "ops/reference.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using test::Buffer;
using test::ExpectAllNear;

class DropoutTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(DropoutTest);

std::vector<int64_t> Sizes() {
  std::vector<int64_t> sizes;
  for (int64_t n = 0; n <= 33; ++n) sizes.push_back(n);
  sizes.push_back(127 * 129);
  sizes.push_back(70001);
  return sizes;
}

TEST_P(DropoutTest, MatchesReference) {
  for (float rate : {0.0f, 0.25f, 0.5f, 0.9f}) {
    for (int64_t n : Sizes()) {
      for (int mis = 0; mis < 4; ++mis) {
        const std::string tag = "rate=" + std::to_string(rate) + " n=" + std::to_string(n) +
                                " misalign=" + std::to_string(mis);
        Buffer x(n, mis, 1), y(n, 3 - mis, 2), y_ref(n, 0, 2);
        std::vector<uint8_t> mask(n + 3), mask_ref(n);
        uint8_t* m = mask.data() + mis;
        DropoutForward(x.data(), y.data(), m, n, rate, 42);
        reference::DropoutForward(x.data(), y_ref.data(), mask_ref.data(), n, rate, 42);
        ASSERT_TRUE(std::equal(mask_ref.begin(), mask_ref.end(), m)) << tag;
        ExpectAllNear(y_ref.data(), y.data(), n, 0, 0, tag);
        Buffer dy(n, mis, 3), dx(n, (mis + 1) % 4, 4), dx_ref(n, 0, 4);
        DropoutBackward(dy.data(), m, dx.data(), n, rate);
        reference::DropoutBackward(dy.data(), mask_ref.data(), dx_ref.data(), n, rate);
        ExpectAllNear(dx_ref.data(), dx.data(), n, 0, 0, tag);
      }
    }
  }
}

TEST_P(DropoutTest, StatisticsAndScale) {
  const int64_t n = 1 << 20;
  std::vector<float> x(n, 1.0f), y(n);
  std::vector<uint8_t> mask(n);
  for (float rate : {0.1f, 0.25f, 0.5f, 0.75f}) {
    DropoutForward(x.data(), y.data(), mask.data(), n, rate, 7);
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      kept += mask[i];
      ASSERT_EQ(mask[i] ? 1.0f / (1.0f - rate) : 0.0f, y[i]) << i;
    }
    const double frac = 1.0 - double(kept) / n;
    EXPECT_NEAR(rate, frac, 0.003) << rate;  // ~6 sigma at n = 2^20
  }
  // Different seeds give different masks; rate 0 copies.
  std::vector<uint8_t> mask2(n);
  DropoutForward(x.data(), y.data(), mask.data(), n, 0.5f, 1);
  DropoutForward(x.data(), y.data(), mask2.data(), n, 0.5f, 2);
  int64_t same = 0;
  for (int64_t i = 0; i < n; ++i) same += mask[i] == mask2[i];
  EXPECT_NEAR(0.5, double(same) / n, 0.01);
  Buffer xr(1000, 1, 5);
  std::vector<float> yr(1000);
  DropoutForward(xr.data(), yr.data(), mask.data(), 1000, 0.0f, 3);
  ExpectAllNear(xr.data(), yr.data(), 1000, 0, 0, "rate 0");
}

TEST_P(DropoutTest, MaskIndependentOfThreads) {
  const int64_t n = 300001;
  Buffer x(n, 0, 6);
  std::vector<uint8_t> mask[3];
  std::vector<float> y[3];
  const int threads[] = {1, 2, 16};
  for (int k = 0; k < 3; ++k) {
    SetNumThreads(threads[k]);
    mask[k].resize(n);
    y[k].resize(n);
    DropoutForward(x.data(), y[k].data(), mask[k].data(), n, 0.3f, 99);
  }
  SetNumThreads(0);
  for (int k = 1; k < 3; ++k) {
    EXPECT_EQ(mask[0], mask[k]) << threads[k];
    EXPECT_TRUE(test::SameBits(y[0].data(), y[k].data(), n)) << threads[k];
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
