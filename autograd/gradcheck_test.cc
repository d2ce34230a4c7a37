// The gradient check must catch wrong gradients and point at the worst element.
#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/test_util.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

// Claims d(x^2)/dx = 2x, except at flat index 5 where it is off by 1.
struct BrokenSquare : Function<BrokenSquare> {
  static constexpr const char* kName = "broken_square";
  static Tensor Forward(FunctionContext& ctx, const Tensor& x) {
    ctx.SaveForBackward({x});
    return x * x;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    Tensor d = ctx.saved()[0] * 2.f;
    d.data()[5] += 1.f;
    return {grad * d};
  }
};

// c * x^2 with a backward that is right, halved, 10% low, sign-flipped or shifted by one
// element, as a user's op might get it wrong.
enum class Mistake { kNone, kHalved, kTenPercentLow, kFlipped, kShifted };

struct ScaledSquare : Function<ScaledSquare> {
  static constexpr const char* kName = "scaled_square";
  static Tensor Forward(FunctionContext& ctx, const Tensor& x, float c, Mistake mistake) {
    ctx.Save("x", x);
    ctx.Set("c", c);
    ctx.Set("mistake", mistake);
    return x * x * c;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    Tensor d = grad * ctx.saved("x") * (2.f * ctx.Get<float>("c"));
    switch (ctx.Get<Mistake>("mistake")) {
      case Mistake::kNone: break;
      case Mistake::kHalved: d = d * 0.5f; break;
      case Mistake::kTenPercentLow: d = d * 0.9f; break;
      case Mistake::kFlipped: d = -d; break;
      case Mistake::kShifted: {
        Tensor shifted = Tensor::Empty(d.shape());
        for (int64_t i = 0; i < d.numel(); ++i) {
          shifted.data()[i] = d.data()[(i + 1) % d.numel()];
        }
        d = shifted;
        break;
      }
    }
    return {d};
  }
};

TEST(GradCheckTest, CatchesWrongGradientsAtEveryScaleForSumAndMean) {
  // 1,000 elements reduced by sum or by mean, gradients of magnitude 1e-6 to 1e3: the
  // right backward passes, each wrong one fails (with the old absolute tolerance of 1e-3 a
  // halved gradient of a mean passed unnoticed).
  Generator gen(3);
  Tensor x = Tensor::Uniform({1000}, 0.5f, 1.5f, gen).SetRequiresGrad();
  for (bool mean : {false, true}) {
    for (double magnitude : {1e-6, 1e-3, 1.0, 1e3}) {
      const float c = static_cast<float>(mean ? magnitude * 1000 : magnitude);
      for (Mistake mistake :
           {Mistake::kNone, Mistake::kHalved, Mistake::kFlipped, Mistake::kShifted}) {
        SCOPED_TRACE(::testing::Message() << (mean ? "mean" : "sum") << ", magnitude "
                                          << magnitude << ", mistake "
                                          << static_cast<int>(mistake));
        GradCheckResult r = GradCheck(
            [c, mistake, mean](const std::vector<Tensor>& v) {
              Tensor y = ScaledSquare::Apply(v[0], c, mistake);
              return mean ? Mean(y) : Sum(y);
            },
            {x});
        EXPECT_EQ(r.checked, 1000);
        EXPECT_EQ(r.ok, mistake == Mistake::kNone) << r.message;
      }
    }
  }
}

// Three ops whose backward is scaled by `factor` (1: right; 0.5: halved), as a user's op
// might get it wrong: swish x * sigmoid(x), cube x^3 and the product a * b.
struct FactoredSwish : Function<FactoredSwish> {
  static constexpr const char* kName = "factored_swish";
  static Tensor Forward(FunctionContext& ctx, const Tensor& x, float factor) {
    Tensor s = Sigmoid(x);
    ctx.SaveForBackward({x, s});
    ctx.Set("factor", factor);
    return x * s;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    const Tensor& x = ctx.saved()[0];
    const Tensor& s = ctx.saved()[1];
    return {grad * (s + x * s * (1.f - s)) * ctx.Get<float>("factor")};
  }
};

struct FactoredCube : Function<FactoredCube> {
  static constexpr const char* kName = "factored_cube";
  static Tensor Forward(FunctionContext& ctx, const Tensor& x, float factor) {
    ctx.SaveForBackward({x});
    ctx.Set("factor", factor);
    return x * x * x;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    const Tensor& x = ctx.saved()[0];
    return {grad * x * x * (3.f * ctx.Get<float>("factor"))};
  }
};

struct FactoredProduct : Function<FactoredProduct> {
  static constexpr const char* kName = "factored_product";
  static Tensor Forward(FunctionContext& ctx, const Tensor& a, const Tensor& b, float factor) {
    ctx.SaveForBackward({a, b});
    ctx.Set("factor", factor);
    return a * b;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    const float factor = ctx.Get<float>("factor");
    return {grad * ctx.saved()[1] * factor, grad * ctx.saved()[0] * factor};
  }
};

enum class Reduce { kNone, kSum, kMean };

Tensor Reduced(const Tensor& y, Reduce reduce) {
  switch (reduce) {
    case Reduce::kNone: return y;
    case Reduce::kSum: return Sum(y);
    case Reduce::kMean: return Mean(y);
  }
  return y;
}

TEST(GradCheckTest, HalvedGradientFailsAtEveryInputScale) {
  // Inputs uniform in [-scale, scale]. At scale 1e3 a sum of 1,000 outputs has a float32
  // spacing of about 0.03, more than an absolute step of 0.01 moves it, and the old
  // allowance (all outputs' magnitude / step) passed swish's halved gradient: "analytic
  // -0.4895 vs numeric -0.979 (|diff| 0.49, allowed 0.527)".
  for (double scale : {1e-3, 1.0, 1e3}) {
    Generator gen(11);
    const float s = static_cast<float>(scale);
    Tensor a = Tensor::Uniform({1000}, -s, s, gen).SetRequiresGrad();
    Tensor b = Tensor::Uniform({1000}, -s, s, gen).SetRequiresGrad();
    for (Reduce reduce : {Reduce::kNone, Reduce::kSum, Reduce::kMean}) {
      for (float factor : {1.f, 0.5f}) {
        const std::vector<std::pair<const char*, GradCheckResult>> checks = {
            {"swish", GradCheck(
                          [&](const std::vector<Tensor>& v) {
                            return Reduced(FactoredSwish::Apply(v[0], factor), reduce);
                          },
                          {a})},
            {"cube", GradCheck(
                         [&](const std::vector<Tensor>& v) {
                           return Reduced(FactoredCube::Apply(v[0], factor), reduce);
                         },
                         {a})},
            {"product", GradCheck(
                            [&](const std::vector<Tensor>& v) {
                              return Reduced(FactoredProduct::Apply(v[0], v[1], factor),
                                             reduce);
                            },
                            {a, b})},
        };
        for (const auto& [op, r] : checks) {
          SCOPED_TRACE(::testing::Message()
                       << op << ", scale " << scale << ", reduce " << static_cast<int>(reduce)
                       << ", factor " << factor);
          EXPECT_EQ(r.ok, factor == 1.f) << r.message;
          EXPECT_EQ(r.checked, std::string(op) == "product" ? 2000 : 1000);
        }
      }
    }
  }
}

TEST(GradCheckTest, BackwardTenPercentLowFails) {
  // d(x^2)/dx 10% low, inputs in [0.5, 1.5]: elementwise, summed and averaged.
  Generator gen(5);
  Tensor x = Tensor::Uniform({1000}, 0.5f, 1.5f, gen).SetRequiresGrad();
  for (Reduce reduce : {Reduce::kNone, Reduce::kSum, Reduce::kMean}) {
    for (Mistake mistake : {Mistake::kNone, Mistake::kTenPercentLow}) {
      SCOPED_TRACE(::testing::Message() << "reduce " << static_cast<int>(reduce)
                                        << ", mistake " << static_cast<int>(mistake));
      GradCheckResult r = GradCheck(
          [&](const std::vector<Tensor>& v) {
            return Reduced(ScaledSquare::Apply(v[0], 1.f, mistake), reduce);
          },
          {x});
      EXPECT_EQ(r.ok, mistake == Mistake::kNone) << r.message;
    }
  }
}

TEST(GradCheckTest, RoundingAllowanceIsCloseToTheTrueBound) {
  // With no tolerance but the rounding allowance, x * x (one float32 rounding per output)
  // passes, and the worst element's allowance is within a factor 8 of the most its 4-point
  // difference can be off by rounding: sum over its points of 2^-24 |w y| / step, weighted
  // as the formula weighs the points.
  Generator gen(9);
  Tensor x = Tensor::Uniform({200}, 0.5f, 1.5f, gen).SetRequiresGrad();
  GradCheckOptions options = GradCheckOptions().Atol(0).Rtol(0);
  GradCheckResult r =
      GradCheck([](const std::vector<Tensor>& v) { return v[0] * v[0]; }, {x}, options);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.allowed, r.noise);
  const float xj = x.data()[r.worst_index];
  const double w = std::fabs(r.analytic / (2.0 * xj));  // the element's output weight
  const double h = options.epsilon * std::max(1.f, std::fabs(xj));
  auto bound = [&](double step) {  // the rounding bound of one central slope
    const float hi = static_cast<float>(xj + step), lo = static_cast<float>(xj - step);
    return std::ldexp(w * (std::fabs(hi * hi) + std::fabs(lo * lo)), -24) /
           (static_cast<double>(hi) - lo);
  };
  const double truth = (4 * bound(h) + bound(2 * h)) / 3;
  EXPECT_GE(r.noise, truth) << r.message;
  EXPECT_LE(r.noise, 8 * truth) << r.message;
}

TEST(GradCheckTest, ToleranceScaleIsPerInput) {
  // The first input's gradients are 1000x the second's: a halved gradient of the second
  // input must fail on its own scale, not pass under the first's.
  Generator gen(4);
  Tensor a = Tensor::Uniform({50}, 0.5f, 1.5f, gen).SetRequiresGrad();
  Tensor b = Tensor::Uniform({50}, 0.5f, 1.5f, gen).SetRequiresGrad();
  for (Mistake mistake : {Mistake::kNone, Mistake::kHalved}) {
    GradCheckResult r = GradCheck(
        [mistake](const std::vector<Tensor>& v) {
          return ScaledSquare::Apply(v[0], 1000.f, Mistake::kNone) +
                 ScaledSquare::Apply(v[1], 1.f, mistake);
        },
        {a, b});
    EXPECT_EQ(r.ok, mistake == Mistake::kNone) << r.message;
    if (mistake == Mistake::kHalved) {
      EXPECT_EQ(r.worst_input, 1) << r.message;
    }
  }
}

TEST(GradCheckTest, PassesACorrectGradient) {
  Generator gen(1);
  Tensor x = Tensor::Uniform({3, 4}, -1.f, 1.f, gen).SetRequiresGrad();
  GradCheckResult r = GradCheck([](const std::vector<Tensor>& v) { return v[0] * v[0]; }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.checked, 12);
  EXPECT_EQ(r.skipped, 0);
}

TEST(GradCheckTest, FindsTheWrongElement) {
  Generator gen(1);
  Tensor x = Tensor::Uniform({3, 4}, -1.f, 1.f, gen).SetRequiresGrad();
  for (bool four_point : {true, false}) {
    GradCheckResult r = GradCheck(
        [](const std::vector<Tensor>& v) { return BrokenSquare::Apply(v[0]); }, {x},
        GradCheckOptions().FourPoint(four_point));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.worst_input, 0);
    EXPECT_EQ(r.worst_index, 5);
    EXPECT_EQ(r.worst_coords, (std::vector<int64_t>{1, 1}));
    EXPECT_NE(r.message.find("FAILED"), std::string::npos);
    EXPECT_NE(r.message.find("(1, 1)"), std::string::npos) << r.message;
  }
}

TEST(GradCheckTest, SkipsKinksOnlyWhenAsked) {
  // |x| at points within the step of 0: the numeric derivative is meaningless there.
  Tensor x = Tensor::FromVector({0.001f, -0.002f, 0.5f, -0.7f}, {4}).SetRequiresGrad();
  auto abs = [](const std::vector<Tensor>& v) { return Relu(v[0]) + Relu(-v[0]); };
  EXPECT_FALSE(GradCheck(abs, {x}).ok);
  GradCheckResult r = GradCheck(abs, {x}, GradCheckOptions().SkipNonsmooth(true));
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.skipped, 2);
  EXPECT_EQ(r.checked, 2);
  // Or with an explicit skip list.
  GradCheckOptions o;
  o.skip = [](int, int64_t i) { return i < 2; };
  GradCheckResult listed = GradCheck(abs, {x}, o);
  EXPECT_TRUE(listed.ok);
  EXPECT_EQ(listed.checked, 2);
}

TEST(GradCheckTest, ConstantsAreNotChecked) {
  Tensor x = Tensor::Ones({3}).SetRequiresGrad();
  Tensor c = Tensor::Full({3}, 2.f);
  GradCheckResult r = GradCheck([](const std::vector<Tensor>& v) { return v[0] * v[1]; },
                                {x, c});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.checked, 3);
  EXPECT_THROW(GradCheck([](const std::vector<Tensor>& v) { return v[0]; }, {c}), Error);
}

// The testing hook that halves one op's backward: every op's test uses it to show that its
// gradient check catches a halved gradient. Halving "exp" fails the check of Exp (and of a
// composition through it), and leaves other ops alone.
TEST(GradCheckTest, HalvedBackwardHookFailsOnlyTheNamedOp) {
  const std::vector<Tensor> in = {testing::RandomLeaf({3, 5}, 7)};
  testing::ExpectGradCheckCatchesHalvedBackward(
      [](const std::vector<Tensor>& v) { return Exp(v[0]) * 2.f; }, in, "exp");
  ScopedBackwardScaleForTesting halve("exp", 0.5f);
  GradCheckResult r = GradCheck([](const std::vector<Tensor>& v) { return Tanh(v[0]); }, in);
  EXPECT_TRUE(r.ok) << r.message;
}

}  // namespace
}  // namespace gradway
