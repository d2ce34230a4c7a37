// Scalar reference kernels (see reference.h).
#include "ops/reference.h"

#include <algorithm>
#include <cmath>

#include "base/splitmix.h"

namespace gradway {
namespace ops {
namespace reference {
namespace {

// GELU's parts in double (the kernels' approximations are compared with these).
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluKappa = 0.044715;

double GeluCdf(double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }
double GeluPdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
// (1 + tanh(u)) / 2 and u'.
double GeluTanhCdf(double x) {
  return 0.5 * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluKappa * x * x * x)));
}
double GeluTanhInnerDerivative(double x) { return kSqrt2OverPi * (1.0 + 3.0 * kGeluKappa * x * x); }

inline float Apply(BinaryOp op, float x, float y) {
  switch (op) {
    case BinaryOp::kAdd: return x + y;
    case BinaryOp::kSub: return x - y;
    case BinaryOp::kMul: return x * y;
    case BinaryOp::kDiv: return x / y;
  }
  return 0.f;
}

}  // namespace

void Binary(BinaryOp op, const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = Apply(op, a[i], b[i]);
}

void BroadcastBinary(BinaryOp op, const float* a, const std::vector<int64_t>& a_shape,
                     const float* b, const std::vector<int64_t>& b_shape, float* out,
                     const std::vector<int64_t>& out_shape) {
  const int rank = static_cast<int>(out_shape.size());
  int64_t total = 1;
  for (int64_t d : out_shape) total *= d;
  std::vector<int64_t> as(rank), bs(rank);
  int64_t sa = 1, sb = 1;
  for (int d = rank - 1; d >= 0; --d) {
    as[d] = a_shape[d] == 1 ? 0 : sa;
    bs[d] = b_shape[d] == 1 ? 0 : sb;
    sa *= a_shape[d];
    sb *= b_shape[d];
  }
  std::vector<int64_t> idx(rank, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < total; ++i) {
    out[i] = Apply(op, a[ia], b[ib]);
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[d] < out_shape[d]) {
        ia += as[d];
        ib += bs[d];
        break;
      }
      ia -= as[d] * (out_shape[d] - 1);
      ib -= bs[d] * (out_shape[d] - 1);
      idx[d] = 0;
    }
  }
}

void Unary(UnaryOp op, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    switch (op) {
      case UnaryOp::kNeg: y[i] = -v; break;
      case UnaryOp::kExp: y[i] = std::exp(v); break;
      case UnaryOp::kLog: y[i] = std::log(v); break;
      case UnaryOp::kSqrt: y[i] = std::sqrt(v); break;
      case UnaryOp::kRelu: y[i] = v > 0.f ? v : 0.f; break;
      case UnaryOp::kSigmoid: y[i] = 1.f / (1.f + std::exp(-v)); break;
      case UnaryOp::kTanh: y[i] = std::tanh(v); break;
      case UnaryOp::kGelu: y[i] = static_cast<float>(GeluCdf(v) * v); break;
      case UnaryOp::kGeluTanh: y[i] = static_cast<float>(GeluTanhCdf(v) * v); break;
      case UnaryOp::kSilu: y[i] = v / (1.f + std::exp(-v)); break;
      case UnaryOp::kHardSigmoid:
        y[i] = std::isnan(v) ? v : std::min(std::max(v + 3.f, 0.f), 6.f) / 6.f;
        break;
    }
  }
}

void Pow(const float* x, float p, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::pow(x[i], p);
}

void GatherBytesAsFloat(const uint8_t* base, const int64_t* rows, int64_t count,
                        int64_t row_size, float divisor, float* out) {
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t k = 0; k < row_size; ++k) {
      out[i * row_size + k] = static_cast<float>(base[rows[i] * row_size + k]) / divisor;
    }
  }
}

void Scale(const float* x, float alpha, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

void Axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void AddScalar(const float* x, float alpha, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] + alpha;
}

void ReluBackward(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
}

void SigmoidBackward(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]);
}

void TanhBackward(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.f - y[i] * y[i]);
}

void LeakyRelu(const float* x, float alpha, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : alpha * x[i];
}

void Elu(const float* x, float alpha, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] <= 0.f ? alpha * std::expm1(x[i]) : x[i];
}

void LeakyReluBackward(const float* x, float alpha, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.f ? dy[i] : alpha * dy[i];
}

void EluBackward(const float* x, float alpha, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] <= 0.f ? dy[i] * alpha * std::exp(x[i]) : dy[i];
}

void GeluBackward(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    dx[i] = static_cast<float>(dy[i] * (GeluCdf(v) + v * GeluPdf(v)));
  }
}

void GeluTanhBackward(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i], s = GeluTanhCdf(v);  // (1 + t) / 2; (1 - t^2) / 2 = 2 s (1 - s)
    dx[i] = static_cast<float>(dy[i] * (s + v * 2.0 * s * (1.0 - s) * GeluTanhInnerDerivative(v)));
  }
}

void SiluBackward(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.f / (1.f + std::exp(-x[i]));
    dx[i] = dy[i] * s * (1.f + x[i] * (1.f - s));
  }
}

void HardSigmoidBackward(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = (x[i] > -3.f && x[i] < 3.f) ? dy[i] * (1.f / 6.f) : 0.f;
}

float Sum(const float* x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return static_cast<float>(s);
}

void SumAxis(const float* x, int64_t outer, int64_t axis, int64_t inner, float* out) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      float s = 0.f;
      for (int64_t a = 0; a < axis; ++a) s += x[(o * axis + a) * inner + i];
      out[o * inner + i] = s;
    }
  }
}

void SumToShape(const float* x, const std::vector<int64_t>& x_shape, float* out,
                const std::vector<int64_t>& out_shape) {
  const int rank = static_cast<int>(x_shape.size());
  int64_t total = 1, out_total = 1;
  for (int d = 0; d < rank; ++d) {
    total *= x_shape[d];
    out_total *= out_shape[d];
  }
  for (int64_t i = 0; i < out_total; ++i) out[i] = 0.f;
  std::vector<int64_t> os(rank);
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    os[d] = out_shape[d] == 1 ? 0 : s;
    s *= out_shape[d];
  }
  std::vector<int64_t> idx(rank, 0);
  int64_t io = 0;
  for (int64_t i = 0; i < total; ++i) {
    out[io] += x[i];
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[d] < x_shape[d]) {
        io += os[d];
        break;
      }
      io -= os[d] * (x_shape[d] - 1);
      idx[d] = 0;
    }
  }
}

// ---- end of elementwise ----

// ---- Matrix multiplication and 2-D convolution ----

void MatMul(const Mat& a, const Mat& b, const OutMat& c, const MatMulOptions& options) {
  const int64_t m = c.rows, n = c.cols, k = a.op_cols();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float s = 0.f;
      for (int64_t p = 0; p < k; ++p) {
        const float av = a.transposed ? a.data[p * m + i] : a.data[i * k + p];
        const float bv = b.transposed ? b.data[j * k + p] : b.data[p * n + j];
        s += av * bv;
      }
      if (options.bias) s += options.bias[j];
      float& out = c.data[i * n + j];
      out = options.accumulate ? out + s : s;
      if (options.epilogue == Epilogue::kRelu) out = out > 0.f ? out : 0.f;
    }
  }
}

namespace {

// Calls f(x_index, w_index, y_index) for every (output element, tap) pair whose input
// tap lies inside the image; indices are flat offsets into x, w and y.
template <typename F>
void ForEachTap(const Conv2DShape& s, F&& f) {
  ForEachPixelTap(s, [&](int64_t xo, int64_t wo, int64_t yo) {
    for (int64_t ci = 0; ci < s.cin; ++ci) {
      for (int64_t co = 0; co < s.cout; ++co) f(xo + ci, wo + ci * s.cout + co, yo + co);
    }
  });
}

}  // namespace

void Conv2DForward(const float* x, const float* w, const float* bias, float* y,
                   const Conv2DShape& s) {
  const int64_t ny = s.n * s.out_h * s.out_w * s.cout;
  for (int64_t i = 0; i < ny; ++i) y[i] = bias ? bias[i % s.cout] : 0.f;
  ForEachTap(s, [&](int64_t xi, int64_t wi, int64_t yi) { y[yi] += x[xi] * w[wi]; });
}

void Conv2DBackwardData(const float* dy, const float* w, float* dx, const Conv2DShape& s) {
  const int64_t nx = s.n * s.h * s.w * s.cin;
  for (int64_t i = 0; i < nx; ++i) dx[i] = 0.f;
  ForEachTap(s, [&](int64_t xi, int64_t wi, int64_t yi) { dx[xi] += dy[yi] * w[wi]; });
}

void Conv2DBackwardWeights(const float* x, const float* dy, float* dw, float* db,
                           const Conv2DShape& s) {
  const int64_t nw = s.kh * s.kw * s.cin * s.cout;
  for (int64_t i = 0; i < nw; ++i) dw[i] = 0.f;
  ForEachTap(s, [&](int64_t xi, int64_t wi, int64_t yi) { dw[wi] += x[xi] * dy[yi]; });
  if (db) {
    for (int64_t co = 0; co < s.cout; ++co) db[co] = 0.f;
    const int64_t ny = s.n * s.out_h * s.out_w * s.cout;
    for (int64_t i = 0; i < ny; ++i) db[i % s.cout] += dy[i];
  }
}

// ---- end of matmul and conv ----

}  // namespace reference
}  // namespace ops
}  // namespace gradway

// ---- Softmax, pooling, dropout, optimizers ----

#include <algorithm>
#include <limits>

namespace gradway {
namespace ops {
namespace reference {

void Softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = xr[0];
    for (int64_t j = 1; j < cols; ++j) m = std::max(m, xr[j]);
    double s = 0.0;
    for (int64_t j = 0; j < cols; ++j) s += std::exp(xr[j] - m);
    for (int64_t j = 0; j < cols; ++j) yr[j] = static_cast<float>(std::exp(xr[j] - m) / s);
  }
}

void LogSoftmax(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = xr[0];
    for (int64_t j = 1; j < cols; ++j) m = std::max(m, xr[j]);
    double s = 0.0;
    for (int64_t j = 0; j < cols; ++j) s += std::exp(xr[j] - m);
    const float lse = static_cast<float>(m + std::log(s));
    for (int64_t j = 0; j < cols; ++j) yr[j] = xr[j] - lse;
  }
}

void SoftmaxBackward(const float* y, const float* dy, float* dx, int64_t rows,
                     int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    double s = 0.0;
    for (int64_t j = 0; j < cols; ++j) s += double(dy[o + j]) * y[o + j];
    for (int64_t j = 0; j < cols; ++j) dx[o + j] = y[o + j] * (dy[o + j] - float(s));
  }
}

void LogSoftmaxBackward(const float* y_log, const float* dy, float* dx, int64_t rows,
                        int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    double s = 0.0;
    for (int64_t j = 0; j < cols; ++j) s += dy[o + j];
    for (int64_t j = 0; j < cols; ++j) {
      dx[o + j] = dy[o + j] - std::exp(y_log[o + j]) * float(s);
    }
  }
}

float SoftmaxCrossEntropy(const float* logits, const float* targets, int64_t rows,
                          int64_t cols, float* dlogits) {
  if (rows <= 0) return 0.0f;
  std::vector<float> logp(static_cast<size_t>(cols));
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* t = targets + r * cols;
    LogSoftmax(logits + r * cols, logp.data(), 1, cols);
    double loss = 0.0, tsum = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      loss -= double(t[j]) * logp[j];
      tsum += t[j];
    }
    total += loss;
    if (dlogits != nullptr) {
      for (int64_t j = 0; j < cols; ++j) {
        dlogits[r * cols + j] =
            static_cast<float>((std::exp(double(logp[j])) * tsum - t[j]) / double(rows));
      }
    }
  }
  return static_cast<float>(total / double(rows));
}

float SparseSoftmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t rows,
                                int64_t cols, float* dlogits) {
  if (rows <= 0) return 0.0f;
  std::vector<float> logp(static_cast<size_t>(cols));
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    LogSoftmax(logits + r * cols, logp.data(), 1, cols);
    const int32_t label = labels[r];
    const bool valid = label >= 0 && label < cols;
    total += valid ? -double(logp[label]) : std::numeric_limits<double>::quiet_NaN();
    if (dlogits != nullptr) {
      for (int64_t j = 0; j < cols; ++j) {
        dlogits[r * cols + j] = static_cast<float>(
            (std::exp(double(logp[j])) - (j == label ? 1.0 : 0.0)) / double(rows));
      }
    }
  }
  return static_cast<float>(total / double(rows));
}

namespace {

// Visits every (output index, in-bounds input cell index) pair of a pooling in output
// order, window cells in row-major order; `start(o, count)` is called before each window.
template <class Start, class Visit>
void ForEachWindowCell(const Pool2DShape& s, const Start& start, const Visit& visit) {
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t oh = 0; oh < s.out_h; ++oh) {
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        const int64_t h0 = std::max<int64_t>(0, oh * s.stride_h - s.pad_top);
        const int64_t h1 = std::min(s.h, oh * s.stride_h - s.pad_top + s.pool_h);
        const int64_t w0 = std::max<int64_t>(0, ow * s.stride_w - s.pad_left);
        const int64_t w1 = std::min(s.w, ow * s.stride_w - s.pad_left + s.pool_w);
        for (int64_t ch = 0; ch < s.c; ++ch) {
          const int64_t o = ((n * s.out_h + oh) * s.out_w + ow) * s.c + ch;
          start(o, std::max<int64_t>(0, h1 - h0) * std::max<int64_t>(0, w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih) {
            for (int64_t iw = w0; iw < w1; ++iw) {
              visit(o, ((n * s.h + ih) * s.w + iw) * s.c + ch);
            }
          }
        }
      }
    }
  }
}

}  // namespace

void MaxPool2DForward(const float* x, float* y, int32_t* argmax, const Pool2DShape& s) {
  std::vector<char> seen(static_cast<size_t>(s.n * s.out_h * s.out_w * s.c), 0);
  ForEachWindowCell(
      s,
      [&](int64_t o, int64_t) {
        y[o] = 0.0f;
        if (argmax != nullptr) argmax[o] = -1;
      },
      [&](int64_t o, int64_t i) {
        if (!seen[o] || x[i] > y[o]) {
          seen[o] = 1;
          y[o] = x[i];
          if (argmax != nullptr) argmax[o] = static_cast<int32_t>(i);
        }
      });
}

void MaxPool2DBackward(const float* dy, const int32_t* argmax, float* dx,
                       const Pool2DShape& s) {
  std::fill(dx, dx + s.n * s.h * s.w * s.c, 0.0f);
  const int64_t outputs = s.n * s.out_h * s.out_w * s.c;
  for (int64_t o = 0; o < outputs; ++o) {
    if (argmax[o] >= 0) dx[argmax[o]] += dy[o];
  }
}

void AvgPool2DForward(const float* x, float* y, const Pool2DShape& s) {
  std::vector<int64_t> count(static_cast<size_t>(s.n * s.out_h * s.out_w * s.c), 0);
  ForEachWindowCell(
      s,
      [&](int64_t o, int64_t c) {
        y[o] = 0.0f;
        count[o] = c;
      },
      [&](int64_t o, int64_t i) { y[o] += x[i]; });
  for (size_t o = 0; o < count.size(); ++o) {
    if (count[o] > 0) y[o] /= static_cast<float>(count[o]);
  }
}

void AvgPool2DBackward(const float* dy, float* dx, const Pool2DShape& s) {
  std::fill(dx, dx + s.n * s.h * s.w * s.c, 0.0f);
  int64_t count = 0;
  ForEachWindowCell(
      s, [&](int64_t, int64_t c) { count = c; },
      [&](int64_t o, int64_t i) { dx[i] += dy[o] / static_cast<float>(count); });
}

void GlobalAvgPool2DForward(const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      float sum = 0.0f;
      for (int64_t i = 0; i < hw; ++i) sum += x[(b * hw + i) * c + ch];
      y[b * c + ch] = sum / static_cast<float>(hw);
    }
  }
}

void GlobalAvgPool2DBackward(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c) {
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t i = 0; i < hw; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        dx[(b * hw + i) * c + ch] = dy[b * c + ch] / static_cast<float>(hw);
      }
    }
  }
}

void GlobalMaxPool2DForward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t hw,
                            int64_t c) {
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      float best = x[b * hw * c + ch];
      int32_t at = 0;
      for (int64_t i = 1; i < hw; ++i) {
        const float v = x[(b * hw + i) * c + ch];
        if (v > best || std::isnan(v)) {
          best = v;
          at = static_cast<int32_t>(i);
        }
      }
      y[b * c + ch] = best;
      if (argmax != nullptr) argmax[b * c + ch] = at;
    }
  }
}

void GlobalMaxPool2DBackward(const float* dy, const int32_t* argmax, float* dx, int64_t n,
                             int64_t hw, int64_t c) {
  std::fill(dx, dx + n * hw * c, 0.0f);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      dx[(b * hw + argmax[b * c + ch]) * c + ch] += dy[b * c + ch];
    }
  }
}

namespace {

uint32_t Fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

}  // namespace

uint32_t DropoutHash(uint64_t seed, uint64_t i) {
  const uint64_t key = SplitMix64(seed ^ SplitMix64(i >> 32));
  const uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  const uint32_t lo = static_cast<uint32_t>(i);
  return Fmix32(Fmix32((lo * 0x9E3779B9u) ^ k0) + k1);
}

uint32_t DropoutThreshold(float rate) {
  const double t = std::floor(double(rate) * 16777216.0 + 0.5);
  return static_cast<uint32_t>(std::min(t, 16777216.0));
}

void DropoutForward(const float* x, float* y, uint8_t* mask, int64_t n, float rate,
                    uint64_t seed) {
  const float scale = 1.0f / (1.0f - rate);
  const uint32_t threshold = DropoutThreshold(rate);
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = rate == 0.0f || (DropoutHash(seed, i) >> 8) >= threshold;
    mask[i] = keep ? 1 : 0;
    y[i] = rate == 0.0f ? x[i] : (keep ? x[i] * scale : 0.0f);
  }
}

void DropoutBackward(const float* dy, const uint8_t* mask, float* dx, int64_t n,
                     float rate) {
  const float scale = 1.0f / (1.0f - rate);
  for (int64_t i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

void AdamUpdate(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamParams& p) {
  const double t = static_cast<double>(p.step);
  const float lr_t = static_cast<float>(p.lr * std::sqrt(1.0 - std::pow(double(p.beta2), t)) /
                                        (1.0 - std::pow(double(p.beta1), t)));
  const float decay = p.lr * p.weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    if (p.weight_decay != 0.0f) param[i] -= decay * param[i];
    m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g;
    v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
    param[i] -= lr_t * m[i] / (std::sqrt(v[i]) + p.epsilon);
  }
}

void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n, float lr,
               float momentum, bool nesterov) {
  SgdParams p;
  p.lr = lr;
  p.momentum = momentum;
  p.nesterov = nesterov;
  reference::SgdUpdate(param, grad, velocity, n, p);
}

void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n,
               const SgdParams& p) {
  const float decay = p.lr * p.weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    if (p.weight_decay != 0.0f) param[i] -= decay * param[i];
    if (p.momentum == 0.0f) {
      param[i] -= p.lr * grad[i];
      continue;
    }
    velocity[i] = p.momentum * velocity[i] - p.lr * grad[i];
    param[i] += p.nesterov ? p.momentum * velocity[i] - p.lr * grad[i] : velocity[i];
  }
}

double SumOfSquares(const float* x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void ClipByValue(const float* x, float limit, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    y[i] = x[i] > limit ? limit : x[i] < -limit ? -limit : x[i];
  }
}

// ---- end of softmax, pooling, dropout, optimizers ----

namespace {

// Calls f(index) for every multi-index of `shape` in row-major order.
template <class F>
void ForEachIndex(const std::vector<int64_t>& shape, const F& f) {
  for (int64_t d : shape) {
    if (d == 0) return;
  }
  std::vector<int64_t> index(shape.size(), 0);
  while (true) {
    f(index);
    int d = static_cast<int>(shape.size()) - 1;
    for (; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// The row-major offset of `index` in `shape`.
int64_t Offset(const std::vector<int64_t>& index, const std::vector<int64_t>& shape) {
  int64_t offset = 0;
  for (size_t d = 0; d < shape.size(); ++d) offset = offset * shape[d] + index[d];
  return offset;
}

}  // namespace

void PadForward(const float* x, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                float value, float* y) {
  std::vector<int64_t> y_shape(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) y_shape[d] = shape[d] + before[d] + after[d];
  ForEachIndex(y_shape, [&](const std::vector<int64_t>& i) {
    std::vector<int64_t> source(i.size());
    bool inside = true;
    for (size_t d = 0; d < i.size(); ++d) {
      source[d] = i[d] - before[d];
      inside = inside && source[d] >= 0 && source[d] < shape[d];
    }
    y[Offset(i, y_shape)] = inside ? x[Offset(source, shape)] : value;
  });
}

void PadBackward(const float* dy, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                 float* dx) {
  std::vector<int64_t> y_shape(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) y_shape[d] = shape[d] + before[d] + after[d];
  ForEachIndex(shape, [&](const std::vector<int64_t>& i) {
    std::vector<int64_t> target(i.size());
    for (size_t d = 0; d < i.size(); ++d) target[d] = i[d] + before[d];
    dx[Offset(i, shape)] = dy[Offset(target, y_shape)];
  });
}

}  // namespace reference
}  // namespace ops
}  // namespace gradway
