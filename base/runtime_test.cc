#include "base/runtime.h"

#include <oneapi/tbb/global_control.h>

#include "gtest/gtest.h"

namespace gradway {
namespace {

int TbbLimit() {
  return static_cast<int>(oneapi::tbb::global_control::active_value(
      oneapi::tbb::global_control::max_allowed_parallelism));
}

// The count is oneTBB's limit too, so the kernels' parallel loops obey it.
TEST(RuntimeTest, ThreadCountLimitsOneTbb) {
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    EXPECT_EQ(NumThreads(), threads);
    EXPECT_EQ(TbbLimit(), threads);
  }
  SetNumThreads(0);
  EXPECT_EQ(NumThreads(), HardwareThreads());
  EXPECT_EQ(TbbLimit(), HardwareThreads());
}

TEST(RuntimeTest, ConvAlgorithmIsSetForTheProcess) {
  EXPECT_EQ(GetConvAlgorithm(), ConvAlgorithm::kAuto);
  for (ConvAlgorithm a : {ConvAlgorithm::kDirect, ConvAlgorithm::kWinograd,
                          ConvAlgorithm::kWinograd2x2, ConvAlgorithm::kAuto}) {
    SetConvAlgorithm(a);
    EXPECT_EQ(GetConvAlgorithm(), a);
  }
}

}  // namespace
}  // namespace gradway
