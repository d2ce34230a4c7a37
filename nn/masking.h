// Masks between layers, as Keras': a mask [N, T] marks which steps of a batch of sequences
// are real (1) and which are padding (0). A layer makes one (Embedding with mask_zero,
// Masking), layers that work on each step alone pass it on (Dense on sequences, Dropout,
// activations, normalisation, TimeDistributed, PositionEmbedding), the merge layers Add,
// Multiply and Concatenate pass on the steps all their masked inputs keep, and layers that
// use it consume it: SimpleRNN, GRU, LSTM and Bidirectional skip masked steps (passing the
// mask on when they return sequences), GlobalAveragePooling1D averages the real steps
// only, and MultiHeadAttention attends only where the query's and the value's steps are
// real (Keras' mask from query_mask and value_mask; it passes the query's mask on).
// nn::Model and nn::Sequential carry the masks; any other layer drops its input's.
#ifndef GRADWAY_NN_MASKING_H_
#define GRADWAY_NN_MASKING_H_

#include <optional>
#include <string>
#include <utility>

#include "autograd/tensor.h"
#include "nn/module.h"

namespace gradway {
namespace nn {

// A layer's output and its mask (undefined: none).
struct MaskedTensor {
  Tensor value;
  Tensor mask;
};

// The interface of a layer that makes or uses masks (mixed into the layer's class beside
// Module). Models call CallWithMask instead of operator().
class MaskingLayer {
 public:
  virtual ~MaskingLayer();
  // The layer on x, whose steps `mask` [N, T] marks (undefined: none), and the output's
  // mask. Builds and checks x as operator() does (Error naming the layer), and a mask of
  // another shape than x's first two axes.
  virtual MaskedTensor CallWithMask(const Tensor& x, const Tensor& mask) = 0;
};

// Checks that `mask` is undefined or [N, T] for x [N, T, ...]; throws Error naming `who`.
void CheckMask(const std::string& who, const Tensor& x, const Tensor& mask);

// Masking (Keras' layers.Masking): x [N, T, ...] with the mask of the steps whose values are
// not all mask_value (default 0); as Keras', it zeroes the masked steps' values, and an
// incoming mask is replaced. ONNX export: not supported yet.
struct MaskingOptions {
  float mask_value = 0.f;
  std::optional<Shape> input_shape;
  std::string name;

  MaskingOptions& MaskValue(float v) { mask_value = v; return *this; }
  MaskingOptions& InputShape(Shape v) { input_shape = std::move(v); return *this; }
  MaskingOptions& Name(std::string v) { name = std::move(v); return *this; }
};

class Masking : public Layer<Masking>, public MaskingLayer {
 public:
  explicit Masking(MaskingOptions options = {});
  Tensor Forward(const Tensor& x) override;
  MaskedTensor CallWithMask(const Tensor& x, const Tensor& mask) override;
  // Masks are not exported yet: throws Error saying so.
  std::string ExportOnnx(OnnxGraph& graph, const std::string& input) const override;
  const MaskingOptions& options() const { return options_; }

 protected:
  Shape DoBuild(const Shape& input_shape) override;

 private:
  MaskingOptions options_;
};

}  // namespace nn
}  // namespace gradway

#endif  // GRADWAY_NN_MASKING_H_
