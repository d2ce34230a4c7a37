// Tensor shapes: a list of dimension sizes, row-major.
#ifndef GRADWAY_AUTOGRAD_SHAPE_H_
#define GRADWAY_AUTOGRAD_SHAPE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/shape_string.h"  // ShapeToString, the printer of shapes in messages

namespace gradway {

using Shape = std::vector<int64_t>;

// The number of elements of a tensor of this shape (1 for the scalar shape {}).
int64_t NumElements(const Shape& shape);

// The NumPy broadcast of two shapes. Throws Error naming `op` and both shapes when they
// cannot be broadcast: "add: shapes (2, 3) and (4, 3) cannot be broadcast".
Shape BroadcastShapes(const Shape& a, const Shape& b, const char* op);

// `shape` with leading 1s added up to `rank` dimensions.
Shape PadShape(const Shape& shape, size_t rank);

// Maps a possibly negative axis into [0, rank). Throws Error naming `op` when out of range.
int NormalizeAxis(int axis, int rank, const char* op);

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_SHAPE_H_
