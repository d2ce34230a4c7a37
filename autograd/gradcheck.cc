#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "autograd/error.h"
#include "autograd/functions.h"
#include "autograd/graph.h"

namespace gradway {
namespace {

std::vector<int64_t> Coords(const Shape& shape, int64_t flat) {
  std::vector<int64_t> c(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    c[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return c;
}

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// f's outputs with one input element moved: the offset actually applied (the float32
// input minus the original, exact in double) and every output.
struct Point {
  double offset = 0;
  std::vector<float> y;
};

// The outputs that depend on the element: those that moved at any point. The others are
// computed bit for bit as at `center` (f is deterministic), so they cancel exactly in a
// difference and add no rounding error.
std::vector<int64_t> DependentOutputs(const Point& center, const std::vector<Point>& moved) {
  std::vector<int64_t> dependent;
  for (size_t k = 0; k < center.y.size(); ++k) {
    for (const Point& point : moved) {
      if (!SameBits(point.y[k], center.y[k])) {
        dependent.push_back(static_cast<int64_t>(k));
        break;
      }
    }
  }
  return dependent;
}

// The slope of L = sum(w * f) between two points, and a bound on its float32 rounding
// error: `rounding` (relative) of each dependent output at either point.
struct Slope {
  double value = 0;
  double error = 0;
};

Slope SlopeBetween(const Point& lo, const Point& hi, const std::vector<float>& w,
                   const std::vector<int64_t>& dependent, double rounding) {
  double difference = 0, magnitude = 0;
  for (int64_t k : dependent) {
    const double wk = w[k];
    difference += wk * (static_cast<double>(hi.y[k]) - lo.y[k]);
    magnitude += std::fabs(wk) * (std::fabs(hi.y[k]) + std::fabs(lo.y[k]));
  }
  const double span = hi.offset - lo.offset;
  return {difference / span, rounding * magnitude / span};
}

// One element's numeric derivative from its stencil (points in order of offset, the
// unmoved one in the middle: x-h, x, x+h, or x-2h ... x+2h for the 4-point formula), the
// bound on its rounding error, and whether the slopes between neighbouring points
// disagree beyond the tolerance and their rounding (a kink within the stencil).
struct Derivative {
  double numeric = 0;
  double noise = 0;
  bool kink = false;
};

Derivative Differentiate(const std::vector<const Point*>& stencil, const std::vector<float>& w,
                         const std::vector<int64_t>& dependent, double rounding,
                         const GradCheckOptions& options) {
  const size_t mid = stencil.size() / 2;
  const Slope inner = SlopeBetween(*stencil[mid - 1], *stencil[mid + 1], w, dependent, rounding);
  Derivative d{inner.value, inner.error, false};
  if (mid == 2) {
    // Richardson: the central slopes over h and 2h, combined to cancel the h^2 term.
    const Slope outer = SlopeBetween(*stencil[0], *stencil[4], w, dependent, rounding);
    d.numeric = (4 * inner.value - outer.value) / 3;
    d.noise = (4 * inner.error + outer.error) / 3;
  }
  if (options.skip_nonsmooth) {
    double lowest = HUGE_VAL, highest = -HUGE_VAL, largest = 0, error = 0;
    for (size_t q = 0; q + 1 < stencil.size(); ++q) {
      const Slope s = SlopeBetween(*stencil[q], *stencil[q + 1], w, dependent, rounding);
      lowest = std::min(lowest, s.value);
      highest = std::max(highest, s.value);
      largest = std::max(largest, std::fabs(s.value));
      error = std::max(error, s.error);
    }
    d.kink = highest - lowest > (options.rtol + options.atol) * largest + 4 * error;
  }
  return d;
}

// The numeric derivative of L = sum(w * f) by element j of input `input` (x, perturbed in
// place and restored): f evaluated at the stencil's steps of h = epsilon * max(1, |x_j|)
// around `center`, then once far away (1024 h), which only tells which outputs depend on
// the element (one whose change within the stencil is lost to its own rounding still
// carries rounding error). Throws Error when a step is lost to rounding.
Derivative ElementDerivative(Tensor& x, int input, int64_t j, const Point& center,
                             const std::function<std::vector<float>()>& eval,
                             const std::vector<float>& w, double rounding,
                             const GradCheckOptions& options) {
  float* p = x.data();
  const float orig = p[j];
  const double h = options.epsilon * std::max(1.0, std::fabs(static_cast<double>(orig)));
  auto at = [&](double delta) {
    p[j] = static_cast<float>(orig + delta);
    Point point{static_cast<double>(p[j]) - orig, eval()};
    p[j] = orig;
    GRADWAY_CHECK(point.offset != 0 && (point.offset > 0) == (delta > 0),
                  "gradcheck: a step of ", delta, " is lost to rounding at element ", j, " (",
                  orig, ") of input ", input, "; use a larger epsilon");
    return point;
  };
  std::vector<Point> moved;  // in order of offset, then the far probe
  for (double k : options.four_point ? std::vector<double>{-2, -1, 1, 2}
                                     : std::vector<double>{-1, 1}) {
    moved.push_back(at(k * h));
  }
  moved.push_back(at(1024 * h));
  const std::vector<int64_t> dependent = DependentOutputs(center, moved);
  std::vector<const Point*> stencil;
  for (size_t q = 0; q + 1 < moved.size(); ++q) stencil.push_back(&moved[q]);
  stencil.insert(stencil.begin() + stencil.size() / 2, &center);
  return Differentiate(stencil, w, dependent, rounding, options);
}

// Compares input `input`'s analytic gradient (x.grad()) with the numeric derivatives of
// its checked elements, each allowed atol * scale + rtol * |numeric| + its rounding noise,
// and records the worst element in *result.
void CompareInput(int input, const Tensor& x, const std::vector<double>& numerics,
                  const std::vector<double>& noises, const std::vector<bool>& checked,
                  double scale, const GradCheckOptions& options, GradCheckResult* result) {
  const Tensor grad = x.grad();
  for (int64_t j = 0; j < x.numel(); ++j) {
    if (!checked[j]) continue;
    ++result->checked;
    const double numeric = numerics[j];
    const double analytic = grad.defined() ? grad.data()[j] : 0.0;
    const double allowed =
        options.atol * scale + options.rtol * std::fabs(numeric) + noises[j];
    const double excess = std::fabs(analytic - numeric) - allowed;
    if (result->worst_input < 0 || excess > result->error) {
      result->worst_input = input;
      result->worst_index = j;
      result->worst_coords = Coords(x.shape(), j);
      result->analytic = analytic;
      result->numeric = numeric;
      result->error = excess;
      result->allowed = allowed;
      result->noise = noises[j];
    }
  }
}

}  // namespace

GradCheckResult GradCheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          std::vector<Tensor> inputs, const GradCheckOptions& options) {
  GradCheckResult result;
  // Leaves of our own, so the check never disturbs the caller's graph or gradients.
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    Tensor leaf = t.Clone();
    leaf.SetRequiresGrad(t.requires_grad());
    leaves.push_back(leaf);
  }
  Tensor y = f(leaves);
  GRADWAY_CHECK(y.defined(), "gradcheck: the function returned an undefined tensor");
  Generator gen(options.seed);
  const Tensor w_tensor = Tensor::Uniform(y.shape(), -1.f, 1.f, gen);
  const std::vector<float> w = w_tensor.ToVector();
  // Analytic: one backward of sum(w * y).
  bool any = false;
  for (const Tensor& t : leaves) any = any || t.requires_grad();
  GRADWAY_CHECK(any, "gradcheck: no input requires grad");
  GRADWAY_CHECK(y.requires_grad(), "gradcheck: the output does not depend on any input ",
                "that requires grad");
  y.Backward(w_tensor);

  const int64_t m = y.numel();
  const std::function<std::vector<float>()> eval = [&]() {
    NoGradGuard no_grad;
    std::vector<float> out = f(leaves).ToVector();
    GRADWAY_CHECK(static_cast<int64_t>(out.size()) == m, "gradcheck: the function returned ",
                  out.size(), " elements, then ", m, ": it must be deterministic");
    return out;
  };
  const Point center{0, eval()};
  // Per output value, the float32 rounding error allowed: a few roundings (an op's own
  // arithmetic and a reduction after it) of 2^-24 each.
  const double rounding = 4 * std::ldexp(1.0, -24);
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor& x = leaves[i];
    if (!x.requires_grad()) continue;
    // First every element's numeric derivative, then the comparison: the tolerance scales
    // with the largest numeric derivative of this input, so a mean over many elements
    // (tiny gradients) is judged as strictly as a sum.
    std::vector<double> numerics(x.numel(), 0.0), noises(x.numel(), 0.0);
    std::vector<bool> checked(x.numel(), false);
    double scale = 0;
    for (int64_t j = 0; j < x.numel(); ++j) {
      if (options.skip && options.skip(static_cast<int>(i), j)) {
        ++result.skipped;
        continue;
      }
      const Derivative d =
          ElementDerivative(x, static_cast<int>(i), j, center, eval, w, rounding, options);
      if (d.kink) {
        ++result.skipped;
        continue;
      }
      numerics[j] = d.numeric;
      noises[j] = d.noise;
      checked[j] = true;
      scale = std::max(scale, std::fabs(d.numeric));
    }
    CompareInput(static_cast<int>(i), x, numerics, noises, checked, scale, options, &result);
  }
  result.ok = result.worst_input < 0 || result.error <= 0;
  result.message = absl::StrFormat(
      "gradcheck %s: %d elements checked, %d skipped; worst: input %d at (%s) analytic "
      "%.6g vs numeric %.6g (|diff| %.3g, allowed %.3g)",
      result.ok ? "passed" : "FAILED", result.checked, result.skipped, result.worst_input,
      absl::StrJoin(result.worst_coords, ", "), result.analytic, result.numeric,
      std::fabs(result.analytic - result.numeric), result.allowed);
  return result;
}

}  // namespace gradway
