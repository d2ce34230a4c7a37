// Tests of ops/recurrent.h against a plain double-precision loop (the specification):
// forward outputs and states, and the backward against central differences of that loop,
// for the three cells, masks, go_backwards and zero_output_for_mask, at sizes that are not
// multiples of the vector width, on every SIMD target; bit-identical for 1, 2 and 7 threads.
#include "ops/recurrent.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using test::ExpectAllNear;
using test::RandomVector;

// Everything one problem reads, in double for the reference.
struct Problem {
  RnnSizes sizes;
  RnnOptions options;
  std::vector<double> x, kernel, recurrent, bias, h0, c0, mask;
};

double Sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// The reference loop: out [B, T + S, H] as RnnForward's.
std::vector<double> Reference(const Problem& p) {
  const RnnSizes& s = p.sizes;
  const int64_t G = RnnGateCount(s.cell), B = s.batch, T = s.steps, D = s.features,
                H = s.units, GH = G * H, S = RnnStateCount(s.cell), width = T + S;
  std::vector<double> out(B * width * H, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> h(p.h0.begin() + b * H, p.h0.begin() + (b + 1) * H);
    std::vector<double> c(p.c0.begin() + b * H, p.c0.begin() + (b + 1) * H);
    std::vector<double> y_prev(H, 0.0);
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = p.options.go_backwards ? T - 1 - step : step;
      std::vector<double> y(H, 0.0);
      if (p.mask.empty() || p.mask[b * T + t] != 0.0) {
        std::vector<double> xw(GH, 0.0), hu(GH, 0.0);
        for (int64_t j = 0; j < GH; ++j) {
          if (!p.bias.empty()) xw[j] = p.bias[j];
          if (!p.bias.empty() && s.cell == RnnCell::kGru) hu[j] = p.bias[GH + j];
          for (int64_t k = 0; k < D; ++k) xw[j] += p.x[(b * T + t) * D + k] * p.kernel[k * GH + j];
          for (int64_t k = 0; k < H; ++k) hu[j] += h[k] * p.recurrent[k * GH + j];
        }
        std::vector<double> hn(H);
        for (int64_t u = 0; u < H; ++u) {
          if (s.cell == RnnCell::kSimpleRnn) {
            hn[u] = std::tanh(xw[u] + hu[u]);
          } else if (s.cell == RnnCell::kGru) {
            const double z = Sig(xw[u] + hu[u]), r = Sig(xw[H + u] + hu[H + u]);
            const double n = std::tanh(xw[2 * H + u] + r * hu[2 * H + u]);
            hn[u] = z * h[u] + (1 - z) * n;
          } else {
            const double i = Sig(xw[u] + hu[u]), f = Sig(xw[H + u] + hu[H + u]);
            const double g = std::tanh(xw[2 * H + u] + hu[2 * H + u]);
            const double o = Sig(xw[3 * H + u] + hu[3 * H + u]);
            c[u] = f * c[u] + i * g;
            hn[u] = o * std::tanh(c[u]);
          }
        }
        h = hn;
        y = hn;
      } else if (!p.options.zero_output_for_mask) {
        y = y_prev;
      }
      for (int64_t u = 0; u < H; ++u) out[(b * width + step) * H + u] = y[u];
      y_prev = y;
    }
    for (int64_t u = 0; u < H; ++u) {
      out[(b * width + T) * H + u] = h[u];
      if (S == 2) out[(b * width + T + 1) * H + u] = c[u];
    }
  }
  return out;
}

std::vector<double> ToDouble(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<float> ToFloat(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// A seeded problem; mask_every > 0 masks steps (b + t) % mask_every == 0, plus a sequence
// that is all padding when the batch has more than 2 rows.
Problem MakeProblem(RnnCell cell, int64_t B, int64_t T, int64_t D, int64_t H, int mask_every,
                    bool backwards, bool zero_output, bool use_bias = true) {
  Problem p;
  p.sizes = {cell, B, T, D, H};
  p.options = {backwards, zero_output};
  const int64_t GH = RnnGateCount(cell) * H;
  // Weights of about 1/sqrt(fan-in), so that the gates are neither saturated nor linear.
  p.x = ToDouble(RandomVector(B * T * D, 1));
  p.kernel = ToDouble(RandomVector(D * GH, 2, -0.6f, 0.6f));
  p.recurrent = ToDouble(RandomVector(H * GH, 3, -0.6f, 0.6f));
  if (use_bias) p.bias = ToDouble(RandomVector((cell == RnnCell::kGru ? 2 : 1) * GH, 4));
  p.h0 = ToDouble(RandomVector(B * H, 5));
  p.c0 = ToDouble(RandomVector(B * H, 6));
  if (mask_every > 0) {
    p.mask.assign(B * T, 1.0);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < T; ++t) {
        if ((b + t) % mask_every == 0 || (B > 2 && b == 2)) p.mask[b * T + t] = 0.0;
      }
    }
  }
  return p;
}

int64_t OutSize(const RnnSizes& s) {
  return s.batch * (s.steps + RnnStateCount(s.cell)) * s.units;
}

// The kernels' float problem.
struct FloatProblem {
  explicit FloatProblem(const Problem& p)
      : x(ToFloat(p.x)), kernel(ToFloat(p.kernel)), recurrent(ToFloat(p.recurrent)),
        bias(ToFloat(p.bias)), h0(ToFloat(p.h0)), c0(ToFloat(p.c0)), mask(ToFloat(p.mask)) {}
  RnnWeights weights() const {
    return {kernel.data(), recurrent.data(), bias.empty() ? nullptr : bias.data()};
  }
  std::vector<float> x, kernel, recurrent, bias, h0, c0, mask;
};

// Runs RnnForward; returns out and leaves the workspace in `workspace`.
std::vector<float> Forward(const Problem& p, const FloatProblem& f,
                           std::vector<float>* workspace) {
  workspace->assign(RnnWorkspaceSize(p.sizes), 0.f);
  std::vector<float> out(OutSize(p.sizes));
  RnnForward(p.sizes, f.weights(), f.x.data(), f.h0.data(), f.c0.data(),
             f.mask.empty() ? nullptr : f.mask.data(), p.options, out.data(), workspace->data());
  return out;
}

// Every gradient, concatenated: dx, dkernel, drecurrent, dbias, dh0, dc0 (LSTM).
std::vector<float> Backward(const Problem& p, const FloatProblem& f,
                            const std::vector<float>& dout) {
  std::vector<float> workspace;
  Forward(p, f, &workspace);
  std::vector<float> dx(f.x.size()), dk(f.kernel.size()), dr(f.recurrent.size()),
      db(f.bias.size()), dh0(f.h0.size()), dc0(f.c0.size());
  RnnGradients g{dx.data(), dk.data(), dr.data(), db.empty() ? nullptr : db.data(),
                 dh0.data(), dc0.data()};
  RnnBackward(p.sizes, f.weights(), dout.data(), p.options, workspace.data(), g);
  std::vector<float> all;
  for (const auto* v : {&dx, &dk, &dr, &db, &dh0}) all.insert(all.end(), v->begin(), v->end());
  if (p.sizes.cell == RnnCell::kLstm) all.insert(all.end(), dc0.begin(), dc0.end());
  return all;
}

// The same gradients by central differences of sum(dout * Reference) in double.
std::vector<float> NumericGradients(Problem p, const std::vector<float>& dout) {
  const auto loss = [&](const Problem& q) {
    const std::vector<double> out = Reference(q);
    double sum = 0.0;
    for (size_t i = 0; i < out.size(); ++i) sum += dout[i] * out[i];
    return sum;
  };
  std::vector<std::vector<double>*> parts = {&p.x, &p.kernel, &p.recurrent, &p.bias, &p.h0};
  if (p.sizes.cell == RnnCell::kLstm) parts.push_back(&p.c0);
  std::vector<float> all;
  const double e = 1e-6;
  for (std::vector<double>* v : parts) {
    for (double& value : *v) {
      const double keep = value;
      value = keep + e;
      const double up = loss(p);
      value = keep - e;
      const double down = loss(p);
      value = keep;
      all.push_back(static_cast<float>((up - down) / (2 * e)));
    }
  }
  return all;
}

std::string Name(RnnCell cell) {
  return cell == RnnCell::kLstm ? "lstm" : cell == RnnCell::kGru ? "gru" : "simple_rnn";
}

struct Case {
  int64_t B, T, D, H;
  int mask_every;
  bool backwards, zero_output, use_bias;
};

const Case kCases[] = {
    {3, 6, 7, 5, 0, false, false, true},  {4, 5, 3, 17, 3, false, false, true},
    {3, 7, 9, 6, 2, true, false, true},   {4, 4, 5, 9, 3, true, true, false},
    {1, 1, 1, 1, 0, false, false, true},  {2, 9, 18, 33, 4, false, true, true},
};

std::string Tag(RnnCell cell, const Case& c, const char* target) {
  return Name(cell) + " B" + std::to_string(c.B) + " T" + std::to_string(c.T) + " D" +
         std::to_string(c.D) + " H" + std::to_string(c.H) + " mask" +
         std::to_string(c.mask_every) + (c.backwards ? " backwards" : "") +
         (c.zero_output ? " zero_output" : "") + (c.use_bias ? "" : " no_bias") + " on " +
         target;
}

TEST(Recurrent, ForwardMatchesReference) {
  test::ForEachTarget([](const char* target) {
    for (RnnCell cell : {RnnCell::kSimpleRnn, RnnCell::kGru, RnnCell::kLstm}) {
      for (const Case& c : kCases) {
        const Problem p =
            MakeProblem(cell, c.B, c.T, c.D, c.H, c.mask_every, c.backwards, c.zero_output,
                        c.use_bias);
        const FloatProblem f(p);
        std::vector<float> workspace;
        const std::vector<float> out = Forward(p, f, &workspace);
        const std::vector<float> want = ToFloat(Reference(p));
        ExpectAllNear(want.data(), out.data(), static_cast<int64_t>(want.size()), 1e-5f, 2e-6f,
                      Tag(cell, c, target));
      }
    }
  });
}

TEST(Recurrent, BackwardMatchesCentralDifferencesOfReference) {
  test::ForEachTarget([](const char* target) {
    for (RnnCell cell : {RnnCell::kSimpleRnn, RnnCell::kGru, RnnCell::kLstm}) {
      for (const Case& c : kCases) {
        if (c.H > 20) continue;  // the differences cost one reference run per value
        const Problem p =
            MakeProblem(cell, c.B, c.T, c.D, c.H, c.mask_every, c.backwards, c.zero_output,
                        c.use_bias);
        const std::vector<float> dout = RandomVector(OutSize(p.sizes), 7);
        const std::vector<float> got = Backward(p, FloatProblem(p), dout);
        const std::vector<float> want = NumericGradients(p, dout);
        ASSERT_EQ(got.size(), want.size());
        ExpectAllNear(want.data(), got.data(), static_cast<int64_t>(want.size()), 1e-4f, 2e-5f,
                      Tag(cell, c, target));
      }
    }
  });
}

TEST(Recurrent, NoStepsGivesTheInitialStatesAndZeroWeightGradients) {
  const Problem p = MakeProblem(RnnCell::kLstm, 2, 0, 3, 4, 0, false, false);
  const FloatProblem f(p);
  std::vector<float> workspace;
  const std::vector<float> out = Forward(p, f, &workspace);
  ASSERT_EQ(out.size(), 2u * 2 * 4);
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t u = 0; u < 4; ++u) {
      EXPECT_EQ(out[(b * 2) * 4 + u], f.h0[b * 4 + u]);
      EXPECT_EQ(out[(b * 2 + 1) * 4 + u], f.c0[b * 4 + u]);
    }
  }
  const std::vector<float> dout = RandomVector(out.size(), 8);
  const std::vector<float> g = Backward(p, f, dout);
  // dkernel, drecurrent and dbias are zero; dh0 and dc0 are the final states' gradients.
  const int64_t weights = 3 * 16 + 4 * 16 + 16;
  for (int64_t i = 0; i < weights; ++i) EXPECT_EQ(g[i], 0.f) << i;
  EXPECT_EQ(g[weights], dout[0]);
  EXPECT_EQ(g[weights + 8], dout[4]);
}

TEST(Recurrent, BitIdenticalAcrossThreadCounts) {
  for (RnnCell cell : {RnnCell::kSimpleRnn, RnnCell::kGru, RnnCell::kLstm}) {
    // Enough rows and units for several parallel tasks in every kernel and GEMM.
    const Problem p = MakeProblem(cell, 67, 5, 40, 70, 3, true, false);
    const FloatProblem f(p);
    const std::vector<float> dout = RandomVector(OutSize(p.sizes), 9);
    std::vector<float> first;
    for (int threads : {1, 2, 7}) {
      SetNumThreads(threads);
      std::vector<float> workspace;
      std::vector<float> all = Forward(p, f, &workspace);
      const std::vector<float> g = Backward(p, f, dout);
      all.insert(all.end(), g.begin(), g.end());
      if (first.empty()) first = all;
      EXPECT_TRUE(test::SameBits(first.data(), all.data(), static_cast<int64_t>(all.size())))
          << Name(cell) << " with " << threads << " threads";
    }
    SetNumThreads(0);
  }
}

TEST(Recurrent, BadSizesThrow) {
  const std::vector<float> w(16, 0.f);
  float out[16], workspace[64];
  EXPECT_THROW(RnnForward({RnnCell::kGru, 1, 1, 0, 1}, {w.data(), w.data(), nullptr},
                          w.data(), nullptr, nullptr, nullptr, {}, out, workspace),
               std::invalid_argument);
  EXPECT_THROW(RnnForward({RnnCell::kGru, 1, 1, 1, 1}, {w.data(), nullptr, nullptr},
                          w.data(), nullptr, nullptr, nullptr, {}, out, workspace),
               std::invalid_argument);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
