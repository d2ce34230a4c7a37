// A differentiable op defined outside the library, used in a model:
//   1. Swish, y = x * sigmoid(x), as a gradway::Function with Forward and Backward;
//   2. its gradient checked against finite differences with the public GradCheck;
//   3. a layer that applies it, in a small network trained to separate two spirals.
//
//   bazel run //examples:custom_op -- --threads=2
#include <cmath>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "autograd/autograd.h"
#include "nn/nn.h"

ABSL_FLAG(int, threads, 0, "Worker threads (0: the machine's cores).");

using namespace gradway;  // NOLINT: an example

// 1. The op. Forward runs without recording a graph; Backward maps the gradient of the
//    output to one gradient per Tensor input.
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
    return {grad * (s + x * s * (1.f - s))};  // d/dx x*s(x) = s + x*s*(1-s)
  }
};

// 3. A layer (no parameters, same shape out as in) that applies the op.
class SwishLayer : public nn::Module {
 public:
  SwishLayer() : Module("Swish", "swish") {}
  Tensor Forward(const Tensor& x) override { return Swish::Apply(x); }
};

// Two interleaved spirals of n points each: x [2n, 2], labels one-hot [2n, 2].
void MakeSpirals(int n, Generator& gen, Tensor* x, Tensor* y) {
  *x = Tensor::Empty({2 * n, 2});
  *y = Tensor::Zeros({2 * n, 2});
  for (int i = 0; i < 2 * n; ++i) {
    const int cls = i % 2;
    const float t = 0.25f + 3.f * static_cast<float>(i / 2) / n;  // angle / pi
    const float r = t / 3.25f;
    const float angle = static_cast<float>(M_PI) * (t + cls);
    x->set({i, 0}, r * std::cos(angle) + gen.Normal(0.f, 0.02f));
    x->set({i, 1}, r * std::sin(angle) + gen.Normal(0.f, 0.02f));
    y->set({i, cls}, 1.f);
  }
}

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Defines Swish as a custom op, checks its gradient and trains a "
                               "small network with it.");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_threads) < 0) {
    std::fprintf(stderr, "error: --threads must be >= 0, got %d\n", absl::GetFlag(FLAGS_threads));
    return 2;
  }
  SetNumThreads(absl::GetFlag(FLAGS_threads));
  std::printf("Using %d thread%s\n", NumThreads(), NumThreads() == 1 ? "" : "s");

  // 2. The gradient check, on random inputs of an odd shape.
  Generator gen(7);
  Tensor probe = Tensor::Uniform({5, 13}, -4.f, 4.f, gen).SetRequiresGrad();
  GradCheckResult check = GradCheck(
      [](const std::vector<Tensor>& in) { return Swish::Apply(in[0]); }, {probe});
  std::printf("Swish %s\n", check.message.c_str());
  if (!check.ok || check.checked == 0) return 1;  // a check of no element proves nothing

  // 3. Train a network that uses it.
  Tensor x_train, y_train, x_test, y_test;
  MakeSpirals(300, gen, &x_train, &y_train);
  MakeSpirals(100, gen, &x_test, &y_test);

  nn::Sequential model(/*seed=*/1);
  model.Add(nn::Dense(nn::DenseOptions(64).InputShape({2})));
  model.Add(SwishLayer());
  model.Add(nn::Dense(nn::DenseOptions(64)));
  model.Add(SwishLayer());
  model.Add(nn::Dense(nn::DenseOptions(2).Activation(nn::kSoftmax)));
  model.Summary();
  model.Compile(nn::CategoricalCrossentropy(), nn::Adam(nn::AdamOptions().LearningRate(0.01)),
                {"accuracy"});
  model.Fit(x_train, y_train,
            nn::FitOptions().Epochs(150).BatchSize(50).Verbose(0).ValidationData(x_test, y_test));
  nn::Logs test = model.Evaluate(x_test, y_test);
  std::printf("Spirals test accuracy with Swish: %.4f\n", test.Get("accuracy"));
  return test.Get("accuracy") >= 0.9 ? 0 : 1;
}
