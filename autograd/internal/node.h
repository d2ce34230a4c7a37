// The recorded graph: nodes, edges and RecordOp. Internal to //autograd: the built-in ops
// record with RecordOp; programs add ops with gradway::Function (autograd/function.h).
//
// Writing a built-in op (see autograd/functions.cc) follows one pattern:
//   1. check shapes, throwing Error with the op's name and the shapes;
//   2. compute the output with an ops/ kernel;
//   3. return RecordOp(name, output, {inputs}, Save(tensors...), backward):
//
//        Tensor y = UnaryForward(ops::UnaryOp::kExp, x);
//        return RecordOp("exp", y, {x}, Save(y),
//                        [](const Tensor& g, const Tensor& y) -> std::vector<Tensor> {
//                          return {Mul(g, y)};
//                        });
//
//      backward maps the output's gradient to one gradient per input (an undefined Tensor
//      where none is needed), each of its input's shape (the engine checks). It receives
//      the tensors Save() listed as its parameters after the gradient, in that order: the
//      engine passes them only after checking that none was written in place since this
//      call (else Backward() throws, naming the op). A tensor given to Save undefined (one
//      not needed for these inputs: `gb ? a : Tensor()`) arrives undefined.
// A backward captures no Tensor: every tensor it reads, inputs, output and the op's own
// side buffers (a mask, argmax indices), comes in through its parameters, so what it
// reads is what was saved and checked, and it cannot drift from the saved list. Shapes,
// scalars and flags are captured by value. Saved tensors are kept cut from the graph
// (detached), so saving the op's own output makes no reference cycle.
// autograd/saved_tensors_test.cc enforces this for every built-in op (a new op adds its
// case there): writing any input or the output in place after the forward either makes
// Backward() throw naming the op or leaves every gradient bit-identical.
#ifndef GRADWAY_AUTOGRAD_INTERNAL_NODE_H_
#define GRADWAY_AUTOGRAD_INTERNAL_NODE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "autograd/graph.h"
#include "autograd/internal/tensor_impl.h"
#include "autograd/shape.h"
#include "autograd/tensor.h"

namespace gradway {

// Where an input's gradient goes: the node that produced it, or the leaf itself.
// Both null when the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
};

// A node's backward: the output's gradient and the node's saved tensors (checked against
// in-place writes, in the order saved) -> one gradient per input.
using NodeBackwardFn = std::function<std::vector<Tensor>(
    const Tensor& grad_output, const std::vector<Tensor>& saved)>;

// One recorded op. Freed iteratively (graphs may be 100,000 nodes deep).
class Node {
 public:
  Node(std::string name, std::vector<Edge> inputs, std::vector<Shape> input_shapes,
       std::vector<Tensor> saved, NodeBackwardFn backward);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Edge>& inputs() const { return inputs_; }
  // The shard it was recorded in (CurrentShardTag() then, autograd/graph.h; -1: shared).
  int shard() const { return shard_; }

 private:
  friend class Engine;
  std::string name_;
  std::vector<Edge> inputs_;
  std::vector<Shape> input_shapes_;
  int shard_;
  uint64_t sequence_;  // nodes are numbered in the order they are made (sharded backward)
  std::vector<Tensor> saved_;            // detached; undefined where nothing was saved
  std::vector<uint64_t> saved_versions_;  // each saved tensor's storage version then
  NodeBackwardFn backward_;
  bool released_ = false;
};

// True when grad mode is on and any of `inputs` requires a gradient.
bool ShouldRecord(const std::vector<Tensor>& inputs);

// The one way a node is made (RecordOp for built-in ops, Function for custom ones):
// attaches a node to `output` when ShouldRecord(inputs); returns `output`. `saved` are the
// tensors `backward` receives, each version-checked by the engine before it runs.
Tensor AttachNode(const char* name, Tensor output, const std::vector<Tensor>& inputs,
                  const std::vector<Tensor>& saved, NodeBackwardFn backward);

// The tensors a built-in op saves for its backward, made by Save() (or SaveList()).
template <size_t N>
struct Saved {
  std::array<Tensor, N> tensors;
};

// Saves `tensors` (any of them may be undefined) for RecordOp's backward, which receives
// them as its parameters in this order. Save() saves nothing.
template <typename... T>
Saved<sizeof...(T)> Save(const T&... tensors) {
  static_assert((std::is_same_v<T, Tensor> && ...), "Save takes Tensors");
  return {{tensors...}};
}

// For an op over a list of inputs whose length is known only at run time (SyncBatchNorm's
// statistics over the shards): the backward receives these tensors as one
// const std::vector<Tensor>& parameter, in this order, version-checked as Save()'s.
struct SavedList {
  std::vector<Tensor> tensors;
};
inline SavedList SaveList(std::vector<Tensor> tensors) { return {std::move(tensors)}; }

namespace internal {

template <size_t>
using SavedParam = const Tensor&;

// Whether `backward` can be called as backward(grad, saved_0, ..., saved_{N-1}).
template <typename Backward, size_t... I>
constexpr bool TakesSaved(std::index_sequence<I...>) {
  return std::is_invocable_r_v<std::vector<Tensor>, const Backward&, const Tensor&,
                               SavedParam<I>...>;
}

template <typename Backward, size_t... I>
std::vector<Tensor> CallWithSaved(const Backward& backward, const Tensor& grad,
                                  const std::vector<Tensor>& saved, std::index_sequence<I...>) {
  return backward(grad, saved[I]...);
}

}  // namespace internal

// Records a built-in op (see the pattern at the top of this file): attaches a node to
// `output` when ShouldRecord(inputs) and returns `output`. `backward` is called as
// backward(grad_output, saved tensors...) -> std::vector<Tensor>, one per input.
template <size_t N, typename Backward>
Tensor RecordOp(const char* name, Tensor output, const std::vector<Tensor>& inputs,
                Saved<N> saved, Backward backward) {
  static_assert(internal::TakesSaved<Backward>(std::make_index_sequence<N>()),
                "RecordOp: the backward must take (const Tensor& grad_output, then one "
                "const Tensor& per tensor saved) and return std::vector<Tensor>");
  if (!ShouldRecord(inputs)) return output;
  return AttachNode(
      name, std::move(output), inputs,
      std::vector<Tensor>(saved.tensors.begin(), saved.tensors.end()),
      [backward = std::move(backward)](const Tensor& grad, const std::vector<Tensor>& saved) {
        return internal::CallWithSaved(backward, grad, saved, std::make_index_sequence<N>());
      });
}

// RecordOp for a SavedList: `backward` is called as backward(grad_output, saved) with
// saved the list's tensors, and returns one gradient per input.
template <typename Backward>
Tensor RecordOp(const char* name, Tensor output, const std::vector<Tensor>& inputs,
                SavedList saved, Backward backward) {
  static_assert(std::is_invocable_r_v<std::vector<Tensor>, const Backward&, const Tensor&,
                                      const std::vector<Tensor>&>,
                "RecordOp: with SaveList, the backward must take (const Tensor& grad_output, "
                "const std::vector<Tensor>& saved) and return std::vector<Tensor>");
  if (!ShouldRecord(inputs)) return output;
  return AttachNode(name, std::move(output), inputs, std::move(saved.tensors),
                    NodeBackwardFn(std::move(backward)));
}

// Runs backward from `root` with gradient `grad_output` (same shape as root).
void RunBackward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

// Testing only: while one is alive, the engine multiplies every gradient that the
// backward of the ops named `op` returns by `scale` (e.g. 0.5, a halved backward). Each
// op's test uses it to show that its gradient check would catch a wrong backward
// (autograd/test_util.h, ExpectGradCheckCatchesHalvedBackward). One at a time.
class ScopedBackwardScaleForTesting {
 public:
  ScopedBackwardScaleForTesting(std::string op, float scale);
  ~ScopedBackwardScaleForTesting();
  ScopedBackwardScaleForTesting(const ScopedBackwardScaleForTesting&) = delete;
  ScopedBackwardScaleForTesting& operator=(const ScopedBackwardScaleForTesting&) = delete;
};

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_INTERNAL_NODE_H_
