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
#include <map>
#include <memory>
#include <string>
#include <utility>
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

// ---- Shards: one backward pass over several independent parts of a batch, each with
// gradients of its own (data-parallel training's synchronised batch norm,
// nn/data_parallel.cc).
//
// While a ShardTagScope(tag) is alive on a thread, the ops recorded there belong to shard
// `tag` (scopes nest; the innermost wins); ops recorded outside any scope are shared. A
// backward pass through a graph holding shard ops runs them shard by shard: each shard
// runs the ops of its own that are ready (the last made ready first, as the engine always
// does) until it has none left; then the shared op recorded last among those not yet run
// runs (all its consumers have by then), which may make more shard ops ready; and so on.
// So every shard's ops run, and their gradients add up, in exactly the order they would
// in a graph holding only that shard and the shared ops, however many other shards the
// pass holds: a shard's gradients are the same bits alone or with others. Graphs without
// shard ops run as before. Backward throws Error when an op of one shard uses a tensor made
// by an op of another (only shared tensors may cross shards).
class ShardTagScope {
 public:
  explicit ShardTagScope(int tag);  // tag >= 0
  ~ShardTagScope();
  ShardTagScope(const ShardTagScope&) = delete;
  ShardTagScope& operator=(const ShardTagScope&) = delete;

 private:
  int previous_;
};

// The shard of the innermost ShardTagScope alive on this thread; -1 outside any.
int CurrentShardTag();

// While alive on the thread that runs a backward pass, a gradient that reaches a leaf
// through an op of shard t goes to this sink, summed per (leaf, t), instead of the leaf's
// grad(); gradients through shared ops still go to grad(). Sinks nest; the innermost
// receives.
class ShardGradientSink {
 public:
  ShardGradientSink();
  ~ShardGradientSink();
  ShardGradientSink(const ShardGradientSink&) = delete;
  ShardGradientSink& operator=(const ShardGradientSink&) = delete;

  // The sum of the gradients `leaf` received through shard `tag`'s ops; undefined when it
  // received none.
  Tensor grad(const Tensor& leaf, int tag) const;

 private:
  friend class Engine;
  std::map<std::pair<const TensorImpl*, int>, Tensor> grads_;
  ShardGradientSink* previous_;
};

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_GRAPH_H_
