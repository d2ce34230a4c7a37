#include "base/conv_algorithm.h"

#include <string>

#include "gtest/gtest.h"

namespace gradway {
namespace {

TEST(ConvAlgorithmTest, NamesRoundTrip) {
  const std::pair<ConvAlgorithm, std::string> named[] = {
      {ConvAlgorithm::kAuto, "auto"},
      {ConvAlgorithm::kDirect, "direct"},
      {ConvAlgorithm::kWinograd, "winograd"},
      {ConvAlgorithm::kWinograd2x2, "winograd2x2"},
  };
  for (const auto& [algorithm, name] : named) {
    EXPECT_EQ(ConvAlgorithmName(algorithm), name);
    EXPECT_EQ(ConvAlgorithmFromName(name), algorithm);
    EXPECT_NE(std::string(ConvAlgorithmNames()).find(name), std::string::npos);
  }
}

TEST(ConvAlgorithmTest, UnknownNamesAreRejected) {
  for (const char* name : {"", "fft", "Direct", "winograd4x4", "auto "}) {
    EXPECT_FALSE(ConvAlgorithmFromName(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace gradway
