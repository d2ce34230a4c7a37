#include "base/runtime.h"

#include <oneapi/tbb/global_control.h>

#include "gtest/gtest.h"

namespace gradway {
namespace {

int TbbLimit() {
  return static_cast<int>(oneapi::tbb::global_control::active_value(
      oneapi::tbb::global_control::max_allowed_parallelism));
}

// The count is oneTBB's limit too, so the kernels' parallel loops obey it; the free
// functions set and read the default runtime.
TEST(RuntimeTest, ThreadCountLimitsOneTbb) {
  Runtime& runtime = Runtime::Default();
  for (int threads : {1, 2, 3}) {
    runtime.SetNumThreads(threads);
    EXPECT_EQ(runtime.num_threads(), threads);
    EXPECT_EQ(NumThreads(), threads);
    EXPECT_EQ(TbbLimit(), threads);
  }
  SetNumThreads(2);
  EXPECT_EQ(runtime.num_threads(), 2);
  EXPECT_EQ(TbbLimit(), 2);
  SetNumThreads(0);
  EXPECT_EQ(NumThreads(), HardwareThreads());
  EXPECT_EQ(TbbLimit(), HardwareThreads());
}

TEST(RuntimeTest, ConvAlgorithmIsSetForTheProcess) {
  Runtime& runtime = Runtime::Default();
  EXPECT_EQ(runtime.conv_algorithm(), ConvAlgorithm::kAuto);
  for (ConvAlgorithm a : {ConvAlgorithm::kDirect, ConvAlgorithm::kWinograd,
                          ConvAlgorithm::kWinograd2x2, ConvAlgorithm::kAuto}) {
    SetConvAlgorithm(a);
    EXPECT_EQ(runtime.conv_algorithm(), a);
    EXPECT_EQ(GetConvAlgorithm(), a);
  }
  runtime.set_conv_algorithm(ConvAlgorithm::kDirect);
  EXPECT_EQ(GetConvAlgorithm(), ConvAlgorithm::kDirect);
  SetConvAlgorithm(ConvAlgorithm::kAuto);
}

// One runtime per process, with one scratch pool: a buffer returned to it serves the next
// request from this thread.
TEST(RuntimeTest, DefaultIsOneObjectWithOneScratchPool) {
  EXPECT_EQ(&Runtime::Default(), &Runtime::Default());
  EXPECT_EQ(&Runtime::Default().scratch(), &Runtime::Default().scratch());
  float* first = nullptr;
  { first = ScratchBuffer(Runtime::Default().scratch(), ScratchOwner::kConv, 3, 64).get(); }
  ScratchBuffer again(Runtime::Default().scratch(), ScratchOwner::kConv, 3, 64);
  EXPECT_EQ(again.get(), first);
}

}  // namespace
}  // namespace gradway
