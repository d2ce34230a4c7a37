// The custom-op API: a user-defined op in forward and backward, and its error paths.
#include "autograd/function.h"

#include <string>

#include "autograd/autograd.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

// y = x * sigmoid(x), written as a user would.
struct Swish : Function<Swish> {
  static constexpr const char* kName = "swish";
  static Tensor Forward(FunctionContext& ctx, const Tensor& x) {
    Tensor s = Sigmoid(x);
    ctx.SaveForBackward({x, s});
    return x * s;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    const Tensor& x = ctx.saved()[0];
    const Tensor& s = ctx.saved()[1];
    return {grad * (s + x * s * (1.f - s))};
  }
};

// A two-input op with a non-tensor argument: alpha * a * b.
struct ScaledProduct : Function<ScaledProduct> {
  static constexpr const char* kName = "scaled_product";
  static Tensor Forward(FunctionContext& ctx, const Tensor& a, const Tensor& b, float alpha) {
    ctx.SaveForBackward({a, b});
    ctx.values().push_back(alpha);
    return a * b * alpha;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    const float alpha = static_cast<float>(ctx.values()[0]);
    return {ctx.needs_input_grad(0) ? grad * ctx.saved()[1] * alpha : Tensor(),
            ctx.needs_input_grad(1) ? grad * ctx.saved()[0] * alpha : Tensor()};
  }
};

struct TooFewGradients : Function<TooFewGradients> {
  static constexpr const char* kName = "too_few";
  static Tensor Forward(FunctionContext&, const Tensor& a, const Tensor& b) { return a + b; }
  static std::vector<Tensor> Backward(FunctionContext&, const Tensor& grad) { return {grad}; }
};

struct WrongShape : Function<WrongShape> {
  static constexpr const char* kName = "wrong_shape";
  static Tensor Forward(FunctionContext&, const Tensor& a) { return Sum(a, 0); }
  static std::vector<Tensor> Backward(FunctionContext&, const Tensor& grad) { return {grad}; }
};

TEST(FunctionTest, CustomOpForwardBackwardAndGradcheck) {
  Generator gen(5);
  Tensor x = Tensor::Uniform({3, 17}, -3.f, 3.f, gen).SetRequiresGrad();
  Tensor y = Swish::Apply(x);
  EXPECT_EQ(y.grad_fn()->name(), "swish");
  EXPECT_NEAR(y.at({0, 0}), x.at({0, 0}) / (1 + std::exp(-x.at({0, 0}))), 1e-6);
  GradCheckResult r = GradCheck(
      [](const std::vector<Tensor>& v) { return Swish::Apply(v[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(FunctionTest, MultipleInputsAndValues) {
  Generator gen(6);
  Tensor a = Tensor::Uniform({4, 5}, -1.f, 1.f, gen).SetRequiresGrad();
  Tensor b = Tensor::Uniform({4, 5}, -1.f, 1.f, gen).SetRequiresGrad();
  GradCheckResult r = GradCheck(
      [](const std::vector<Tensor>& v) { return ScaledProduct::Apply(v[0], v[1], 2.5f); },
      {a, b});
  EXPECT_TRUE(r.ok) << r.message;
  // Only a needs a gradient: Backward is told so.
  Tensor c = b.Detach();
  Sum(ScaledProduct::Apply(a, c, 1.f)).Backward();
  EXPECT_FALSE(c.grad().defined());
}

TEST(FunctionTest, NoGraphWhenNoInputNeedsGrad) {
  Tensor y = Swish::Apply(Tensor::Ones({3}));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(FunctionTest, WrongNumberOfGradientsIsAnError) {
  Tensor a = Tensor::Ones({2}).SetRequiresGrad();
  Tensor b = Tensor::Ones({2}).SetRequiresGrad();
  Tensor y = Sum(TooFewGradients::Apply(a, b));
  try {
    y.Backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "too_few: Backward returned 1 gradient(s), but Forward took 2 tensor "
                 "input(s)");
  }
}

TEST(FunctionTest, WrongGradientShapeIsAnError) {
  Tensor a = Tensor::Ones({2, 3}).SetRequiresGrad();
  Tensor y = Sum(WrongShape::Apply(a));
  try {
    y.Backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "wrong_shape: Backward returned a gradient of shape (3) for input 0 of "
                 "shape (2x3)");
  }
}

}  // namespace
}  // namespace gradway
