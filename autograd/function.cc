#include "autograd/function.h"

namespace gradway {
namespace internal {

void CheckCustomGradients(const char* name, const std::vector<Shape>& input_shapes,
                          const std::vector<Tensor>& grads) {
  GRADWAY_CHECK(grads.size() == input_shapes.size(), name, ": Backward returned ",
                grads.size(), " gradient(s), but Forward took ", input_shapes.size(),
                " tensor input(s)");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    GRADWAY_CHECK(grads[i].shape() == input_shapes[i], name, ": Backward returned a ",
                  "gradient of shape ", ShapeToString(grads[i].shape()), " for input ", i,
                  " of shape ", ShapeToString(input_shapes[i]));
  }
}

}  // namespace internal
}  // namespace gradway
