// Must not compile: FunctionContext::Set refuses tensors, which would escape the in-place
// check (//autograd:function_set_refuses_tensors_test expects one error per function here).
#include <optional>
#include <utility>
#include <vector>

#include "autograd/function.h"

namespace gradway {

void KeepTensor(FunctionContext& ctx, const Tensor& x) { ctx.Set("x", x); }

void KeepTensors(FunctionContext& ctx, const Tensor& x) {
  ctx.Set("xs", std::vector<Tensor>{x, x});
}

void KeepPair(FunctionContext& ctx, const Tensor& x) { ctx.Set("p", std::make_pair(1, x)); }

void KeepOptional(FunctionContext& ctx, const Tensor& x) {
  ctx.Set("o", std::optional<Tensor>(x));
}

}  // namespace gradway
