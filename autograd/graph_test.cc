// Backward semantics: accumulation, diamonds, deep graphs, freeing, errors, no-grad.
#include "autograd/graph.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "autograd/autograd.h"
#include "autograd/internal/node.h"
#include "autograd/test_util.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

Tensor Leaf(std::vector<float> v, Shape s) {
  Tensor t = Tensor::FromVector(v, s);
  t.SetRequiresGrad();
  return t;
}

using testing::ErrorOf;

TEST(EngineGuardTest, MisShapedBuiltInGradientIsAnError) {
  // A built-in op whose backward is wrong (as a bug would make it): the engine stops it
  // before anything reads past the end of the gradient.
  Tensor x = Leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = RecordOp("buggy_sum", Tensor::Scalar(21.f), {x}, Save(),
                      [](const Tensor&) -> std::vector<Tensor> { return {Tensor::Ones({3})}; });
  EXPECT_EQ(ErrorOf([&] { y.Backward(); }),
            "buggy_sum: backward returned a gradient of shape (3,) for input 0 of shape (2, 3)");
  EXPECT_FALSE(x.grad().defined());
  // And one that returns too many.
  Tensor z = RecordOp("buggy_count", Tensor::Scalar(1.f), {x}, Save(),
                      [](const Tensor& g) -> std::vector<Tensor> { return {g, g}; });
  EXPECT_EQ(ErrorOf([&] { z.Backward(); }),
            "buggy_count: backward returned 2 gradients for 1 inputs");
}

TEST(EngineGuardTest, BackwardReceivesTheSavedTensorsInOrder) {
  // RecordOp hands the backward what Save listed, in order, undefined where given so, and
  // cut from the graph; saving the op's own output keeps no cycle alive.
  Tensor x = Leaf({1, 2}, {2});
  const Tensor side = Tensor::FromVector({7}, {1});
  const int64_t nodes_before = LiveNodeCount();
  std::vector<Tensor> received;
  {
    Tensor y = Tensor::FromVector({3, 4}, {2});
    y = RecordOp("saver", y, {x}, Save(x, Tensor(), side, y),
                 [&received](const Tensor& g, const Tensor& a, const Tensor& none,
                             const Tensor& b, const Tensor& c) -> std::vector<Tensor> {
                   received = {a, none, b, c};
                   return {g};
                 });
    EXPECT_EQ(LiveNodeCount(), nodes_before + 1);
    y.Backward(Tensor::Ones({2}), /*retain_graph=*/true);
    ASSERT_EQ(received.size(), 4u);
    EXPECT_TRUE(received[0].SameStorage(x) && !received[0].requires_grad());
    EXPECT_FALSE(received[1].defined());
    EXPECT_TRUE(received[2].SameStorage(side));
    EXPECT_TRUE(received[3].SameStorage(y) && !received[3].is_same(y));
    received.clear();
  }
  EXPECT_EQ(LiveNodeCount(), nodes_before);  // y dropped: its node (holding y) went too
}

TEST(EngineGuardTest, InPlaceEditOfASavedTensorIsAnError) {
  // MatMul saves both operands; each way of writing in place is caught, naming the op.
  const std::vector<std::pair<const char*, std::function<void(Tensor&)>>> edits = {
      {"CopyFrom", [](Tensor& t) { t.CopyFrom(Tensor::Zeros(t.shape())); }},
      {"Fill", [](Tensor& t) { t.Fill(2.f); }},
      {"set", [](Tensor& t) { t.set({0, 0}, 5.f); }},
      {"data()", [](Tensor& t) { t.data()[1] = 7.f; }},
  };
  for (const auto& [how, edit] : edits) {
    SCOPED_TRACE(how);
    Tensor w = Leaf({1, 2, 3, 4}, {2, 2});
    Tensor a = Tensor::FromVector({1, 1, 1, 1}, {2, 2});
    Tensor loss = Sum(MatMul(a, w));
    edit(a);  // a is what w's gradient needs
    const std::string error = ErrorOf([&] { loss.Backward(); });
    EXPECT_EQ(error.rfind("backward: a tensor of shape (2, 2) that 'matmul' saved for its "
                          "gradient was modified in place after the forward pass", 0),
              0u)
        << error;
    EXPECT_FALSE(w.grad().defined());
  }
  // Writes before the op, or to a tensor the op does not need, are fine.
  Tensor w = Leaf({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::Ones({2, 2});
  b.Fill(3.f);
  Tensor sum = w + b;
  Tensor loss = Sum(MatMul(sum, Tensor::Ones({2, 2})));
  b.Fill(0.f);  // Add saves nothing
  loss.Backward();
  EXPECT_EQ(w.grad().ToVector(), (std::vector<float>{2, 2, 2, 2}));
}

TEST(EngineGuardTest, HeldGradientIsNotChangedByTheNextBackward) {
  Tensor w = Leaf({1, 2}, {2});
  Sum(w * 3.f).Backward();
  Tensor held = w.grad();
  const float* held_data = held.data();
  Sum(w * 5.f).Backward();
  EXPECT_EQ(held.ToVector(), (std::vector<float>{3, 3}));   // unchanged
  EXPECT_EQ(w.grad().ToVector(), (std::vector<float>{8, 8}));  // accumulated out of place
  EXPECT_NE(w.grad().data(), held_data);
  // Not held: the next backward accumulates in place (no new buffer).
  held = Tensor();
  const float* before = w.grad().data();
  Sum(w * 1.f).Backward();
  EXPECT_EQ(w.grad().data(), before);
  EXPECT_EQ(w.grad().ToVector(), (std::vector<float>{9, 9}));
}

TEST(GraphTest, TensorUsedTwiceSumsGradients) {
  Tensor x = Leaf({3.f}, {});
  Tensor y = x * x + x;  // dy/dx = 2x + 1 = 7
  y.Backward();
  EXPECT_FLOAT_EQ(x.grad().item(), 7.f);
}

TEST(GraphTest, LeafGradientIsNotSharedWithTheGraph) {
  // AddScalar's backward passes its incoming gradient through; the leaf must still own
  // its gradient: a later backward accumulates into it without touching anything else.
  Tensor x = Tensor::FromVector({1, 2}, {2}).SetRequiresGrad();
  Tensor g = Tensor::FromVector({3, 4}, {2});
  AddScalar(x, 1.f).Backward(g);
  EXPECT_FALSE(x.grad().SameStorage(g));
  AddScalar(x, 1.f).Backward(g);
  EXPECT_EQ(x.grad().ToVector(), (std::vector<float>{6, 8}));
  EXPECT_EQ(g.ToVector(), (std::vector<float>{3, 4}));
}

TEST(GraphTest, Diamond) {
  Tensor x = Leaf({2.f}, {});
  Tensor a = Exp(x), b = a * 3.f, c = a * a;  // y = 3e^x + e^2x
  Tensor y = b + c;
  y.Backward();
  EXPECT_NEAR(x.grad().item(), 3 * std::exp(2.0) + 2 * std::exp(4.0), 1e-3);
}

TEST(GraphTest, GradientsAccumulateAcrossBackwardsUntilZeroGrad) {
  Tensor x = Leaf({1.f, 2.f}, {2});
  Sum(x * 2.f).Backward();
  Sum(x * 2.f).Backward();
  EXPECT_EQ(x.grad().ToVector(), (std::vector<float>{4.f, 4.f}));
  x.ZeroGrad();
  EXPECT_FALSE(x.grad().defined());
  Sum(x).Backward();
  EXPECT_EQ(x.grad().ToVector(), (std::vector<float>{1.f, 1.f}));
}

TEST(GraphTest, NonScalarBackwardNeedsGradient) {
  Tensor x = Leaf({1.f, 2.f}, {2});
  Tensor y = x * 3.f;
  try {
    y.Backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shape (2,)"), std::string::npos) << e.what();
  }
  y.Backward(Tensor::FromVector({1.f, 10.f}, {2}));
  EXPECT_EQ(x.grad().ToVector(), (std::vector<float>{3.f, 30.f}));
  EXPECT_THROW(y.Backward(Tensor::Ones({3})), Error);
}

TEST(GraphTest, BackwardTwiceThroughFreedGraphIsAnError) {
  Tensor x = Leaf({1.f, 2.f}, {2});
  Tensor y = Sum(Exp(x));
  y.Backward();
  try {
    y.Backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
  Tensor z = Sum(Exp(x));
  x.ZeroGrad();
  z.Backward(/*retain_graph=*/true);
  z.Backward();
  EXPECT_NEAR(x.grad().at({0}), 2 * std::exp(1.0), 1e-5);
}

TEST(GraphTest, BackwardOnTensorWithoutGradIsAnError) {
  Tensor x = Tensor::Ones({});
  EXPECT_THROW(x.Backward(), Error);
}

TEST(GraphTest, NoGradGuardRecordsNothing) {
  Tensor x = Leaf({1.f}, {});
  {
    NoGradGuard guard;
    Tensor y = x * 2.f;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE((x * 2.f).requires_grad());
  EXPECT_TRUE(GradEnabled());
}

TEST(GraphTest, DetachCutsTheGraphButSharesData) {
  Tensor x = Leaf({1.f, 2.f}, {2});
  Tensor y = x * 2.f;
  Tensor d = y.Detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_TRUE(d.SameStorage(y));
  Tensor z = Sum(d * x);  // only the x factor carries a gradient
  z.Backward();
  EXPECT_EQ(x.grad().ToVector(), (std::vector<float>{2.f, 4.f}));
}

TEST(GraphTest, SetRequiresGradOnNonLeafIsAnError) {
  Tensor x = Leaf({1.f}, {});
  Tensor y = x * 2.f;
  EXPECT_THROW(y.SetRequiresGrad(false), Error);
}

TEST(GraphTest, DeepChainOf100000Nodes) {
  Tensor x = Leaf({1.f}, {});
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0001f + 0.f;  // 200,000 nodes
  y.Backward();
  const double expected = std::pow(static_cast<double>(1.0001f), 100000);
  EXPECT_NEAR(x.grad().item() / expected, 1.0, 1e-3);
  // Destroying the graph must not recurse 200,000 deep either (y's chain dies here).
  const int64_t nodes_before = LiveNodeCount();
  EXPECT_GE(nodes_before, 200000);
  y = Tensor();
  EXPECT_EQ(LiveNodeCount(), nodes_before - 200000);
}

int64_t ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST(GraphTest, TrainingLoopDoesNotGrowMemory) {
  Generator gen(3);
  Tensor w = Tensor::Normal({64, 32}, 0.f, 0.1f, gen).SetRequiresGrad();
  Tensor x = Tensor::Normal({16, 64}, 0.f, 1.f, gen);
  int64_t after_warmup = 0, nodes = 0, bytes = 0;
  for (int step = 0; step < 10000; ++step) {
    if (step == 500) {  // between steps: no graph alive
      after_warmup = ResidentKiB();
      nodes = LiveNodeCount();
      bytes = LiveStorageBytes();
    }
    Tensor loss = Mean(Pow(Tanh(MatMul(x, w)), 2.f));
    w.ZeroGrad();
    loss.Backward();
    {
      NoGradGuard no_grad;
      w.CopyFrom(w - w.grad() * 0.01f);
    }
  }
  // Exact: no node and no tensor storage outlives its step.
  EXPECT_EQ(LiveNodeCount(), nodes);
  EXPECT_EQ(LiveStorageBytes(), bytes);
  const int64_t end = ResidentKiB();
  ASSERT_GT(after_warmup, 0);
#if defined(__SANITIZE_ADDRESS__)
  return;  // ASan's quarantine holds freed memory: RSS says nothing under it.
#endif
  // Each step allocates ~10 KiB of graph and tensors; 9,500 leaked steps would be ~90 MiB.
  EXPECT_LT(end - after_warmup, 4 * 1024) << "RSS grew from " << after_warmup << " KiB to "
                                          << end << " KiB";
}

// ---- Shards (ShardTagScope, ShardGradientSink).

// A shard's loss in which w is used four times and x's values span many magnitudes, so
// that the order in which w's gradients add up shows in the bits.
Tensor ShardLoss(const Tensor& w, const Tensor& x) {
  Tensor a = Mul(x, w);
  Tensor b = Mul(Mul(a, a), w);
  Tensor c = Mul(Exp(MulScalar(a, 1e-7f)), w);
  Tensor d = Mul(x, w);
  return Sum(Add(Add(Add(b, c), d), a));
}

std::vector<float> Bits(const Tensor& t) {
  return t.defined() ? t.ToVector() : std::vector<float>{};
}

Tensor ShardInput(int j) {
  return Tensor::FromVector({1e6f * (j + 1), -3.3f + j, 2.1e-3f, 7.7f / (j + 1)}, {4});
}

// 16 values of a few magnitudes, for the joined shards below.
std::vector<float> Wavy(int j, float scale) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = scale * std::sin(0.37f * i + 1.3f * j + 0.1f);
  return v;
}
Tensor JoinedInput(int j) { return Tensor::FromVector(Wavy(j, 3.f), {16}); }

TEST(ShardTest, TagScopesNest) {
  EXPECT_EQ(CurrentShardTag(), -1);
  {
    ShardTagScope outer(3);
    EXPECT_EQ(CurrentShardTag(), 3);
    {
      ShardTagScope inner(0);
      EXPECT_EQ(CurrentShardTag(), 0);
    }
    EXPECT_EQ(CurrentShardTag(), 3);
  }
  EXPECT_EQ(CurrentShardTag(), -1);
  EXPECT_EQ(ErrorOf([] { ShardTagScope bad(-2); }),
            "ShardTagScope: a shard's tag must be >= 0, got -2");
}

TEST(ShardTest, EachShardGetsTheGradientsOfItsOwnGraph) {
  // Three shards (tags need not be consecutive) under one shared root, as data-parallel
  // training sums its micro-shards' scaled losses: each shard's gradient for w, from the
  // sink, is bit for bit that of a backward pass through its graph alone.
  const std::vector<int> tags = {5, 2, 9};
  const std::vector<float> scales = {0.25f, 0.5f, 0.125f};
  Tensor w = Leaf({1.25f, -0.75f, 3.5f, 0.1f}, {4});
  ShardGradientSink sink;
  std::vector<Tensor> losses;
  for (size_t j = 0; j < tags.size(); ++j) {
    ShardTagScope scope(tags[j]);
    losses.push_back(ShardLoss(w, ShardInput(static_cast<int>(j))));
  }
  Stack(losses, 0).Backward(Tensor::FromVector(scales, {3}));
  EXPECT_FALSE(w.grad().defined());  // every gradient went to the sink
  for (size_t j = 0; j < tags.size(); ++j) {
    Tensor alone = Leaf(w.ToVector(), {4});
    ShardLoss(alone, ShardInput(static_cast<int>(j))).Backward(Tensor::Full({}, scales[j]));
    EXPECT_EQ(Bits(sink.grad(w, tags[j])), Bits(alone.grad())) << "shard " << tags[j];
  }
  EXPECT_FALSE(sink.grad(w, 7).defined());
  EXPECT_FALSE(sink.grad(Tensor(), 5).defined());
}

// Shards joined in the middle by a shared op, as synchronised batch norm joins them: each
// shard's a goes into one shared Stack, whose row for the shard is used again (with w)
// before and after other uses of w. Returns the shards' losses; `shared_leaf` enters the
// shared op too.
std::vector<Tensor> JoinedShards(const Tensor& w, const Tensor& shared_leaf,
                                 const std::vector<int>& shards) {
  std::vector<Tensor> as, losses;
  for (int j : shards) {
    ShardTagScope scope(j);
    as.push_back(Mul(JoinedInput(j), w));
  }
  as.push_back(shared_leaf);
  Tensor joined = Stack(as, 0);  // shared
  for (size_t i = 0; i < shards.size(); ++i) {
    ShardTagScope scope(shards[i]);
    Tensor row = joined.Narrow(0, static_cast<int64_t>(i), 1).Reshape({16});
    Tensor early = Mul(Mul(as[i], as[i]), w);
    Tensor late = Mul(row, w);
    losses.push_back(Sum(Add(Add(early, Mul(JoinedInput(shards[i]), w)), late)));
  }
  return losses;
}

TEST(ShardTest, AShardsGradientsDoNotDependOnTheOtherShards) {
  // What data-parallel training needs: shard j's gradients are the same bits whether the
  // pass holds all four shards or only shard j (with the same shared op), so they do not
  // depend on how the shards are spread over processes. (The engine's order for graphs
  // without shards would fail this: alone, a shard's Stack input makes the Stack ready and
  // it runs before the shard's other branch; together, only the last shard's does, so for
  // the others the additions into a, hence w's gradient, come in another order: shard 2's
  // differs in the last bits.)
  const std::vector<int> all = {0, 1, 2, 3};
  Tensor w = Leaf(Wavy(7, 1.f), {16});
  Tensor v = Leaf(std::vector<float>(16, 0.5f), {16});
  ShardGradientSink together;
  {
    std::vector<Tensor> losses = JoinedShards(w, v, all);
    Stack(losses, 0).Backward(Tensor::FromVector({0.1f, 0.2f, 0.3f, 0.4f}, {4}));
  }
  // The shared op's leaf is not a shard's: its (zero) gradient goes to grad().
  EXPECT_EQ(v.grad().ToVector(), std::vector<float>(16, 0.f));
  EXPECT_FALSE(w.grad().defined());
  for (int j : all) {
    ShardGradientSink alone;
    Tensor w1 = Leaf(w.ToVector(), {16}), v1 = Leaf(v.ToVector(), {16});
    std::vector<Tensor> losses = JoinedShards(w1, v1, {j});
    Stack(losses, 0).Backward(Tensor::Full({1}, 0.1f * (j + 1)));
    ASSERT_TRUE(alone.grad(w1, j).defined());
    EXPECT_EQ(Bits(together.grad(w, j)), Bits(alone.grad(w1, j))) << "shard " << j;
  }
}

TEST(ShardTest, WithoutASinkShardGradientsGoToTheLeaf) {
  Tensor w = Leaf({1.f, 2.f}, {2});
  Tensor y;
  {
    ShardTagScope scope(1);
    y = Sum(w * 3.f);
  }
  y.Backward();
  EXPECT_EQ(w.grad().ToVector(), (std::vector<float>{3.f, 3.f}));
}

TEST(ShardTest, AShardUsingAnotherShardsTensorIsAnError) {
  Tensor w = Leaf({1.f, 2.f}, {2});
  Tensor a, b;
  {
    ShardTagScope scope(0);
    a = Exp(w);
  }
  {
    ShardTagScope scope(1);
    b = Sum(a);
  }
  EXPECT_EQ(ErrorOf([&] { b.Backward(); }),
            "backward: op 'sum' of shard 1 uses a tensor made by op 'exp' of shard 0; shards "
            "may share only tensors made outside any ShardTagScope");
}

}  // namespace
}  // namespace gradway
