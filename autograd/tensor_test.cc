#include "autograd/tensor.h"

#include "autograd/autograd.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

TEST(TensorTest, CreationAndQueries) {
  Tensor z = Tensor::Zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.rank(), 2);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.size(-1), 3);
  EXPECT_EQ(z.at({1, 2}), 0.f);
  EXPECT_EQ(Tensor::Ones({4}).at({3}), 1.f);
  EXPECT_EQ(Tensor::Full({2, 2}, 2.5f).at({1, 0}), 2.5f);
  EXPECT_EQ(Tensor::Scalar(3.f).item(), 3.f);
  EXPECT_EQ(Tensor::Scalar(3.f).rank(), 0);
  Tensor v = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(v.at({1, 0}), 4.f);
  v.set({0, 1}, 9.f);
  EXPECT_EQ(v.ToVector(), (std::vector<float>{1, 9, 3, 4, 5, 6}));
  EXPECT_FALSE(Tensor().defined());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(Tensor::Empty({3}).data()) % 64, 0u);
}

TEST(TensorTest, CreationErrors) {
  EXPECT_THROW(Tensor::FromVector({1, 2, 3}, {2, 2}), Error);
  EXPECT_THROW(Tensor::Zeros({-1, 2}), Error);
  EXPECT_THROW(Tensor::Zeros({2}).item(), Error);
  EXPECT_THROW(Tensor::Zeros({2}).at({2}), Error);
  EXPECT_THROW(Tensor::Zeros({2}).at({0, 0}), Error);
  EXPECT_THROW(Tensor().shape(), Error);
  try {
    Tensor::FromVector({1, 2, 3}, {2, 2});
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "from_vector: 3 values cannot fill shape (2, 2) (4 elements)");
  }
}

TEST(TensorTest, SeededFillsAreReproducible) {
  Generator g1(7), g2(7), g3(8);
  Tensor a = Tensor::Uniform({100}, -1.f, 1.f, g1);
  Tensor b = Tensor::Uniform({100}, -1.f, 1.f, g2);
  Tensor c = Tensor::Uniform({100}, -1.f, 1.f, g3);
  EXPECT_EQ(a.ToVector(), b.ToVector());
  EXPECT_NE(a.ToVector(), c.ToVector());
  for (float v : a.ToVector()) {
    EXPECT_GE(v, -1.f);
    EXPECT_LT(v, 1.f);
  }
  Generator g4(1);
  Tensor n = Tensor::Normal({20000}, 2.f, 3.f, g4);
  double mean = 0, var = 0;
  for (float v : n.ToVector()) mean += v;
  mean /= n.numel();
  for (float v : n.ToVector()) var += (v - mean) * (v - mean);
  var /= n.numel();
  EXPECT_NEAR(mean, 2.0, 0.1);
  EXPECT_NEAR(std::sqrt(var), 3.0, 0.1);
}

TEST(TensorTest, ReshapeAndFlattenAreViews) {
  Tensor t = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor r = t.Reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_TRUE(r.SameStorage(t));
  r.set({2, 1}, 60.f);
  EXPECT_EQ(t.at({1, 2}), 60.f);
  Tensor f = Tensor::Zeros({2, 3, 4, 5}).Flatten(1);
  EXPECT_EQ(f.shape(), (Shape{2, 60}));
  EXPECT_EQ(Tensor::Zeros({2, 3}).Flatten().shape(), (Shape{6}));
  EXPECT_THROW(t.Reshape({4, -1}), Error);
  EXPECT_THROW(t.Reshape({-1, -1}), Error);
  EXPECT_THROW(t.Reshape({7}), Error);
}

TEST(TensorTest, FromBlobWrapsMemoryWithoutACopy) {
  std::vector<float> memory = {1, 2, 3, 4, 5, 6};
  int released = 0;
  {
    Tensor t = Tensor::FromBlob(memory.data(), {2, 3}, [&released] { ++released; });
    EXPECT_EQ(t.data(), memory.data());
    EXPECT_EQ(t.at({1, 2}), 6);
    t.set({0, 0}, 10);  // writes the caller's memory
    EXPECT_EQ(memory[0], 10);
    Tensor view = t.Reshape({6});
    t = Tensor();
    EXPECT_EQ(released, 0);  // the view still uses it
    EXPECT_EQ(view.at({5}), 6);
  }
  EXPECT_EQ(released, 1);
  // Without a release function; trains like any tensor.
  Tensor w = Tensor::FromBlob(memory.data(), {6}).SetRequiresGrad();
  Sum(w * 2.f).Backward();
  EXPECT_EQ(w.grad().ToVector(), std::vector<float>(6, 2.f));
  EXPECT_THROW(Tensor::FromBlob(nullptr, {2}), Error);
}

TEST(TensorTest, Transpose) {
  Tensor t = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor tt = t.Transpose();
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_EQ(tt.ToVector(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_THROW(Tensor::Zeros({2, 2, 2}).Transpose(), Error);
}

TEST(TensorTest, PrintsLikePyTorch) {
  EXPECT_EQ(Tensor::FromVector({1, 2, 3, 4}, {2, 2}).ToString(),
            "tensor([[1., 2.],\n        [3., 4.]])");
  EXPECT_EQ(Tensor::FromVector({0.5f, -1.25f}, {2}).ToString(),
            "tensor([ 0.5000, -1.2500])");
  Tensor leaf = Tensor::Ones({2});
  leaf.SetRequiresGrad();
  EXPECT_EQ(leaf.ToString(), "tensor([1., 1.], requires_grad=True)");
  EXPECT_EQ(Relu(leaf).ToString(), "tensor([1., 1.], grad_fn=<relu>)");
  EXPECT_EQ(Tensor::Scalar(2.f).ToString(), "tensor(2.)");
  // Large tensors are abbreviated: 3 items at each edge.
  std::string big = Tensor::Zeros({2000}).ToString();
  EXPECT_EQ(big, "tensor([0., 0., 0., ..., 0., 0., 0.], size=(2000,))");
  std::string big2 = Tensor::Zeros({100, 100}).ToString();
  EXPECT_NE(big2.find("..."), std::string::npos);
  EXPECT_LT(big2.size(), 400u);
}

}  // namespace
TEST(TensorTest, StorageCacheReusesFreedBuffers) {
  ReleaseCachedStorage();
  EXPECT_EQ(CachedStorageBytes(), 0);
  const int64_t live = LiveStorageBytes();
  const float* first;
  {
    Tensor t = Tensor::Empty({1 << 18});  // 1 MiB
    first = t.data();
  }
  EXPECT_EQ(LiveStorageBytes(), live);  // a cached buffer is not alive
  if (CachedStorageBytes() == 0) GTEST_SKIP() << "storage cache off (sanitizer build)";
  EXPECT_EQ(CachedStorageBytes(), int64_t{1} << 20);
  {
    Tensor t = Tensor::Zeros({512, 512});  // same size: the same buffer, zeroed
    EXPECT_EQ(t.data(), first);
    EXPECT_EQ(t.at({511, 511}), 0.f);
    EXPECT_EQ(CachedStorageBytes(), 0);
  }
  ReleaseCachedStorage();
  EXPECT_EQ(CachedStorageBytes(), 0);
}

}  // namespace gradway
