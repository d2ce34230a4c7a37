#include "base/splitmix.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace gradway {
namespace {

// Published outputs of SplitMix64: Rosetta Code's "Pseudo-random numbers/Splitmix64"
// lists these five for seed 1234567; the seed-0 stream begins as in Vigna's splitmix64.c.
constexpr uint64_t kSeed1234567[] = {6457827717110365317ull, 3203168211198807973ull,
                                     9817491932198370423ull, 4593380528125082431ull,
                                     16408922859458223821ull};
constexpr uint64_t kSeed0[] = {0xE220A8397B1DCDAFull, 0x6E789E6AA1B965F4ull,
                               0x06C45D188009454Full, 0xF88BB8A8724C81ECull};

TEST(SplitMixTest, GeneratorStreamMatchesPublishedValues) {
  uint64_t state = 1234567;
  for (uint64_t expected : kSeed1234567) {
    EXPECT_EQ(SplitMix64(state), expected);
    state += kSplitMix64Gamma;
  }
  state = 0;
  for (uint64_t expected : kSeed0) {
    EXPECT_EQ(SplitMix64(state), expected);
    state += kSplitMix64Gamma;
  }
}

// MixSeed(seed, step) is output step + 1 of the stream seeded with `seed`, including where
// seed + step * gamma wraps around 2^64 (the last two values from a separate Python
// implementation of splitmix64.c, seeded with 2^64 - 1).
TEST(SplitMixTest, MixSeedIndexesTheStream) {
  for (uint64_t step = 0; step < 5; ++step) {
    EXPECT_EQ(MixSeed(1234567, step), kSeed1234567[step]) << step;
  }
  for (uint64_t step = 0; step < 4; ++step) EXPECT_EQ(MixSeed(0, step), kSeed0[step]) << step;
  EXPECT_EQ(MixSeed(~uint64_t{0}, 0), 0xE4D971771B652C20ull);
  EXPECT_EQ(MixSeed(~uint64_t{0}, 4), 0xB4A0472E578069AEull);
  static_assert(MixSeed(0, 1) == SplitMix64(kSplitMix64Gamma), "usable at compile time");
}

}  // namespace
}  // namespace gradway
