// The custom-op API: a user-defined op in forward and backward, and its error paths.
#include "autograd/function.h"

#include <string>

#include "autograd/autograd.h"
#include "autograd/test_util.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

using testing::ErrorOf;

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

// A two-input op with a non-tensor argument, kept by name: alpha * a * b.
struct ScaledProduct : Function<ScaledProduct> {
  static constexpr const char* kName = "scaled_product";
  static inline std::vector<bool> last_needs;  // what Backward was told, for the test
  static Tensor Forward(FunctionContext& ctx, const Tensor& a, const Tensor& b, float alpha) {
    ctx.Save("a", a);
    ctx.Save("b", b);
    ctx.Set("alpha", alpha);
    return a * b * alpha;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    const float alpha = ctx.Get<float>("alpha");
    last_needs = {ctx.needs_input_grad(0), ctx.needs_input_grad(1)};
    return {ctx.needs_input_grad(0) ? grad * ctx.saved("b") * alpha : Tensor(),
            ctx.needs_input_grad(1) ? grad * ctx.saved("a") * alpha : Tensor()};
  }
};

// y = x w + b with an optional (undefined) bias, as a custom op.
struct Affine : Function<Affine> {
  static constexpr const char* kName = "affine";
  static Tensor Forward(FunctionContext& ctx, const Tensor& x, const Tensor& w, const Tensor& b) {
    ctx.SaveForBackward({x, w});
    ctx.Set("has_bias", b.defined());
    Tensor y = MatMul(x, w);
    return b.defined() ? y + b : y;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    const Tensor& x = ctx.saved()[0];
    const Tensor& w = ctx.saved()[1];
    return {MatMul(grad, Transpose(w)), MatMul(Transpose(x), grad),
            ctx.Get<bool>("has_bias") ? Sum(grad, 0) : Tensor()};
  }
};

// The sum of a list of tensors: each element of the vector is an input with a gradient.
struct SumAll : Function<SumAll> {
  static constexpr const char* kName = "sum_all";
  static Tensor Forward(FunctionContext& ctx, const std::vector<Tensor>& xs, float scale) {
    ctx.Set("count", xs.size());
    Tensor total = xs[0];
    for (size_t i = 1; i < xs.size(); ++i) total = total + xs[i];
    return total * scale;
  }
  static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
    return std::vector<Tensor>(ctx.Get<size_t>("count"), grad * 2.f);
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
  EXPECT_EQ(y.grad_fn_name(), "swish");
  EXPECT_NEAR(y.at({0, 0}), x.at({0, 0}) / (1 + std::exp(-x.at({0, 0}))), 1e-6);
  GradCheckResult r = GradCheck(
      [](const std::vector<Tensor>& v) { return Swish::Apply(v[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.checked, 3 * 17);
}

TEST(FunctionTest, MultipleInputsAndValues) {
  Generator gen(6);
  Tensor a = Tensor::Uniform({4, 5}, -1.f, 1.f, gen).SetRequiresGrad();
  Tensor b = Tensor::Uniform({4, 5}, -1.f, 1.f, gen).SetRequiresGrad();
  GradCheckResult r = GradCheck(
      [](const std::vector<Tensor>& v) { return ScaledProduct::Apply(v[0], v[1], 2.5f); },
      {a, b});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.checked, 2 * 4 * 5);
  // Only a needs a gradient: Backward is told so, and a gets exactly c's values * alpha.
  Tensor c = b.Detach();
  a.ZeroGrad();
  Sum(ScaledProduct::Apply(a, c, 2.f)).Backward();
  EXPECT_EQ(ScaledProduct::last_needs, (std::vector<bool>{true, false}));
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().ToVector(), (c * 2.f).ToVector());
  EXPECT_FALSE(c.grad().defined());
}

TEST(FunctionTest, OptionalTensorInputs) {
  Generator gen(7);
  Tensor x = Tensor::Uniform({3, 4}, -1.f, 1.f, gen).SetRequiresGrad();
  Tensor w = Tensor::Uniform({4, 2}, -1.f, 1.f, gen).SetRequiresGrad();
  Tensor b = Tensor::Uniform({2}, -1.f, 1.f, gen).SetRequiresGrad();
  GradCheckResult with_bias = GradCheck(
      [](const std::vector<Tensor>& v) { return Affine::Apply(v[0], v[1], v[2]); }, {x, w, b});
  EXPECT_TRUE(with_bias.ok) << with_bias.message;
  EXPECT_EQ(with_bias.checked, 3 * 4 + 4 * 2 + 2);
  GradCheckResult without = GradCheck(
      [](const std::vector<Tensor>& v) { return Affine::Apply(v[0], v[1], Tensor()); }, {x, w});
  EXPECT_TRUE(without.ok) << without.message;
  EXPECT_EQ(without.checked, 3 * 4 + 4 * 2);
  EXPECT_EQ(Affine::Apply(x, w, Tensor()).ToVector(), MatMul(x, w).ToVector());
}

TEST(FunctionTest, VectorArgumentsGetGradients) {
  Tensor a = Tensor::Ones({2}).SetRequiresGrad();
  Tensor b = Tensor::Ones({2}).SetRequiresGrad();
  Sum(SumAll::Apply(std::vector<Tensor>{a, b}, 2.f)).Backward();
  ASSERT_TRUE(a.grad().defined());
  ASSERT_TRUE(b.grad().defined());
  EXPECT_EQ(b.grad().ToVector(), (std::vector<float>{2, 2}));
}

TEST(FunctionTest, NamedStateErrors) {
  Tensor a = Tensor::Ones({2}).SetRequiresGrad();
  FunctionContext ctx;
  ctx.Init("probe", {true});
  ctx.Set("alpha", 0.5f);
  EXPECT_EQ(ctx.Get<float>("alpha"), 0.5f);
  EXPECT_EQ(ErrorOf([&] { ctx.Get<double>("alpha"); }).rfind(
                "probe: the value saved under \"alpha\" is a ", 0),
            0u);
  EXPECT_EQ(ErrorOf([&] { ctx.Get<float>("beta"); }),
            "probe: no value was saved under \"beta\"");
  EXPECT_EQ(ErrorOf([&] { ctx.saved("x"); }), "probe: no tensor was saved under \"x\"");
}

TEST(FunctionTest, InPlaceChangeOfASavedTensorIsAnError) {
  Tensor x = Tensor::FromVector({1, 2, 3}, {3}).SetRequiresGrad();
  Tensor saved_input = x * 1.f;  // not a leaf: Swish saves it
  Tensor y = Sum(Swish::Apply(saved_input));
  saved_input.Fill(0.f);
  EXPECT_EQ(ErrorOf([&] { y.Backward(); }),
            "backward: a tensor of shape (3,) that 'swish' saved for its gradient was "
            "modified in place after the forward pass (it is at version 2, it was at 1); "
            "modify a Clone() instead, or modify it after backward");
}

// Tensors kept by name (Save) are checked as those kept positionally: the route that
// FunctionContext::Set refuses at compile time (//autograd:function_set_refuses_tensors_test).
TEST(FunctionTest, InPlaceChangeOfATensorSavedByNameIsAnError) {
  Tensor x = Tensor::FromVector({1, 2, 3}, {3}).SetRequiresGrad();
  Tensor a = x * 1.f, b = x * 2.f;  // not leaves: ScaledProduct saves them by name
  Tensor y = Sum(ScaledProduct::Apply(a, b, 0.5f));
  b.Fill(0.f);
  EXPECT_EQ(ErrorOf([&] { y.Backward(); }),
            "backward: a tensor of shape (3,) that 'scaled_product' saved for its gradient "
            "was modified in place after the forward pass (it is at version 2, it was at 1); "
            "modify a Clone() instead, or modify it after backward");
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
    EXPECT_STREQ(e.what(), "too_few: backward returned 1 gradients for 2 inputs");
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
                 "wrong_shape: backward returned a gradient of shape (3,) for input 0 of "
                 "shape (2, 3)");
  }
}

}  // namespace
}  // namespace gradway
