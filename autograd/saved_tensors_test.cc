// Every built-in differentiable op (autograd/functions.h, autograd/nn_functions.h) reads in
// its backward only tensors it saved, which the engine checks for in-place writes
// (autograd/internal/node.h). For each op, each pattern of inputs that require grad, and
// each input and the output: the forward runs, that tensor is written in place (its
// version bumped, as in-place ops do), and Backward() must then either throw the in-place
// error naming the op or give every gradient bit-identical to a run without the write.
// An op whose backward read a tensor it did not save would see the new values and fail;
// one that saves a tensor it does not read passes (the error is allowed).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/test_util.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

// One argument of an op: random values from [lo, hi), floored when `integral` (class
// labels, a condition in {-1, 0, 1}). Only `differentiable` ones ever require grad.
struct Arg {
  Shape shape;
  float lo = -1.f;
  float hi = 1.f;
  bool differentiable = true;
  bool integral = false;
};

// Arguments that never require grad (targets, labels, a condition).
Arg Data(Shape shape, float lo, float hi, bool integral = false) {
  return {std::move(shape), lo, hi, false, integral};
}

struct OpCase {
  std::string label;  // the test's name
  std::string node;   // the recorded op an in-place error may name
  std::vector<Arg> args;
  std::function<Tensor(const std::vector<Tensor>&)> forward;
};

using V = const std::vector<Tensor>&;

std::vector<OpCase> Cases() {
  const Arg m23{{2, 3}}, row3{{3}};
  const Arg positive{{2, 3}, 0.5f, 1.5f};
  const Arg image{{2, 5, 5, 3}}, kernel{{3, 3, 3, 4}}, bias4{{4}};
  const Arg logits{{3, 4}, -2.f, 2.f};
  return {
      // autograd/functions.h
      {"Add", "add", {m23, row3}, [](V v) { return Add(v[0], v[1]); }},
      {"Sub", "sub", {m23, row3}, [](V v) { return Sub(v[0], v[1]); }},
      {"Mul", "mul", {m23, m23}, [](V v) { return Mul(v[0], v[1]); }},
      {"MulBroadcast", "mul", {m23, row3}, [](V v) { return Mul(v[0], v[1]); }},
      {"Div", "div", {m23, positive}, [](V v) { return Div(v[0], v[1]); }},
      {"DivBroadcast", "div", {row3, positive}, [](V v) { return Div(v[0], v[1]); }},
      {"AddScalar", "add_scalar", {m23}, [](V v) { return AddScalar(v[0], 2.f); }},
      {"MulScalar", "mul_scalar", {m23}, [](V v) { return MulScalar(v[0], 3.f); }},
      {"Neg", "neg", {m23}, [](V v) { return Neg(v[0]); }},
      {"Exp", "exp", {m23}, [](V v) { return Exp(v[0]); }},
      {"Log", "log", {positive}, [](V v) { return Log(v[0]); }},
      {"Sqrt", "sqrt", {positive}, [](V v) { return Sqrt(v[0]); }},
      {"Pow", "pow", {positive}, [](V v) { return Pow(v[0], 2.5f); }},
      {"Relu", "relu", {m23}, [](V v) { return Relu(v[0]); }},
      {"Sigmoid", "sigmoid", {m23}, [](V v) { return Sigmoid(v[0]); }},
      {"Tanh", "tanh", {m23}, [](V v) { return Tanh(v[0]); }},
      {"Abs", "abs", {m23}, [](V v) { return Abs(v[0]); }},
      {"Clip", "clip", {m23}, [](V v) { return Clip(v[0], -0.5f, 0.5f); }},
      {"Minimum", "minimum", {m23, row3}, [](V v) { return Minimum(v[0], v[1]); }},
      {"Maximum", "maximum", {m23, row3}, [](V v) { return Maximum(v[0], v[1]); }},
      {"Where", "where", {Data({2, 3}, -1.f, 2.f, true), m23, row3},
       [](V v) { return Where(v[0], v[1], v[2]); }},
      {"Sum", "sum", {m23}, [](V v) { return Sum(v[0]); }},
      {"Mean", "sum", {m23}, [](V v) { return Mean(v[0]); }},
      {"SumAxis", "sum", {m23}, [](V v) { return Sum(v[0], 1, true); }},
      {"MeanAxis", "sum", {m23}, [](V v) { return Mean(v[0], 0); }},
      {"MatMul", "matmul", {{{3, 4}}, {{4, 2}}}, [](V v) { return MatMul(v[0], v[1]); }},
      {"Reshape", "reshape", {m23}, [](V v) { return Reshape(v[0], {3, 2}); }},
      {"Flatten", "reshape", {image}, [](V v) { return Flatten(v[0], 1); }},
      {"Transpose", "transpose", {m23}, [](V v) { return Transpose(v[0]); }},
      {"Narrow", "narrow", {{{4, 3}}}, [](V v) { return v[0].Narrow(0, 1, 2); }},
      {"Permute", "permute", {{{2, 3, 4}}}, [](V v) { return Permute(v[0], {2, 0, 1}); }},
      {"Concat", "concat", {m23, {{2, 1}}, {{2, 2}}},
       [](V v) { return Concat({v[0], v[1], v[2]}, 1); }},
      {"Stack", "stack", {m23, m23}, [](V v) { return Stack({v[0], v[1]}, 1); }},
      {"Pad", "pad", {{{2, 3, 2}}},
       [](V v) { return Pad(v[0], {{1, 0}, {0, 2}, {1, 1}}, 0.5f); }},
      {"LeakyRelu", "leaky_relu", {m23}, [](V v) { return LeakyRelu(v[0], 0.2f); }},
      {"Elu", "elu", {m23}, [](V v) { return Elu(v[0], 0.7f); }},
      {"Gelu", "gelu", {m23}, [](V v) { return Gelu(v[0]); }},
      {"GeluTanh", "gelu", {m23}, [](V v) { return Gelu(v[0], true); }},
      {"Silu", "silu", {m23}, [](V v) { return Silu(v[0]); }},
      {"HardSigmoid", "hard_sigmoid", {{{2, 3}, -4.f, 4.f}},
       [](V v) { return HardSigmoid(v[0]); }},
      {"MaxAxis", "max", {m23}, [](V v) { return Max(v[0], 1).values; }},
      {"MinAxis", "min", {m23}, [](V v) { return Min(v[0], 0, true).values; }},
      {"Max", "max", {m23}, [](V v) { return Max(v[0]); }},
      {"Min", "min", {m23}, [](V v) { return Min(v[0]); }},
      {"Var", "var", {m23}, [](V v) { return Var(v[0], 1); }},
      {"VarUnbiased", "var", {m23}, [](V v) { return Var(v[0], 0, true, 1); }},
      {"LogSumExp", "logsumexp", {m23}, [](V v) { return LogSumExp(v[0], -1); }},
      {"Slice", "slice", {{{3, 5}}}, [](V v) { return Slice(v[0], 1, -4, 5, 2); }},
      {"Split", "split", {{{3, 5}}}, [](V v) { return Split(v[0], {2, 3}, 1)[1]; }},
      // autograd/nn_functions.h
      {"Linear", "linear", {{{3, 4}}, {{4, 5}}, {{5}}},
       [](V v) { return Linear(v[0], v[1], v[2]); }},
      {"LinearNoBias", "linear", {{{3, 4}}, {{4, 5}}},
       [](V v) { return Linear(v[0], v[1], Tensor()); }},
      {"LinearRelu", "linear_relu", {{{3, 4}}, {{4, 5}}, {{5}}},
       [](V v) { return LinearRelu(v[0], v[1], v[2]); }},
      {"LinearReluNoBias", "linear_relu", {{{3, 4}}, {{4, 5}}},
       [](V v) { return LinearRelu(v[0], v[1], Tensor()); }},
      {"Conv2D", "conv2d", {image, kernel, bias4},
       [](V v) { return Conv2D(v[0], v[1], v[2], 1, 1, Padding::kValid); }},
      {"Conv2DNoBiasStride2Same", "conv2d", {image, kernel},
       [](V v) { return Conv2D(v[0], v[1], Tensor(), 2, Padding::kSame); }},
      {"Conv2DRelu", "conv2d_relu", {image, kernel, bias4},
       [](V v) { return Conv2DRelu(v[0], v[1], v[2], 2, 1, Padding::kSame); }},
      {"MaxPool2D", "max_pool2d", {{{2, 4, 4, 3}}}, [](V v) { return MaxPool2D(v[0], 2); }},
      {"MaxPool2DSame", "max_pool2d", {image},
       [](V v) { return MaxPool2D(v[0], 3, 2, 1, 2, Padding::kSame); }},
      {"AvgPool2D", "avg_pool2d", {image},
       [](V v) { return AvgPool2D(v[0], 3, 3, 1, 1, Padding::kSame); }},
      {"AvgPool2DSquare", "avg_pool2d", {{{2, 4, 4, 3}}}, [](V v) { return AvgPool2D(v[0], 2); }},
      {"GlobalAvgPool2D", "global_avg_pool2d", {image}, [](V v) { return GlobalAvgPool2D(v[0]); }},
      {"GlobalMaxPool2D", "global_max_pool2d", {image}, [](V v) { return GlobalMaxPool2D(v[0]); }},
      {"Softmax", "softmax", {logits}, [](V v) { return Softmax(v[0]); }},
      {"SoftmaxAxis0", "permute", {logits}, [](V v) { return Softmax(v[0], 0); }},
      {"LogSoftmax", "log_softmax", {logits}, [](V v) { return LogSoftmax(v[0]); }},
      {"LogSoftmaxAxis0", "permute", {logits}, [](V v) { return LogSoftmax(v[0], 0); }},
      {"SoftmaxCrossEntropy", "softmax_cross_entropy", {logits, Data({3, 4}, 0.f, 1.f)},
       [](V v) { return SoftmaxCrossEntropy(v[0], v[1]); }},
      {"SparseSoftmaxCrossEntropy", "sparse_softmax_cross_entropy",
       {logits, Data({3}, 0.f, 4.f, true)},
       [](V v) { return SparseSoftmaxCrossEntropy(v[0], v[1]); }},
      {"SparseSoftmaxCrossEntropyInt64", "sparse_softmax_cross_entropy", {logits},
       [](V v) {
         const std::vector<int64_t> labels = {3, 0, 2};
         return SparseSoftmaxCrossEntropy(v[0], absl::MakeConstSpan(labels));
       }},
      {"SparseSoftmaxCrossEntropyUint8", "sparse_softmax_cross_entropy", {logits},
       [](V v) {
         const std::vector<uint8_t> labels = {1, 1, 3};
         return SparseSoftmaxCrossEntropy(v[0], absl::MakeConstSpan(labels));
       }},
      {"SigmoidBinaryCrossEntropy", "sigmoid_binary_cross_entropy",
       {logits, Data({3, 4}, 0.f, 1.f)},
       [](V v) { return SigmoidBinaryCrossEntropy(v[0], v[1]); }},
      {"Softplus", "softplus", {logits}, [](V v) { return Softplus(v[0]); }},
      {"LogSigmoid", "log_sigmoid", {logits}, [](V v) { return LogSigmoid(v[0]); }},
      {"Dropout", "dropout", {{{4, 5}}}, [](V v) { return Dropout(v[0], 0.5f, true, 7); }},
      {"BatchNormTraining", "batch_norm",
       {image, {{3}}, {{3}}, Data({3}, -1.f, 1.f), Data({3}, 0.5f, 1.5f)},
       [](V v) { return BatchNorm(v[0], v[1], v[2], v[3], v[4], true); }},
      {"BatchNormInference", "batch_norm",
       {image, {{3}}, {{3}}, Data({3}, -1.f, 1.f), Data({3}, 0.5f, 1.5f)},
       [](V v) { return BatchNorm(v[0], v[1], v[2], v[3], v[4], false); }},
      {"BatchNorm2DUntracked", "batch_norm", {{{5, 4}}},
       [](V v) { return BatchNorm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }},
      {"SyncBatchNorm", "sync_batch_norm",
       {{{2, 3, 3, 3}}, {{1, 3, 3, 3}}, {{3}}, {{3}}, Data({3}, -1.f, 1.f),
        Data({3}, 0.5f, 1.5f)},
       [](V v) { return Concat(SyncBatchNorm({v[0], v[1]}, v[2], v[3], v[4], v[5]), 0); }},
  };
}

Tensor Make(const Arg& arg, uint64_t seed, bool requires_grad) {
  Generator gen(seed);
  Tensor t = Tensor::Uniform(arg.shape, arg.lo, arg.hi, gen);
  if (arg.integral) {
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = std::floor(p[i]);
  }
  if (requires_grad) t.SetRequiresGrad();
  return t;
}

// Writes new values into t's storage through the non-const data(), which bumps the
// storage's version as every in-place op does. -3v - 1 moves every value (but -0.25) and
// turns every positive one negative, so masks such as a ReLU's or Clip's change too.
void WriteInPlace(Tensor& t) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = -3.f * p[i] - 1.f;
}

using Grads = std::vector<std::vector<float>>;  // of every argument; {} where undefined

bool SameBits(const Grads& a, const Grads& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size()) return false;
    // (memcmp's pointers must not be null, as an empty vector's may be.)
    if (!a[i].empty() &&
        std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

struct Outcome {
  std::string error;  // "(no error)" when Backward() ran
  Grads grads;
};

// Runs `op` on fresh arguments (argument i requires grad when bit i of `needs_grad` is set),
// writes argument `edit` in place (the output when edit == the number of arguments; none
// when edit < 0), then back-propagates a fixed random gradient.
Outcome RunOp(const OpCase& op, unsigned needs_grad, int edit) {
  std::vector<Tensor> args;
  for (size_t i = 0; i < op.args.size(); ++i) {
    args.push_back(Make(op.args[i], 100 + i, (needs_grad >> i) & 1u));
  }
  Tensor out = op.forward(args);
  EXPECT_TRUE(out.requires_grad()) << "the op recorded nothing";
  const Tensor grad_output = Make({out.shape()}, 99, false);
  if (edit == static_cast<int>(args.size())) {
    WriteInPlace(out);
  } else if (edit >= 0) {
    WriteInPlace(args[edit]);
  }
  Outcome outcome;
  outcome.error = testing::ErrorOf([&] { out.Backward(grad_output); });
  for (const Tensor& a : args) {
    outcome.grads.push_back(a.grad().defined() ? a.grad().ToVector() : std::vector<float>());
  }
  return outcome;
}

// Test parameters print as the op's label.
void PrintTo(const OpCase& op, std::ostream* os) { *os << op.label; }

class SavedTensorsTest : public ::testing::TestWithParam<OpCase> {};

TEST_P(SavedTensorsTest, BackwardReadsOnlyWhatItSaved) {
  const OpCase& op = GetParam();
  const int n = static_cast<int>(op.args.size());
  unsigned differentiable = 0;
  for (int i = 0; i < n; ++i) differentiable |= op.args[i].differentiable ? 1u << i : 0u;
  const std::string in_place_error =
      "that '" + op.node + "' saved for its gradient was modified in place";
  // Every non-empty set of differentiable arguments that require grad: what an op saves
  // depends on which gradients it computes.
  for (unsigned needs_grad = 1; needs_grad < (1u << n); ++needs_grad) {
    if ((needs_grad & ~differentiable) != 0) continue;
    const Outcome reference = RunOp(op, needs_grad, -1);
    ASSERT_EQ(reference.error, "(no error)") << "needs_grad " << needs_grad;
    for (int edit = 0; edit <= n; ++edit) {
      SCOPED_TRACE("needs_grad " + std::to_string(needs_grad) + ", written in place: " +
                   (edit == n ? "the output" : "argument " + std::to_string(edit)));
      const Outcome edited = RunOp(op, needs_grad, edit);
      if (edited.error == "(no error)") {
        // The backward did not read the tensor: the gradients cannot have changed.
        EXPECT_TRUE(SameBits(edited.grads, reference.grads))
            << "the backward read a tensor it did not save: gradients "
            << ::testing::PrintToString(edited.grads) << " instead of "
            << ::testing::PrintToString(reference.grads);
      } else {
        EXPECT_NE(edited.error.find(in_place_error), std::string::npos) << edited.error;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryBuiltInOp, SavedTensorsTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) {
                           return info.param.label;
                         });

}  // namespace
}  // namespace gradway
