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
// (or 4-point) finite difference of L computed in double precision from f's float32
// outputs, within a tolerance relative to that input's largest gradient plus a bound on
// that element's float32 rounding error (see GradCheckOptions::atol): a halved,
// sign-flipped or misplaced gradient fails at any scale, of the gradients (1e-6 to 1e3)
// and of the inputs (1e-3 to 1e3), summed or averaged.
#ifndef GRADWAY_AUTOGRAD_GRADCHECK_H_
#define GRADWAY_AUTOGRAD_GRADCHECK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {

struct GradCheckOptions {
  // The finite-difference step is h = epsilon * max(1, |x|) for an element x (relative for
  // large inputs, where an absolute step would drown in the outputs' rounding), and each
  // difference is divided by the step actually applied (float(x + h) - x).
  float epsilon = 1e-2f;
  bool four_point = true;     // (8(f(x+h)-f(x-h)) - (f(x+2h)-f(x-2h))) / 12h; else central
  // An element passes when |analytic - numeric| <= atol * scale + rtol * |numeric| +
  // noise, where scale is the largest |numeric| of that input (so the criterion follows
  // the gradient's magnitude: a mean over 1,000 elements is judged as strictly as a sum)
  // and noise bounds the float32 rounding in that element's finite difference: 4 * 2^-24
  // * sum |w_k * f_k| over the outputs k that depend on the element (those that move when
  // it moves by up to 2h, or by 1024h; the others are computed bit for bit alike and
  // cancel exactly), divided by the step.
  double atol = 1e-3;
  double rtol = 1e-2;
  // Skip points where f is not smooth within the steps (ReLU at 0, max-pool ties): where
  // the slopes between neighbouring points of the stencil (x-2h, x-h, x, x+h, x+2h; only
  // x-h, x, x+h when central) disagree by more than the tolerance.
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
  double allowed = 0;         // the worst element's tolerance (see GradCheckOptions::atol)
  double noise = 0;           // its rounding part
  std::string message;        // human-readable summary naming the worst element
};

// Checks d f / d inputs for every input that requires grad (the others are constants).
// `f` must be deterministic. Inputs are perturbed in place and restored. Throws Error when
// no input requires grad, when f's output does not depend on one that does, and when a step
// is lost to float32 rounding (an epsilon too small for an element).
GradCheckResult GradCheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          std::vector<Tensor> inputs, const GradCheckOptions& options = {});

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_GRADCHECK_H_
