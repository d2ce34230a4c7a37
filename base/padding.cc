#include "base/padding.h"

#include <algorithm>

namespace gradway {

const char* PaddingName(Padding padding) {
  return padding == Padding::kSame ? "same" : "valid";
}

int64_t WindowOutputSize(int64_t in, int64_t window, int64_t stride, Padding padding) {
  if (padding == Padding::kSame) return (in + stride - 1) / stride;
  return in >= window ? (in - window) / stride + 1 : 0;
}

int64_t WindowPadBefore(int64_t in, int64_t window, int64_t stride, Padding padding) {
  if (padding == Padding::kValid) return 0;
  const int64_t out = WindowOutputSize(in, window, stride, padding);
  return std::max<int64_t>((out - 1) * stride + window - in, 0) / 2;
}

}  // namespace gradway
