// 2-D convolution as im2col tiles + GEMM (ops/matmul.h).
//
// The patch matrix of one image has a row per output pixel and a column per (ky, kx, ci)
// tap, so with HWIO weights seen as a [kh*kw*cin, cout] matrix:
//   forward          y_tile   = patches · W (+ bias)
//   backward data    dpatches = dy_tile · Wᵀ, scattered back (col2im) into dx
//   backward weights dW      += patchesᵀ · dy_tile, db += column sums of dy_tile
// Tiles are a few output rows of one image (about 1 MiB of patches), built in a per-thread
// buffer: the whole patch matrix never exists.
#include "ops/conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/matmul.h"
#include "ops/parallel.h"

namespace gradway {
namespace ops {
namespace {

constexpr int64_t kTileFloats = 256 * 1024;  // patch floats per tile (1 MiB)

// A per-thread growable buffer; falls back to a private one if the thread re-enters.
class Buffer {
 public:
  explicit Buffer(size_t floats) {
    struct Cache {
      std::vector<float> buf;
      bool busy = false;
    };
    thread_local Cache cache;
    if (cache.busy) {
      own_.resize(floats);
      ptr_ = own_.data();
      return;
    }
    if (cache.buf.size() < floats) cache.buf.resize(floats);
    cache.busy = true;
    busy_ = &cache.busy;
    ptr_ = cache.buf.data();
  }
  ~Buffer() {
    if (busy_) *busy_ = false;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  float* get() const { return ptr_; }

 private:
  std::vector<float> own_;
  float* ptr_ = nullptr;
  bool* busy_ = nullptr;
};

struct Geometry {
  int64_t k;            // kh * kw * cin: patch length
  int64_t rows_per_tile;  // output rows per tile
  int64_t tiles;        // tiles per image
  bool direct;          // 1x1, stride 1, no padding: the input is its own patch matrix
};

Geometry MakeGeometry(const Conv2DShape& s) {
  Geometry g;
  g.k = s.kh * s.kw * s.cin;
  const int64_t row_floats = std::max<int64_t>(1, s.out_w * g.k);
  g.rows_per_tile = std::clamp<int64_t>(kTileFloats / row_floats, 1, std::max<int64_t>(1, s.out_h));
  g.tiles = (s.out_h + g.rows_per_tile - 1) / g.rows_per_tile;
  g.direct = s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 &&
             s.pad_top == 0 && s.pad_left == 0 && s.out_h == s.h && s.out_w == s.w;
  return g;
}

// dst[i] = src[i] for i < n (short runs: a loop beats memcpy's call).
inline void CopyFloats(float* __restrict dst, const float* __restrict src, int64_t n) {
  if (n >= 16) {
    std::memcpy(dst, src, sizeof(float) * n);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// acc[i] += src[i] for i < n.
__attribute__((optimize("tree-vectorize"))) inline void AddFloats(
    float* __restrict acc, const float* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += src[i];
}

// Patches of output rows [oy0, oy1) of image `img` (x points at the image):
// out[(oy - oy0) * out_w + ox][(ky * kw + kx) * cin + ci].
void Im2Col(const float* img, const Conv2DShape& s, int64_t oy0, int64_t oy1, float* out) {
  const int64_t cin = s.cin, run = s.kw * cin;
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const int64_t ix0 = ox * s.stride_w - s.pad_left;
      const bool cols_in = ix0 >= 0 && ix0 + s.kw <= s.w;
      for (int64_t ky = 0; ky < s.kh; ++ky, out += run) {
        const int64_t iy = oy * s.stride_h - s.pad_top + ky;
        if (iy < 0 || iy >= s.h) {
          std::fill(out, out + run, 0.f);
        } else if (cols_in) {  // the kw taps are one contiguous run of the input row
          CopyFloats(out, img + (iy * s.w + ix0) * cin, run);
        } else {
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const int64_t ix = ix0 + kx;
            if (ix >= 0 && ix < s.w) {
              CopyFloats(out + kx * cin, img + (iy * s.w + ix) * cin, cin);
            } else {
              std::fill(out + kx * cin, out + (kx + 1) * cin, 0.f);
            }
          }
        }
      }
    }
  }
}

// Adds patch gradients of output rows [oy0, oy1) back into the image gradient dimg.
void Col2ImAdd(const float* patches, const Conv2DShape& s, int64_t oy0, int64_t oy1,
               float* dimg) {
  const int64_t cin = s.cin, run = s.kw * cin;
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const int64_t ix0 = ox * s.stride_w - s.pad_left;
      const bool cols_in = ix0 >= 0 && ix0 + s.kw <= s.w;
      for (int64_t ky = 0; ky < s.kh; ++ky, patches += run) {
        const int64_t iy = oy * s.stride_h - s.pad_top + ky;
        if (iy < 0 || iy >= s.h) continue;
        if (cols_in) {
          AddFloats(dimg + (iy * s.w + ix0) * cin, patches, run);
        } else {
          for (int64_t kx = 0; kx < s.kw; ++kx) {
            const int64_t ix = ix0 + kx;
            if (ix >= 0 && ix < s.w) AddFloats(dimg + (iy * s.w + ix) * cin, patches + kx * cin, cin);
          }
        }
      }
    }
  }
}

using GemmFn = void (*)(const float*, const float*, float*, int64_t, int64_t, int64_t, bool,
                        bool, const float*, bool);

// Runs body(task, gemm) for tasks [0, tasks): in parallel with single-threaded GEMMs when
// there are enough tasks to keep the threads busy, otherwise one task at a time with
// parallel GEMMs. Both GEMMs give bit-identical results.
template <typename Body>
void RunTasks(int64_t tasks, const Body& body) {
  const int threads = NumThreads();
  if (threads > 1 && tasks >= 2 * threads) {
    ParallelFor(tasks, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) body(t, static_cast<GemmFn>(&MatMulSerial));
    });
  } else {
    for (int64_t t = 0; t < tasks; ++t) body(t, static_cast<GemmFn>(&MatMul));
  }
}

}  // namespace

Conv2DShape MakeConv2DShape(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t kh,
                            int64_t kw, int64_t cout, int64_t stride_h, int64_t stride_w,
                            bool same_padding) {
  Conv2DShape s{};
  s.n = n;
  s.h = h;
  s.w = w;
  s.cin = cin;
  s.kh = kh;
  s.kw = kw;
  s.cout = cout;
  s.stride_h = stride_h;
  s.stride_w = stride_w;
  if (same_padding) {
    s.out_h = (h + stride_h - 1) / stride_h;
    s.out_w = (w + stride_w - 1) / stride_w;
    const int64_t pad_h = std::max<int64_t>((s.out_h - 1) * stride_h + kh - h, 0);
    const int64_t pad_w = std::max<int64_t>((s.out_w - 1) * stride_w + kw - w, 0);
    s.pad_top = pad_h / 2;
    s.pad_left = pad_w / 2;
  } else {
    s.out_h = h >= kh ? (h - kh) / stride_h + 1 : 0;
    s.out_w = w >= kw ? (w - kw) / stride_w + 1 : 0;
    s.pad_top = 0;
    s.pad_left = 0;
  }
  return s;
}

void Conv2DForward(const float* x, const float* w, const float* bias, float* y,
                   const Conv2DShape& s) {
  const Geometry g = MakeGeometry(s);
  const int64_t in_image = s.h * s.w * s.cin;
  const int64_t out_image = s.out_h * s.out_w * s.cout;
  if (s.n <= 0 || out_image == 0) return;
  if (g.direct) {
    MatMul(x, w, y, s.n * s.h * s.w, s.cout, s.cin, false, false, bias, false);
    return;
  }
  RunTasks(s.n * g.tiles, [&](int64_t t, GemmFn gemm) {
    const int64_t img = t / g.tiles;
    const int64_t oy0 = (t % g.tiles) * g.rows_per_tile;
    const int64_t oy1 = std::min(s.out_h, oy0 + g.rows_per_tile);
    const int64_t pixels = (oy1 - oy0) * s.out_w;
    Buffer patches(static_cast<size_t>(pixels * g.k));
    Im2Col(x + img * in_image, s, oy0, oy1, patches.get());
    gemm(patches.get(), w, y + img * out_image + oy0 * s.out_w * s.cout, pixels, s.cout,
         g.k, false, false, bias, false);
  });
}

void Conv2DBackwardData(const float* dy, const float* w, float* dx, const Conv2DShape& s) {
  const Geometry g = MakeGeometry(s);
  const int64_t in_image = s.h * s.w * s.cin;
  const int64_t out_image = s.out_h * s.out_w * s.cout;
  if (s.n <= 0) return;
  if (g.direct) {
    MatMul(dy, w, dx, s.n * s.h * s.w, s.cin, s.cout, false, true, nullptr, false);
    return;
  }
  // Wᵀ once, so the GEMMs read it untransposed: wt[co][k] = w[k][co].
  std::vector<float> wt(static_cast<size_t>(g.k * s.cout));
  for (int64_t k = 0; k < g.k; ++k) {
    for (int64_t co = 0; co < s.cout; ++co) wt[co * g.k + k] = w[k * s.cout + co];
  }
  // One task per image: its tiles overlap in dx, so they run in order.
  RunTasks(s.n, [&](int64_t img, GemmFn gemm) {
    float* dimg = dx + img * in_image;
    std::fill(dimg, dimg + in_image, 0.f);
    if (out_image == 0) return;
    Buffer dpatches(static_cast<size_t>(std::min(s.out_h, g.rows_per_tile) * s.out_w * g.k));
    for (int64_t tile = 0; tile < g.tiles; ++tile) {
      const int64_t oy0 = tile * g.rows_per_tile;
      const int64_t oy1 = std::min(s.out_h, oy0 + g.rows_per_tile);
      const int64_t pixels = (oy1 - oy0) * s.out_w;
      gemm(dy + img * out_image + oy0 * s.out_w * s.cout, wt.data(), dpatches.get(), pixels,
           g.k, s.cout, false, false, nullptr, false);
      Col2ImAdd(dpatches.get(), s, oy0, oy1, dimg);
    }
  });
}

void Conv2DBackwardWeights(const float* x, const float* dy, float* dw, float* db,
                           const Conv2DShape& s) {
  const Geometry g = MakeGeometry(s);
  const int64_t in_image = s.h * s.w * s.cin;
  const int64_t out_image = s.out_h * s.out_w * s.cout;
  const int64_t nw = g.k * s.cout;
  std::fill(dw, dw + nw, 0.f);
  if (db) std::fill(db, db + s.cout, 0.f);
  if (s.n <= 0 || out_image == 0) return;

  // Fixed partition of the batch into groups of consecutive images (it depends only on
  // the shape): each group sums into its own partial, partials are added in group order.
  const int64_t max_groups = std::max<int64_t>(1, std::min<int64_t>(32, (8 << 20) / std::max<int64_t>(1, nw)));
  const int64_t groups = std::min(s.n, max_groups);
  const int64_t stride = nw + s.cout;  // partial dw, then partial db
  std::vector<float> partial(static_cast<size_t>(groups * stride));

  RunTasks(groups, [&](int64_t grp, GemmFn gemm) {
    const int64_t i0 = s.n * grp / groups, i1 = s.n * (grp + 1) / groups;
    float* pdw = partial.data() + grp * stride;
    float* pdb = pdw + nw;
    std::fill(pdb, pdb + s.cout, 0.f);
    Buffer patches(g.direct ? 1 : static_cast<size_t>(std::min(s.out_h, g.rows_per_tile) *
                                                     s.out_w * g.k));
    bool first = true;
    for (int64_t img = i0; img < i1; ++img) {
      for (int64_t tile = 0; tile < g.tiles; ++tile) {
        const int64_t oy0 = tile * g.rows_per_tile;
        const int64_t oy1 = std::min(s.out_h, oy0 + g.rows_per_tile);
        const int64_t pixels = (oy1 - oy0) * s.out_w;
        const float* dyt = dy + img * out_image + oy0 * s.out_w * s.cout;
        const float* pt;
        if (g.direct) {
          pt = x + img * in_image + oy0 * s.w * s.cin;
        } else {
          Im2Col(x + img * in_image, s, oy0, oy1, patches.get());
          pt = patches.get();
        }
        // dW[k x cout] (+)= patchesᵀ · dy_tile.
        gemm(pt, dyt, pdw, g.k, s.cout, pixels, true, false, nullptr, !first);
        first = false;
        for (int64_t p = 0; p < pixels; ++p) AddFloats(pdb, dyt + p * s.cout, s.cout);
      }
    }
  });

  for (int64_t grp = 0; grp < groups; ++grp) {
    const float* pdw = partial.data() + grp * stride;
    for (int64_t i = 0; i < nw; ++i) dw[i] += pdw[i];
    if (db) {
      for (int64_t co = 0; co < s.cout; ++co) db[co] += pdw[nw + co];
    }
  }
}

}  // namespace ops
}  // namespace gradway
