// Gradient check: compares backprop gradients with finite differences. Public, so users
// can check their own ops (autograd/function.h) the way every built-in op is checked.
//
//   GradCheckResult r = GradCheck([](const std::vector<Tensor>& in) {
//     return Swish::Apply(in[0]);
//   }, {x});
//   EXPECT_TRUE(r.ok) << r.message;
//
// The check reduces the output to a scalar L = sum(w * f(inputs)) with fixed random weights
// w, back-propagates L once, and compares each input element's gradient with a central
// (or 4-point) finite difference of L computed in double precision, within a tolerance
// relative to that input's largest gradient (see GradCheckOptions::atol): a halved,
// sign-flipped or misplaced gradient fails at any scale, from 1e-6 to 1e3.
#ifndef GRADWAY_AUTOGRAD_GRADCHECK_H_
#define GRADWAY_AUTOGRAD_GRADCHECK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {

struct GradCheckOptions {
  float epsilon = 1e-2f;      // finite-difference step
  bool four_point = true;     // (8(f(x+h)-f(x-h)) - (f(x+2h)-f(x-2h))) / 12h; else central
  // An element passes when |analytic - numeric| <= atol * scale + rtol * |numeric| +
  // noise, where scale is the largest |numeric| of that input (so the criterion follows
  // the gradient's magnitude: a mean over 1,000 elements is judged as strictly as a sum)
  // and noise bounds float32 rounding in the finite difference (2^-21 * sum|w * f| / eps).
  double atol = 1e-3;
  double rtol = 1e-2;
  // Skip points where f is not smooth within the step (ReLU at 0, max-pool ties): where
  // the one-sided differences (f(x+h)-f(x))/h and (f(x)-f(x-h))/h disagree by more than
  // the tolerance.
  bool skip_nonsmooth = false;
  // Optional: return true to skip element `index` (flat) of input `input`.
  std::function<bool(int input, int64_t index)> skip;
  uint64_t seed = 1234;       // for the output weights w

  GradCheckOptions& Epsilon(float v) { epsilon = v; return *this; }
  GradCheckOptions& FourPoint(bool v) { four_point = v; return *this; }
  GradCheckOptions& Atol(double v) { atol = v; return *this; }
  GradCheckOptions& Rtol(double v) { rtol = v; return *this; }
  GradCheckOptions& SkipNonsmooth(bool v) { skip_nonsmooth = v; return *this; }
};

struct GradCheckResult {
  bool ok = true;
  int64_t checked = 0;        // elements compared
  int64_t skipped = 0;        // elements skipped (kinks or `skip`)
  // The worst element: its input, flat index, coordinates and both values.
  int worst_input = -1;
  int64_t worst_index = -1;
  std::vector<int64_t> worst_coords;
  double analytic = 0, numeric = 0, error = 0;  // error: |analytic - numeric| - allowed
  std::string message;        // human-readable summary naming the worst element
};

// Checks d f / d inputs for every input that requires grad (the others are constants).
// `f` must be deterministic. Inputs are perturbed in place and restored.
GradCheckResult GradCheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          std::vector<Tensor> inputs, const GradCheckOptions& options = {});

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_GRADCHECK_H_
