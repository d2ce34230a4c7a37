// The printers of tensor shapes in gradway's messages, in their two notations: gradway's
// "(3x2)" (autograd's errors) and Keras' Python tuples "(32, 784)", "(None, 26, 26, 32)"
// (nn's layers, models and data sets, which print per-sample shapes behind the batch
// placeholder None).
#ifndef GRADWAY_BASE_SHAPE_STRING_H_
#define GRADWAY_BASE_SHAPE_STRING_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"

namespace gradway {

// "(3x2)"; "()" for a scalar.
std::string ShapeToString(absl::Span<const int64_t> shape);

// "(32, 784)": the shape as a Python tuple, as Keras prints it; "()" for a scalar, "(5,)"
// for one dimension.
std::string ShapeTuple(absl::Span<const int64_t> shape);

// "(None, 26, 26, 32)": a per-sample shape behind Keras' batch placeholder, as a Python
// tuple ("(None,)" for a scalar per sample).
std::string BatchShapeString(absl::Span<const int64_t> per_sample_shape);

}  // namespace gradway

#endif  // GRADWAY_BASE_SHAPE_STRING_H_
