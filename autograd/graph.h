// The autograd graph: nodes recorded by ops, grad mode, and the backward engine.
//
// Writing a built-in op (see autograd/functions.cc) follows one pattern:
//   1. check shapes, throwing Error with the op's name and the shapes;
//   2. compute the output with an ops/ kernel;
//   3. RecordOp(name, output, {inputs}, backward), where backward maps the output's
//      gradient to one gradient per input (an undefined Tensor where none is needed).
// Backward lambdas must capture only what they read; to keep the op's own output, capture
// output.Detach() (capturing `output` itself would make a reference cycle).
#ifndef GRADWAY_AUTOGRAD_GRAPH_H_
#define GRADWAY_AUTOGRAD_GRAPH_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {

// Maps the gradient of an op's output to the gradients of its inputs, one per input.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// Where an input's gradient goes: the node that produced it, or the leaf itself.
// Both null when the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
};

// One recorded op. Freed iteratively (graphs may be 100,000 nodes deep).
class Node {
 public:
  Node(std::string name, std::vector<Edge> inputs, BackwardFn backward);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Edge>& inputs() const { return inputs_; }

 private:
  friend class Engine;
  std::string name_;
  std::vector<Edge> inputs_;
  BackwardFn backward_;
  bool released_ = false;
};

// The number of graph nodes alive in the process (for leak tests).
int64_t LiveNodeCount();

// Whether ops record the graph on this thread (true unless a NoGradGuard is alive).
bool GradEnabled();

// Turns graph recording off on this thread for the guard's lifetime (like torch::NoGradGuard).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any of `inputs` requires a gradient.
bool ShouldRecord(const std::vector<Tensor>& inputs);

// Attaches a node to `output` when ShouldRecord(inputs); returns `output`.
Tensor RecordOp(const char* name, Tensor output, const std::vector<Tensor>& inputs,
                BackwardFn backward);

// Runs backward from `root` with gradient `grad_output` (same shape as root).
void RunBackward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_GRAPH_H_
