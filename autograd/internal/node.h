// The recorded graph: nodes, edges and RecordOp. Internal to //autograd: the built-in ops
// record with it; programs add ops with gradway::Function (autograd/function.h).
//
// Writing a built-in op (see autograd/functions.cc) follows one pattern:
//   1. check shapes, throwing Error with the op's name and the shapes;
//   2. compute the output with an ops/ kernel;
//   3. RecordOp(name, output, {inputs}, {saved}, backward), where `saved` lists the
//      tensors the backward reads (checked for in-place changes before it runs) and
//      backward maps the output's gradient to one gradient per input (an undefined Tensor
//      where none is needed), each of its input's shape (the engine checks).
// Backward lambdas must capture only what they read; to keep the op's own output, capture
// output.Detach() (capturing `output` itself would make a reference cycle).
#ifndef GRADWAY_AUTOGRAD_INTERNAL_NODE_H_
#define GRADWAY_AUTOGRAD_INTERNAL_NODE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
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

// A tensor an op saved for its backward: its storage and that storage's version then.
struct SavedVersion {
  std::shared_ptr<Storage> storage;
  uint64_t version;
  Shape shape;
};

// One recorded op. Freed iteratively (graphs may be 100,000 nodes deep).
class Node {
 public:
  Node(std::string name, std::vector<Edge> inputs, std::vector<Shape> input_shapes,
       std::vector<SavedVersion> saved, BackwardFn backward);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Edge>& inputs() const { return inputs_; }

 private:
  friend class Engine;
  std::string name_;
  std::vector<Edge> inputs_;
  std::vector<Shape> input_shapes_;
  std::vector<SavedVersion> saved_;
  BackwardFn backward_;
  bool released_ = false;
};

// True when grad mode is on and any of `inputs` requires a gradient.
bool ShouldRecord(const std::vector<Tensor>& inputs);

// Attaches a node to `output` when ShouldRecord(inputs); returns `output`. `saved` are
// the tensors `backward` reads (undefined ones are skipped): Backward() throws, naming the
// op, when one of them was written in place after this call.
Tensor RecordOp(const char* name, Tensor output, const std::vector<Tensor>& inputs,
                const std::vector<Tensor>& saved, BackwardFn backward);

// Runs backward from `root` with gradient `grad_output` (same shape as root).
void RunBackward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_INTERNAL_NODE_H_
