#include "autograd/gradcheck.h"

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
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor& x = leaves[i];
    if (!x.requires_grad()) continue;
    const Tensor grad = x.grad();
    float* p = x.data();
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
      const double analytic = grad.defined() ? grad.data()[j] : 0.0;
      const double allowed = options.atol + options.rtol * std::fabs(numeric);
      if (options.skip_nonsmooth) {
        const double f0 = eval();
        const double right = (fp - f0) / h, left = (f0 - fm) / h;
        if (std::fabs(right - left) > allowed) {
          ++result.skipped;
          continue;
        }
      }
      ++result.checked;
      const double excess = std::fabs(analytic - numeric) - allowed;
      if (result.worst_input < 0 || excess > result.error) {
        result.worst_input = static_cast<int>(i);
        result.worst_index = j;
        result.worst_coords = Coords(x.shape(), j);
        result.analytic = analytic;
        result.numeric = numeric;
        result.error = excess;
      }
    }
  }
  result.ok = result.worst_input < 0 || result.error <= 0;
  result.message = absl::StrFormat(
      "gradcheck %s: %d elements checked, %d skipped; worst: input %d at (%s) analytic "
      "%.6g vs numeric %.6g (|diff| %.3g, allowed %.3g)",
      result.ok ? "passed" : "FAILED", result.checked, result.skipped, result.worst_input,
      absl::StrJoin(result.worst_coords, ", "), result.analytic, result.numeric,
      std::fabs(result.analytic - result.numeric),
      options.atol + options.rtol * std::fabs(result.numeric));
  return result;
}

}  // namespace gradway
