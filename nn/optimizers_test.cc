#include "nn/optimizers.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "base/runtime.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

// One parameter with a fixed gradient each step.
void StepWith(Optimizer& opt, Tensor& w, std::vector<float> grad) {
  w.ZeroGrad();
  w.Backward(Tensor::FromVector(grad, w.shape()));  // w.grad() = grad
  opt.Step();
}

TEST(AdamTest, MatchesHandComputedKerasSteps) {
  Tensor w = Tensor::FromVector({1.0f, -2.0f}, {2}).SetRequiresGrad();
  Adam adam;  // lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7
  adam.Attach({{"w", w}});
  double p[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  const double g1[2] = {0.5, -0.1}, g2[2] = {-0.3, 0.2};
  for (int t = 1; t <= 2; ++t) {
    const double* g = t == 1 ? g1 : g2;
    StepWith(adam, w, {static_cast<float>(g[0]), static_cast<float>(g[1])});
    double lr_t = 1e-3 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
    for (int i = 0; i < 2; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      p[i] -= lr_t * m[i] / (std::sqrt(v[i]) + 1e-7);
      EXPECT_NEAR(w.data()[i], p[i], 1e-6) << "step " << t << " element " << i;
    }
  }
  EXPECT_EQ(adam.iterations(), 2);
  auto state = adam.StateTensors();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].first, "m/w");
  EXPECT_EQ(state[1].first, "v/w");
  EXPECT_NEAR(state[0].second.data()[0], m[0], 1e-7);
}

TEST(AdamTest, AdamWDecaysWeights) {
  Tensor w = Tensor::FromVector({2.0f}, {1}).SetRequiresGrad();
  AdamW adamw(AdamOptions().LearningRate(0.1).WeightDecay(0.5));
  adamw.Attach({{"w", w}});
  StepWith(adamw, w, {0.f});
  // Zero gradient: only the decay acts: w -= lr * wd * w.
  EXPECT_NEAR(w.data()[0], 2.0 - 0.1 * 0.5 * 2.0, 1e-6);
  EXPECT_EQ(adamw.name(), "AdamW");
}

TEST(SgdTest, MomentumAndNesterov) {
  Tensor w = Tensor::FromVector({1.0f}, {1}).SetRequiresGrad();
  SGD sgd(SGDOptions(0.1).Momentum(0.9));
  sgd.Attach({{"w", w}});
  StepWith(sgd, w, {1.f});  // v = -0.1, w = 0.9
  StepWith(sgd, w, {1.f});  // v = -0.19, w = 0.71
  EXPECT_NEAR(w.data()[0], 0.71, 1e-6);
  EXPECT_EQ(sgd.StateTensors()[0].first, "momentum/w");

  Tensor u = Tensor::FromVector({1.0f}, {1}).SetRequiresGrad();
  SGD nesterov(SGDOptions(0.1).Momentum(0.9).Nesterov(true));
  nesterov.Attach({{"u", u}});
  StepWith(nesterov, u, {1.f});  // v = -0.1; u += 0.9 * -0.1 - 0.1 = -0.19
  EXPECT_NEAR(u.data()[0], 0.81, 1e-6);

  Tensor plain = Tensor::FromVector({1.0f}, {1}).SetRequiresGrad();
  SGD vanilla;
  vanilla.Attach({{"p", plain}});
  StepWith(vanilla, plain, {2.f});
  EXPECT_NEAR(plain.data()[0], 0.98, 1e-6);
  EXPECT_TRUE(vanilla.StateTensors().empty());
}

TEST(OptimizerTest, AttachKeepsStateAndSkipsMissingGrads) {
  Tensor a = Tensor::FromVector({1.f}, {1}).SetRequiresGrad();
  Tensor b = Tensor::FromVector({1.f}, {1}).SetRequiresGrad();
  Adam adam;
  adam.Attach({{"a", a}, {"b", b}});
  a.Backward(Tensor::FromVector({1.f}, {1}));
  adam.Step();
  EXPECT_NE(a.data()[0], 1.f);
  EXPECT_EQ(b.data()[0], 1.f);  // no gradient: untouched
  float m = adam.StateTensors()[0].second.data()[0];
  adam.Attach({{"a", a}, {"b", b}});
  EXPECT_EQ(adam.StateTensors()[0].second.data()[0], m);
  EXPECT_THROW(adam.Attach({{"a", a}, {"a", b}}), Error);
  // ZeroGrad forgets the attached parameters' gradients.
  ASSERT_TRUE(a.grad().defined());
  adam.ZeroGrad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_THROW(Adam(AdamOptions().Beta1(1.0)), Error);
  adam.SetSchedule([](int epoch, double lr) { return lr / (epoch + 1); });
  adam.OnEpochBegin(1);
  EXPECT_DOUBLE_EQ(adam.learning_rate(), 5e-4);
}

void ExpectError(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no error; expected " << message;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(SgdTest, DecoupledWeightDecayAsKeras3) {
  // Keras 3: w -= lr * wd * w, then v = momentum * v - lr * g; w += v.
  Tensor w = Tensor::FromVector({2.0f, -1.0f}, {2}).SetRequiresGrad();
  SGD sgd(SGDOptions(0.1).Momentum(0.9).WeightDecay(0.2));
  sgd.Attach({{"w", w}});
  double p[2] = {2.0, -1.0}, v[2] = {0, 0};
  const double g[2] = {0.5, -0.25};
  for (int step = 0; step < 3; ++step) {
    StepWith(sgd, w, {0.5f, -0.25f});
    for (int i = 0; i < 2; ++i) {
      p[i] -= 0.1 * 0.2 * p[i];
      v[i] = 0.9 * v[i] - 0.1 * g[i];
      p[i] += v[i];
      EXPECT_NEAR(w.data()[i], p[i], 1e-6) << "step " << step << " element " << i;
    }
  }
  EXPECT_EQ(sgd.SlotNames(), std::vector<std::string>{"momentum"});  // no slot for decay
  ExpectError([] { SGD(SGDOptions().WeightDecay(-1)); },
              "SGD: weight_decay must be >= 0, got -1");
}

// ---- Learning-rate schedules of the step (nn/schedules.h).

TEST(OptimizerScheduleTest, StepKUsesScheduleOfK) {
  Tensor w = Tensor::FromVector({0.0f}, {1}).SetRequiresGrad();
  const ExponentialDecay decay(0.5, 2, 0.25);
  SGD sgd(SGDOptions().LearningRate(decay));
  sgd.Attach({{"w", w}});
  EXPECT_EQ(sgd.learning_rate_schedule()->name(), "ExponentialDecay");
  double want = 0;
  for (int64_t k = 0; k < 5; ++k) {
    EXPECT_EQ(sgd.learning_rate(), decay(k));  // the rate of the next step
    StepWith(sgd, w, {1.0f});
    want -= static_cast<float>(decay(k));
    EXPECT_NEAR(w.data()[0], want, 1e-6) << "step " << k;
  }
  // A restored step count is all the schedule needs.
  sgd.set_iterations(40);
  EXPECT_EQ(sgd.learning_rate(), decay(40));
  // A number still works, and a later number replaces a schedule.
  EXPECT_EQ(SGD(0.25).learning_rate(), 0.25);
  EXPECT_EQ(SGD(SGDOptions().LearningRate(decay).LearningRate(0.3)).learning_rate(), 0.3);
  EXPECT_EQ(SGD(0.25).learning_rate_schedule(), nullptr);
}

TEST(OptimizerScheduleTest, AdamWDecaysWithTheScheduledRate) {
  Tensor w = Tensor::FromVector({2.0f}, {1}).SetRequiresGrad();
  auto shared = std::make_shared<PiecewiseConstantDecay>(std::vector<int64_t>{0},
                                                         std::vector<double>{0.1, 0.01});
  AdamW adamw(AdamOptions().LearningRate(shared).WeightDecay(0.5));
  adamw.Attach({{"w", w}});
  StepWith(adamw, w, {0.f});  // step 0: lr 0.1, so w *= 1 - 0.05
  EXPECT_NEAR(w.data()[0], 2.0 * 0.95, 1e-6);
  StepWith(adamw, w, {0.f});  // step 1: lr 0.01, so w *= 1 - 0.005
  EXPECT_NEAR(w.data()[0], 2.0 * 0.95 * 0.995, 1e-6);
}

// A schedule of one's own that goes wrong at step 2.
class BrokenSchedule : public StepSchedule {
 public:
  double operator()(int64_t step) const override { return step < 2 ? 0.1 : -1.0; }
};

TEST(OptimizerScheduleTest, ScheduledRateIsNotSettableAndIsChecked) {
  Adam adam(AdamOptions().LearningRate(CosineDecay(0.1, 10)));
  ExpectError([&] { adam.set_learning_rate(0.5); },
              "Adam: its learning rate is the schedule CosineDecay, which sets it at every "
              "step, so it cannot be set");
  ExpectError([&] { adam.SetSchedule([](int, double lr) { return lr; }); },
              "Adam: its learning rate is the step schedule CosineDecay; a per-epoch schedule "
              "cannot set it too");
  Tensor w = Tensor::FromVector({1.0f}, {1}).SetRequiresGrad();
  SGD sgd(SGDOptions().LearningRate(BrokenSchedule()));
  sgd.Attach({{"w", w}});
  StepWith(sgd, w, {1.f});
  StepWith(sgd, w, {1.f});
  const float before = w.data()[0];
  ExpectError([&] { StepWith(sgd, w, {1.f}); },
              "SGD: the learning-rate schedule StepSchedule gave -1 at step 2; a learning "
              "rate must be a finite number >= 0");
  EXPECT_EQ(w.data()[0], before);
  EXPECT_EQ(sgd.iterations(), 2);
}

// ---- Gradient clipping.

// The parameters of nn/testdata/clipping_pytorch.py: a [3, 5] and b [7] at zero, with
// gradients ga[i] = sin(0.37 i + 0.1) * 2 and gb[i] = cos(0.53 i + 0.2) * 3.
struct ClipCase {
  ClipCase() {
    std::vector<float> va(15), vb(7);
    for (int i = 0; i < 15; ++i) va[i] = static_cast<float>(std::sin(0.37 * i + 0.1) * 2);
    for (int i = 0; i < 7; ++i) vb[i] = static_cast<float>(std::cos(0.53 * i + 0.2) * 3);
    a.Backward(Tensor::FromVector(va, {3, 5}));
    b.Backward(Tensor::FromVector(vb, {7}));
    grads = va;
    grads.insert(grads.end(), vb.begin(), vb.end());
  }
  // One SGD step with learning rate 1: the parameters become minus the clipped gradients,
  // returned as a's values then b's.
  std::vector<float> Clipped(const SGDOptions& options) {
    SGD sgd(options);
    sgd.Attach({{"a", a}, {"b", b}});
    sgd.Step();
    std::vector<float> out;
    for (const Tensor* t : {&a, &b}) {
      for (float v : t->ToVector()) out.push_back(-v);
    }
    // The gradients themselves are left as backward made them.
    std::vector<float> g = a.grad().ToVector(), gb = b.grad().ToVector();
    g.insert(g.end(), gb.begin(), gb.end());
    EXPECT_EQ(g, grads);
    return out;
  }
  Tensor a = Tensor::Zeros({3, 5}).SetRequiresGrad();
  Tensor b = Tensor::Zeros({7}).SetRequiresGrad();
  std::vector<float> grads;
};

// torch.nn.utils.clip_grad_norm_ / clip_grad_value_, printed by
// nn/testdata/clipping_pytorch.py (torch 1.13).
const std::vector<float> kClipNorm = {
    0.0351367183, 0.15939492,   0.262079746,  0.32929334,   0.351938605,  0.326950639,
    0.257711411,  0.153592184,  0.0286849681, -0.100104623, -0.215345532, -0.301440418,
    -0.346736759, -0.34510392,  -0.296762884, 0.491136521,  0.37342602,   0.153252691,
    -0.108970985, -0.341294557, -0.479971766, -0.48695147};
const std::vector<float> kGlobalClipNorm = {
    0.0483800806, 0.219472364,  0.36086008,   0.453407109,  0.48458758,   0.450181425,
    0.354845285,  0.211482525,  0.0394966044, -0.137835011, -0.296511292, -0.415056169,
    -0.477425128, -0.475176841, -0.408615619, 0.712422371,  0.541676342,  0.222302034,
    -0.158068821, -0.495067805, -0.696227252, -0.706351697};
const std::vector<float> kClipValue = {
    0.199666828, 0.5,  0.5,  0.5,  0.5,  0.5,  0.5, 0.5, 0.163004309, -0.5, -0.5,
    -0.5,        -0.5, -0.5, -0.5, 0.5,  0.5,  0.5, -0.5, -0.5,       -0.5, -0.5};

void ExpectNearAll(const std::vector<float>& got, const std::vector<float>& want,
                   double tolerance, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tolerance) << what << " [" << i << "]";
  }
}

// Keras' formula in double: g * limit / max(norm, limit), norm over [begin, end) of g.
std::vector<double> KerasClipByNorm(const std::vector<float>& g, size_t begin, size_t end,
                                    double limit) {
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += static_cast<double>(g[i]) * g[i];
  std::vector<double> out;
  for (size_t i = begin; i < end; ++i) {
    out.push_back(g[i] * limit / std::max(std::sqrt(sum), limit));
  }
  return out;
}

TEST(GradientClippingTest, MatchesPyTorchAndKeras) {
  ClipCase per;
  const std::vector<float> clipnorm = per.Clipped(SGDOptions(1.0).ClipNorm(1.0));
  ExpectNearAll(clipnorm, kClipNorm, 1e-5, "clipnorm vs PyTorch");
  std::vector<double> keras = KerasClipByNorm(per.grads, 0, 15, 1.0);
  const std::vector<double> keras_b = KerasClipByNorm(per.grads, 15, 22, 1.0);
  keras.insert(keras.end(), keras_b.begin(), keras_b.end());
  for (size_t i = 0; i < keras.size(); ++i) {
    EXPECT_NEAR(clipnorm[i], keras[i], 1e-7) << "clipnorm vs Keras [" << i << "]";
  }
  ClipCase global;
  const std::vector<float> globally = global.Clipped(SGDOptions(1.0).GlobalClipNorm(2.0));
  ExpectNearAll(globally, kGlobalClipNorm, 1e-5, "global_clipnorm vs PyTorch");
  keras = KerasClipByNorm(global.grads, 0, 22, 2.0);
  for (size_t i = 0; i < keras.size(); ++i) {
    EXPECT_NEAR(globally[i], keras[i], 1e-7) << "global_clipnorm vs Keras [" << i << "]";
  }
  ClipCase value;
  EXPECT_EQ(value.Clipped(SGDOptions(1.0).ClipValue(0.5)), kClipValue);
  // Within the limit: the gradient itself, bit for bit.
  ClipCase within;
  EXPECT_EQ(within.Clipped(SGDOptions(1.0).GlobalClipNorm(100)), within.grads);
  ClipCase within_each;
  EXPECT_EQ(within_each.Clipped(SGDOptions(1.0).ClipNorm(6.0)), within_each.grads);
}

TEST(GradientClippingTest, AppliesBeforeEveryOptimiserUpdate) {
  // Adam's first step moves by about lr * sign(g) whatever |g|, so clip the gradient of a
  // zero-initialised parameter to check Adam saw the clipped one: m = 0.1 * clipped g.
  Tensor w = Tensor::Zeros({2}).SetRequiresGrad();
  Adam adam(AdamOptions().ClipNorm(0.5));
  adam.Attach({{"w", w}});
  StepWith(adam, w, {3.0f, 4.0f});  // norm 5: clipped to (0.3, 0.4)
  const Tensor m = adam.StateTensors()[0].second;
  EXPECT_NEAR(m.data()[0], 0.1 * 0.3, 1e-7);  // unclipped: 0.3
  EXPECT_NEAR(m.data()[1], 0.1 * 0.4, 1e-7);
}

TEST(GradientClippingTest, NonFiniteNormGivesNaN) {
  Tensor w = Tensor::Zeros({3}).SetRequiresGrad();
  SGD sgd(SGDOptions(1.0).GlobalClipNorm(1.0));
  sgd.Attach({{"w", w}});
  StepWith(sgd, w, {1.0f, std::numeric_limits<float>::infinity(), 0.0f});
  for (float v : w.ToVector()) EXPECT_TRUE(std::isnan(v));
}

// The global norm adds per-parameter sums of fixed chunks in a fixed order: the same bits
// with 1, 2 and 7 threads.
TEST(GradientClippingTest, IndependentOfThreadCount) {
  const int threads[] = {1, 2, 7};
  std::vector<float> results[3];
  for (int k = 0; k < 3; ++k) {
    SetNumThreads(threads[k]);
    Tensor big = Tensor::Zeros({40001}).SetRequiresGrad();
    Tensor small = Tensor::Zeros({3}).SetRequiresGrad();
    std::vector<float> g(40001);
    for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(std::sin(0.1 * i) * 0.01);
    big.Backward(Tensor::FromVector(g, {40001}));
    small.Backward(Tensor::FromVector({1.0f, -2.0f, 0.5f}, {3}));
    SGD sgd(SGDOptions(1.0).GlobalClipNorm(0.5));
    sgd.Attach({{"big", big}, {"small", small}});
    sgd.Step();
    results[k] = big.ToVector();
    for (float v : small.ToVector()) results[k].push_back(v);
  }
  SetNumThreads(0);
  for (int k = 1; k < 3; ++k) {
    ASSERT_EQ(results[k].size(), results[0].size());
    EXPECT_EQ(std::memcmp(results[0].data(), results[k].data(), results[0].size() * 4), 0)
        << threads[k] << " threads";
  }
}

TEST(GradientClippingTest, RejectsBadOptions) {
  ExpectError([] { Adam(AdamOptions().ClipNorm(1).GlobalClipNorm(2)); },
              "Adam: only one of clipnorm and global_clipnorm can be set, got clipnorm=1 and "
              "global_clipnorm=2");
  ExpectError([] { SGD(SGDOptions().ClipValue(0.5).ClipNorm(1)); },
              "SGD: clipvalue cannot be combined with clipnorm or global_clipnorm (Keras would "
              "ignore clipvalue), got clipvalue=0.5, clipnorm=1, global_clipnorm=0");
  ExpectError([] { AdamW(AdamOptions().ClipValue(-1)); },
              "AdamW: clipvalue must be >= 0 (0: no clipping), got -1");
  ExpectError([] { SGD(SGDOptions().GlobalClipNorm(NAN)); },
              "SGD: global_clipnorm must be >= 0 (0: no clipping), got nan");
  EXPECT_EQ(Adam(AdamOptions().ClipValue(0.25)).clipping().clipvalue, 0.25);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
