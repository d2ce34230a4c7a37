// Tiny synthetic data sets and helpers for the nn tests (testonly).
#ifndef GRADWAY_NN_TEST_UTIL_H_
#define GRADWAY_NN_TEST_UTIL_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {
namespace nn {
namespace testing {

// 3 Gaussian blobs in 2-D (centres (0, 2), (-2, -1), (2, -1), stddev 0.5): x [n, 2],
// y one-hot [n, 3] (or class indices [n] when sparse).
std::pair<Tensor, Tensor> Blobs(int64_t n, uint64_t seed, bool sparse = false);

// size x size grey images with a horizontal (class 0) or vertical (class 1) bar plus
// noise: x [n, size, size, 1], y one-hot [n, 2].
std::pair<Tensor, Tensor> Bars(int64_t n, int64_t size, uint64_t seed);

// A fresh path under the test's temporary directory.
std::string TempPath(const std::string& name);

// The message of the gradway::Error `f` throws, or "(no error)".
std::string ErrorOf(const std::function<void()>& f);

// For the tests that embed PyTorch's numbers (nn/testdata/*_pytorch.py): a leaf tensor that
// requires grad holding `values`; an expectation that `got` holds `want` within 1e-5
// (`what` names it in failures); the scripts' loss weights w[i] = cos(a i + b).
Tensor Leaf(const std::vector<float>& values, const Shape& shape);
void ExpectNear(const Tensor& got, const std::vector<float>& want, const std::string& what);
Tensor CosineWeights(const Shape& shape, double a = 0.23, double b = 0.2);

}  // namespace testing
}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_TEST_UTIL_H_
