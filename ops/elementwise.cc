// Plain implementations (to be replaced by Highway + oneTBB kernels).
#include "ops/elementwise.h"

#include <cmath>

namespace gradway {
namespace ops {
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

}  // namespace ops
}  // namespace gradway
