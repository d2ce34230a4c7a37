// Layer wrappers (Keras' layers.TimeDistributed and layers.Bidirectional).
#ifndef GRADWAY_NN_WRAPPERS_H_
#define GRADWAY_NN_WRAPPERS_H_

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "autograd/tensor.h"
#include "nn/masking.h"
#include "nn/module.h"
#include "nn/recurrent.h"

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

// Bidirectional (Keras' wrapper) around a SimpleRNN, GRU or LSTM: two layers of the
// wrapped one's options, "forward_<name>" reading the steps first to last and
// "backward_<name>" (go_backwards flipped) last to first, their outputs merged by
// merge_mode: "concat" (the default: [N, 2 * units], or [N, T, 2 * units] with
// return_sequences), "sum", "mul" or "ave". With return_sequences the backward layer's
// outputs are put back in step order first, and both layers output zeros for masked steps
// (zero_output_for_mask, as Keras). The wrapped layer is a template: only its cell and
// options are read, nn::Bidirectional(nn::LSTM(64)). Weights: "forward_lstm/kernel", ...
// under the wrapper's name. Errors (gradway::Error): another merge_mode, or a layer
// already built.
class Bidirectional : public Layer<Bidirectional>, public MaskingLayer {
 public:
  explicit Bidirectional(const RecurrentLayer& layer, std::string merge_mode = "concat");
  Tensor Forward(const Tensor& x) override;
  // Run with the input's mask; the mask passes on with return_sequences (nn/masking.h).
  MaskedTensor CallWithMask(const Tensor& x, const Tensor& mask) override;
  // Both layers with a mask [N, T] (undefined: none) and initial states (empty: zeros;
  // else the forward layer's states, then the backward layer's, as Keras'), merged;
  // states lists the forward layer's final states, then the backward layer's.
  RecurrentResult Run(const Tensor& x, const Tensor& mask = Tensor(),
                      const std::vector<Tensor>& initial_state = {});
  // ONNX: both layers' exports (nn/recurrent.h), the backward one's outputs put back in step
  // order by a Slice, then Concat, Add, Mul or their mean.
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  RecurrentLayer& forward_layer() const { return *forward_; }
  RecurrentLayer& backward_layer() const { return *backward_; }
  const std::string& merge_mode() const { return merge_mode_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  std::shared_ptr<RecurrentLayer> forward_, backward_;
  std::string merge_mode_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_WRAPPERS_H_
