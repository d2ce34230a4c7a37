// Recurrent kernels (ops/recurrent.h): the time loop around ops::MatMul and fused gate
// kernels (Highway SIMD along the units, dynamic dispatch; parallel over rows through
// ops/parallel.h). The scalar specification is the double-precision reference in
// ops/recurrent_test.cc.
#include "ops/recurrent.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/matmul.h"
#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/recurrent.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

// Rows per parallel task of a step's gate kernel (about kElementGrain elements).
int64_t RowGrain(int64_t row_width) {
  return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(row_width, 1));
}

// One LSTM step. act [B, 4H] holds the pre-activations on entry and the activated gates
// (i, f, g, o) on return; rows whose valid is 0 keep the previous states.
void LstmStepImpl(float* HWY_RESTRICT act, const float* HWY_RESTRICT c_prev,
                  const float* HWY_RESTRICT h_prev, const float* HWY_RESTRICT valid,
                  int64_t B, int64_t H, float* HWY_RESTRICT c, float* HWY_RESTRICT h) {
  ParallelFor(B, RowGrain(4 * H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r = b * H;
      if (valid[b] == 0.f) {
        std::copy(c_prev + r, c_prev + r + H, c + r);
        std::copy(h_prev + r, h_prev + r + H, h + r);
        continue;
      }
      float* a = act + 4 * r;
      ForEachVec(0, H, [&](auto d, int64_t u) {
        const auto i = Sigmoid(d, hn::LoadU(d, a + u));
        const auto f = Sigmoid(d, hn::LoadU(d, a + H + u));
        const auto g = hn::Tanh(d, hn::LoadU(d, a + 2 * H + u));
        const auto o = Sigmoid(d, hn::LoadU(d, a + 3 * H + u));
        const auto cn = hn::MulAdd(f, hn::LoadU(d, c_prev + r + u), hn::Mul(i, g));
        hn::StoreU(i, d, a + u);
        hn::StoreU(f, d, a + H + u);
        hn::StoreU(g, d, a + 2 * H + u);
        hn::StoreU(o, d, a + 3 * H + u);
        hn::StoreU(cn, d, c + r + u);
        hn::StoreU(hn::Mul(o, hn::Tanh(d, cn)), d, h + r + u);
      });
    }
  });
}

// One GRU step (reset_after). act [B, 3H] holds x·W + b on entry and (z, r, n) on return;
// rec [B, 3H] is h·U + recurrent bias.
void GruStepImpl(float* HWY_RESTRICT act, const float* HWY_RESTRICT rec,
                 const float* HWY_RESTRICT h_prev, const float* HWY_RESTRICT valid, int64_t B,
                 int64_t H, float* HWY_RESTRICT h) {
  ParallelFor(B, RowGrain(3 * H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r = b * H;
      if (valid[b] == 0.f) {
        std::copy(h_prev + r, h_prev + r + H, h + r);
        continue;
      }
      float* a = act + 3 * r;
      const float* q = rec + 3 * r;
      ForEachVec(0, H, [&](auto d, int64_t u) {
        const auto z = Sigmoid(d, hn::Add(hn::LoadU(d, a + u), hn::LoadU(d, q + u)));
        const auto rr = Sigmoid(d, hn::Add(hn::LoadU(d, a + H + u), hn::LoadU(d, q + H + u)));
        const auto n = hn::Tanh(
            d, hn::MulAdd(rr, hn::LoadU(d, q + 2 * H + u), hn::LoadU(d, a + 2 * H + u)));
        const auto hp = hn::LoadU(d, h_prev + r + u);
        hn::StoreU(z, d, a + u);
        hn::StoreU(rr, d, a + H + u);
        hn::StoreU(n, d, a + 2 * H + u);
        // z * hp + (1 - z) * n = n + z * (hp - n)
        hn::StoreU(hn::MulAdd(z, hn::Sub(hp, n), n), d, h + r + u);
      });
    }
  });
}

// One SimpleRNN step: act [B, H] holds the pre-activation on entry and tanh of it on return.
void SimpleStepImpl(float* HWY_RESTRICT act, const float* HWY_RESTRICT h_prev,
                    const float* HWY_RESTRICT valid, int64_t B, int64_t H,
                    float* HWY_RESTRICT h) {
  ParallelFor(B, RowGrain(H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r = b * H;
      if (valid[b] == 0.f) {
        std::copy(h_prev + r, h_prev + r + H, h + r);
        continue;
      }
      ForEachVec(0, H, [&](auto d, int64_t u) {
        const auto y = hn::Tanh(d, hn::LoadU(d, act + r + u));
        hn::StoreU(y, d, act + r + u);
        hn::StoreU(y, d, h + r + u);
      });
    }
  });
}

// y (1 - y), the derivative of the sigmoid at its output y.
template <class D, class V>
HWY_INLINE V SigmoidSlope(D d, V y) {
  return hn::Mul(y, hn::Sub(hn::Set(d, 1.f), y));
}

// 1 - y^2, the derivative of tanh at its output y.
template <class D, class V>
HWY_INLINE V TanhSlope(D d, V y) {
  return hn::NegMulAdd(y, y, hn::Set(d, 1.f));
}

// An LSTM step backward. dh [B, H] is the gradient of the step's h; dc [B, H] that of its
// c on entry and of c_prev on return. Writes dgates [B, 4H] (of the pre-activations) and
// dh_prev [B, H] without the recurrent product (dh itself where the row was masked, else 0).
void LstmStepBackwardImpl(const float* HWY_RESTRICT act, const float* HWY_RESTRICT c_prev,
                          const float* HWY_RESTRICT c, const float* HWY_RESTRICT dh,
                          const float* HWY_RESTRICT valid, int64_t B, int64_t H,
                          float* HWY_RESTRICT dc, float* HWY_RESTRICT dgates,
                          float* HWY_RESTRICT dh_prev) {
  ParallelFor(B, RowGrain(4 * H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r = b * H;
      float* dg = dgates + 4 * r;
      if (valid[b] == 0.f) {
        std::fill(dg, dg + 4 * H, 0.f);
        std::copy(dh + r, dh + r + H, dh_prev + r);
        continue;
      }
      const float* a = act + 4 * r;
      std::fill(dh_prev + r, dh_prev + r + H, 0.f);
      ForEachVec(0, H, [&](auto d, int64_t u) {
        const auto i = hn::LoadU(d, a + u), f = hn::LoadU(d, a + H + u);
        const auto g = hn::LoadU(d, a + 2 * H + u), o = hn::LoadU(d, a + 3 * H + u);
        const auto tc = hn::Tanh(d, hn::LoadU(d, c + r + u));
        const auto dhv = hn::LoadU(d, dh + r + u);
        const auto dcv = hn::MulAdd(hn::Mul(dhv, o), TanhSlope(d, tc), hn::LoadU(d, dc + r + u));
        hn::StoreU(hn::Mul(hn::Mul(dcv, g), SigmoidSlope(d, i)), d, dg + u);
        hn::StoreU(hn::Mul(hn::Mul(dcv, hn::LoadU(d, c_prev + r + u)), SigmoidSlope(d, f)), d,
                   dg + H + u);
        hn::StoreU(hn::Mul(hn::Mul(dcv, i), TanhSlope(d, g)), d, dg + 2 * H + u);
        hn::StoreU(hn::Mul(hn::Mul(dhv, tc), SigmoidSlope(d, o)), d, dg + 3 * H + u);
        hn::StoreU(hn::Mul(dcv, f), d, dc + r + u);
      });
    }
  });
}

// A GRU step backward: writes dgates [B, 3H] (of x·W + b), drec [B, 3H] (of h·U + recurrent
// bias) and dh_prev [B, H] without the recurrent product (dh * z; dh where masked).
void GruStepBackwardImpl(const float* HWY_RESTRICT act, const float* HWY_RESTRICT rec,
                         const float* HWY_RESTRICT h_prev, const float* HWY_RESTRICT dh,
                         const float* HWY_RESTRICT valid, int64_t B, int64_t H,
                         float* HWY_RESTRICT dgates, float* HWY_RESTRICT drec,
                         float* HWY_RESTRICT dh_prev) {
  ParallelFor(B, RowGrain(3 * H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r = b * H;
      float* dg = dgates + 3 * r;
      float* dq = drec + 3 * r;
      if (valid[b] == 0.f) {
        std::fill(dg, dg + 3 * H, 0.f);
        std::fill(dq, dq + 3 * H, 0.f);
        std::copy(dh + r, dh + r + H, dh_prev + r);
        continue;
      }
      const float* a = act + 3 * r;
      const float* q = rec + 3 * r;
      ForEachVec(0, H, [&](auto d, int64_t u) {
        const auto z = hn::LoadU(d, a + u), rr = hn::LoadU(d, a + H + u);
        const auto n = hn::LoadU(d, a + 2 * H + u);
        const auto dhv = hn::LoadU(d, dh + r + u), hp = hn::LoadU(d, h_prev + r + u);
        // dn_pre = dh (1 - z) (1 - n^2); dz_pre = dh (hp - n) z (1 - z);
        // dr_pre = dn_pre * rec_h * r (1 - r).
        const auto dn = hn::Mul(hn::Mul(dhv, hn::Sub(hn::Set(d, 1.f), z)), TanhSlope(d, n));
        const auto dz = hn::Mul(hn::Mul(dhv, hn::Sub(hp, n)), SigmoidSlope(d, z));
        const auto dr = hn::Mul(hn::Mul(dn, hn::LoadU(d, q + 2 * H + u)), SigmoidSlope(d, rr));
        hn::StoreU(dz, d, dg + u);
        hn::StoreU(dr, d, dg + H + u);
        hn::StoreU(dn, d, dg + 2 * H + u);
        hn::StoreU(dz, d, dq + u);
        hn::StoreU(dr, d, dq + H + u);
        hn::StoreU(hn::Mul(dn, rr), d, dq + 2 * H + u);
        hn::StoreU(hn::Mul(dhv, z), d, dh_prev + r + u);
      });
    }
  });
}

// A SimpleRNN step backward: dgates [B, H] = dh (1 - h^2); dh_prev as the LSTM's.
void SimpleStepBackwardImpl(const float* HWY_RESTRICT act, const float* HWY_RESTRICT dh,
                            const float* HWY_RESTRICT valid, int64_t B, int64_t H,
                            float* HWY_RESTRICT dgates, float* HWY_RESTRICT dh_prev) {
  ParallelFor(B, RowGrain(H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r = b * H;
      if (valid[b] == 0.f) {
        std::fill(dgates + r, dgates + r + H, 0.f);
        std::copy(dh + r, dh + r + H, dh_prev + r);
        continue;
      }
      std::fill(dh_prev + r, dh_prev + r + H, 0.f);
      ForEachVec(0, H, [&](auto d, int64_t u) {
        hn::StoreU(hn::Mul(hn::LoadU(d, dh + r + u), TanhSlope(d, hn::LoadU(d, act + r + u))),
                   d, dgates + r + u);
      });
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gradway {
namespace ops {

HWY_EXPORT(LstmStepImpl);
HWY_EXPORT(GruStepImpl);
HWY_EXPORT(SimpleStepImpl);
HWY_EXPORT(LstmStepBackwardImpl);
HWY_EXPORT(GruStepBackwardImpl);
HWY_EXPORT(SimpleStepBackwardImpl);

int64_t RnnGateCount(RnnCell cell) {
  switch (cell) {
    case RnnCell::kSimpleRnn: return 1;
    case RnnCell::kGru: return 3;
    case RnnCell::kLstm: return 4;
  }
  return 1;
}

int64_t RnnStateCount(RnnCell cell) { return cell == RnnCell::kLstm ? 2 : 1; }

namespace {

// Where each part of the workspace starts, in floats (processing order, time-major):
//   xt [T, B, D] the input; hs [T + 1, B, H] the states, hs[0] = h0; cs likewise (LSTM);
//   act [T, B, GH] the activated gates; rec [T, B, GH] h·U + recurrent bias (GRU);
//   valid [T, B] 1 or 0.
struct Workspace {
  int64_t xt, hs, cs, act, rec, valid, size;
};

Workspace Layout(const RnnSizes& s) {
  const int64_t G = RnnGateCount(s.cell), B = s.batch, T = s.steps, H = s.units;
  Workspace w{};
  w.xt = 0;
  w.hs = w.xt + T * B * s.features;
  w.cs = w.hs + (T + 1) * B * H;
  w.act = w.cs + (s.cell == RnnCell::kLstm ? (T + 1) * B * H : 0);
  w.rec = w.act + T * B * G * H;
  w.valid = w.rec + (s.cell == RnnCell::kGru ? T * B * G * H : 0);
  w.size = w.valid + T * B;
  return w;
}

void CheckSizes(const RnnSizes& s, const RnnWeights& w) {
  if (s.batch < 0 || s.steps < 0 || s.features < 1 || s.units < 1) {
    throw std::invalid_argument(
        "rnn: bad sizes (batch " + std::to_string(s.batch) + ", steps " +
        std::to_string(s.steps) + ", features " + std::to_string(s.features) + ", units " +
        std::to_string(s.units) + "); features and units must be >= 1");
  }
  if (w.kernel == nullptr || w.recurrent_kernel == nullptr) {
    throw std::invalid_argument("rnn: the kernel and the recurrent kernel are required");
  }
}

// The input step processed s-th.
int64_t InputStep(const RnnSizes& s, const RnnOptions& o, int64_t step) {
  return o.go_backwards ? s.steps - 1 - step : step;
}

// Copies x [B, T, D] to xt [T, B, D] in processing order (to_time_major), or back.
void Reorder(const RnnSizes& s, const RnnOptions& o, const float* from, float* to,
             bool to_time_major) {
  const int64_t B = s.batch, T = s.steps, D = s.features;
  ParallelFor(T, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t step = s0; step < s1; ++step) {
      const int64_t t = InputStep(s, o, step);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t bm = (b * T + t) * D, tm = (step * B + b) * D;
        if (to_time_major) {
          std::copy(from + bm, from + bm + D, to + tm);
        } else {
          std::copy(from + tm, from + tm + D, to + bm);
        }
      }
    }
  });
}

// out[b, row] = src[b] for every b, rows of H in out's [B, T + S, H] layout.
void WriteRows(const float* src, int64_t B, int64_t width, int64_t row, int64_t H,
               float* out) {
  for (int64_t b = 0; b < B; ++b) {
    std::copy(src + b * H, src + (b + 1) * H, out + (b * width + row) * H);
  }
}

// The s-th step's outputs: h where valid, else the previous output (0 at s = 0) or 0.
void WriteOutputs(const RnnSizes& s, const RnnOptions& o, int64_t step, const float* h,
                  const float* valid, float* out) {
  const int64_t B = s.batch, H = s.units, width = s.steps + RnnStateCount(s.cell);
  for (int64_t b = 0; b < B; ++b) {
    float* y = out + (b * width + step) * H;
    if (valid[b] != 0.f) {
      std::copy(h + b * H, h + (b + 1) * H, y);
    } else if (o.zero_output_for_mask || step == 0) {
      std::fill(y, y + H, 0.f);
    } else {
      std::copy(y - H, y, y);
    }
  }
}

}  // namespace

int64_t RnnWorkspaceSize(const RnnSizes& sizes) { return Layout(sizes).size; }

void RnnForward(const RnnSizes& s, const RnnWeights& w, const float* x, const float* h0,
                const float* c0, const float* mask, const RnnOptions& o, float* out,
                float* workspace) {
  CheckSizes(s, w);
  const Workspace L = Layout(s);
  const int64_t G = RnnGateCount(s.cell), B = s.batch, T = s.steps, D = s.features,
                H = s.units, GH = G * H, width = T + RnnStateCount(s.cell);
  float* xt = workspace + L.xt;
  float* hs = workspace + L.hs;
  float* cs = workspace + L.cs;
  float* act = workspace + L.act;
  float* rec = workspace + L.rec;
  float* valid = workspace + L.valid;
  const bool lstm = s.cell == RnnCell::kLstm;
  if (h0 != nullptr) {
    std::copy(h0, h0 + B * H, hs);
  } else {
    std::fill(hs, hs + B * H, 0.f);
  }
  if (lstm && c0 != nullptr) {
    std::copy(c0, c0 + B * H, cs);
  } else if (lstm) {
    std::fill(cs, cs + B * H, 0.f);
  }
  for (int64_t step = 0; step < T; ++step) {
    for (int64_t b = 0; b < B; ++b) {
      valid[step * B + b] = mask == nullptr || mask[b * T + InputStep(s, o, step)] != 0.f;
    }
  }
  if (T > 0 && B > 0) {
    Reorder(s, o, x, xt, true);
    // Every step's input product at once; the GRU's bias row 0 is the input bias.
    MatMul(Mat{xt, T * B, D}, Mat{w.kernel, D, GH}, OutMat{act, T * B, GH},
           MatMulOptions().Bias(w.bias));
  }
  for (int64_t step = 0; step < T; ++step) {
    const float* hp = hs + step * B * H;
    float* hnext = hs + (step + 1) * B * H;
    float* a = act + step * B * GH;
    const float* v = valid + step * B;
    if (s.cell == RnnCell::kGru) {
      float* q = rec + step * B * GH;
      MatMul(Mat{hp, B, H}, Mat{w.recurrent_kernel, H, GH}, OutMat{q, B, GH},
             MatMulOptions().Bias(w.bias != nullptr ? w.bias + GH : nullptr));
      HWY_DYNAMIC_DISPATCH(GruStepImpl)(a, q, hp, v, B, H, hnext);
    } else {
      MatMul(Mat{hp, B, H}, Mat{w.recurrent_kernel, H, GH}, OutMat{a, B, GH},
             MatMulOptions().Accumulate());
      if (lstm) {
        HWY_DYNAMIC_DISPATCH(LstmStepImpl)(a, cs + step * B * H, hp, v, B, H,
                                           cs + (step + 1) * B * H, hnext);
      } else {
        HWY_DYNAMIC_DISPATCH(SimpleStepImpl)(a, hp, v, B, H, hnext);
      }
    }
    WriteOutputs(s, o, step, hnext, v, out);
  }
  WriteRows(hs + T * B * H, B, width, T, H, out);
  if (lstm) WriteRows(cs + T * B * H, B, width, T + 1, H, out);
}

namespace {

// Adds dout's gradient of the s-th output to dh where the step is valid, and carries it to
// the previous output where it is not (a masked step's output is the previous one).
void AddOutputGradient(const RnnSizes& s, const RnnOptions& o, int64_t step,
                       const float* dout, const float* valid, float* dh, float* carry) {
  const int64_t B = s.batch, H = s.units, width = s.steps + RnnStateCount(s.cell);
  for (int64_t b = 0; b < B; ++b) {
    const float* dy = dout + (b * width + step) * H;
    float* c = carry + b * H;
    if (valid[b] != 0.f) {
      float* d = dh + b * H;
      for (int64_t u = 0; u < H; ++u) d[u] += dy[u] + c[u];
      std::fill(c, c + H, 0.f);
    } else if (o.zero_output_for_mask) {
      std::fill(c, c + H, 0.f);
    } else {
      for (int64_t u = 0; u < H; ++u) c[u] += dy[u];
    }
  }
}

// dh (and dc) of the final states, read from dout's rows T (and T + 1).
void ReadRows(const float* dout, int64_t B, int64_t width, int64_t row, int64_t H,
              float* dst) {
  for (int64_t b = 0; b < B; ++b) {
    const float* src = dout + (b * width + row) * H;
    std::copy(src, src + H, dst + b * H);
  }
}

}  // namespace

void RnnBackward(const RnnSizes& s, const RnnWeights& w, const float* dout,
                 const RnnOptions& o, const float* workspace, const RnnGradients& g) {
  CheckSizes(s, w);
  const Workspace L = Layout(s);
  const int64_t G = RnnGateCount(s.cell), B = s.batch, T = s.steps, D = s.features,
                H = s.units, GH = G * H, width = T + RnnStateCount(s.cell);
  const bool lstm = s.cell == RnnCell::kLstm, gru = s.cell == RnnCell::kGru;
  const float* xt = workspace + L.xt;
  const float* hs = workspace + L.hs;
  const float* cs = workspace + L.cs;
  const float* act = workspace + L.act;
  const float* rec = workspace + L.rec;
  const float* valid = workspace + L.valid;
  std::vector<float> dh(B * H), dh_prev(B * H), carry(B * H, 0.f), dc(lstm ? B * H : 0);
  std::vector<float> dgates(T * B * GH), drec(gru ? T * B * GH : 0);
  ReadRows(dout, B, width, T, H, dh.data());
  if (lstm) ReadRows(dout, B, width, T + 1, H, dc.data());
  for (int64_t step = T - 1; step >= 0; --step) {
    const float* v = valid + step * B;
    AddOutputGradient(s, o, step, dout, v, dh.data(), carry.data());
    const float* a = act + step * B * GH;
    float* dg = dgates.data() + step * B * GH;
    float* dr = gru ? drec.data() + step * B * GH : dg;
    if (lstm) {
      HWY_DYNAMIC_DISPATCH(LstmStepBackwardImpl)(a, cs + step * B * H, cs + (step + 1) * B * H,
                                                 dh.data(), v, B, H, dc.data(), dg,
                                                 dh_prev.data());
    } else if (gru) {
      HWY_DYNAMIC_DISPATCH(GruStepBackwardImpl)(a, rec + step * B * GH, hs + step * B * H,
                                                dh.data(), v, B, H, dg, dr, dh_prev.data());
    } else {
      HWY_DYNAMIC_DISPATCH(SimpleStepBackwardImpl)(a, dh.data(), v, B, H, dg, dh_prev.data());
    }
    if (B > 0) {
      MatMul(Mat{dr, B, GH}, Mat{w.recurrent_kernel, H, GH}.Transposed(),
             OutMat{dh_prev.data(), B, H}, MatMulOptions().Accumulate());
    }
    dh.swap(dh_prev);
  }
  if (g.dh0 != nullptr) std::copy(dh.begin(), dh.end(), g.dh0);
  if (g.dc0 != nullptr && lstm) std::copy(dc.begin(), dc.end(), g.dc0);
  const int64_t n = T * B;
  const float* dR = gru ? drec.data() : dgates.data();
  // The weight gradients sum over all steps and rows: one GEMM each (zeros when n = 0).
  const auto zero = [](float* p, int64_t count) {
    if (p != nullptr) std::fill(p, p + count, 0.f);
  };
  if (n == 0) {
    zero(g.dkernel, D * GH);
    zero(g.drecurrent_kernel, H * GH);
    zero(g.dbias, gru ? 2 * GH : GH);
    zero(g.dx, B * T * D);
    return;
  }
  if (g.dkernel != nullptr) {
    MatMul(Mat{xt, n, D}.Transposed(), Mat{dgates.data(), n, GH}, OutMat{g.dkernel, D, GH});
  }
  if (g.drecurrent_kernel != nullptr) {
    MatMul(Mat{hs, n, H}.Transposed(), Mat{dR, n, GH}, OutMat{g.drecurrent_kernel, H, GH});
  }
  if (g.dbias != nullptr) {
    const std::vector<float> ones(n, 1.f);  // onesᵀ · dG sums the rows in order
    MatMul(Mat{ones.data(), 1, n}, Mat{dgates.data(), n, GH}, OutMat{g.dbias, 1, GH});
    if (gru) MatMul(Mat{ones.data(), 1, n}, Mat{dR, n, GH}, OutMat{g.dbias + GH, 1, GH});
  }
  if (g.dx != nullptr) {
    std::vector<float> dxt(n * D);
    MatMul(Mat{dgates.data(), n, GH}, Mat{w.kernel, D, GH}.Transposed(),
           OutMat{dxt.data(), n, D});
    Reorder(s, o, dxt.data(), g.dx, false);
  }
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
