// Scalar reference kernels (see reference.h).
#include "ops/reference.h"

#include <cmath>

namespace gradway {
namespace ops {
namespace reference {
namespace {

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
    }
  }
}

void Pow(const float* x, float p, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::pow(x[i], p);
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

void MatMul(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
            bool trans_a, bool trans_b, const float* bias, bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float s = 0.f;
      for (int64_t p = 0; p < k; ++p) {
        const float av = trans_a ? a[p * m + i] : a[i * k + p];
        const float bv = trans_b ? b[j * k + p] : b[p * n + j];
        s += av * bv;
      }
      if (bias) s += bias[j];
      c[i * n + j] = accumulate ? c[i * n + j] + s : s;
    }
  }
}

namespace {

// Calls f(x_index, w_index, y_index) for every (output element, tap) pair whose input
// tap lies inside the image; indices are flat offsets into x, w and y.
template <typename F>
void ForEachTap(const Conv2DShape& s, F&& f) {
  for (int64_t b = 0; b < s.n; ++b) {
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        for (int64_t ky = 0; ky < s.kh; ++ky) {
          const int64_t iy = oy * s.stride_h - s.pad_top + ky;
          if (iy < 0 || iy >= s.h) continue;
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const int64_t ix = ox * s.stride_w - s.pad_left + kx;
            if (ix < 0 || ix >= s.w) continue;
            for (int64_t ci = 0; ci < s.cin; ++ci) {
              for (int64_t co = 0; co < s.cout; ++co) {
                f(((b * s.h + iy) * s.w + ix) * s.cin + ci,
                  ((ky * s.kw + kx) * s.cin + ci) * s.cout + co,
                  ((b * s.out_h + oy) * s.out_w + ox) * s.cout + co);
              }
            }
          }
        }
      }
    }
  }
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
