// Helpers shared by the ops/ kernel tests: seeded random buffers, misaligned views,
// tolerance comparisons, and a loop over every Highway target the CPU supports.
#ifndef GRADWAY_OPS_TEST_UTIL_H_
#define GRADWAY_OPS_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "gtest/gtest.h"

namespace gradway {
namespace ops {
namespace test {

// A float buffer of n elements that starts `misalign` floats past an allocation start,
// filled uniformly in [lo, hi) from `seed`.
class Buffer {
 public:
  Buffer(int64_t n, int misalign, uint32_t seed, float lo = -1.0f, float hi = 1.0f)
      : storage_(static_cast<size_t>(n + misalign + 1)), offset_(misalign), n_(n) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    for (int64_t i = 0; i < n; ++i) data()[i] = dist(rng);
  }
  float* data() { return storage_.data() + offset_; }
  const float* data() const { return storage_.data() + offset_; }
  int64_t size() const { return n_; }
  float& operator[](int64_t i) { return data()[i]; }
  std::vector<float> ToVector() const { return std::vector<float>(data(), data() + n_); }

 private:
  std::vector<float> storage_;
  int offset_;
  int64_t n_;
};

// n floats drawn uniformly from [lo, hi) with `seed`.
inline std::vector<float> RandomVector(size_t n, uint32_t seed, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Runs `body` once per compiled Highway target the CPU supports (dynamic dispatch forced to
// it), then restores the default dispatch. For tests that are not parameterised with
// HWY_TARGET_INSTANTIATE_TEST_SUITE_P.
inline void ForEachTarget(const std::function<void(const char* target)>& body) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    body(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
}

// True if got is within rel * |want| + abs of want (both NaN, or equal infinities, pass).
inline bool Near(float want, float got, float rel, float abs) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return want == got;
  return std::fabs(want - got) <= rel * std::fabs(want) + abs;
}

// Expects got[i] near want[i] for all i < n, reporting the first mismatch.
inline void ExpectAllNear(const float* want, const float* got, int64_t n, float rel,
                          float abs, const std::string& what) {
  for (int64_t i = 0; i < n; ++i) {
    if (!Near(want[i], got[i], rel, abs)) {
      ADD_FAILURE() << what << ": index " << i << " of " << n << ": want " << want[i]
                    << ", got " << got[i];
      return;
    }
  }
}

// Bit-identical comparison.
inline bool SameBits(const float* a, const float* b, int64_t n) {
  return n == 0 || std::memcmp(a, b, static_cast<size_t>(n) * sizeof(float)) == 0;
}

}  // namespace test
}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_TEST_UTIL_H_
