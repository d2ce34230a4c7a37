#include "nn/init.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/error.h"

namespace gradway {
namespace nn {
namespace {

void FillUniform(Tensor& t, float lo, float hi, Generator& gen) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.Uniform(lo, hi);
}

// Normal(0, stddev) truncated to [-2 stddev, 2 stddev] by rejection.
void FillTruncatedNormal(Tensor& t, float stddev, Generator& gen) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    float z;
    do {
      z = gen.Normal(0.f, 1.f);
    } while (std::fabs(z) > 2.f);
    p[i] = z * stddev;
  }
}

// Keras VarianceScaling: mode 0 = fan_in, 1 = fan_avg.
Initializer VarianceScaling(double scale, bool fan_avg, bool uniform) {
  return [=](Tensor& t, const Fans& f, Generator& gen) {
    double fan = fan_avg ? (f.fan_in + f.fan_out) / 2.0 : static_cast<double>(f.fan_in);
    if (fan < 1) fan = 1;
    if (uniform) {
      float limit = static_cast<float>(std::sqrt(3.0 * scale / fan));
      FillUniform(t, -limit, limit, gen);
    } else {
      float stddev = static_cast<float>(std::sqrt(scale / fan) / 0.87962566103423978);
      FillTruncatedNormal(t, stddev, gen);
    }
  };
}

}  // namespace

Fans ComputeFans(const Shape& shape) {
  Fans f;
  if (shape.empty()) return f;
  if (shape.size() == 1) {
    f.fan_in = f.fan_out = shape[0];
  } else if (shape.size() == 2) {
    f.fan_in = shape[0];
    f.fan_out = shape[1];
  } else {
    int64_t receptive = 1;
    for (size_t i = 0; i + 2 < shape.size(); ++i) receptive *= shape[i];
    f.fan_in = shape[shape.size() - 2] * receptive;
    f.fan_out = shape[shape.size() - 1] * receptive;
  }
  return f;
}

Initializer Zeros() { return Constant(0.f); }
Initializer Ones() { return Constant(1.f); }
Initializer Constant(float value) {
  return [value](Tensor& t, const Fans&, Generator&) { t.Fill(value); };
}
Initializer RandomUniform(float lo, float hi) {
  GRADWAY_CHECK(lo <= hi, "RandomUniform: lo ", lo, " > hi ", hi);
  return [=](Tensor& t, const Fans&, Generator& gen) { FillUniform(t, lo, hi, gen); };
}
Initializer RandomNormal(float mean, float stddev) {
  GRADWAY_CHECK(stddev >= 0, "RandomNormal: negative stddev ", stddev);
  return [=](Tensor& t, const Fans&, Generator& gen) {
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.Normal(mean, stddev);
  };
}
Initializer GlorotUniform() { return VarianceScaling(1.0, true, true); }
Initializer GlorotNormal() { return VarianceScaling(1.0, true, false); }
Initializer HeUniform() { return VarianceScaling(2.0, false, true); }
Initializer HeNormal() { return VarianceScaling(2.0, false, false); }
Initializer LecunUniform() { return VarianceScaling(1.0, false, true); }
Initializer LecunNormal() { return VarianceScaling(1.0, false, false); }

Initializer Orthogonal(float gain) {
  GRADWAY_CHECK(gain >= 0, "Orthogonal: negative gain ", gain);
  return [gain](Tensor& t, const Fans&, Generator& gen) {
    if (t.numel() == 0) return;
    const int64_t cols = t.shape().empty() ? 1 : t.shape().back(), rows = t.numel() / cols;
    // A [m, n] standard normal matrix, m >= n, orthonormalised column by column (modified
    // Gram-Schmidt in double: R's diagonal comes out positive, Keras' sign correction).
    const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
    std::vector<double> a(m * n);
    for (double& v : a) v = gen.Normal(0.f, 1.f);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (int64_t i = 0; i < m; ++i) dot += a[i * n + j] * a[i * n + k];
        for (int64_t i = 0; i < m; ++i) a[i * n + j] -= dot * a[i * n + k];
      }
      double norm = 0;
      for (int64_t i = 0; i < m; ++i) norm += a[i * n + j] * a[i * n + j];
      norm = std::sqrt(norm);
      for (int64_t i = 0; i < m; ++i) a[i * n + j] /= norm;
    }
    float* p = t.data();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        // Tall: Q itself; wide: its transpose.
        const double q = rows >= cols ? a[r * n + c] : a[c * n + r];
        p[r * cols + c] = static_cast<float>(gain * q);
      }
    }
  };
}

Tensor MakeParameter(const Shape& shape, const Initializer& init, Generator& gen) {
  GRADWAY_CHECK(init != nullptr, "MakeParameter: empty initializer for shape ",
                ShapeToString(shape));
  Tensor t = Tensor::Zeros(shape);
  init(t, ComputeFans(shape), gen);
  return t;
}

}  // namespace nn
}  // namespace gradway
