// The printer of tensor shapes in gradway's messages: Keras' Python tuples, "(32, 784)",
// and for nn's layers, models and data sets, which print per-sample shapes, the same
// behind the batch placeholder None: "(None, 26, 26, 32)".
#ifndef GRADWAY_BASE_SHAPE_STRING_H_
#define GRADWAY_BASE_SHAPE_STRING_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"

namespace gradway {

// "(32, 784)": the shape as a Python tuple, as Keras prints it; "()" for a scalar, "(5,)"
// for one dimension.
std::string ShapeToString(absl::Span<const int64_t> shape);

// "(None, 26, 26, 32)": a per-sample shape behind Keras' batch placeholder, as a Python
// tuple ("(None,)" for a scalar per sample).
std::string BatchShapeString(absl::Span<const int64_t> per_sample_shape);

}  // namespace gradway

#endif  // GRADWAY_BASE_SHAPE_STRING_H_
