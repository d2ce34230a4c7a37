// Optimizer updates and gradient clipping vs the scalar reference, a hand-computed step,
// and across thread counts.
#include "ops/adam.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/runtime.h"
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

TEST_P(AdamTest, SgdWithWeightDecayMatchesReferenceAndHand) {
  // By hand: w = 2, g = 0.5, lr 0.1, wd 0.2: w = 2 - 0.1 * 0.2 * 2 = 1.96, then 1.96 - 0.05.
  float w = 2.0f;
  const float g = 0.5f;
  SgdParams hand;
  hand.lr = 0.1f;
  hand.weight_decay = 0.2f;
  SgdUpdate(&w, &g, nullptr, 1, hand);
  EXPECT_NEAR(w, 1.91, 1e-6);
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      for (float momentum : {0.0f, 0.9f}) {
        for (bool nesterov : {false, true}) {
          const std::string tag = "n=" + std::to_string(n) + " momentum=" +
                                  std::to_string(momentum) + " nesterov=" +
                                  std::to_string(nesterov);
          Buffer param(n, mis, 15), grad(n, 3 - mis, 16), vel(n, (mis + 1) % 4, 17);
          std::vector<float> pr = param.ToVector(), vr = vel.ToVector();
          SgdParams p;
          p.lr = 0.05f;
          p.momentum = momentum;
          p.nesterov = nesterov;
          p.weight_decay = 0.3f;
          float* vp = momentum == 0.0f ? nullptr : vel.data();
          float* vrp = momentum == 0.0f ? nullptr : vr.data();
          for (int step = 0; step < 3; ++step) {
            SgdUpdate(param.data(), grad.data(), vp, n, p);
            reference::SgdUpdate(pr.data(), grad.data(), vrp, n, p);
          }
          ExpectAllNear(pr.data(), param.data(), n, 1e-6f, 1e-6f, tag);
          if (vp != nullptr) ExpectAllNear(vr.data(), vel.data(), n, 1e-6f, 1e-6f, tag);
        }
      }
    }
  }
}

TEST_P(AdamTest, SumOfSquaresMatchesReference) {
  EXPECT_EQ(SumOfSquares(nullptr, 0), 0.0);
  const float hand[3] = {3.0f, -4.0f, 12.0f};
  EXPECT_EQ(SumOfSquares(hand, 3), 169.0);
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(n, mis, 21, -3.0f, 3.0f);
      const double want = reference::SumOfSquares(x.data(), n);
      EXPECT_NEAR(SumOfSquares(x.data(), n), want, 1e-6 * want)
          << "n=" << n << " misalign=" << mis;
    }
  }
}

TEST_P(AdamTest, ClipByValueMatchesReference) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> special = {0.5f, -0.5f, 0.25f, -0.7f, 3.0f, inf, -inf, nan, 0.0f};
  std::vector<float> out(special.size());
  ClipByValue(special.data(), 0.5f, out.data(), static_cast<int64_t>(special.size()));
  const std::vector<float> want = {0.5f, -0.5f, 0.25f, -0.5f, 0.5f, 0.5f, -0.5f, nan, 0.0f};
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(out[i])) << i;
    } else {
      EXPECT_EQ(out[i], want[i]) << i;
    }
  }
  for (int64_t n : Sizes()) {
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(n, mis, 22, -2.0f, 2.0f);
      std::vector<float> want_n(static_cast<size_t>(n));
      reference::ClipByValue(x.data(), 0.75f, want_n.data(), n);
      ClipByValue(x.data(), 0.75f, x.data(), n);  // in place
      EXPECT_TRUE(test::SameBits(want_n.data(), x.data(), n)) << "n=" << n;
    }
  }
}

// The clipping reductions and the SGD update give the same bits with 1, 2 and 7 threads.
TEST_P(AdamTest, IndependentOfThreads) {
  const int64_t n = 3 * 16384 + 4321;
  Buffer x(n, 1, 23, -2.0f, 2.0f), grad(n, 2, 24);
  const int threads[] = {1, 2, 7};
  double sums[3];
  std::vector<float> clipped[3], params[3];
  for (int k = 0; k < 3; ++k) {
    SetNumThreads(threads[k]);
    sums[k] = SumOfSquares(x.data(), n);
    clipped[k].resize(n);
    ClipByValue(x.data(), 0.5f, clipped[k].data(), n);
    params[k] = x.ToVector();
    std::vector<float> velocity(n, 0.0f);
    SgdParams p;
    p.lr = 0.1f;
    p.momentum = 0.9f;
    p.weight_decay = 0.01f;
    SgdUpdate(params[k].data(), grad.data(), velocity.data(), n, p);
  }
  SetNumThreads(0);
  for (int k = 1; k < 3; ++k) {
    EXPECT_EQ(std::memcmp(&sums[0], &sums[k], sizeof(double)), 0) << threads[k];
    EXPECT_TRUE(test::SameBits(clipped[0].data(), clipped[k].data(), n)) << threads[k];
    EXPECT_TRUE(test::SameBits(params[0].data(), params[k].data(), n)) << threads[k];
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
