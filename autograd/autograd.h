// gradway autograd: tensors, differentiable ops, custom ops, the gradient check, and the
// kernels' process-wide settings (base/runtime.h: thread count, convolution algorithm).
#ifndef GRADWAY_AUTOGRAD_AUTOGRAD_H_
#define GRADWAY_AUTOGRAD_AUTOGRAD_H_

#include "autograd/error.h"
#include "autograd/function.h"
#include "autograd/functions.h"
#include "autograd/generator.h"
#include "autograd/gradcheck.h"
#include "autograd/graph.h"
#include "autograd/nn_functions.h"
#include "autograd/recurrent.h"
#include "autograd/tensor.h"
#include "base/runtime.h"

#endif  // GRADWAY_AUTOGRAD_AUTOGRAD_H_
