// Float64 references for the 2-D convolution kernels (ops/conv.h): every product and sum
// in double, so that a kernel's error can be measured, not just bounded. The accuracy
// criterion of the convolution tests is MaxRelativeError: the largest deviation from the
// float64 result relative to that tensor's largest magnitude.
#ifndef GRADWAY_OPS_CONV_REFERENCE64_H_
#define GRADWAY_OPS_CONV_REFERENCE64_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/conv.h"
#include "ops/reference.h"

namespace gradway {
namespace ops {
namespace reference64 {

namespace internal {

// dy masked by relu_y (if not null), in double.
inline std::vector<double> MaskedGrad(const float* dy, const float* relu_y, int64_t n) {
  std::vector<double> g(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) g[i] = (relu_y && !(relu_y[i] > 0.f)) ? 0.0 : dy[i];
  return g;
}

}  // namespace internal

// y = conv(x, w) + bias (bias may be null), then max(y, 0) when `relu`.
inline std::vector<double> Conv2DForward(const float* x, const float* w, const float* bias,
                                         const Conv2DShape& s, bool relu = false) {
  const int64_t ny = s.n * s.out_h * s.out_w * s.cout;
  std::vector<double> y(static_cast<size_t>(ny));
  for (int64_t i = 0; i < ny; ++i) y[i] = bias ? bias[i % s.cout] : 0.0;
  const std::vector<double> wd(w, w + s.kh * s.kw * s.cin * s.cout);
  reference::ForEachPixelTap(s, [&](int64_t xo, int64_t wo, int64_t yo) {
    double* yp = y.data() + yo;
    for (int64_t ci = 0; ci < s.cin; ++ci) {
      const double xv = x[xo + ci];
      const double* wp = wd.data() + wo + ci * s.cout;
      for (int64_t co = 0; co < s.cout; ++co) yp[co] += xv * wp[co];
    }
  });
  if (relu) {
    for (double& v : y) v = v > 0 ? v : 0.0;
  }
  return y;
}

// dx for dy (masked by relu_y > 0 when relu_y is not null).
inline std::vector<double> Conv2DBackwardData(const float* dy, const float* w,
                                              const Conv2DShape& s,
                                              const float* relu_y = nullptr) {
  const int64_t ny = s.n * s.out_h * s.out_w * s.cout;
  const std::vector<double> g = internal::MaskedGrad(dy, relu_y, ny);
  // wt[tap][co][ci] = w[tap][ci][co], so the inner loop runs over contiguous ci.
  const int64_t taps = s.kh * s.kw;
  std::vector<double> wt(static_cast<size_t>(taps * s.cin * s.cout));
  for (int64_t t = 0; t < taps; ++t) {
    for (int64_t ci = 0; ci < s.cin; ++ci) {
      for (int64_t co = 0; co < s.cout; ++co) {
        wt[(t * s.cout + co) * s.cin + ci] = w[(t * s.cin + ci) * s.cout + co];
      }
    }
  }
  std::vector<double> dx(static_cast<size_t>(s.n * s.h * s.w * s.cin), 0.0);
  reference::ForEachPixelTap(s, [&](int64_t xo, int64_t wo, int64_t yo) {
    double* dxp = dx.data() + xo;
    for (int64_t co = 0; co < s.cout; ++co) {
      const double gv = g[yo + co];
      const double* wp = wt.data() + wo + co * s.cin;
      for (int64_t ci = 0; ci < s.cin; ++ci) dxp[ci] += gv * wp[ci];
    }
  });
  return dx;
}

// dw [kh, kw, cin, cout] and db [cout] for dy (masked by relu_y > 0 when not null).
inline void Conv2DBackwardWeights(const float* x, const float* dy, const Conv2DShape& s,
                                  const float* relu_y, std::vector<double>* dw,
                                  std::vector<double>* db) {
  const int64_t ny = s.n * s.out_h * s.out_w * s.cout;
  const std::vector<double> g = internal::MaskedGrad(dy, relu_y, ny);
  dw->assign(static_cast<size_t>(s.kh * s.kw * s.cin * s.cout), 0.0);
  db->assign(static_cast<size_t>(s.cout), 0.0);
  reference::ForEachPixelTap(s, [&](int64_t xo, int64_t wo, int64_t yo) {
    const double* gp = g.data() + yo;
    for (int64_t ci = 0; ci < s.cin; ++ci) {
      const double xv = x[xo + ci];
      double* dwp = dw->data() + wo + ci * s.cout;
      for (int64_t co = 0; co < s.cout; ++co) dwp[co] += xv * gp[co];
    }
  });
  for (int64_t i = 0; i < ny; ++i) (*db)[i % s.cout] += g[i];
}

// max_i |got[i] - want[i]| / max_i |want[i]| (the absolute error when want is all zero).
inline double MaxRelativeError(const float* got, const std::vector<double>& want) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - want[i]);
    err = std::isnan(e) ? INFINITY : std::max(err, e);
    scale = std::max(scale, std::fabs(want[i]));
  }
  return scale > 0 ? err / scale : err;
}

}  // namespace reference64
}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_CONV_REFERENCE64_H_
