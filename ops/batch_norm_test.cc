// Batch-norm kernels vs a plain double-precision reference (below), on every compiled
// Highway target, at odd sizes (channels 1, 3, 17, 33; odd rows, several row blocks),
// misaligned buffers, and bit for bit across thread counts.
#include "ops/batch_norm.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "hwy/tests/hwy_gtest.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using test::Buffer;
using test::ExpectAllNear;
using test::SameBits;

// ---- The scalar reference, in double: the specification of the kernels.
struct Reference {
  std::vector<double> mean, var, invstd;  // biased variance
};

Reference RefStatistics(const float* x, int64_t rows, int64_t C, double eps) {
  Reference r;
  r.mean.assign(C, 0.0);
  r.var.assign(C, 0.0);
  r.invstd.assign(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += x[i * C + c];
    r.mean[c] = s / rows;
    double q = 0;
    for (int64_t i = 0; i < rows; ++i) q += (x[i * C + c] - r.mean[c]) * (x[i * C + c] - r.mean[c]);
    r.var[c] = q / rows;
    r.invstd[c] = 1.0 / std::sqrt(r.var[c] + eps);
  }
  return r;
}

// y = gamma (x - mean) invstd + beta (gamma, beta null: 1, 0).
std::vector<float> RefNormalize(const float* x, const std::vector<double>& mean,
                                const std::vector<double>& invstd, const float* gamma,
                                const float* beta, int64_t rows, int64_t C) {
  std::vector<float> y(rows * C);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t c = 0; c < C; ++c) {
      const double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
      y[i * C + c] = static_cast<float>(g * (x[i * C + c] - mean[c]) * invstd[c] + b);
    }
  }
  return y;
}

// dgamma = sum dy xhat, dbeta = sum dy; dx = g invstd (dy - dbeta/M - xhat dgamma/M) in
// training, g invstd dy in inference.
void RefBackward(const float* x, const float* dy, const std::vector<double>& mean,
                 const std::vector<double>& invstd, const float* gamma, int64_t rows,
                 int64_t C, bool training, std::vector<float>* dx, std::vector<float>* dgamma,
                 std::vector<float>* dbeta) {
  dx->assign(rows * C, 0.f);
  dgamma->assign(C, 0.f);
  dbeta->assign(C, 0.f);
  for (int64_t c = 0; c < C; ++c) {
    double sg = 0, sb = 0;
    for (int64_t i = 0; i < rows; ++i) {
      sb += dy[i * C + c];
      sg += dy[i * C + c] * (x[i * C + c] - mean[c]) * invstd[c];
    }
    (*dgamma)[c] = static_cast<float>(sg);
    (*dbeta)[c] = static_cast<float>(sb);
    const double g = gamma ? gamma[c] : 1.0;
    for (int64_t i = 0; i < rows; ++i) {
      const double xhat = (x[i * C + c] - mean[c]) * invstd[c];
      const double v = training ? dy[i * C + c] - sb / rows - xhat * sg / rows : dy[i * C + c];
      (*dx)[i * C + c] = static_cast<float>(g * invstd[c] * v);
    }
  }
}

std::vector<float> ToFloat(const std::vector<double>& v) {
  return std::vector<float>(v.begin(), v.end());
}

struct Size {
  int64_t rows, channels;
};

// Odd channel counts (below, at and past a vector), odd rows: one row, a few, and enough
// for several row blocks with a short last one.
std::vector<Size> Sizes() {
  std::vector<Size> sizes;
  for (int64_t c : {1, 3, 17, 33}) {
    const int64_t block = BatchNormRowBlock(c);
    for (int64_t rows : {int64_t{1}, int64_t{7}, int64_t{99}, 2 * block + 13}) {
      sizes.push_back({rows, c});
    }
  }
  return sizes;
}

std::string Tag(const char* what, const Size& s, float offset) {
  return std::string(what) + " [" + std::to_string(s.rows) + ", " + std::to_string(s.channels) +
         "] offset " + std::to_string(offset);
}

class BatchNormTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(BatchNormTest);

TEST(BatchNormBlockTest, BlocksDependOnChannelsOnly) {
  EXPECT_EQ(BatchNormRowBlock(1), 16384);
  EXPECT_EQ(BatchNormRowBlock(32), 512);
  EXPECT_EQ(BatchNormRowBlock(33), 496);
  EXPECT_EQ(BatchNormRowBlock(100000), 1);
}

// Moments, statistics and y of the training forward; the data sit on an offset of 0 or
// 300 (mean 300, spread 1: a sum of squares minus a squared sum in float would lose every
// digit of the variance).
TEST_P(BatchNormTest, TrainingForwardMatchesReference) {
  const float eps = 1e-3f;
  for (const Size& s : Sizes()) {
    for (float offset : {0.0f, 300.0f}) {
      const int64_t n = s.rows * s.channels, C = s.channels;
      Buffer x(n, 1, 7, offset - 1.0f, offset + 1.0f);
      Buffer gamma(C, 2, 8, 0.5f, 2.0f), beta(C, 3, 9);
      const Reference ref = RefStatistics(x.data(), s.rows, C, eps);

      const BatchMoments m = BatchNormMoments(x.data(), s.rows, C);
      ASSERT_EQ(m.count, s.rows);
      ASSERT_EQ(m.mean.size(), static_cast<size_t>(C));
      for (int64_t c = 0; c < C; ++c) {
        EXPECT_NEAR(m.mean[c], ref.mean[c], 1e-6 * (1 + std::fabs(ref.mean[c])))
            << Tag("mean", s, offset);
        EXPECT_NEAR(m.m2[c], ref.var[c] * s.rows, 1e-5 * ref.var[c] * s.rows + 1e-9)
            << Tag("m2", s, offset);
      }

      Buffer y(n, 2, 10), mean(C, 1, 11), invstd(C, 3, 12);
      const BatchMoments m2 = BatchNormTrainingForward(x.data(), gamma.data(), beta.data(),
                                                       s.rows, C, eps, y.data(), mean.data(),
                                                       invstd.data());
      EXPECT_EQ(m2.count, s.rows);
      EXPECT_EQ(m2.mean, m.mean);
      EXPECT_EQ(m2.m2, m.m2);
      // The mean is near 0 or 300: judged against the data's spread and float's rounding.
      ExpectAllNear(ToFloat(ref.mean).data(), mean.data(), C, 0, 1e-7f * (1 + offset),
                    Tag("mean", s, offset));
      ExpectAllNear(ToFloat(ref.invstd).data(), invstd.data(), C, 2e-5f, 0,
                    Tag("invstd", s, offset));
      const std::vector<float> want =
          RefNormalize(x.data(), ref.mean, ref.invstd, gamma.data(), beta.data(), s.rows, C);
      // (x - mean) is exact to float's rounding of x: 2^-15 at 300, after invstd ~ 1.7.
      ExpectAllNear(want.data(), y.data(), n, 2e-5f, offset == 0 ? 2e-6f : 1e-4f,
                    Tag("y", s, offset));
    }
  }
}

// Without gamma and beta (scale 1, centre 0), and in place (y aliasing x).
TEST_P(BatchNormTest, TrainingForwardDefaultsAndInPlace) {
  const Size s{101, 17};
  const int64_t n = s.rows * s.channels;
  Buffer x(n, 1, 21, -3.f, 5.f);
  const Reference ref = RefStatistics(x.data(), s.rows, s.channels, 1e-5);
  const std::vector<float> want =
      RefNormalize(x.data(), ref.mean, ref.invstd, nullptr, nullptr, s.rows, s.channels);
  std::vector<float> mean(s.channels), invstd(s.channels);
  BatchNormTrainingForward(x.data(), nullptr, nullptr, s.rows, s.channels, 1e-5f, x.data(),
                           mean.data(), invstd.data());
  ExpectAllNear(want.data(), x.data(), n, 1e-5f, 2e-6f, "in place");
}

TEST_P(BatchNormTest, InferenceForwardMatchesReference) {
  for (const Size& s : Sizes()) {
    const int64_t n = s.rows * s.channels, C = s.channels;
    Buffer x(n, 3, 31, -2.f, 2.f), rm(C, 1, 32), rv(C, 2, 33, 0.1f, 3.f);
    Buffer gamma(C, 0, 34), beta(C, 1, 35);
    std::vector<double> mean(C), invstd(C);
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = rm[c];
      invstd[c] = 1.0 / std::sqrt(static_cast<double>(rv[c]) + 1e-3);
    }
    const std::vector<float> want =
        RefNormalize(x.data(), mean, invstd, gamma.data(), beta.data(), s.rows, C);
    Buffer y(n, 1, 36), inv(C, 3, 37);
    BatchNormInferenceForward(x.data(), rm.data(), rv.data(), gamma.data(), beta.data(), s.rows,
                              C, 1e-3f, y.data(), inv.data());
    ExpectAllNear(want.data(), y.data(), n, 1e-5f, 2e-6f, Tag("inference y", s, 0));
    ExpectAllNear(ToFloat(invstd).data(), inv.data(), C, 1e-6f, 0, Tag("inference invstd", s, 0));
    // Without the invstd output, gamma or beta.
    const std::vector<float> plain =
        RefNormalize(x.data(), mean, invstd, nullptr, nullptr, s.rows, C);
    BatchNormInferenceForward(x.data(), rm.data(), rv.data(), nullptr, nullptr, s.rows, C,
                              1e-3f, y.data());
    ExpectAllNear(plain.data(), y.data(), n, 1e-5f, 2e-6f, Tag("inference plain", s, 0));
  }
}

// Both forms of the fused backward, with every combination of wanted outputs.
TEST_P(BatchNormTest, BackwardMatchesReference) {
  for (const Size& s : Sizes()) {
    const int64_t n = s.rows * s.channels, C = s.channels;
    Buffer x(n, 1, 41, -2.f, 3.f), dy(n, 2, 42), gamma(C, 3, 43, 0.5f, 2.f);
    for (bool training : {true, false}) {
      std::vector<float> mean(C), invstd(C);
      Reference stats;
      if (training) {
        std::vector<float> y(n);
        BatchNormTrainingForward(x.data(), gamma.data(), nullptr, s.rows, C, 1e-3f, y.data(),
                                 mean.data(), invstd.data());
      } else {
        for (int64_t c = 0; c < C; ++c) {
          mean[c] = 0.1f * static_cast<float>(c) - 0.3f;
          invstd[c] = 1.0f / std::sqrt(0.5f + 0.05f * static_cast<float>(c));
        }
      }
      // The reference takes the same (float) statistics the kernel was given.
      const std::vector<double> dmean(mean.begin(), mean.end()),
          dinv(invstd.begin(), invstd.end());
      std::vector<float> want_dx, want_dg, want_db;
      RefBackward(x.data(), dy.data(), dmean, dinv, gamma.data(), s.rows, C, training, &want_dx,
                  &want_dg, &want_db);
      const std::string tag = Tag(training ? "training" : "inference", s, 0);
      Buffer dx(n, 3, 44), dg(C, 1, 45), db(C, 2, 46);
      BatchNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), gamma.data(), s.rows,
                        C, training, dx.data(), dg.data(), db.data());
      // dx's terms cancel (its sum over rows is 0 in training): judged against dy's scale.
      ExpectAllNear(want_dx.data(), dx.data(), n, 1e-4f, 2e-5f, tag + " dx");
      const float sum_tol = 1e-5f * std::sqrt(static_cast<float>(s.rows));
      ExpectAllNear(want_dg.data(), dg.data(), C, 1e-5f, sum_tol, tag + " dgamma");
      ExpectAllNear(want_db.data(), db.data(), C, 1e-5f, sum_tol, tag + " dbeta");
      // dx alone, and the reductions alone: the same bits.
      Buffer dx2(n, 0, 47), dg2(C, 0, 48), db2(C, 0, 49);
      BatchNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), gamma.data(), s.rows,
                        C, training, dx2.data(), nullptr, nullptr);
      BatchNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), gamma.data(), s.rows,
                        C, training, nullptr, dg2.data(), db2.data());
      EXPECT_TRUE(SameBits(dx.data(), dx2.data(), n)) << tag;
      EXPECT_TRUE(SameBits(dg.data(), dg2.data(), C)) << tag;
      EXPECT_TRUE(SameBits(db.data(), db2.data(), C)) << tag;
    }
  }
}

// The fused ReLU (Epilogue::kRelu): the forward gives max(y, 0) of the plain forward's y,
// and the backward gives the plain backward of dy masked where y > 0, bit for bit, in both
// forms, with and without gamma and beta (beta shifts about half of y below 0).
TEST_P(BatchNormTest, FusedReluIsReluOfThePlainOpBitForBit) {
  for (const Size& s : Sizes()) {
    const int64_t n = s.rows * s.channels, C = s.channels;
    Buffer x(n, 1, 61, -2.f, 3.f), dy(n, 2, 62), gamma(C, 3, 63, 0.5f, 2.f),
        beta(C, 4, 64, -1.f, 1.f);
    for (bool training : {true, false}) {
      for (bool affine : {true, false}) {
        const float* g = affine ? gamma.data() : nullptr;
        const float* b = affine ? beta.data() : nullptr;
        const std::string tag =
            Tag(training ? "training" : "inference", s, 0) + (affine ? " affine" : " plain");
        std::vector<float> y(n), fused(n), mean(C), invstd(C), mean2(C), invstd2(C);
        std::vector<float> rm(C), rv(C);
        for (int64_t c = 0; c < C; ++c) {
          rm[c] = 0.1f * static_cast<float>(c % 7) - 0.3f;
          rv[c] = 0.5f + 0.05f * static_cast<float>(c % 5);
        }
        if (training) {
          BatchNormTrainingForward(x.data(), g, b, s.rows, C, 1e-3f, y.data(), mean.data(),
                                   invstd.data());
          BatchNormTrainingForward(x.data(), g, b, s.rows, C, 1e-3f, fused.data(),
                                   mean2.data(), invstd2.data(), Epilogue::kRelu);
        } else {
          mean = rm;
          BatchNormInferenceForward(x.data(), rm.data(), rv.data(), g, b, s.rows, C, 1e-3f,
                                    y.data(), invstd.data());
          BatchNormInferenceForward(x.data(), rm.data(), rv.data(), g, b, s.rows, C, 1e-3f,
                                    fused.data(), invstd2.data(), Epilogue::kRelu);
        }
        std::vector<float> relu(n), masked(n);
        int64_t positive = 0;
        for (int64_t i = 0; i < n; ++i) {
          relu[i] = y[i] > 0.f ? y[i] : 0.f;
          masked[i] = y[i] > 0.f ? dy[i] : 0.f;
          positive += y[i] > 0.f;
        }
        if (n >= 99) {  // the mask matters
          ASSERT_GT(positive, n / 5) << tag;
          ASSERT_LT(positive, n - n / 5) << tag;
        }
        EXPECT_TRUE(SameBits(relu.data(), fused.data(), n)) << tag << " forward";
        std::vector<float> want_dx(n), want_dg(C), want_db(C), dx(n), dg(C), db(C);
        BatchNormBackward(x.data(), masked.data(), mean.data(), invstd.data(), g, s.rows, C,
                          training, want_dx.data(), want_dg.data(), want_db.data());
        BatchNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), g, s.rows, C,
                          training, dx.data(), dg.data(), db.data(), Epilogue::kRelu, b);
        EXPECT_TRUE(SameBits(want_dx.data(), dx.data(), n)) << tag << " dx";
        EXPECT_TRUE(SameBits(want_dg.data(), dg.data(), C)) << tag << " dgamma";
        EXPECT_TRUE(SameBits(want_db.data(), db.data(), C)) << tag << " dbeta";
      }
    }
  }
}

// dx written over dy, and no gamma (scale 1).
TEST_P(BatchNormTest, BackwardInPlaceWithoutGamma) {
  const Size s{77, 33};
  const int64_t n = s.rows * s.channels;
  Buffer x(n, 0, 51), dy(n, 1, 52);
  std::vector<float> y(n), mean(s.channels), invstd(s.channels);
  BatchNormTrainingForward(x.data(), nullptr, nullptr, s.rows, s.channels, 1e-5f, y.data(),
                           mean.data(), invstd.data());
  std::vector<float> want_dx, want_dg, want_db;
  RefBackward(x.data(), dy.data(), std::vector<double>(mean.begin(), mean.end()),
              std::vector<double>(invstd.begin(), invstd.end()), nullptr, s.rows, s.channels,
              true, &want_dx, &want_dg, &want_db);
  BatchNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), nullptr, s.rows,
                    s.channels, true, dy.data(), nullptr, nullptr);
  ExpectAllNear(want_dx.data(), dy.data(), n, 1e-4f, 2e-5f, "dx over dy");
}

// Chan's combination: the moments of two halves, or of several slices in a tree, are those
// of the whole; an empty part changes nothing.
TEST_P(BatchNormTest, CombineMomentsOfSlices) {
  const int64_t C = 17, rows = 1001;
  Buffer x(rows * C, 1, 61, 5.f, 9.f);
  const BatchMoments whole = BatchNormMoments(x.data(), rows, C);
  const BatchMoments a = BatchNormMoments(x.data(), 400, C);
  const BatchMoments b = BatchNormMoments(x.data() + 400 * C, rows - 400, C);
  const BatchMoments ab = CombineMoments(a, b);
  EXPECT_EQ(ab.count, rows);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(ab.mean[c], whole.mean[c], 1e-6);
    EXPECT_NEAR(ab.m2[c], whole.m2[c], 1e-5 * whole.m2[c]);
  }
  std::vector<BatchMoments> parts;
  const int64_t cuts[] = {0, 1, 100, 333, 334, 700, 1001};  // includes an empty slice
  for (int k = 0; k + 1 < 7; ++k) {
    parts.push_back(BatchNormMoments(x.data() + cuts[k] * C, cuts[k + 1] - cuts[k], C));
  }
  const BatchMoments tree = CombineMomentsTree(parts);
  EXPECT_EQ(tree.count, rows);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(tree.mean[c], whole.mean[c], 1e-6);
    EXPECT_NEAR(tree.m2[c], whole.m2[c], 1e-5 * whole.m2[c]);
  }
  const BatchMoments none = BatchNormMoments(x.data(), 0, C);
  EXPECT_EQ(none.count, 0);
  EXPECT_EQ(CombineMoments(none, whole).m2, whole.m2);
  EXPECT_EQ(CombineMoments(whole, none).mean, whole.mean);
  EXPECT_EQ(CombineMomentsTree({}).count, 0);
  // By hand: {1, 3} and {5}: n 3, mean 3, m2 = 4 + 0 + 4.
  BatchMoments p{2, {2.0}, {2.0}}, q{1, {5.0}, {0.0}};
  const BatchMoments pq = CombineMoments(p, q);
  EXPECT_EQ(pq.count, 3);
  EXPECT_DOUBLE_EQ(pq.mean[0], 3.0);
  EXPECT_DOUBLE_EQ(pq.m2[0], 8.0);
  EXPECT_THROW(CombineMoments(p, BatchMoments{1, {1.0, 2.0}, {0.0, 0.0}}),
               std::invalid_argument);
}

// The backward's sums: the fixed tree ((p0 + p1) + (p2 + p3)) + p4, in double, whose order
// shows in the bits here (a plain left-to-right sum gives other values).
TEST(BatchNormSumTreeTest, SumsInTheFixedTree) {
  const std::vector<std::vector<double>> parts = {
      {1e17, 0.5}, {1.0, 3.0}, {-1e17, 1e-17}, {1.0, -3.0}, {0.25, 7.0}};
  std::vector<double> want(2);
  for (size_t c = 0; c < 2; ++c) {
    const double p01 = parts[0][c] + parts[1][c], p23 = parts[2][c] + parts[3][c];
    want[c] = (p01 + p23) + parts[4][c];
  }
  const std::vector<double> got = SumPartsTree(parts);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], want[0]);
  EXPECT_EQ(got[1], want[1]);
  double in_order = 0;
  for (const auto& p : parts) in_order += p[0];
  EXPECT_NE(got[0], in_order);  // 0.25 (each 1 lost to a 1e17 in the tree) against 1.25
  EXPECT_EQ(SumPartsTree({{2.0, 4.0}}), (std::vector<double>{2.0, 4.0}));
  EXPECT_TRUE(SumPartsTree({}).empty());
  EXPECT_THROW(SumPartsTree({{1.0}, {1.0, 2.0}}), std::invalid_argument);
}

// Keras' momentum, the unbiased batch variance (biased 0 for a single row).
TEST(BatchNormRunningTest, UpdateRunning) {
  const BatchMoments m{5, {1.5, -2.0}, {8.0, 0.4}};
  std::vector<float> rm = {0.25f, 1.0f}, rv = {2.0f, 0.5f};
  BatchNormUpdateRunning(m, 0.9f, rm.data(), rv.data());
  const double keep = 0.9f, take = 1.0 - 0.9f;
  EXPECT_EQ(rm[0], static_cast<float>(0.25 * keep + 1.5 * take));
  EXPECT_EQ(rm[1], static_cast<float>(1.0 * keep - 2.0 * take));
  EXPECT_EQ(rv[0], static_cast<float>(2.0 * keep + 8.0 / 4 * take));
  EXPECT_EQ(rv[1], static_cast<float>(0.5 * keep + 0.4 / 4 * take));
  const BatchMoments one{1, {3.0}, {0.0}};
  float mean = 1.f, var = 1.f;
  BatchNormUpdateRunning(one, 0.5f, &mean, &var);
  EXPECT_EQ(mean, 2.f);
  EXPECT_EQ(var, 0.5f);
}

TEST(BatchNormErrorsTest, BadSizes) {
  float v = 0, w = 0;
  EXPECT_THROW(BatchNormMoments(&v, -1, 3), std::invalid_argument);
  EXPECT_THROW(BatchNormTrainingForward(&v, nullptr, nullptr, 0, 1, 1e-3f, &v, &v, &w),
               std::invalid_argument);
  EXPECT_THROW(BatchNormStatistics(BatchMoments(), 1e-3f, &v, &w), std::invalid_argument);
}

// Forward and backward with 1, 2 and 7 threads: identical bits (many row blocks).
TEST_P(BatchNormTest, SameBitsForAnyThreadCount) {
  const Size sizes[] = {{20001, 17}, {3 * 26 * 26 + 1, 32}, {40001, 1}};
  for (const Size& s : sizes) {
    const int64_t n = s.rows * s.channels, C = s.channels;
    Buffer x(n, 1, 71, -1.f, 4.f), dy(n, 0, 72), gamma(C, 0, 73), beta(C, 0, 74);
    const int threads[] = {1, 2, 7};
    std::vector<float> y[3], mean[3], invstd[3], dx[3], dg[3], db[3];
    std::vector<double> m2[3];
    for (int k = 0; k < 3; ++k) {
      SetNumThreads(threads[k]);
      y[k].resize(n);
      mean[k].resize(C);
      invstd[k].resize(C);
      dx[k].resize(n);
      dg[k].resize(C);
      db[k].resize(C);
      m2[k] = BatchNormTrainingForward(x.data(), gamma.data(), beta.data(), s.rows, C, 1e-3f,
                                       y[k].data(), mean[k].data(), invstd[k].data())
                  .m2;
      BatchNormBackward(x.data(), dy.data(), mean[k].data(), invstd[k].data(), gamma.data(),
                        s.rows, C, true, dx[k].data(), dg[k].data(), db[k].data());
    }
    SetNumThreads(0);
    for (int k = 1; k < 3; ++k) {
      const std::string tag = Tag("threads", s, 0) + " " + std::to_string(threads[k]);
      EXPECT_EQ(m2[0], m2[k]) << tag;
      EXPECT_TRUE(SameBits(y[0].data(), y[k].data(), n)) << tag;
      EXPECT_TRUE(SameBits(mean[0].data(), mean[k].data(), C)) << tag;
      EXPECT_TRUE(SameBits(invstd[0].data(), invstd[k].data(), C)) << tag;
      EXPECT_TRUE(SameBits(dx[0].data(), dx[k].data(), n)) << tag;
      EXPECT_TRUE(SameBits(dg[0].data(), dg[k].data(), C)) << tag;
      EXPECT_TRUE(SameBits(db[0].data(), db[k].data(), C)) << tag;
    }
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
