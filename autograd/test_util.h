// Helpers shared by the autograd tests: seeded random leaves, the gradient-check
// expectation every op's test uses, and the message of an expected Error.
#ifndef GRADWAY_AUTOGRAD_TEST_UTIL_H_
#define GRADWAY_AUTOGRAD_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "gtest/gtest.h"

namespace gradway {
namespace testing {

// A leaf that requires grad, uniform in [lo, hi) from Generator(seed).
inline Tensor RandomLeaf(const Shape& shape, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  Generator gen(seed);
  Tensor t = Tensor::Uniform(shape, lo, hi, gen);
  t.SetRequiresGrad();
  return t;
}

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Expects GradCheck(f, inputs, options) to pass having compared at least one element.
inline void ExpectGradOk(const TensorFn& f, const std::vector<Tensor>& inputs,
                         GradCheckOptions options = {}) {
  GradCheckResult r = GradCheck(f, inputs, options);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0) << r.message;
}

// The message of the gradway::Error `f` throws, or "(no error)".
inline std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace testing
}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_TEST_UTIL_H_
