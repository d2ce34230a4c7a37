#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>

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
  const Tensor w = Tensor::Uniform(y.shape(), -1.f, 1.f, gen);
  auto loss = [&](const Tensor& out) {
    double s = 0;
    for (int64_t i = 0; i < out.numel(); ++i) s += double(out.data()[i]) * w.data()[i];
    return s;
  };
  // Analytic: one backward of sum(w * y).
  bool any = false;
  for (const Tensor& t : leaves) any = any || t.requires_grad();
  GRADWAY_CHECK(any, "gradcheck: no input requires grad");
  GRADWAY_CHECK(y.requires_grad(), "gradcheck: the output does not depend on any input ",
                "that requires grad");
  y.Backward(w);

  auto eval = [&]() {
    NoGradGuard no_grad;
    return loss(f(leaves));
  };
  const double h = options.epsilon;
  // The rounding error of a finite difference of L in float32: about 2^-24 * sum|w * y|
  // per evaluation, divided by the step (and a margin for the 4-point formula).
  double magnitude = 0;
  for (int64_t k = 0; k < y.numel(); ++k) {
    magnitude += std::fabs(double(y.data()[k]) * w.data()[k]);
  }
  const double noise = 8.0 * std::ldexp(magnitude, -24) / h;
  double worst_allowed = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor& x = leaves[i];
    if (!x.requires_grad()) continue;
    const Tensor grad = x.grad();
    float* p = x.data();
    // First every element's numeric derivative, then the comparison: the tolerance scales
    // with the largest numeric derivative of this input, so a mean over many elements
    // (tiny gradients) is judged as strictly as a sum.
    std::vector<double> numerics(x.numel(), 0.0);
    std::vector<bool> checked(x.numel(), false);
    double scale = 0;
    for (int64_t j = 0; j < x.numel(); ++j) {
      if (options.skip && options.skip(static_cast<int>(i), j)) {
        ++result.skipped;
        continue;
      }
      const float orig = p[j];
      auto at = [&](double delta) {
        p[j] = static_cast<float>(orig + delta);
        const double v = eval();
        p[j] = orig;
        return v;
      };
      const double fp = at(h), fm = at(-h);
      double numeric;
      if (options.four_point) {
        const double fp2 = at(2 * h), fm2 = at(-2 * h);
        numeric = (8 * (fp - fm) - (fp2 - fm2)) / (12 * h);
      } else {
        numeric = (fp - fm) / (2 * h);
      }
      if (options.skip_nonsmooth) {
        // A kink within the step: the one-sided slopes disagree beyond the tolerance.
        const double f0 = eval();
        const double right = (fp - f0) / h, left = (f0 - fm) / h;
        if (std::fabs(right - left) >
            options.rtol * std::max(std::fabs(right), std::fabs(left)) + 4 * noise +
                options.atol * std::max(std::fabs(right), std::fabs(left))) {
          ++result.skipped;
          continue;
        }
      }
      numerics[j] = numeric;
      checked[j] = true;
      scale = std::max(scale, std::fabs(numeric));
    }
    for (int64_t j = 0; j < x.numel(); ++j) {
      if (!checked[j]) continue;
      ++result.checked;
      const double numeric = numerics[j];
      const double analytic = grad.defined() ? grad.data()[j] : 0.0;
      const double allowed = options.atol * scale + options.rtol * std::fabs(numeric) + noise;
      const double excess = std::fabs(analytic - numeric) - allowed;
      if (result.worst_input < 0 || excess > result.error) {
        result.worst_input = static_cast<int>(i);
        result.worst_index = j;
        result.worst_coords = Coords(x.shape(), j);
        result.analytic = analytic;
        result.numeric = numeric;
        result.error = excess;
        worst_allowed = allowed;
      }
    }
  }
  result.ok = result.worst_input < 0 || result.error <= 0;
  result.message = absl::StrFormat(
      "gradcheck %s: %d elements checked, %d skipped; worst: input %d at (%s) analytic "
      "%.6g vs numeric %.6g (|diff| %.3g, allowed %.3g)",
      result.ok ? "passed" : "FAILED", result.checked, result.skipped, result.worst_input,
      absl::StrJoin(result.worst_coords, ", "), result.analytic, result.numeric,
      std::fabs(result.analytic - result.numeric), worst_allowed);
  return result;
}

}  // namespace gradway
