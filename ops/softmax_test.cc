// Softmax kernels vs the scalar reference, on every compiled Highway target.
#include "ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "base/runtime.h"
#include "gtest/gtest.h"
#include "hwy/tests/hwy_gtest.h"
#include "ops/reference.h"
#include "ops/test_util.h"

namespace gradway {
namespace ops {
namespace {

using test::Buffer;
using test::ExpectAllNear;

struct Shape {
  int64_t rows, cols;
};

std::vector<Shape> Shapes() {
  std::vector<Shape> shapes;
  for (int64_t c = 1; c <= 33; ++c) shapes.push_back({3, c});
  for (Shape s : {Shape{1, 1}, Shape{7, 13}, Shape{127, 129}, Shape{200, 10},
                  Shape{2000, 10}, Shape{0, 5}}) {
    shapes.push_back(s);
  }
  return shapes;
}

std::string Tag(const char* what, Shape s, int mis) {
  return std::string(what) + " " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
         " misalign=" + std::to_string(mis);
}

// One-hot-ish probability targets: a random distribution per row.
Buffer Targets(Shape s, int mis, uint32_t seed) {
  Buffer t(s.rows * s.cols, mis, seed, 0.0f, 1.0f);
  for (int64_t r = 0; r < s.rows; ++r) {
    float sum = 0.0f;
    for (int64_t j = 0; j < s.cols; ++j) sum += t[r * s.cols + j];
    for (int64_t j = 0; j < s.cols; ++j) t[r * s.cols + j] /= sum;
  }
  return t;
}

std::vector<int32_t> Labels(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  for (auto& l : labels) l = static_cast<int32_t>(rng() % static_cast<uint32_t>(cols));
  return labels;
}

class SoftmaxTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(SoftmaxTest);

TEST_P(SoftmaxTest, ForwardAndBackward) {
  for (Shape s : Shapes()) {
    const int64_t n = s.rows * s.cols;
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(n, mis, 1, -20.0f, 20.0f), dy(n, 3 - mis, 2);
      Buffer got(n, (mis + 1) % 4, 3), want(n, 0, 3);
      Softmax(x.data(), got.data(), s.rows, s.cols);
      reference::Softmax(x.data(), want.data(), s.rows, s.cols);
      ExpectAllNear(want.data(), got.data(), n, 2e-6f, 1e-12f, Tag("Softmax", s, mis));
      Buffer y = want;
      SoftmaxBackward(y.data(), dy.data(), got.data(), s.rows, s.cols);
      reference::SoftmaxBackward(y.data(), dy.data(), want.data(), s.rows, s.cols);
      ExpectAllNear(want.data(), got.data(), n, 1e-5f, 1e-6f, Tag("SoftmaxBackward", s, mis));

      LogSoftmax(x.data(), got.data(), s.rows, s.cols);
      reference::LogSoftmax(x.data(), want.data(), s.rows, s.cols);
      ExpectAllNear(want.data(), got.data(), n, 1e-6f, 2e-6f, Tag("LogSoftmax", s, mis));
      Buffer y_log = want;
      LogSoftmaxBackward(y_log.data(), dy.data(), got.data(), s.rows, s.cols);
      reference::LogSoftmaxBackward(y_log.data(), dy.data(), want.data(), s.rows, s.cols);
      ExpectAllNear(want.data(), got.data(), n, 1e-5f, 1e-5f,
                    Tag("LogSoftmaxBackward", s, mis));
      // In place.
      Buffer xi = x;
      Softmax(xi.data(), xi.data(), s.rows, s.cols);
      reference::Softmax(x.data(), want.data(), s.rows, s.cols);
      ExpectAllNear(want.data(), xi.data(), n, 2e-6f, 1e-12f, Tag("Softmax in place", s, mis));
    }
  }
}

// MaskedSoftmax against a double loop over the kept entries: random masks with some rows
// kept entirely and some not at all (0 there), causal blocks of 1, 3 and 7 queries, with
// and without a mask, every shape, misaligned, in place; with every entry kept, Softmax's
// bits.
TEST_P(SoftmaxTest, MaskedSoftmaxAgainstAReference) {
  std::mt19937 rng(5);
  for (Shape s : Shapes()) {
    const int64_t n = s.rows * s.cols;
    for (int mis = 0; mis < 2; ++mis) {
      Buffer x(n, mis, 11, -20.0f, 20.0f), mask(n, 1 - mis, 12, 0.0f, 1.0f);
      for (int64_t r = 0; r < s.rows; ++r) {
        const int kind = r % 4;  // 0: all kept, 1: none, else random
        for (int64_t j = 0; j < s.cols; ++j) {
          float& m = mask[r * s.cols + j];
          m = kind == 0 ? 1.f : kind == 1 ? 0.f : (m < 0.4f ? 0.f : (rng() % 2 ? 1.f : -2.5f));
        }
      }
      for (int64_t causal : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{7}}) {
        for (bool with_mask : {true, false}) {
          const std::string tag = Tag("MaskedSoftmax", s, mis) + " causal=" +
                                  std::to_string(causal) + (with_mask ? " mask" : "");
          const float* mk = with_mask ? mask.data() : nullptr;
          std::vector<float> want(n, 0.f);
          for (int64_t r = 0; r < s.rows; ++r) {
            const auto kept = [&](int64_t j) {
              return (mk == nullptr || mk[r * s.cols + j] != 0.f) &&
                     (causal == 0 || j <= r % causal);
            };
            double m = -INFINITY, sum = 0;
            for (int64_t j = 0; j < s.cols; ++j) {
              if (kept(j)) m = std::max<double>(m, x[r * s.cols + j]);
            }
            for (int64_t j = 0; j < s.cols; ++j) {
              if (kept(j)) sum += std::exp(x[r * s.cols + j] - m);
            }
            for (int64_t j = 0; j < s.cols; ++j) {
              if (kept(j)) want[r * s.cols + j] = std::exp(x[r * s.cols + j] - m) / sum;
            }
          }
          Buffer got(n, (mis + 1) % 4, 13);
          MaskedSoftmax(x.data(), mk, causal, got.data(), s.rows, s.cols);
          ExpectAllNear(want.data(), got.data(), n, 2e-6f, 1e-12f, tag);
          std::vector<float> in_place = x.ToVector();
          MaskedSoftmax(in_place.data(), mk, causal, in_place.data(), s.rows, s.cols);
          EXPECT_TRUE(test::SameBits(got.data(), in_place.data(), n)) << tag << " in place";
        }
      }
      Buffer plain(n, 0, 14), all(n, 0, 15);
      Softmax(x.data(), plain.data(), s.rows, s.cols);
      MaskedSoftmax(x.data(), nullptr, 0, all.data(), s.rows, s.cols);
      EXPECT_TRUE(test::SameBits(plain.data(), all.data(), n)) << Tag("all kept", s, mis);
    }
  }
}

TEST_P(SoftmaxTest, CrossEntropy) {
  for (Shape s : Shapes()) {
    const int64_t n = s.rows * s.cols;
    // Gradients are O(1 / rows); p - 1 at the label cancels, so compare absolutely.
    const float gabs = 1e-6f / static_cast<float>(std::max<int64_t>(s.rows, 1));
    for (int mis = 0; mis < 4; ++mis) {
      Buffer x(n, mis, 4, -10.0f, 10.0f);
      Buffer t = Targets(s, 3 - mis, 5);
      Buffer got(n, (mis + 1) % 4, 6), want(n, 0, 6);
      const float loss = SoftmaxCrossEntropy(x.data(), t.data(), s.rows, s.cols, got.data());
      const float ref =
          reference::SoftmaxCrossEntropy(x.data(), t.data(), s.rows, s.cols, want.data());
      EXPECT_NEAR(ref, loss, 1e-5f * (std::fabs(ref) + 1)) << Tag("CE", s, mis);
      ExpectAllNear(want.data(), got.data(), n, 1e-5f, gabs, Tag("CE grad", s, mis));
      EXPECT_EQ(loss, SoftmaxCrossEntropy(x.data(), t.data(), s.rows, s.cols, nullptr));

      const std::vector<int32_t> labels = Labels(s.rows, s.cols, 7);
      const float sloss =
          SparseSoftmaxCrossEntropy(x.data(), labels.data(), s.rows, s.cols, got.data());
      const float sref = reference::SparseSoftmaxCrossEntropy(x.data(), labels.data(),
                                                              s.rows, s.cols, want.data());
      EXPECT_NEAR(sref, sloss, 1e-5f * (std::fabs(sref) + 1)) << Tag("SparseCE", s, mis);
      ExpectAllNear(want.data(), got.data(), n, 1e-5f, gabs, Tag("SparseCE grad", s, mis));
      EXPECT_EQ(sloss,
                SparseSoftmaxCrossEntropy(x.data(), labels.data(), s.rows, s.cols, nullptr));
      // dlogits may alias logits.
      Buffer xa = x;
      EXPECT_EQ(sloss,
                SparseSoftmaxCrossEntropy(xa.data(), labels.data(), s.rows, s.cols, xa.data()));
      ExpectAllNear(want.data(), xa.data(), n, 1e-5f, gabs, Tag("SparseCE alias", s, mis));
    }
  }
}

TEST_P(SoftmaxTest, CrossEntropyEdgeCases) {
  // Huge logits stay finite; one-hot dense targets equal the sparse version.
  const std::vector<float> x = {1000.0f, -1000.0f, 0.0f, 3.0f, 88.0f, 90.0f};
  const std::vector<float> t = {0, 1, 0, 0, 0, 1};
  const std::vector<int32_t> labels = {1, 2};
  std::vector<float> g1(6), g2(6);
  const float dense = SoftmaxCrossEntropy(x.data(), t.data(), 2, 3, g1.data());
  const float sparse = SparseSoftmaxCrossEntropy(x.data(), labels.data(), 2, 3, g2.data());
  EXPECT_NEAR(dense, (2000.0f + (90.0f + std::log1p(std::exp(-2.0f)) - 90.0f +
                                 std::exp(-87.0f))) / 2, 1e-3f);
  EXPECT_NEAR(dense, sparse, 1e-4f);
  ExpectAllNear(g1.data(), g2.data(), 6, 1e-6f, 1e-7f, "dense vs sparse grad");
  const std::vector<int32_t> bad = {1, 3};
  EXPECT_TRUE(std::isnan(SparseSoftmaxCrossEntropy(x.data(), bad.data(), 2, 3, nullptr)));
}

TEST_P(SoftmaxTest, CrossEntropyMeanDeterministicAcrossThreads) {
  const Shape s{5000, 37};
  Buffer x(s.rows * s.cols, 1, 8, -5.0f, 5.0f);
  Buffer t = Targets(s, 2, 9);
  const std::vector<int32_t> labels = Labels(s.rows, s.cols, 10);
  float loss[3], sloss[3];
  std::vector<float> grad[3];
  const int threads[] = {1, 2, 16};
  for (int k = 0; k < 3; ++k) {
    SetNumThreads(threads[k]);
    grad[k].resize(s.rows * s.cols);
    loss[k] = SoftmaxCrossEntropy(x.data(), t.data(), s.rows, s.cols, grad[k].data());
    sloss[k] = SparseSoftmaxCrossEntropy(x.data(), labels.data(), s.rows, s.cols, nullptr);
  }
  SetNumThreads(0);
  for (int k = 1; k < 3; ++k) {
    EXPECT_TRUE(test::SameBits(&loss[0], &loss[k], 1)) << threads[k];
    EXPECT_TRUE(test::SameBits(&sloss[0], &sloss[k], 1)) << threads[k];
    EXPECT_TRUE(test::SameBits(grad[0].data(), grad[k].data(), s.rows * s.cols));
  }
}

}  // namespace
}  // namespace ops
}  // namespace gradway
