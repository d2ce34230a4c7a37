// Grad mode and the backward engine's public face. Ops record the graph when an input
// requires a gradient and grad mode is on; Tensor::Backward runs the engine, which
//   - runs each op's backward once all its consumers have contributed, in an order that
//     depends only on the graph (results are deterministic);
//   - checks every gradient an op's backward returns against its input's shape (built-in
//     ops and Functions alike), throwing Error naming the op;
//   - throws Error naming the op when a tensor the op saved for its backward was written
//     in place since (CopyFrom, Fill, set, in-place operators, and any non-const data()
//     access, which counts as a write), as PyTorch's version counter does;
//   - accumulates a leaf's gradient in place only while nothing else holds it: a grad()
//     a program keeps is never changed behind its back.
// The graph itself (nodes, RecordOp) is internal to //autograd (autograd/internal/).
#ifndef GRADWAY_AUTOGRAD_GRAPH_H_
#define GRADWAY_AUTOGRAD_GRAPH_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace gradway {

class Node;

// Maps the gradient of an op's output to the gradients of its inputs, one per input.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

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

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_GRAPH_H_
