// Helpers shared by the autograd tests: seeded random leaves, the gradient-check
// expectation every op's test uses, and the message of an expected Error.
#ifndef GRADWAY_AUTOGRAD_TEST_UTIL_H_
#define GRADWAY_AUTOGRAD_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/internal/node.h"
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

// Expects the gradient check to pass for f, and to fail once the backward of the op named
// `op` (as recorded, e.g. "batch_norm") is halved: the check is strict enough to catch a
// wrong gradient of that op.
inline void ExpectGradCheckCatchesHalvedBackward(const TensorFn& f,
                                                 const std::vector<Tensor>& inputs,
                                                 const std::string& op,
                                                 GradCheckOptions options = {}) {
  ExpectGradOk(f, inputs, options);
  ScopedBackwardScaleForTesting halve(op, 0.5f);
  GradCheckResult r = GradCheck(f, inputs, options);
  EXPECT_FALSE(r.ok) << op << ": the gradient check passed with the backward halved";
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
