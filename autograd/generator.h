// A seeded random number generator for tensor fills and shuffling: std::mt19937_64 (whose
// sequence the C++ standard fixes) and no std:: distributions (whose algorithms differ
// between standard libraries). What the same seed reproduces:
//   - NextU64 and UniformInt: the same values everywhere (integer arithmetic only).
//   - Uniform: the same values on every IEEE-754 machine unless the compiler fuses its
//     multiply-add into an FMA (not on this build's x86-64 baseline, which has no FMA;
//     elsewhere, build with -ffp-contract=off).
//   - Normal: bit-identical values with the same binary and libm only. It calls std::log,
//     std::sin and std::cos, whose last bit may differ between libm versions or platforms,
//     so elsewhere a draw may (rarely) differ by an ulp, and a training run seeded from it
//     may then drift.
#ifndef GRADWAY_AUTOGRAD_GENERATOR_H_
#define GRADWAY_AUTOGRAD_GENERATOR_H_

#include <cstdint>
#include <random>

namespace gradway {

class Generator {
 public:
  explicit Generator(uint64_t seed) : engine_(seed) {}

  // A uniformly random 64-bit integer.
  uint64_t NextU64() { return engine_(); }

  // Uniform in [lo, hi).
  float Uniform(float lo, float hi);

  // Normal with the given mean and standard deviation (Box-Muller, with libm's log, sin
  // and cos: reproducible with the same libm, see above).
  float Normal(float mean, float stddev);

  // Uniform integer in [0, n), n >= 1.
  uint64_t UniformInt(uint64_t n);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_GENERATOR_H_
