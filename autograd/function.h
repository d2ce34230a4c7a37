// Custom differentiable ops, defined outside the library (like torch::autograd::Function).
//
//   struct Swish : gradway::Function<Swish> {
//     static constexpr const char* kName = "swish";
//     static Tensor Forward(FunctionContext& ctx, const Tensor& x) {
//       Tensor s = Sigmoid(x);
//       ctx.SaveForBackward({x, s});
//       return x * s;
//     }
//     static std::vector<Tensor> Backward(FunctionContext& ctx, const Tensor& grad) {
//       const Tensor& x = ctx.saved()[0];
//       const Tensor& s = ctx.saved()[1];
//       return {grad * (s + x * s * (1.f - s))};
//     }
//   };
//   Tensor y = Swish::Apply(x);
//
// Forward runs with graph recording off and receives any arguments; the Tensor arguments
// are the op's inputs. Backward receives the gradient of the output and returns one
// gradient per Tensor input, in order (an undefined Tensor() for an input that needs none).
// Apply throws gradway::Error naming the op when Backward returns the wrong number of
// gradients or a gradient whose shape differs from its input's. Backward itself is not
// differentiable (no double backward).
#ifndef GRADWAY_AUTOGRAD_FUNCTION_H_
#define GRADWAY_AUTOGRAD_FUNCTION_H_

#include <memory>
#include <type_traits>
#include <vector>

#include "autograd/error.h"
#include "autograd/graph.h"
#include "autograd/tensor.h"

namespace gradway {

// State passed from a custom op's Forward to its Backward.
class FunctionContext {
 public:
  // Keeps tensors for Backward (stored cut from the graph: they share the data).
  void SaveForBackward(const std::vector<Tensor>& tensors) {
    saved_.clear();
    for (const Tensor& t : tensors) saved_.push_back(t.defined() ? t.Detach() : Tensor());
  }
  const std::vector<Tensor>& saved() const { return saved_; }
  // Non-tensor values (scalars, flags) Backward needs.
  std::vector<double>& values() { return values_; }
  // Whether Tensor input i needs a gradient (Backward may skip the others).
  bool needs_input_grad(size_t i) const {
    return i < needs_input_grad_.size() && needs_input_grad_[i];
  }

 private:
  template <typename T>
  friend struct Function;
  std::vector<Tensor> saved_;
  std::vector<double> values_;
  std::vector<bool> needs_input_grad_;
};

namespace internal {

template <typename A>
void CollectTensor(std::vector<Tensor>& out, const A& arg) {
  if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) out.push_back(arg);
}

// Checks a custom op's gradients against its inputs; throws Error naming the op.
void CheckCustomGradients(const char* name, const std::vector<Shape>& input_shapes,
                          const std::vector<Tensor>& grads);

}  // namespace internal

// Base for custom ops: T defines kName, static Forward(FunctionContext&, args...) and
// static Backward(FunctionContext&, const Tensor& grad_output) -> std::vector<Tensor>.
template <typename T>
struct Function {
  template <typename... Args>
  static Tensor Apply(const Args&... args) {
    std::vector<Tensor> inputs;
    (internal::CollectTensor(inputs, args), ...);
    auto ctx = std::make_shared<FunctionContext>();
    for (const Tensor& t : inputs) ctx->needs_input_grad_.push_back(t.requires_grad());
    Tensor out;
    {
      NoGradGuard no_grad;
      out = T::Forward(*ctx, args...);
    }
    GRADWAY_CHECK(out.defined(), T::kName, ": Forward returned an undefined tensor");
    if (!ShouldRecord(inputs)) return out;
    // A fresh handle: Forward may have returned one of its inputs or a tensor it keeps.
    out = out.Detach();
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) shapes.push_back(t.shape());
    return RecordOp(T::kName, out, inputs,
                    [ctx, shapes](const Tensor& grad) -> std::vector<Tensor> {
                      std::vector<Tensor> grads = T::Backward(*ctx, grad);
                      internal::CheckCustomGradients(T::kName, shapes, grads);
                      return grads;
                    });
  }
};

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_FUNCTION_H_
