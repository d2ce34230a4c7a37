// Differentiable neural-network ops on Tensors: dense (linear), 2-D convolution and
// pooling (windowed and global), softmax, softplus and log-sigmoid, cross-entropies,
// dropout and batch normalisation (also synchronised over shards and processes). Images
// are NHWC (channels-last, as Keras): x [batch, height, width, channels].
// Each op runs on the ops/ kernels (or a plain loop), records its backward, and is covered
// by the gradient check.
// Shape errors throw gradway::Error naming the op and the shapes.
#ifndef GRADWAY_AUTOGRAD_NN_FUNCTIONS_H_
#define GRADWAY_AUTOGRAD_NN_FUNCTIONS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/types/span.h"
#include "autograd/tensor.h"
#include "base/padding.h"

namespace gradway {

// y = x · w + b. x [n, in], w [in, out], b [out] (or undefined: no bias) -> y [n, out].
Tensor Linear(const Tensor& x, const Tensor& w, const Tensor& b);

// Relu(Linear(x, w, b)), fused: the ReLU is the product's GEMM epilogue (applied to each
// tile in registers), and in backward its gradient mask is applied to dy as the weight
// gradient's GEMM packs it, with db and the masked dy for dx taken from that same read
// (ops::MatMulReluMaskedB): no separate ReLU pass either way. Bit-identical to the unfused
// pair, except that db sums the rows in order where the unfused column sum may split them
// (then db differs in the last bits).
Tensor LinearRelu(const Tensor& x, const Tensor& w, const Tensor& b);

// 2-D convolution. x [n, h, w, cin], w [kh, kw, cin, cout] (Keras HWIO), b [cout] or
// undefined -> y [n, out_h, out_w, cout]. Padding (base/padding.h): kValid uses no padding;
// kSame pads so that out = ceil(in / stride). The algorithm that computes it, forward and
// backward, is chosen per shape and pass unless base/runtime.h's SetConvAlgorithm forces one.
Tensor Conv2D(const Tensor& x, const Tensor& w, const Tensor& b, int stride_h, int stride_w,
              Padding padding);
// With PyTorch's defaults: no bias, stride 1 (or `stride` both ways), valid padding:
// Conv2D(x, w), Conv2D(x, w, b), Conv2D(x, w, b, 2, Padding::kSame).
Tensor Conv2D(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), int stride = 1,
              Padding padding = Padding::kValid);

// Relu(Conv2D(x, w, b, ...)) with the ReLU fused into the convolution kernels: applied in
// the forward's epilogue, and its gradient mask (y > 0) applied by the backward kernels as
// they read the incoming gradient, so no separate pass runs over the output and no masked
// copy of the gradient is made. Bit-identical to the unfused pair.
Tensor Conv2DRelu(const Tensor& x, const Tensor& w, const Tensor& b, int stride_h,
                  int stride_w, Padding padding);

// Max / average pooling over pool_h x pool_w windows. x [n, h, w, c] -> [n, oh, ow, c].
// In max pooling the gradient goes to the first maximum of each window; average pooling
// with kSame excludes padded cells from the mean, as Keras does.
Tensor MaxPool2D(const Tensor& x, int pool_h, int pool_w, int stride_h, int stride_w,
                 Padding padding);
Tensor AvgPool2D(const Tensor& x, int pool_h, int pool_w, int stride_h, int stride_w,
                 Padding padding);
// Square windows, as PyTorch's max_pool2d(x, 2): a pool x pool window moved by `stride`
// (0: the pool size, so MaxPool2D(x, 2) halves the image), valid padding by default.
Tensor MaxPool2D(const Tensor& x, int pool, int stride = 0, Padding padding = Padding::kValid);
Tensor AvgPool2D(const Tensor& x, int pool, int stride = 0, Padding padding = Padding::kValid);

// Global pooling over the whole image: x [n, h, w, c] (h, w >= 1) -> [n, c], as PyTorch's
// adaptive_avg_pool2d / adaptive_max_pool2d(x, 1) on the NCHW image, flattened (Keras'
// GlobalAveragePooling2D / GlobalMaxPooling2D). The average sums the h * w positions in
// order (the same bits for any thread count), then divides; its gradient is dy / (h * w)
// at every position. The maximum's gradient goes to the first maximum of each channel.
// NaN, as adaptive_max_pool2d: a NaN anywhere in a channel makes its maximum NaN, and the
// gradient goes to the last NaN. (torch.amax gives the same values, but splits its
// gradient evenly between tied maxima, and a NaN channel's gradient is NaN everywhere.)
// Throws Error naming the op ("global_avg_pool2d", "global_max_pool2d") for an input that
// is not 4-D or has no positions (h or w 0).
Tensor GlobalAvgPool2D(const Tensor& x);
Tensor GlobalMaxPool2D(const Tensor& x);

// Softmax / log-softmax over `axis` (any rank >= 1; by default the last, negative counts
// from the end), as PyTorch's softmax(x, dim).
Tensor Softmax(const Tensor& x, int axis = -1);
Tensor LogSoftmax(const Tensor& x, int axis = -1);

// Softmax over the last axis of x among the entries `mask` keeps, 0 at the others (an
// attention's masked softmax): mask (undefined: all kept) broadcasts to x's shape (NumPy
// rules), an entry being kept where it is nonzero; with `causal`, position j of the last
// axis is also kept only up to the query, j <= i, i indexing x's second-to-last axis
// (aligned top-left, as PyTorch's is_causal and Keras' use_causal_mask). A row that keeps
// nothing is all 0, where PyTorch's softmax of an all -inf row gives NaN. Otherwise equals
// PyTorch's softmax(x.masked_fill(mask == 0, -inf)), and Softmax(x) bit for bit when every
// entry is kept. The gradient reaches x only (mask none). Recorded as "masked_softmax".
// Throws Error naming the shapes for a scalar x, a mask that does not broadcast to it, or
// causal with x of rank < 2.
Tensor MaskedSoftmax(const Tensor& x, const Tensor& mask, bool causal = false);

// The logits x that `probabilities` was computed from, when it is the very tensor
// Softmax(x) (over the last axis) returned, with or without a graph; undefined otherwise
// (any other tensor, a copy, a view, a softmax over another axis, or after either was
// written in place). Losses use it to fuse softmax with cross-entropy, as Keras does,
// whatever module applied the softmax: the loss is computed from x, and its gradient flows
// to x without passing through the softmax.
Tensor SoftmaxLogits(const Tensor& probabilities);

// The logits x that `probabilities` was computed from, when it is the very tensor
// Sigmoid(x) returned (autograd/functions.h); undefined otherwise, as SoftmaxLogits. Binary
// cross-entropy uses it to fuse sigmoid with the loss, as Keras does. Both accessors also
// return undefined once either tensor has been written in place since the op (then the
// probabilities are no longer f(logits)).
Tensor SigmoidLogits(const Tensor& probabilities);

// Mean categorical cross-entropy of softmax(logits) against target probabilities (e.g.
// one-hot), fused and numerically stable. logits, targets [n, classes] -> scalar.
Tensor SoftmaxCrossEntropy(const Tensor& logits, const Tensor& targets);

// The same against class indices: labels [n] holding integers in [0, classes) (as floats).
// Throws Error naming the first bad label.
Tensor SparseSoftmaxCrossEntropy(const Tensor& logits, const Tensor& labels);
// The same with integer labels as they come (one per row), no float round trip.
Tensor SparseSoftmaxCrossEntropy(const Tensor& logits, absl::Span<const int64_t> labels);
Tensor SparseSoftmaxCrossEntropy(const Tensor& logits, absl::Span<const uint8_t> labels);

// Mean binary cross-entropy of sigmoid(logits) against targets in [0, 1] (labels or
// probabilities), over all elements, fused and numerically stable:
// mean(max(z, 0) - z t + log(1 + exp(-|z|))), gradient (sigmoid(z) - t) / numel with
// respect to the logits. logits and targets of one shape (any rank) -> scalar.
Tensor SigmoidBinaryCrossEntropy(const Tensor& logits, const Tensor& targets);

// softplus(x) = log(1 + exp(x)), elementwise, stable for large |x| (x itself for large x,
// exp(x) for very negative x); its gradient is sigmoid(x). As torch's softplus (beta 1).
Tensor Softplus(const Tensor& x);
// log(sigmoid(x)) = -Softplus(-x), elementwise and stable; its gradient is sigmoid(-x).
Tensor LogSigmoid(const Tensor& x);

// Inverted dropout: in training, zeroes each element with probability `rate` and scales
// the rest by 1 / (1 - rate); the mask comes from `seed` alone (not the thread count).
// Returns x itself when !training or rate == 0. rate must be in [0, 1).
Tensor Dropout(const Tensor& x, float rate, bool training, uint64_t seed);

// Batch normalisation over the last axis (channels last, Keras' axis = -1), as PyTorch's
// F.batch_norm on the channels-first permutation of x. x [N, C] or [N, H, W, C]; gamma and
// beta [C], or undefined (scale 1, centre 0); running_mean and running_var [C], tensors
// that need no gradient. The statistics are per channel, over every other axis.
//   training: y = gamma * (x - mean) / sqrt(var + epsilon) + beta with the batch's mean and
//     biased variance; then running_mean and running_var are updated in place (their
//     storage, outside the graph): running = running * momentum + batch * (1 - momentum),
//     Keras' convention (PyTorch's momentum is 1 - this one), with the batch's unbiased
//     variance (Bessel's correction), as PyTorch and tf.keras 2's fused batch norm do
//     (Keras' unfused path, which it takes for 2-D inputs, uses the biased one). A batch of
//     one value per channel updates the variance with 0, as TensorFlow (PyTorch refuses
//     it). Undefined running statistics (both) are not tracked.
//   inference (!training): the same with running_mean and running_var for the statistics,
//     which are then required and left unchanged.
// The statistics are reduced in a fixed order (ops/batch_norm.h): the same bits for any
// thread count. Gradients for x, gamma and beta (none for the running statistics); in
// training, x's gradient flows through the batch statistics; in inference they are
// constants. Recorded as "batch_norm". Throws Error naming the shapes for an input that is
// not 2-D or 4-D or has no channel, gamma, beta or running statistics of another shape,
// running statistics that require a gradient or are missing in inference, an empty batch
// in training, momentum outside [0, 1] or epsilon <= 0.
Tensor BatchNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                 const Tensor& running_mean, const Tensor& running_var, bool training,
                 float momentum = 0.99f, float epsilon = 1e-3f);

// Relu(BatchNorm(...)), fused (as Conv2DRelu): the ReLU is applied as the normalised values
// are stored, and the backward reads the incoming gradient through the ReLU's mask,
// recomputing the normalised value from x (ops/batch_norm.h), so neither a separate pass
// nor the pre-ReLU values are kept. Bit-identical to Relu(BatchNorm(...)), values and
// gradients, in both forms. Recorded as "batch_norm_relu"; errors as BatchNorm's, naming it.
// nn::Model and nn::Sequential run it for a BatchNormalization layer followed by a ReLU.
Tensor BatchNormRelu(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                     const Tensor& running_mean, const Tensor& running_var, bool training,
                     float momentum = 0.99f, float epsilon = 1e-3f);

// Layer normalisation over the last axis (PyTorch's F.layer_norm(x, (C,), gamma, beta,
// epsilon); Keras' LayerNormalization with axis -1): each sample's last-axis vector is
// normalised with its own mean and biased variance,
//   y = (x - mean) / sqrt(var + epsilon) * gamma + beta,
// the same in training and inference. x of any rank >= 1 with C = its last dimension;
// gamma and beta [C] or undefined (scale 1, centre 0). Gradients for x, gamma and beta, the
// backward one pass over x and dy (ops/layer_norm.h); the same bits for any thread count.
// Recorded as "layer_norm". Throws Error naming the shapes for a rank-0 input or an empty
// last axis, gamma or beta of another shape, or epsilon <= 0.
Tensor LayerNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                 float epsilon = 1e-5f);

// How a process takes part in synchronised batch norm (SyncBatchNorm below): given `width`
// values for each of this process's shards (in the order SyncBatchNorm got them), returns
// `width` values for every shard of the whole batch, in the batch's shard order, the same
// on every process (shards without rows anywhere give zeros). nn/data_parallel.cc makes
// one over nn::Collective::AllGather. Each SyncBatchNorm calls it once in its forward pass
// and, when it recorded a graph, once in the backward pass; every process must make the
// same calls in the same order, and the function must stay callable until the backward.
using ShardGather =
    std::function<std::vector<double>(const std::vector<double>& local, int64_t width)>;

// Synchronised batch normalisation (PyTorch's SyncBatchNorm), training form: xs are shards
// of one batch ([rows_i, C] or [rows_i, H, W, C], one per-sample shape, rows_i >= 1), and
// `gather` brings in the shards other processes hold (null: xs are the whole batch). Every
// shard is normalised with the mean and biased variance of the whole batch:
//   ys[i] = gamma * (xs[i] - mean) / sqrt(var + epsilon) + beta,
// and running_mean and running_var (optional, as BatchNorm's) are updated once, from the
// whole batch, with BatchNorm's momentum and unbiased variance. The statistics are each
// shard's moments (ops::BatchNormMoments) combined in one fixed tree over the batch's
// shards (ops::CombineMomentsTree), and the backward pass's per-channel sums likewise
// (ops::SumPartsTree), so every process computes the same bits, and each shard's outputs
// and gradients do not depend on which process holds which shards.
// Recorded as one op over all the shards, "sync_batch_norm_stats" (no shard's: call this
// outside any ShardTagScope), and one "sync_batch_norm" per shard, in
// ShardTagScope(shard_tags[i]) when shard_tags is given (empty: none): gamma's and beta's
// gradients come from each shard's op (per shard under a ShardGradientSink), x's from both.
// x's gradient is the sum of the shard's direct term gamma * invstd * dy and the batch
// term -gamma * invstd * (sum(dy) + xhat * sum(dy * xhat)) / count, so it differs from
// BatchNorm's fused one in the last bits. Throws Error naming "sync_batch_norm" for what
// BatchNorm refuses in training, no shards, shards of different per-sample shapes,
// shard_tags of another length, a call inside a ShardTagScope, and a gather that returns
// no whole parts.
std::vector<Tensor> SyncBatchNorm(const std::vector<Tensor>& xs, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& running_mean,
                                  const Tensor& running_var, float momentum = 0.99f,
                                  float epsilon = 1e-3f, const ShardGather& gather = nullptr,
                                  const std::vector<int>& shard_tags = {});

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_NN_FUNCTIONS_H_
