#include "autograd/generator.h"

#include <cmath>

namespace gradway {
namespace {

// A double in [0, 1) from the top 53 bits.
double UnitDouble(uint64_t bits) { return (bits >> 11) * (1.0 / 9007199254740992.0); }

}  // namespace

float Generator::Uniform(float lo, float hi) {
  const float u = static_cast<float>(UnitDouble(engine_()));
  const float v = lo + (hi - lo) * u;
  return v < hi ? v : lo;  // rounding can reach hi
}

float Generator::Normal(float mean, float stddev) {
  if (has_spare_) {
    has_spare_ = false;
    return static_cast<float>(mean + stddev * spare_);
  }
  double u1 = UnitDouble(engine_());
  const double u2 = UnitDouble(engine_());
  if (u1 < 1e-300) u1 = 1e-300;
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * M_PI * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return static_cast<float>(mean + stddev * r * std::cos(theta));
}

uint64_t Generator::UniformInt(uint64_t n) {
  // Rejection sampling: unbiased.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = engine_();
  } while (x >= limit);
  return x % n;
}

}  // namespace gradway
