// Custom differentiable ops, defined outside the library (like torch::autograd::Function).
// This is the one way programs add ops; the graph underneath is internal to //autograd.
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
// Forward runs with graph recording off and receives any arguments. Its inputs are its
// Tensor arguments, in order, with each element of a std::vector<Tensor> argument counted
// as one input; a Tensor argument may be undefined (an optional input such as a missing
// bias: it needs no gradient). Backward receives the gradient of the output and returns
// one gradient per input, in that order (an undefined Tensor() for an input that needs
// none). Backward itself is not differentiable (no double backward).
//
// Errors (gradway::Error naming the op, thrown by Backward() on the output's graph): a
// Backward that returns the wrong number of gradients or a gradient whose shape differs
// from its input's; a tensor saved for backward (SaveForBackward, Save) that was written
// in place after Forward. Apply throws when Forward returns an undefined tensor. Keeping
// a tensor with Set (for values) does not compile.
#ifndef GRADWAY_AUTOGRAD_FUNCTION_H_
#define GRADWAY_AUTOGRAD_FUNCTION_H_

#include <any>
#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "autograd/error.h"
#include "autograd/graph.h"
#include "autograd/tensor.h"

namespace gradway {

namespace internal {

// Whether a value of type V holds a Tensor, directly or in a standard container.
template <typename V>
struct HoldsTensor : std::is_same<std::decay_t<V>, Tensor> {};
template <typename T, typename A>
struct HoldsTensor<std::vector<T, A>> : HoldsTensor<T> {};
template <typename T, std::size_t N>
struct HoldsTensor<std::array<T, N>> : HoldsTensor<T> {};
template <typename T>
struct HoldsTensor<std::optional<T>> : HoldsTensor<T> {};
template <typename A, typename B>
struct HoldsTensor<std::pair<A, B>> : std::disjunction<HoldsTensor<A>, HoldsTensor<B>> {};
template <typename... T>
struct HoldsTensor<std::tuple<T...>> : std::disjunction<HoldsTensor<T>...> {};
template <typename K, typename T, typename C, typename A>
struct HoldsTensor<std::map<K, T, C, A>> : std::disjunction<HoldsTensor<K>, HoldsTensor<T>> {};

}  // namespace internal

// State passed from a custom op's Forward to its Backward.
class FunctionContext {
 public:
  // Keeps tensors for Backward, positionally (saved()[i]); stored cut from the graph (they
  // share the data). Replaces what an earlier call saved.
  void SaveForBackward(const std::vector<Tensor>& tensors);
  const std::vector<Tensor>& saved() const { return saved_; }

  // Keeps a tensor for Backward under a name: ctx.Save("x", x), then ctx.saved("x").
  void Save(const std::string& name, const Tensor& tensor);
  // The tensor saved under `name`; throws Error naming the op and the key when absent.
  const Tensor& saved(const std::string& name) const;

  // Keeps any other value (a scalar, a flag, a shape) under a name, typed:
  // ctx.Set("alpha", 0.5f), then ctx.Get<float>("alpha"). Refuses, at compile time, a
  // Tensor and the standard containers of tensors (std::vector, std::array, std::optional,
  // std::pair, std::tuple, std::map): a tensor kept here would escape the check that it is
  // not modified in place before Backward. Keep tensors with SaveForBackward or Save (a
  // tensor inside a type of your own is not seen: don't).
  template <typename V>
  void Set(const std::string& name, V value) {
    static_assert(!internal::HoldsTensor<V>::value,
                  "FunctionContext::Set keeps values, not tensors: keep a tensor for Backward "
                  "with SaveForBackward or Save, so that an in-place change to it is caught");
    values_[name] = std::move(value);
  }
  // The value set under `name`; throws Error naming the op and the key when it is absent
  // or was set with another type.
  template <typename V>
  const V& Get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) MissingKey(name, "value");
    const V* v = std::any_cast<V>(&it->second);
    if (v == nullptr) WrongType(name, typeid(V).name(), it->second.type().name());
    return *v;
  }

  // Whether input i needs a gradient (Backward may return Tensor() for the others).
  bool needs_input_grad(size_t i) const {
    return i < needs_input_grad_.size() && needs_input_grad_[i];
  }

  // Internal (used by Function): every tensor saved for Backward, and the op's name.
  std::vector<Tensor> AllSaved() const;
  void Init(const char* op, std::vector<bool> needs_input_grad);

 private:
  [[noreturn]] void MissingKey(const std::string& name, const char* what) const;
  [[noreturn]] void WrongType(const std::string& name, const char* wanted,
                              const char* held) const;
  const char* op_ = "";
  std::vector<Tensor> saved_;
  std::map<std::string, Tensor> named_;
  std::map<std::string, std::any> values_;
  std::vector<bool> needs_input_grad_;
};

namespace internal {

template <typename A>
void CollectInputs(std::vector<Tensor>& out, const A& arg) {
  if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) {
    out.push_back(arg);
  } else if constexpr (std::is_same_v<std::decay_t<A>, std::vector<Tensor>>) {
    out.insert(out.end(), arg.begin(), arg.end());
  }
}

// Records a custom op's node on `out` (when an input requires a gradient) with `backward`,
// saving ctx's tensors for the engine's in-place check.
Tensor RecordFunction(const char* name, Tensor out, const std::vector<Tensor>& inputs,
                      const FunctionContext& ctx, BackwardFn backward);

}  // namespace internal

// Base for custom ops: T defines kName, static Forward(FunctionContext&, args...) and
// static Backward(FunctionContext&, const Tensor& grad_output) -> std::vector<Tensor>.
template <typename T>
struct Function {
  template <typename... Args>
  static Tensor Apply(const Args&... args) {
    std::vector<Tensor> inputs;
    (internal::CollectInputs(inputs, args), ...);
    auto ctx = std::make_shared<FunctionContext>();
    std::vector<bool> needs_grad;
    for (const Tensor& t : inputs) needs_grad.push_back(t.defined() && t.requires_grad());
    ctx->Init(T::kName, std::move(needs_grad));
    Tensor out;
    {
      NoGradGuard no_grad;
      out = T::Forward(*ctx, args...);
    }
    GRADWAY_CHECK(out.defined(), T::kName, ": Forward returned an undefined tensor");
    return internal::RecordFunction(
        T::kName, out, inputs, *ctx,
        [ctx](const Tensor& grad) -> std::vector<Tensor> { return T::Backward(*ctx, grad); });
  }
};

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_FUNCTION_H_
