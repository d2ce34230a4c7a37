// Optimizer updates vs the scalar reference and a hand-computed step.
#include "ops/adam.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/tests/hwy_gtest.h"
#include "ops/reference.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using test::Buffer;
using test::ExpectAllNear;

class AdamTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(AdamTest);

std::vector<int64_t> Sizes() {
  std::vector<int64_t> sizes;
  for (int64_t n = 0; n <= 33; ++n) sizes.push_back(n);
  sizes.push_back(127 * 129);
  sizes.push_back(50001);
  return sizes;
}

// Step 1 from zero moments, by hand: m = 0.1 g, v = 0.001 g^2,
// lr_t = lr * sqrt(0.001) / 0.1, so the step is lr * g / (|g| + eps / sqrt(0.001)).
TEST_P(AdamTest, HandComputedStep) {
  const std::vector<float> g = {0.5f, -2.0f, 0.0f, 1e-3f};
  std::vector<float> param = {1.0f, 1.0f, 1.0f, 1.0f}, m(4, 0.0f), v(4, 0.0f);
  AdamParams p;
  p.lr = 0.01f;
  p.epsilon = 1e-7f;
  p.step = 1;
  AdamUpdate(param.data(), g.data(), m.data(), v.data(), 4, p);
  // The hyper-parameters as the kernel sees them: float constants.
  const double b1 = 0.9f, b2 = 0.999f, c1 = 1.0f - 0.9f, c2 = 1.0f - 0.999f;
  for (int i = 0; i < 4; ++i) {
    const double gi = g[i];
    const double lr_t = 0.01f * std::sqrt(1 - b2) / (1 - b1);
    const double mi = c1 * gi, vi = c2 * gi * gi;
    const double want = 1.0 - lr_t * mi / (std::sqrt(vi) + 1e-7f);
    EXPECT_NEAR(mi, m[i], 1e-7 * std::fabs(mi)) << i;
    EXPECT_NEAR(vi, v[i], 1e-6 * vi) << i;
    EXPECT_NEAR(want, param[i], 2e-7) << i;
  }
  // Step 1 moves each parameter by about lr * sign(g).
  EXPECT_NEAR(1.0f - 0.01f, param[0], 1e-6);
  EXPECT_NEAR(1.0f + 0.01f, param[1], 1e-6);
  EXPECT_EQ(1.0f, param[2]);
  // Second step with AdamW decay, by hand.
  p.step = 2;
  p.weight_decay = 0.1f;
  const float p0 = param[0], m0 = m[0], v0 = v[0];
  AdamUpdate(param.data(), g.data(), m.data(), v.data(), 4, p);
  const double m1 = b1 * m0 + c1 * 0.5, v1 = b2 * v0 + c2 * 0.25;
  const double lr_t = 0.01f * std::sqrt(1 - b2 * b2) / (1 - b1 * b1);
  const double want = (p0 - 0.01f * 0.1f * p0) - lr_t * m1 / (std::sqrt(v1) + 1e-7f);
  EXPECT_NEAR(want, param[0], 2e-7);
}

TEST_P(AdamTest, MatchesReference) {
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      for (float wd : {0.0f, 0.01f}) {
        const std::string tag = "n=" + std::to_string(n) + " misalign=" +
                                std::to_string(mis) + " wd=" + std::to_string(wd);
        Buffer param(n, mis, 1), grad(n, 3 - mis, 2), m(n, (mis + 1) % 4, 3, -0.1f, 0.1f),
            v(n, (mis + 2) % 4, 4, 0.0f, 0.01f);
        std::vector<float> pr = param.ToVector(), mr = m.ToVector(), vr = v.ToVector();
        AdamParams p;
        p.weight_decay = wd;
        for (int64_t step = 1; step <= 3; ++step) {
          p.step = step;
          AdamUpdate(param.data(), grad.data(), m.data(), v.data(), n, p);
          reference::AdamUpdate(pr.data(), grad.data(), mr.data(), vr.data(), n, p);
        }
        ExpectAllNear(mr.data(), m.data(), n, 1e-6f, 1e-8f, tag + " m");  // fused or not
        ExpectAllNear(vr.data(), v.data(), n, 1e-6f, 1e-12f, tag + " v");
        ExpectAllNear(pr.data(), param.data(), n, 1e-6f, 1e-7f, tag + " param");
      }
    }
  }
}

TEST_P(AdamTest, SgdMatchesReference) {
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      for (float momentum : {0.0f, 0.9f}) {
        for (bool nesterov : {false, true}) {
          const std::string tag = "n=" + std::to_string(n) + " momentum=" +
                                  std::to_string(momentum) + " nesterov=" +
                                  std::to_string(nesterov);
          Buffer param(n, mis, 5), grad(n, 3 - mis, 6), vel(n, (mis + 1) % 4, 7);
          std::vector<float> pr = param.ToVector(), vr = vel.ToVector();
          float* vp = momentum == 0.0f ? nullptr : vel.data();
          float* vrp = momentum == 0.0f ? nullptr : vr.data();
          for (int step = 0; step < 3; ++step) {
            SgdUpdate(param.data(), grad.data(), vp, n, 0.05f, momentum, nesterov);
            reference::SgdUpdate(pr.data(), grad.data(), vrp, n, 0.05f, momentum, nesterov);
          }
          ExpectAllNear(pr.data(), param.data(), n, 1e-6f, 1e-6f, tag);
          if (vp != nullptr) ExpectAllNear(vr.data(), vel.data(), n, 1e-6f, 1e-6f, tag);
        }
      }
    }
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
