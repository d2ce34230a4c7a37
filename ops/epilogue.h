// What a kernel applies to each output element once its value is complete, while it is
// still in registers: the GEMM (ops/matmul.h), the convolutions (ops/conv.h,
// ops/winograd.h) and batch normalisation (ops/batch_norm.h) fuse it into their stores.
#ifndef GRADWAY_OPS_EPILOGUE_H_
#define GRADWAY_OPS_EPILOGUE_H_

namespace gradway {
namespace ops {

enum class Epilogue {
  kNone,
  kRelu,  // y = y > 0 ? y : 0, as ops::Unary(UnaryOp::kRelu) (NaN and -0 give +0)
};

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_EPILOGUE_H_
