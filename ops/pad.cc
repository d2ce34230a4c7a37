// Padding as rows: axes after the last padded one form contiguous runs that are copied
// whole, so a tensor padded only on its outer axes copies large blocks, and one padded on
// its last axis copies its rows. Each output element is written once.
#include "ops/pad.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/parallel.h"

namespace gradway {
namespace ops {
namespace {

// Elements per parallel chunk (64 KiB of floats), as the other memory-bound kernels.
constexpr int64_t kGrain = 16384;

// The tensors seen as rows: axes [0, k) index rows (k = the last padded axis, 0 when none
// is padded); the row axis k and the axes after it are contiguous. A row of x holds
// shape[k] runs of `inner` elements; a row of y holds before[k] + shape[k] + after[k].
struct Rows {
  int k = 0;
  int64_t inner = 1;
  std::vector<int64_t> y_shape;
  int64_t x_rows = 1, y_rows = 1;
  int64_t x_row = 1, y_row = 1;  // elements per row
};

Rows RowsOf(const std::vector<int64_t>& shape, const std::vector<int64_t>& before,
            const std::vector<int64_t>& after) {
  Rows r;
  const int rank = static_cast<int>(shape.size());
  for (int d = 0; d < rank; ++d) {
    r.y_shape.push_back(shape[d] + before[d] + after[d]);
    if (before[d] != 0 || after[d] != 0) r.k = d;
  }
  if (rank == 0) return r;
  for (int d = r.k + 1; d < rank; ++d) r.inner *= shape[d];
  for (int d = 0; d < r.k; ++d) {
    r.x_rows *= shape[d];
    r.y_rows *= r.y_shape[d];
  }
  r.x_row = shape[r.k] * r.inner;
  r.y_row = r.y_shape[r.k] * r.inner;
  return r;
}

// The row of x that row `y_index` of y holds (-1 when it lies in the padding).
int64_t SourceRow(const Rows& r, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& before, int64_t y_index) {
  int64_t x_index = 0, stride = 1;
  for (int d = r.k - 1; d >= 0; --d) {
    const int64_t i = y_index % r.y_shape[d] - before[d];
    y_index /= r.y_shape[d];
    if (i < 0 || i >= shape[d]) return -1;
    x_index += i * stride;
    stride *= shape[d];
  }
  return x_index;
}

// The row of y that holds row `x_index` of x.
int64_t TargetRow(const Rows& r, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& before, int64_t x_index) {
  int64_t y_index = 0, stride = 1;
  for (int d = r.k - 1; d >= 0; --d) {
    y_index += (x_index % shape[d] + before[d]) * stride;
    x_index /= shape[d];
    stride *= r.y_shape[d];
  }
  return y_index;
}

void Copy(const float* from, int64_t n, float* to) {
  if (n > 0) std::memcpy(to, from, static_cast<size_t>(n) * sizeof(float));
}

}  // namespace

void PadForward(const float* x, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                float value, float* y) {
  if (shape.empty()) {
    y[0] = x[0];
    return;
  }
  const Rows r = RowsOf(shape, before, after);
  const int64_t head = before[r.k] * r.inner;
  const int64_t tail = after[r.k] * r.inner;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, r.y_row));
  ParallelFor(r.y_rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      float* out = y + row * r.y_row;
      const int64_t source = SourceRow(r, shape, before, row);
      if (source < 0) {
        std::fill(out, out + r.y_row, value);
        continue;
      }
      std::fill(out, out + head, value);
      Copy(x + source * r.x_row, r.x_row, out + head);
      std::fill(out + head + r.x_row, out + head + r.x_row + tail, value);
    }
  });
}

void PadBackward(const float* dy, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                 float* dx) {
  if (shape.empty()) {
    dx[0] = dy[0];
    return;
  }
  const Rows r = RowsOf(shape, before, after);
  const int64_t head = before[r.k] * r.inner;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, r.x_row));
  ParallelFor(r.x_rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      Copy(dy + TargetRow(r, shape, before, row) * r.y_row + head, r.x_row, dx + row * r.x_row);
    }
  });
}

}  // namespace ops
}  // namespace gradway
