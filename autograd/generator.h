// A seeded random number generator for tensor fills and shuffling. The same seed gives
// the same numbers on every machine and library version (no std:: distributions).
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

  // Normal with the given mean and standard deviation (Box-Muller).
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
