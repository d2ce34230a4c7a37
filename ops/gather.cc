// Gather and its scatter-add backward (ops/gather.h): rows copied with memcpy, the
// backward's sums with Highway SIMD along a row; parallel over rows through ops/parallel.h.
#include "ops/gather.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/gather.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace ops {
namespace HWY_NAMESPACE {

// dx row (o, v) = the sum of dy rows (o, i) for the i in sources[starts[v], starts[v + 1])
// (ascending), 0 when there are none.
void ScatterAddImpl(const float* HWY_RESTRICT dy, const int64_t* HWY_RESTRICT starts,
                    const int64_t* HWY_RESTRICT sources, int64_t outer, int64_t size,
                    int64_t n, int64_t inner, float* HWY_RESTRICT dx) {
  const int64_t rows = outer * size;
  ParallelFor(rows, std::max<int64_t>(1, kElementGrain / std::max<int64_t>(inner, 1)),
              [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                  const int64_t o = r / size, v = r % size;
                  float* out = dx + r * inner;
                  std::fill(out, out + inner, 0.f);
                  for (int64_t s = starts[v]; s < starts[v + 1]; ++s) {
                    const float* in = dy + (o * n + sources[s]) * inner;
                    ForEachVec(0, inner, [&](auto d, int64_t c) {
                      hn::StoreU(hn::Add(hn::LoadU(d, out + c), hn::LoadU(d, in + c)), d,
                                 out + c);
                    });
                  }
                }
              });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ops
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gradway {
namespace ops {

HWY_EXPORT(ScatterAddImpl);

void Gather(const float* x, const int64_t* indices, int64_t outer, int64_t size, int64_t n,
            int64_t inner, float* y) {
  const int64_t rows = outer * n;
  const size_t bytes = static_cast<size_t>(inner) * sizeof(float);
  ParallelFor(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)),
              [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                  const int64_t o = r / n, i = r % n;
                  if (bytes > 0) {
                    std::memcpy(y + r * inner, x + (o * size + indices[i]) * inner, bytes);
                  }
                }
              });
}

void GatherBackward(const float* dy, const int64_t* indices, int64_t outer, int64_t size,
                    int64_t n, int64_t inner, float* dx) {
  // The inverted index: for each entry v, the positions i with indices[i] == v, ascending
  // (a counting sort, stable).
  std::vector<int64_t> starts(static_cast<size_t>(size) + 1, 0);
  std::vector<int64_t> sources(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ++starts[indices[i] + 1];
  for (int64_t v = 0; v < size; ++v) starts[v + 1] += starts[v];
  std::vector<int64_t> next(starts.begin(), starts.end() - 1);
  for (int64_t i = 0; i < n; ++i) sources[next[indices[i]]++] = i;
  HWY_DYNAMIC_DISPATCH(ScatterAddImpl)(dy, starts.data(), sources.data(), outer, size, n,
                                       inner, dx);
}

}  // namespace ops
}  // namespace gradway
#endif  // HWY_ONCE
