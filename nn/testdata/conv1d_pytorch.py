#!/usr/bin/python3
"""PyTorch's conv1d for the Conv1D cases of nn/layers_test.cc, as C++ initialisers.

    /usr/bin/python3 nn/testdata/conv1d_pytorch.py

(PyTorch 1.13, CPU, float32.) x [2, 7, 3] (batch, steps, channels; PyTorch's conv1d takes
[2, 3, 7]) with x[i] = sin(0.37 i + 0.1); kernel in Keras' layout [3, 3, 4] (kernel_size,
channels, filters) with k[i] = cos(0.41 i + 0.3) * 0.5 (PyTorch's weight is its
permutation [4, 3, 3]); bias b[i] = 0.1 * i - 0.15. Gradients of sum(w * y), w[i] =
cos(0.23 i + 0.2).
  Same: stride 2, Keras' "same" padding for 7 steps (pad_total 2: 1 before, 1 after).
  Causal: stride 1, 2 zeros before the first step (Keras' padding="causal").
"""
import math

import torch
import torch.nn.functional as F

from cxx_initializers import emit


def main():
    x0 = torch.tensor([math.sin(0.37 * i + 0.1) for i in range(42)]).reshape(2, 7, 3)
    k = torch.tensor([math.cos(0.41 * i + 0.3) * 0.5 for i in range(36)]).reshape(3, 3, 4)
    b = torch.tensor([0.1 * i - 0.15 for i in range(4)])
    for name, stride, pads in (('Same', 2, (1, 1)), ('Causal', 1, (2, 0))):
        x = x0.clone().requires_grad_()
        w = k.permute(2, 1, 0).contiguous()
        y = F.conv1d(F.pad(x.permute(0, 2, 1), pads), w, b, stride=stride).permute(0, 2, 1)
        weights = torch.tensor([math.cos(0.23 * i + 0.2) for i in range(y.numel())])
        (y * weights.reshape(y.shape)).sum().backward()
        emit('kConv1D%sY' % name, y)
        emit('kConv1D%sDx' % name, x.grad)


if __name__ == '__main__':
    main()
