#!/usr/bin/python3
"""PyTorch's nn.MultiheadAttention on the inputs and weights nn/attention_test.cc gives
gradway's MultiHeadAttention, printed as C++ initialisers that the test embeds.

    /usr/bin/python3 nn/testdata/attention_pytorch.py

(PyTorch 1.13, CPU, float32.) embed_dim 8, 2 heads (key_dim = value_dim = 4), batch_first.
Values are v[i] = sin(a * i + b) * scale for a few (a, b, scale), rounded to float32. The
weights are printed in Keras' layouts, converted here from PyTorch's: query/kernel [8, 2, 4]
is in_proj_weight[0:8].T reshaped (and key/, value/ the next rows), query/bias [2, 4] is
in_proj_bias[0:8] reshaped, attention_output/kernel [2, 4, 8] is out_proj.weight.T
reshaped. The gradients are of sum(w * y), w[i] = cos(0.23 i + 0.2).
  Cross: query [2, 3, 8], key and value [2, 5, 8]; keys 3 and 4 of sample 1 are padding
         (key_padding_mask; gradway's attention_mask [2, 1, 5] is 0 there).
  Causal: self-attention of x [2, 4, 8] with the causal mask.
"""
import math

import torch

from cxx_initializers import emit


def values(n, a, b, scale):
    return torch.tensor([math.sin(a * i + b) * scale for i in range(n)], dtype=torch.float32)


def weights(n):
    return torch.tensor([math.cos(0.23 * i + 0.2) for i in range(n)], dtype=torch.float32)


def main():
    torch.manual_seed(0)
    E, H = 8, 2
    D = E // H
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(values(3 * E * E, 0.31, 0.4, 0.5).reshape(3 * E, E))
        mha.in_proj_bias.copy_(values(3 * E, 0.71, 0.3, 0.2))
        mha.out_proj.weight.copy_(values(E * E, 0.43, 1.1, 0.4).reshape(E, E))
        mha.out_proj.bias.copy_(values(E, 0.9, 0.5, 0.1))
    w, b = mha.in_proj_weight, mha.in_proj_bias
    for k, name in enumerate(('query', 'key', 'value')):
        emit('k%sKernel' % name.capitalize(), w[k * E:(k + 1) * E].T.reshape(E, H, D))
        emit('k%sBias' % name.capitalize(), b[k * E:(k + 1) * E].reshape(H, D))
    emit('kOutputKernel', mha.out_proj.weight.T.reshape(H, D, E))
    emit('kOutputBias', mha.out_proj.bias)

    print('// Cross-attention with key padding.')
    q = values(2 * 3 * E, 0.37, 0.1, 1.0).reshape(2, 3, E).requires_grad_()
    k = values(2 * 5 * E, 0.53, 0.7, 1.0).reshape(2, 5, E).requires_grad_()
    v = values(2 * 5 * E, 0.29, 1.3, 1.5).reshape(2, 5, E).requires_grad_()
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    y, _ = mha(q, k, v, key_padding_mask=pad, need_weights=False)
    (y * weights(y.numel()).reshape(y.shape)).sum().backward()
    for name, t in (('Query', q), ('Key', k), ('Value', v)):
        emit('kCross%s' % name, t)
    emit('kCrossY', y)
    for name, t in (('Query', q), ('Key', k), ('Value', v)):
        emit('kCrossD%s' % name, t.grad)

    print('// Causal self-attention.')
    x = values(2 * 4 * E, 0.61, 0.2, 1.2).reshape(2, 4, E).requires_grad_()
    causal = torch.ones(4, 4, dtype=torch.bool).triu(1)  # True: may not attend
    y, _ = mha(x, x, x, attn_mask=causal, need_weights=False)
    (y * weights(y.numel()).reshape(y.shape)).sum().backward()
    emit('kCausalX', x)
    emit('kCausalY', y)
    emit('kCausalDx', x.grad)


if __name__ == '__main__':
    main()
