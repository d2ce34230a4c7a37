#include "nn/init.h"

#include <cmath>

#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace {

TEST(InitTest, Fans) {
  Fans dense = ComputeFans({784, 128});
  EXPECT_EQ(dense.fan_in, 784);
  EXPECT_EQ(dense.fan_out, 128);
  Fans conv = ComputeFans({3, 3, 32, 64});
  EXPECT_EQ(conv.fan_in, 9 * 32);
  EXPECT_EQ(conv.fan_out, 9 * 64);
  EXPECT_EQ(ComputeFans({10}).fan_in, 10);
}

void ExpectStats(const Tensor& t, double mean, double stddev, double max_abs) {
  double s = 0, s2 = 0, m = 0;
  for (float v : t.ToVector()) {
    s += v;
    s2 += v * v;
    m = std::max(m, std::fabs(double{v}));
  }
  double n = t.numel();
  EXPECT_NEAR(s / n, mean, 0.05 * stddev + 1e-6);
  EXPECT_NEAR(std::sqrt(s2 / n - (s / n) * (s / n)), stddev, 0.05 * stddev);
  EXPECT_LE(m, max_abs);
}

TEST(InitTest, VarianceScalingMatchesKeras) {
  Generator gen(1);
  // Glorot uniform on a conv kernel: limit sqrt(6 / (9*16 + 9*32)); stddev limit / sqrt(3).
  Tensor g = MakeParameter({3, 3, 16, 32}, GlorotUniform(), gen);
  double limit = std::sqrt(6.0 / (9 * 16 + 9 * 32));
  ExpectStats(g, 0, limit / std::sqrt(3.0), limit);
  Tensor hu = MakeParameter({200, 100}, HeUniform(), gen);
  ExpectStats(hu, 0, std::sqrt(2.0 / 200), std::sqrt(6.0 / 200));
  // Truncated normals: variance as targeted, nothing beyond two (unscaled) stddevs.
  Tensor hn = MakeParameter({400, 100}, HeNormal(), gen);
  double sd = std::sqrt(2.0 / 400);
  ExpectStats(hn, 0, sd, 2 * sd / 0.87962566103423978 + 1e-6);
  Tensor ln = MakeParameter({300, 100}, LecunNormal(), gen);
  ExpectStats(ln, 0, std::sqrt(1.0 / 300), 2 * std::sqrt(1.0 / 300) / 0.8796 + 1e-6);
  Tensor lu = MakeParameter({300, 100}, LecunUniform(), gen);
  ExpectStats(lu, 0, std::sqrt(1.0 / 300), std::sqrt(3.0 / 300));
  Tensor gn = MakeParameter({300, 100}, GlorotNormal(), gen);
  ExpectStats(gn, 0, std::sqrt(2.0 / 400), 1);
}

TEST(InitTest, ConstantsAndSeeds) {
  Generator gen(2);
  EXPECT_EQ(MakeParameter({3}, Zeros(), gen).ToVector(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(MakeParameter({2}, Constant(0.5f), gen).ToVector(), (std::vector<float>{0.5f, 0.5f}));
  Generator a(7), b(7);
  EXPECT_EQ(MakeParameter({5, 5}, GlorotUniform(), a).ToVector(),
            MakeParameter({5, 5}, GlorotUniform(), b).ToVector());
  Tensor u = MakeParameter({1000}, RandomUniform(-1, 1), gen);
  for (float v : u.ToVector()) EXPECT_TRUE(v >= -1 && v < 1);
}

// Orthogonal: a wide matrix (a recurrent kernel [H, 4H]) has orthonormal rows, a tall one
// orthonormal columns, scaled by the gain; the same seed gives the same matrix.
TEST(InitTest, OrthogonalRowsOrColumns) {
  for (const Shape& shape : {Shape{5, 20}, Shape{20, 5}, Shape{7, 7}, Shape{2, 3, 4}}) {
    SCOPED_TRACE(ShapeToString(shape));
    Generator gen(11);
    const float gain = 1.5f;
    const std::vector<float> w = MakeParameter(shape, Orthogonal(gain), gen).ToVector();
    const int64_t cols = shape.back(), rows = static_cast<int64_t>(w.size()) / cols;
    const bool wide = rows < cols;
    const int64_t count = wide ? rows : cols, length = wide ? cols : rows;
    const auto at = [&](int64_t v, int64_t i) { return wide ? w[v * cols + i] : w[i * cols + v]; };
    for (int64_t a = 0; a < count; ++a) {
      for (int64_t b = 0; b < count; ++b) {
        double dot = 0;
        for (int64_t i = 0; i < length; ++i) dot += at(a, i) * at(b, i);
        EXPECT_NEAR(dot, a == b ? gain * gain : 0.0, 1e-5) << a << ", " << b;
      }
    }
    Generator again(11);
    EXPECT_EQ(MakeParameter(shape, Orthogonal(gain), again).ToVector(), w);
  }
}

}  // namespace
}  // namespace nn
}  // namespace gradway
