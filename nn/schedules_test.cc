#include "nn/schedules.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

// Keras' formulas at these steps, printed by nn/testdata/schedules_keras.py.
const std::vector<int64_t> kSteps = {0, 1, 2, 3, 5, 6, 7, 8, 13, 14, 15, 16, 40};
const std::vector<double> kExponential = {
    0.10000000000000001, 0.090572366426390674, 0.082033535600763804, 0.074299714456847424,
    0.060950682710223775, 0.055204475683690628, 0.050000000000000003, 0.045286183213195337,
    0.027602237841845307, 0.025000000000000001, 0.022643091606597669, 0.020508383900190951,
    0.001904708834694493};
const std::vector<double> kExponentialStaircase = {
    0.10000000000000001,  0.10000000000000001,  0.10000000000000001,  0.10000000000000001,
    0.10000000000000001,  0.10000000000000001,  0.050000000000000003, 0.050000000000000003,
    0.050000000000000003, 0.025000000000000001, 0.025000000000000001, 0.025000000000000001,
    0.0031250000000000002};
const std::vector<double> kPiecewise = {1,    1,    1,    1,     0.5,   0.5,  0.5,
                                        0.25, 0.25, 0.25, 0.125, 0.125, 0.125};
const std::vector<double> kCosine = {
    0.20000000000000001,  0.1973847635683447,   0.18969104230878889,  0.17736596733539911,
    0.1419144398338282,   0.12084830122297907,  0.099151698777020958, 0.078085560166171797,
    0.020000000000000004, 0.020000000000000004, 0.020000000000000004, 0.020000000000000004,
    0.020000000000000004};
const std::vector<double> kCosineWarmup = {
    0.01,                 0.067999999999999991, 0.126,
    0.184,                0.29999999999999999,  0.29422774874006591,
    0.2773786284284433,   0.25081765458720312,  0.064182345412796882,
    0.037621371571556664, 0.020772251259934139, 0.014999999999999999,
    0.014999999999999999};
const std::vector<double> kCosineNoWarmupSteps = {
    0.29999999999999999, 0.29392394604217459,  0.27618802992467717,  0.24822911009179277,
    0.17134722574099279, 0.12865277425900723,  0.087687748049717046, 0.051770889908207253,
    0,                   0,                    0,                    0,
    0};

void ExpectValues(const StepSchedule& schedule, const std::vector<double>& want) {
  ASSERT_EQ(want.size(), kSteps.size());
  for (size_t i = 0; i < kSteps.size(); ++i) {
    // Same formulas in double on both sides: equal up to the last bits of std::pow/cos.
    EXPECT_NEAR(schedule(kSteps[i]), want[i], 1e-15 * want[i] + 1e-300)
        << schedule.name() << " at step " << kSteps[i];
  }
}

TEST(SchedulesTest, MatchKerasFormulas) {
  ExpectValues(ExponentialDecay(0.1, 7, 0.5), kExponential);
  ExpectValues(ExponentialDecay(0.1, 7, 0.5, /*staircase=*/true), kExponentialStaircase);
  ExpectValues(PiecewiseConstantDecay({3, 7, 14}, {1.0, 0.5, 0.25, 0.125}), kPiecewise);
  ExpectValues(CosineDecay(0.2, 13, 0.1), kCosine);
  ExpectValues(CosineDecay(0.01, 11, 0.05, /*warmup_target=*/0.3, /*warmup_steps=*/5),
               kCosineWarmup);
  ExpectValues(CosineDecay(0.01, 11, 0.0, 0.3, 0), kCosineNoWarmupSteps);
}

TEST(SchedulesTest, ShapesThatFollowFromTheDefinitions) {
  // Exactly the initial rate at step 0, exactly half after one decay period.
  EXPECT_EQ(ExponentialDecay(0.25, 10, 0.5)(0), 0.25);
  EXPECT_EQ(ExponentialDecay(0.25, 10, 0.5)(10), 0.125);
  // Boundaries belong to the interval they close.
  PiecewiseConstantDecay piecewise({10, 20}, {3, 2, 1});
  EXPECT_EQ(piecewise(10), 3);
  EXPECT_EQ(piecewise(11), 2);
  EXPECT_EQ(piecewise(20), 2);
  EXPECT_EQ(piecewise(21), 1);
  EXPECT_EQ(PiecewiseConstantDecay({}, {0.5})(1000), 0.5);
  // Cosine: half way is the mean of the start and alpha * start; then it stays.
  CosineDecay cosine(1.0, 100, 0.2);
  EXPECT_NEAR(cosine(50), 0.6, 1e-15);
  EXPECT_NEAR(cosine(100), 0.2, 1e-15);
  EXPECT_EQ(cosine(100), cosine(1000000));
  // Warm-up rises linearly and reaches the target exactly when the decay starts.
  CosineDecay warm(0.0, 10, 0.0, 1.0, 4);
  EXPECT_EQ(warm(0), 0.0);
  EXPECT_EQ(warm(2), 0.5);
  EXPECT_EQ(warm(4), 1.0);
  EXPECT_LT(warm(5), 1.0);
  EXPECT_EQ(warm(14), warm(500));
  // Deterministic: the same value every time.
  EXPECT_EQ(warm(7), CosineDecay(0.0, 10, 0.0, 1.0, 4)(7));
}

void ExpectError(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no error; expected " << message;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(SchedulesTest, RejectsBadArguments) {
  ExpectError([] { ExponentialDecay(0.1, 0, 0.5); },
              "ExponentialDecay: decay_steps must be > 0, got 0");
  ExpectError([] { ExponentialDecay(-0.1, 10, 0.5); },
              "ExponentialDecay: initial_learning_rate must be a finite number >= 0, got -0.1");
  ExpectError([] { ExponentialDecay(0.1, 10, NAN); }, "ExponentialDecay: decay_rate must be");
  ExpectError([] { PiecewiseConstantDecay({1, 2}, {1.0, 0.5}); },
              "PiecewiseConstantDecay: the length of boundaries should be 1 less than the "
              "length of values; got boundaries [1, 2] of length 2 and values [1, 0.5] of "
              "length 2");
  ExpectError([] { PiecewiseConstantDecay({5, 5}, {1.0, 0.5, 0.1}); },
              "PiecewiseConstantDecay: boundaries must strictly increase, got [5, 5]");
  ExpectError([] { PiecewiseConstantDecay({5}, {1.0, -0.5}); },
              "PiecewiseConstantDecay: each value must be a finite number >= 0, got -0.5");
  ExpectError([] { CosineDecay(0.1, -3); }, "CosineDecay: decay_steps must be > 0, got -3");
  ExpectError([] { CosineDecay(0.1, 10, -0.1); }, "CosineDecay: alpha must be");
  ExpectError([] { CosineDecay(0.1, 10, 0, INFINITY, 5); }, "CosineDecay: warmup_target must be");
  ExpectError([] { CosineDecay(0.1, 10, 0, 0.2, -1); },
              "CosineDecay: warmup_steps must be >= 0, got -1");
}

}  // namespace
}  // namespace nn
}  // namespace gradway
