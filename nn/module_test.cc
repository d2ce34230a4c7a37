#include "nn/module.h"

#include "autograd/error.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

// A PyTorch-style user module: y = x * scale + shift, with a child.
class Affine : public Module {
 public:
  Affine() : Module("Affine", "affine") {}
  Tensor Forward(const Tensor& x) override { return x; }

 protected:
  Shape DoBuild(const Shape& in) override {
    RegisterParameter("scale", Tensor::Ones(in));
    RegisterParameter("shift", Tensor::Zeros(in), /*trainable=*/false);
    return in;
  }
};

class Block : public Module {
 public:
  Block() : Module("Block", "block") {
    first_ = RegisterModule("first", std::make_shared<Affine>());
    second_ = RegisterModule("second", std::make_shared<Affine>());
  }
  Tensor Forward(const Tensor& x) override { return (*second_)((*first_)(x)); }

 protected:
  Shape DoBuild(const Shape& in) override { return second_->Build(first_->Build(in)); }

 private:
  std::shared_ptr<Module> first_, second_;
};

TEST(ModuleTest, NamesCountsAndModes) {
  Block b;
  EXPECT_FALSE(b.built());
  b(Tensor::Zeros({2, 3}));
  EXPECT_TRUE(b.built());
  EXPECT_EQ(b.input_shape(), (Shape{3}));
  NamedTensors p = b.NamedParameters();
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].first, "first/scale");
  EXPECT_EQ(p[3].first, "second/shift");
  EXPECT_EQ(b.ParameterCount(), 12);
  EXPECT_EQ(b.TrainableParameterCount(), 6);
  EXPECT_TRUE(p[0].second.requires_grad());
  EXPECT_FALSE(p[1].second.requires_grad());
  EXPECT_EQ(b.Parameters().size(), 4u);
  b.Eval();
  EXPECT_FALSE(b.children()[1].second->is_training());
  b.Train();
  EXPECT_TRUE(b.children()[0].second->is_training());
  b.SetTrainable(false);
  EXPECT_EQ(b.TrainableParameterCount(), 0);
  // Unfreezing brings back the trainable parameters only: "shift" was registered
  // non-trainable.
  b.SetTrainable(true);
  EXPECT_EQ(b.TrainableParameterCount(), 6);
  EXPECT_TRUE(p[0].second.requires_grad());
  EXPECT_FALSE(p[1].second.requires_grad());
  EXPECT_FALSE(p[3].second.requires_grad());
}

TEST(ModuleTest, Errors) {
  ClearSession();
  Affine a;
  a.RegisterParameter("x", Tensor::Zeros({1}));
  EXPECT_THROW(a.RegisterParameter("x", Tensor::Zeros({1})), Error);
  a.Build({4});
  EXPECT_THROW(a.Build({4}), Error);
  try {
    a(Tensor::Zeros({2, 5}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "affine (Affine): expected input (None, 4), got (2, 5)");
  }
}

// Outside a RandomStepScope each call takes the next step of this thread's count, which
// ClearSession starts again; inside one, the scope's step (the innermost).
TEST(RandomStepTest, ScopesAndTheUnscopedCount) {
  ClearSession();
  EXPECT_EQ(CurrentRandomStep(), 0);
  EXPECT_EQ(CurrentRandomStep(), 1);
  {
    RandomStepScope outer(40);
    EXPECT_EQ(CurrentRandomStep(), 40);
    {
      RandomStepScope inner(7);
      EXPECT_EQ(CurrentRandomStep(), 7);
    }
    EXPECT_EQ(CurrentRandomStep(), 40);
  }
  EXPECT_EQ(CurrentRandomStep(), 2);
  ClearSession();
  EXPECT_EQ(CurrentRandomStep(), 0);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
