#include "autograd/graph.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/error.h"
#include "autograd/internal/node.h"
#include "autograd/internal/tensor_impl.h"
#include "ops/elementwise.h"

namespace gradway {
namespace {

thread_local bool g_grad_enabled = true;
std::atomic<int64_t> g_live_nodes{0};
std::atomic<uint64_t> g_node_sequence{0};
thread_local int g_shard_tag = -1;
thread_local ShardGradientSink* g_shard_sink = nullptr;

// ScopedBackwardScaleForTesting's op and scale; the flag is read on every node's backward.
std::atomic<bool> g_backward_scale_active{false};
std::string g_backward_scale_op;
float g_backward_scale = 1.f;

// True when `t` is the only handle on its data: no other tensor, view or saved copy.
bool SoleOwner(const Tensor& t) {
  return t.impl().use_count() == 1 && t.impl()->storage.use_count() == 1;
}

// sum += g: in place when sum's buffer is ours alone, else into a fresh tensor.
void Accumulate(Tensor& sum, Tensor g) {
  if (!sum.defined()) {
    sum = std::move(g);
    return;
  }
  // Reads through const data(): a non-const one counts as a write (version counter).
  if (SoleOwner(sum)) {
    ops::Axpy(1.f, std::as_const(g).data(), sum.data(), sum.numel());
    return;
  }
  Tensor out = Tensor::Empty(sum.shape());
  ops::Binary(ops::BinaryOp::kAdd, std::as_const(sum).data(), std::as_const(g).data(),
              out.data(), out.numel());
  sum = out;
}

}  // namespace

Node::Node(std::string name, std::vector<Edge> inputs, std::vector<Shape> input_shapes,
           std::vector<Tensor> saved, NodeBackwardFn backward)
    : name_(std::move(name)),
      inputs_(std::move(inputs)),
      input_shapes_(std::move(input_shapes)),
      shard_(g_shard_tag),
      sequence_(g_node_sequence.fetch_add(1, std::memory_order_relaxed)),
      saved_(std::move(saved)),
      backward_(std::move(backward)) {
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
  saved_versions_.reserve(saved_.size());
  for (Tensor& t : saved_) {
    if (t.defined()) t = t.Detach();  // cut from the graph: no cycle through the output
    saved_versions_.push_back(
        t.defined() ? t.impl()->storage->version.load(std::memory_order_relaxed) : 0);
  }
}

Node::~Node() {
  // Free the chain of predecessors without recursion (graphs can be 100,000 nodes deep).
  // For each dying node: first drop its backward function, whose captured tensors may
  // share ownership of the input nodes (the edges still keep those alive), then take over
  // every input node that only this edge keeps alive, so it dies in this loop, not in a
  // nested destructor.
  g_live_nodes.fetch_sub(1, std::memory_order_relaxed);
  backward_ = nullptr;
  std::vector<std::shared_ptr<Node>> stack;
  for (Edge& e : inputs_) {
    if (e.node && e.node.use_count() == 1) stack.push_back(std::move(e.node));
  }
  while (!stack.empty()) {
    std::shared_ptr<Node> node = std::move(stack.back());
    stack.pop_back();
    node->backward_ = nullptr;
    for (Edge& e : node->inputs_) {
      if (e.node && e.node.use_count() == 1) stack.push_back(std::move(e.node));
    }
    node->inputs_.clear();
  }
}

bool GradEnabled() { return g_grad_enabled; }

int64_t LiveNodeCount() { return g_live_nodes.load(std::memory_order_relaxed); }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

ShardTagScope::ShardTagScope(int tag) : previous_(g_shard_tag) {
  GRADWAY_CHECK(tag >= 0, "ShardTagScope: a shard's tag must be >= 0, got ", tag);
  g_shard_tag = tag;
}
ShardTagScope::~ShardTagScope() { g_shard_tag = previous_; }

int CurrentShardTag() { return g_shard_tag; }

ShardGradientSink::ShardGradientSink() : previous_(g_shard_sink) { g_shard_sink = this; }
ShardGradientSink::~ShardGradientSink() { g_shard_sink = previous_; }

Tensor ShardGradientSink::grad(const Tensor& leaf, int tag) const {
  if (!leaf.defined()) return Tensor();
  auto it = grads_.find({leaf.impl().get(), tag});
  return it == grads_.end() ? Tensor() : it->second;
}

bool ShouldRecord(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

Tensor AttachNode(const char* name, Tensor output, const std::vector<Tensor>& inputs,
                  const std::vector<Tensor>& saved, NodeBackwardFn backward) {
  if (!ShouldRecord(inputs)) return output;
  std::vector<Edge> edges(inputs.size());
  std::vector<Shape> shapes(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined() || !t.requires_grad()) continue;
    shapes[i] = t.shape();
    if (t.grad_fn()) {
      edges[i].node = t.grad_fn();
    } else {
      edges[i].leaf = t.impl();
    }
  }
  TensorImpl* impl = output.impl().get();
  impl->grad_fn = std::make_shared<Node>(name, std::move(edges), std::move(shapes), saved,
                                         std::move(backward));
  impl->requires_grad = true;
  return output;
}

ScopedBackwardScaleForTesting::ScopedBackwardScaleForTesting(std::string op, float scale) {
  GRADWAY_CHECK(!g_backward_scale_active.load(), "ScopedBackwardScaleForTesting: one at a time");
  g_backward_scale_op = std::move(op);
  g_backward_scale = scale;
  g_backward_scale_active.store(true);
}

ScopedBackwardScaleForTesting::~ScopedBackwardScaleForTesting() {
  g_backward_scale_active.store(false);
}

class Engine {
 public:
  static void Run(const Tensor& root, const Tensor& grad_output, bool retain_graph);

 private:
  explicit Engine(bool retain_graph) : retain_graph_(retain_graph) {}
  // Counts, for every node reachable from `root`, the edges from reachable nodes that
  // point at it (iterative DFS: graphs can be very deep). Lists the shared nodes in
  // shared_, and tells whether any node belongs to a shard; throws Error for an op of one
  // shard that uses a tensor of another.
  bool CountDependencies(Node* root);
  // Runs `node`'s backward (when it has a gradient) and hands the results to its inputs:
  // summed into the pending gradient of an input node, which goes to ready_ once all its
  // consumers have run (shard nodes to their shard's stack, shared nodes wait), or into a
  // leaf's gradient (or the shard sink's).
  void Process(Node* node);
  // Processes ready nodes, last made ready first, until none is left.
  void Drain(std::vector<Node*>& stack);
  // The order for graphs with shard nodes (autograd/graph.h, ShardTagScope).
  void RunSharded(Node* root);

  bool retain_graph_;
  bool sharded_ = false;  // the graph holds shard nodes
  std::unordered_map<Node*, int> dependencies_;
  std::unordered_map<Node*, Tensor> pending_;
  std::vector<Node*> ready_;                    // graphs without shards
  std::map<int, std::vector<Node*>> shard_ready_;  // with shards: each shard's ready nodes
  std::vector<Node*> shared_;                   // reachable nodes of no shard
};

bool Engine::CountDependencies(Node* root) {
  bool sharded = root->shard_ >= 0;
  std::vector<Node*> stack = {root};
  dependencies_[root] = 0;
  if (root->shard_ < 0) shared_.push_back(root);
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& e : node->inputs_) {
      if (!e.node) continue;
      Node* input = e.node.get();
      GRADWAY_CHECK(node->shard_ < 0 || input->shard_ < 0 || node->shard_ == input->shard_,
                    "backward: op '", node->name_, "' of shard ", node->shard_,
                    " uses a tensor made by op '", input->name_, "' of shard ", input->shard_,
                    "; shards may share only tensors made outside any ShardTagScope");
      auto [it, inserted] = dependencies_.try_emplace(input, 0);
      ++it->second;
      if (!inserted) continue;
      stack.push_back(input);
      if (input->shard_ >= 0) {
        sharded = true;
      } else {
        shared_.push_back(input);
      }
    }
  }
  return sharded;
}

void Engine::Process(Node* node) {
  Tensor grad;
  auto it = pending_.find(node);
  if (it != pending_.end()) {
    grad = std::move(it->second);
    pending_.erase(it);
  }
  std::vector<Tensor> input_grads;
  if (grad.defined()) {
    GRADWAY_CHECK(!node->released_, "backward: trying to backward through the graph a ",
                  "second time (op '", node->name_, "'): its saved tensors were freed ",
                  "by the first backward; pass retain_graph = true to the first one");
    for (size_t i = 0; i < node->saved_.size(); ++i) {
      const Tensor& saved = node->saved_[i];
      if (!saved.defined()) continue;
      const uint64_t then = node->saved_versions_[i];
      const uint64_t now = saved.impl()->storage->version.load(std::memory_order_relaxed);
      GRADWAY_CHECK(now == then, "backward: a tensor of shape ",
                    ShapeToString(saved.shape()), " that '", node->name_,
                    "' saved for its gradient was modified in place after the forward ",
                    "pass (it is at version ", now, ", it was at ", then,
                    "); modify a Clone() instead, or modify it after backward");
    }
    // Only now, checked, does the backward see the saved tensors.
    input_grads = node->backward_(grad, node->saved_);
    if (g_backward_scale_active.load(std::memory_order_relaxed) &&
        node->name_ == g_backward_scale_op) {
      for (Tensor& g : input_grads) {
        if (!g.defined()) continue;
        Tensor scaled = Tensor::Zeros(g.shape());
        ops::Axpy(g_backward_scale, std::as_const(g).data(), scaled.data(), g.numel());
        g = scaled;
      }
    }
    GRADWAY_CHECK(input_grads.size() == node->inputs_.size(), node->name_,
                  ": backward returned ", input_grads.size(), " gradients for ",
                  node->inputs_.size(), " inputs");
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Edge& e = node->inputs_[i];
      if (!input_grads[i].defined() || (!e.node && !e.leaf)) continue;
      GRADWAY_CHECK(input_grads[i].shape() == node->input_shapes_[i], node->name_,
                    ": backward returned a gradient of shape ",
                    ShapeToString(input_grads[i].shape()), " for input ", i, " of shape ",
                    ShapeToString(node->input_shapes_[i]));
    }
    if (!retain_graph_) {
      node->backward_ = nullptr;
      node->saved_.clear();
      node->saved_versions_.clear();
      node->released_ = true;
    }
  }
  grad = Tensor();  // drop our handle: a gradient passed through may become unshared
  for (size_t i = 0; i < node->inputs_.size(); ++i) {
    const Edge& e = node->inputs_[i];
    Tensor* g = i < input_grads.size() && input_grads[i].defined() ? &input_grads[i] : nullptr;
    if (e.node) {
      Node* input = e.node.get();
      if (g) Accumulate(pending_[input], std::move(*g));
      if (--dependencies_[input] == 0) {
        if (!sharded_) {
          ready_.push_back(input);
        } else if (input->shard_ >= 0) {
          shard_ready_[input->shard_].push_back(input);
        }
      }
    } else if (e.leaf && g) {
      Tensor& leaf_grad = node->shard_ >= 0 && g_shard_sink != nullptr
                              ? g_shard_sink->grads_[{e.leaf.get(), node->shard_}]
                              : e.leaf->grad;
      if (!leaf_grad.defined()) {
        // The leaf owns its gradient buffer: take the backward's result when nothing
        // else refers to it (the usual case: a fresh tensor), else copy it.
        Tensor taken = std::move(*g);
        leaf_grad = SoleOwner(taken) ? std::move(taken) : taken.Clone();
      } else {
        // In place unless the program holds this gradient (then into a new tensor).
        Accumulate(leaf_grad, std::move(*g));
      }
    }
  }
}

void Engine::Drain(std::vector<Node*>& stack) {
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    Process(node);
  }
}

void Engine::RunSharded(Node* root) {
  // Shared nodes run latest made first. When every shard has run all it can, the latest
  // shared node not yet run is ready: its consumers were made after it, so each is a shard
  // node (whose consumers, made later still, have run: it was ready and ran) or a later
  // shared node, which ran before it.
  std::sort(shared_.begin(), shared_.end(),
            [](const Node* a, const Node* b) { return a->sequence_ < b->sequence_; });
  if (root->shard_ >= 0) shard_ready_[root->shard_].push_back(root);
  for (;;) {
    for (auto& [tag, stack] : shard_ready_) Drain(stack);
    if (shared_.empty()) break;
    Node* node = shared_.back();
    shared_.pop_back();
    GRADWAY_CHECK(dependencies_[node] == 0, "backward: internal error: shared op '",
                  node->name_, "' is not ready after every shard has run");
    Process(node);
  }
}

void Engine::Run(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  GRADWAY_CHECK(root.requires_grad(),
                "backward: the tensor does not require grad and has no grad_fn");
  GRADWAY_CHECK(grad_output.shape() == root.shape(), "backward: gradient of shape ",
                ShapeToString(grad_output.shape()), " given for a tensor of shape ",
                ShapeToString(root.shape()));
  NoGradGuard no_grad;  // backward functions never record
  if (!root.grad_fn()) {  // a leaf
    Tensor g = root.impl()->grad;
    Accumulate(g, grad_output.Clone());
    root.impl()->grad = g;
    return;
  }
  Engine engine(retain_graph);
  Node* start = root.grad_fn().get();
  engine.sharded_ = engine.CountDependencies(start);
  engine.pending_[start] = grad_output;
  if (engine.sharded_) {
    engine.RunSharded(start);
    return;
  }
  // Kahn's order: a node runs once all its consumers have contributed their gradients.
  engine.shared_.clear();
  engine.ready_.push_back(start);
  engine.Drain(engine.ready_);
}

void RunBackward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  Engine::Run(root, grad_output, retain_graph);
}

// ---------------------------------------------------------------- Tensor members
// Declared in autograd/tensor.h; defined here because they need the graph: Backward runs
// the engine and ToString names the node that produced the tensor.

std::string Tensor::grad_fn_name() const { return grad_fn() ? grad_fn()->name() : ""; }

void Tensor::Backward(bool retain_graph) const {
  GRADWAY_CHECK(numel() == 1, "backward: grad can be implicitly created only for ",
                "one-element tensors, but this one has shape ", ShapeToString(shape()),
                "; pass a gradient of that shape");
  RunBackward(*this, Tensor::Ones(shape()), retain_graph);
}

void Tensor::Backward(const Tensor& grad_output, bool retain_graph) const {
  GRADWAY_CHECK(grad_output.defined(), "backward: the gradient is undefined");
  RunBackward(*this, grad_output, retain_graph);
}

// ---------------------------------------------------------------- Printing

namespace {

constexpr int64_t kSummaryThreshold = 1000;  // as PyTorch
constexpr int64_t kEdgeItems = 3;

struct Printer {
  const float* data;
  const Shape& shape;
  bool summarize;
  bool integral;
  bool scientific;  // when values span many magnitudes
  int width;

  std::string Format(float v) const {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (scientific) return absl::StrFormat("%.4e", v);
    if (integral) return absl::StrFormat("%.0f.", v);
    return absl::StrFormat("%.4f", v);
  }

  void Print(std::ostream& os, int dim, int64_t offset, int indent) const {
    const int rank = static_cast<int>(shape.size());
    if (rank == 0) {
      os << Format(data[0]);
      return;
    }
    int64_t stride = 1;
    for (int d = dim + 1; d < rank; ++d) stride *= shape[d];
    const int64_t n = shape[dim];
    os << "[";
    bool first = true;
    for (int64_t i = 0; i < n; ++i) {
      if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
        if (dim == rank - 1) {
          os << ", ...";
        } else {
          os << ",\n" << std::string(indent + 1, ' ') << "...";
        }
        i = n - kEdgeItems - 1;
        continue;
      }
      if (!first) {
        if (dim == rank - 1) {
          os << ", ";
        } else {
          os << "," << std::string(rank - dim - 1, '\n') << std::string(indent + 1, ' ');
        }
      }
      first = false;
      if (dim == rank - 1) {
        std::string s = Format(data[offset + i]);
        os << std::string(std::max<int>(0, width - static_cast<int>(s.size())), ' ') << s;
      } else {
        Print(os, dim + 1, offset + i * stride, indent + 1);
      }
    }
    os << "]";
  }
};

}  // namespace

std::string Tensor::ToString() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  const int64_t n = numel();
  const float* p = data();
  bool integral = true;
  float max_abs = 0.f, min_abs = INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    const float v = p[i];
    if (!std::isfinite(v)) continue;
    if (v != std::nearbyint(v)) integral = false;
    max_abs = std::max(max_abs, std::fabs(v));
    if (v != 0.f) min_abs = std::min(min_abs, std::fabs(v));
  }
  const bool scientific =
      !integral && (max_abs >= 1e8f || (min_abs < 1e-4f) || max_abs / min_abs > 1000.f);
  Printer printer{p, shape(), n > kSummaryThreshold, integral, scientific, 0};
  for (int64_t i = 0; i < n; ++i) {
    printer.width = std::max<int>(printer.width, printer.Format(p[i]).size());
  }
  os << "tensor(";
  if (n == 0) {
    os << "[]";
  } else {
    printer.Print(os, 0, 0, 7);
  }
  if (n == 0 || n > kSummaryThreshold || rank() == 0) {
    // Mention the shape when the printout does not make it obvious.
    if (n != 1 || rank() != 0) os << ", size=" << ShapeToString(shape());
  }
  if (requires_grad()) {
    os << (grad_fn() ? absl::StrCat(", grad_fn=<", grad_fn()->name(), ">")
                     : ", requires_grad=True");
  }
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.ToString(); }

}  // namespace gradway
