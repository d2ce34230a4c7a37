#include "nn/test_util.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "autograd/generator.h"
#include "gtest/gtest.h"

namespace gradway {
namespace nn {
namespace testing {

std::pair<Tensor, Tensor> Blobs(int64_t n, uint64_t seed, bool sparse) {
  const float cx[3] = {0, -2, 2}, cy[3] = {2, -1, -1};
  Generator gen(seed);
  Tensor x = Tensor::Empty({n, 2});
  Tensor y = sparse ? Tensor::Zeros({n}) : Tensor::Zeros({n, 3});
  for (int64_t i = 0; i < n; ++i) {
    int c = static_cast<int>(i % 3);
    x.data()[2 * i] = cx[c] + gen.Normal(0, 0.5f);
    x.data()[2 * i + 1] = cy[c] + gen.Normal(0, 0.5f);
    if (sparse) {
      y.data()[i] = static_cast<float>(c);
    } else {
      y.data()[3 * i + c] = 1;
    }
  }
  return {x, y};
}

std::pair<Tensor, Tensor> Bars(int64_t n, int64_t size, uint64_t seed) {
  Generator gen(seed);
  Tensor x = Tensor::Empty({n, size, size, 1});
  Tensor y = Tensor::Zeros({n, 2});
  for (int64_t i = 0; i < n; ++i) {
    int c = static_cast<int>(i % 2);
    int64_t at = static_cast<int64_t>(gen.UniformInt(static_cast<uint64_t>(size)));
    float* img = x.data() + i * size * size;
    for (int64_t r = 0; r < size; ++r) {
      for (int64_t col = 0; col < size; ++col) {
        bool on = c == 0 ? r == at : col == at;
        img[r * size + col] = (on ? 1.f : 0.f) + gen.Uniform(0, 0.3f);
      }
    }
    y.data()[2 * i + c] = 1;
  }
  return {x, y};
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

Tensor Leaf(const std::vector<float>& values, const Shape& shape) {
  Tensor t = Tensor::FromVector(values, shape);
  t.SetRequiresGrad(true);
  return t;
}

void ExpectNear(const Tensor& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  const std::vector<float> g = got.ToVector();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-5) << what << " " << i;
}

Tensor CosineWeights(const Shape& shape, double a, double b) {
  Tensor w = Tensor::Empty(shape);
  for (int64_t i = 0; i < w.numel(); ++i) {
    w.data()[i] = static_cast<float>(std::cos(a * static_cast<double>(i) + b));
  }
  return w;
}

}  // namespace testing
}  // namespace nn
}  // namespace gradway
