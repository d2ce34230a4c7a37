#include "autograd/function.h"

#include "autograd/internal/node.h"

namespace gradway {

void FunctionContext::SaveForBackward(const std::vector<Tensor>& tensors) {
  saved_.clear();
  for (const Tensor& t : tensors) saved_.push_back(t.defined() ? t.Detach() : Tensor());
}

void FunctionContext::Save(const std::string& name, const Tensor& tensor) {
  named_[name] = tensor.defined() ? tensor.Detach() : Tensor();
}

const Tensor& FunctionContext::saved(const std::string& name) const {
  auto it = named_.find(name);
  if (it == named_.end()) MissingKey(name, "tensor");
  return it->second;
}

std::vector<Tensor> FunctionContext::AllSaved() const {
  std::vector<Tensor> all = saved_;
  for (const auto& [name, t] : named_) all.push_back(t);
  return all;
}

void FunctionContext::Init(const char* op, std::vector<bool> needs_input_grad) {
  op_ = op;
  needs_input_grad_ = std::move(needs_input_grad);
}

void FunctionContext::MissingKey(const std::string& name, const char* what) const {
  Fail(op_, ": no ", what, " was saved under \"", name, "\"");
}

void FunctionContext::WrongType(const std::string& name, const char* wanted,
                                const char* held) const {
  Fail(op_, ": the value saved under \"", name, "\" is a ", held, ", not a ", wanted);
}

namespace internal {

Tensor RecordFunction(const char* name, Tensor out, const std::vector<Tensor>& inputs,
                      const FunctionContext& ctx, BackwardFn backward) {
  if (!ShouldRecord(inputs)) return out;
  // A fresh handle: Forward may have returned one of its inputs or a tensor it keeps.
  // Backward reads its tensors from ctx; the node keeps them for the in-place check.
  return AttachNode(name, out.Detach(), inputs, ctx.AllSaved(),
                    [backward = std::move(backward)](const Tensor& grad,
                                                     const std::vector<Tensor>&) {
                      return backward(grad);
                    });
}

}  // namespace internal
}  // namespace gradway
