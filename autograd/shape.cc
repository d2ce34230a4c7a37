#include "autograd/shape.h"

#include <algorithm>

#include "autograd/error.h"

namespace gradway {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Shape BroadcastShapes(const Shape& a, const Shape& b, const char* op) {
  const size_t rank = std::max(a.size(), b.size());
  const Shape pa = PadShape(a, rank), pb = PadShape(b, rank);
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (pa[d] == pb[d] || pb[d] == 1) {
      out[d] = pa[d];
    } else if (pa[d] == 1) {
      out[d] = pb[d];
    } else {
      Fail(op, ": shapes ", ShapeToString(a), " and ", ShapeToString(b),
           " cannot be broadcast");
    }
  }
  return out;
}

Shape PadShape(const Shape& shape, size_t rank) {
  Shape out(rank - std::min(rank, shape.size()), 1);
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

int NormalizeAxis(int axis, int rank, const char* op) {
  GRADWAY_CHECK(axis >= -rank && axis < rank, op, ": axis ", axis,
                " is out of range for a tensor of rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

}  // namespace gradway
