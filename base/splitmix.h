// SplitMix64 (Steele, Lea and Flood; Vigna's splitmix64.c): the seeded 64-bit mixer behind
// gradway's random streams: dropout masks (ops/dropout.cc and its reference), the seeds
// layers draw per step and the epoch shuffles (nn/).
#ifndef GRADWAY_BASE_SPLITMIX_H_
#define GRADWAY_BASE_SPLITMIX_H_

#include <cstdint>

namespace gradway {

// SplitMix64's increment: 2^64 divided by the golden ratio, made odd.
constexpr uint64_t kSplitMix64Gamma = 0x9E3779B97F4A7C15ull;

// One step of SplitMix64 from state z: the output for state z + kSplitMix64Gamma. A
// generator seeded with s returns SplitMix64(s), SplitMix64(s + gamma), ... in turn.
constexpr uint64_t SplitMix64(uint64_t z) {
  z += kSplitMix64Gamma;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A new seed from a seed and a step: output number step + 1 of SplitMix64 seeded with
// `seed` (MixSeed(s, 0) == SplitMix64(s)), so nearby steps give unrelated seeds.
constexpr uint64_t MixSeed(uint64_t seed, uint64_t step) {
  return SplitMix64(seed + kSplitMix64Gamma * step);
}

}  // namespace gradway

#endif  // GRADWAY_BASE_SPLITMIX_H_
