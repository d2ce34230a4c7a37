// Layer wrappers (Keras' layers.TimeDistributed).
#ifndef GRADWAY_NN_WRAPPERS_H_
#define GRADWAY_NN_WRAPPERS_H_

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "autograd/tensor.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

// TimeDistributed (Keras' wrapper): applies `layer` to every step of a sequence with the
// same weights: x [N, T, ...] -> [N, T, layer's output for (...)], by running the layer on
// the N * T steps as one batch. nn::TimeDistributed(nn::Dense(8)) or a shared layer
// (std::shared_ptr). The layer is this one's child: its weights are
// "time_distributed/<layer>/..." in checkpoints. An input of fewer than 2 per-sample axes is
// an Error naming the layer. ONNX: Reshape to [N * T, ...], the layer's export, Reshape back.
class TimeDistributed : public Layer<TimeDistributed> {
 public:
  explicit TimeDistributed(std::shared_ptr<Module> layer);
  // A layer temporary, moved in: nn::TimeDistributed(nn::Dense(8)).
  template <class L, class = std::enable_if_t<std::is_base_of_v<Module, std::decay_t<L>> &&
                                              !std::is_lvalue_reference_v<L>>>
  explicit TimeDistributed(L&& layer)
      : TimeDistributed(std::forward<L>(layer).MoveToShared()) {}
  Tensor Forward(const Tensor& x) override;
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  Module& layer() const { return *layer_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  std::shared_ptr<Module> layer_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_WRAPPERS_H_
