// Layer-norm kernels vs a plain double-precision reference (below), on every compiled
// Highway target, at odd sizes (channels 1, 3, 17, 33, 100; rows 1, 7 and several row
// blocks), misaligned buffers, dx over dy, and bit for bit across thread counts.
#include "ops/layer_norm.h"

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

struct Size {
  int64_t rows, channels;
};

std::vector<Size> Sizes() {
  std::vector<Size> sizes;
  for (int64_t c : {1, 3, 17, 33, 100}) {
    for (int64_t rows : {int64_t{1}, int64_t{7}, 2 * LayerNormRowBlock(c) + 13}) {
      sizes.push_back({rows, c});
    }
  }
  return sizes;
}

std::string Tag(const char* what, const Size& s) {
  return std::string(what) + " [" + std::to_string(s.rows) + ", " +
         std::to_string(s.channels) + "]";
}

// ---- The scalar reference, in double: the specification of the kernels.
struct RefOut {
  std::vector<float> y, mean, invstd, dx, dgamma, dbeta;
};

RefOut Reference(const float* x, const float* dy, const float* gamma, const float* beta,
                 int64_t rows, int64_t C, double eps) {
  RefOut o;
  o.y.resize(rows * C);
  o.dx.resize(rows * C);
  o.mean.resize(rows);
  o.invstd.resize(rows);
  std::vector<double> dg(C, 0.0), db(C, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    double m = 0, v = 0;
    for (int64_t c = 0; c < C; ++c) m += xr[c];
    m /= C;
    for (int64_t c = 0; c < C; ++c) v += (xr[c] - m) * (xr[c] - m);
    v /= C;
    const double s = 1.0 / std::sqrt(v + eps);
    o.mean[r] = static_cast<float>(m);
    o.invstd[r] = static_cast<float>(s);
    double a = 0, b = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (xr[c] - m) * s, g = gamma ? gamma[c] : 1.0;
      o.y[r * C + c] = static_cast<float>(xhat * g + (beta ? beta[c] : 0.0));
      const double gy = dy[r * C + c];
      a += gy * g;
      b += gy * g * xhat;
      dg[c] += gy * xhat;
      db[c] += gy;
    }
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (xr[c] - m) * s, g = gamma ? gamma[c] : 1.0;
      o.dx[r * C + c] = static_cast<float>(s * (dy[r * C + c] * g - a / C - xhat * b / C));
    }
  }
  o.dgamma.assign(dg.begin(), dg.end());
  o.dbeta.assign(db.begin(), db.end());
  return o;
}

class LayerNormTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(LayerNormTest);

TEST_P(LayerNormTest, ForwardAndBackwardMatchTheReference) {
  for (const Size& s : Sizes()) {
    const int64_t n = s.rows * s.channels, C = s.channels;
    Buffer x(n, 1, 11, -2.f, 3.f), dy(n, 2, 12), gamma(C, 3, 13, 0.5f, 2.f), beta(C, 1, 14);
    for (bool affine : {true, false}) {
      const float* g = affine ? gamma.data() : nullptr;
      const float* b = affine ? beta.data() : nullptr;
      const std::string tag = Tag(affine ? "affine" : "plain", s);
      const RefOut want = Reference(x.data(), dy.data(), g, b, s.rows, C, 1e-3);
      Buffer y(n, 3, 15), mean(s.rows, 1, 16), invstd(s.rows, 2, 17);
      LayerNormForward(x.data(), g, b, s.rows, C, 1e-3f, y.data(), mean.data(), invstd.data());
      // The row mean is a float (as PyTorch's): x - mean is off by up to half an ulp of
      // the mean (about 1.2e-7 * 3 here), times invstd (at most 1 / sqrt(1e-3)).
      ExpectAllNear(want.y.data(), y.data(), n, 1e-5f, 1.5e-5f, tag + " y");
      ExpectAllNear(want.mean.data(), mean.data(), s.rows, 1e-5f, 2e-6f, tag + " mean");
      ExpectAllNear(want.invstd.data(), invstd.data(), s.rows, 1e-5f, 0.f, tag + " invstd");
      Buffer dx(n, 1, 18), dg(C, 2, 19), db(C, 3, 20);
      LayerNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), g, s.rows, C,
                        dx.data(), dg.data(), db.data());
      // dx's terms cancel (its row sum is 0): judged against dy's scale.
      ExpectAllNear(want.dx.data(), dx.data(), n, 1e-4f, 2e-5f, tag + " dx");
      const float sum_tol = 1e-5f * std::sqrt(static_cast<float>(s.rows));
      ExpectAllNear(want.dgamma.data(), dg.data(), C, 1e-5f, sum_tol, tag + " dgamma");
      ExpectAllNear(want.dbeta.data(), db.data(), C, 1e-5f, sum_tol, tag + " dbeta");
      // Each output alone, and dx written over dy: the same bits.
      Buffer dx2(n, 0, 21), dg2(C, 0, 22), db2(C, 0, 23);
      LayerNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), g, s.rows, C,
                        dx2.data(), nullptr, nullptr);
      LayerNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), g, s.rows, C, nullptr,
                        dg2.data(), nullptr);
      LayerNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), g, s.rows, C, nullptr,
                        nullptr, db2.data());
      EXPECT_TRUE(SameBits(dx.data(), dx2.data(), n)) << tag;
      EXPECT_TRUE(SameBits(dg.data(), dg2.data(), C)) << tag;
      EXPECT_TRUE(SameBits(db.data(), db2.data(), C)) << tag;
      std::vector<float> over = dy.ToVector();
      LayerNormBackward(x.data(), over.data(), mean.data(), invstd.data(), g, s.rows, C,
                        over.data(), nullptr, nullptr);
      EXPECT_TRUE(SameBits(dx.data(), over.data(), n)) << tag << " over dy";
      // y written over x.
      std::vector<float> in_place = x.ToVector();
      LayerNormForward(in_place.data(), g, b, s.rows, C, 1e-3f, in_place.data(), mean.data(),
                       invstd.data());
      EXPECT_TRUE(SameBits(y.data(), in_place.data(), n)) << tag << " over x";
    }
  }
}

// A row of equal values: variance 0, so y = beta and invstd = 1 / sqrt(epsilon).
TEST_P(LayerNormTest, ConstantRows) {
  std::vector<float> x(2 * 5, 7.f), y(10), mean(2), invstd(2);
  const std::vector<float> beta = {1, 2, 3, 4, 5};
  LayerNormForward(x.data(), nullptr, beta.data(), 2, 5, 0.25f, y.data(), mean.data(),
                   invstd.data());
  EXPECT_EQ(mean[0], 7.f);
  EXPECT_EQ(invstd[1], 2.f);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(y[i], beta[i % 5]);
}

// Forward and backward with 1, 2 and 7 threads: identical bits (many row blocks).
TEST_P(LayerNormTest, SameBitsForAnyThreadCount) {
  for (const Size& s : {Size{20001, 17}, Size{3001, 512}, Size{40001, 1}}) {
    const int64_t n = s.rows * s.channels, C = s.channels;
    Buffer x(n, 1, 31, -1.f, 4.f), dy(n, 0, 32), gamma(C, 0, 33), beta(C, 0, 34);
    std::vector<float> first;
    for (int threads : {1, 2, 7}) {
      SetNumThreads(threads);
      std::vector<float> y(n), mean(s.rows), invstd(s.rows), dx(n), dg(C), db(C);
      LayerNormForward(x.data(), gamma.data(), beta.data(), s.rows, C, 1e-3f, y.data(),
                       mean.data(), invstd.data());
      LayerNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), gamma.data(), s.rows,
                        C, dx.data(), dg.data(), db.data());
      std::vector<float> all = y;
      for (const auto* v : {&mean, &invstd, &dx, &dg, &db}) {
        all.insert(all.end(), v->begin(), v->end());
      }
      if (first.empty()) first = all;
      EXPECT_EQ(all, first) << Tag("threads", s) << " " << threads;
    }
    SetNumThreads(0);
  }
}

TEST(LayerNormErrorsTest, BadSizes) {
  float v = 0, w = 0, u = 0;
  EXPECT_THROW(LayerNormForward(&v, nullptr, nullptr, -1, 3, 1e-3f, &v, &w, &u),
               std::invalid_argument);
  EXPECT_THROW(LayerNormForward(&v, nullptr, nullptr, 1, 0, 1e-3f, &v, &w, &u),
               std::invalid_argument);
  EXPECT_THROW(LayerNormForward(&v, nullptr, nullptr, 1, 1, 0.f, &v, &w, &u),
               std::invalid_argument);
  EXPECT_THROW(LayerNormBackward(&v, &v, &w, &u, nullptr, 2, -1, &v, nullptr, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace ops
}  // namespace gradway
