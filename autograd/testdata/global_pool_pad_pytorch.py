#!/usr/bin/python3
"""PyTorch's numbers for autograd/nn_functions_test.cc (GlobalAvgPool2D, GlobalMaxPool2D)
and autograd/functions_test.cc (Pad), printed as C++ initialisers.

    /usr/bin/python3 autograd/testdata/global_pool_pad_pytorch.py

Inputs come from formulas the C++ tests compute too (flat row-major index i of gradway's
tensor, NHWC for images):
    x[i] = sin(0.37 i + 0.1) * 2                      (Wave)
    q[i] = floor(x[i])                                 (Quantised: exact ties)
    g[i] = cos(0.23 i + 0.3)                           (the incoming gradient dy)
Images go to PyTorch as NCHW (permute(0, 3, 1, 2)); gradients come back as NHWC.
torch 1.13, float32, CPU.
"""
import math

import torch
import torch.nn.functional as F


def wave(n):
    return torch.tensor([math.sin(0.37 * i + 0.1) * 2 for i in range(n)], dtype=torch.float32)


def quantised(n):
    return torch.floor(wave(n))


def incoming(n):
    return torch.tensor([math.cos(0.23 * i + 0.3) for i in range(n)], dtype=torch.float32)


def emit(name, t):
    vals = []
    for v in t.detach().reshape(-1).tolist():
        if math.isnan(v):
            vals.append('kNaN')
            continue
        s = '%.9g' % v
        vals.append(s + ('f' if any(c in s for c in '.e') else '.f'))
    lines, line = [], '    '
    for v in vals:
        if len(line) + len(v) + 2 > 92:
            lines.append(line.rstrip())
            line = '    '
        line += v + ', '
    lines.append(line.rstrip())
    print('const std::vector<float> %s = {' % name)
    print('\n'.join(lines))
    print('};')


def global_pool(name, fn, x_nhwc):
    """fn on the NCHW image, flattened to [N, C]; dy = incoming; x's gradient as NHWC."""
    x = x_nhwc.permute(0, 3, 1, 2).contiguous().requires_grad_()
    y = fn(x, 1).reshape(x.shape[0], x.shape[1])
    y.backward(incoming(y.numel()).reshape(y.shape))
    emit(name + 'Y', y)
    emit(name + 'Dx', x.grad.permute(0, 2, 3, 1))


def main():
    shape = (2, 3, 2, 3)  # N, H, W, C
    n = 2 * 3 * 2 * 3
    print('// GlobalAvgPool2D / GlobalMaxPool2D of Wave(%s); dy = Incoming(6).' % (shape,))
    global_pool('kAvg', F.adaptive_avg_pool2d, wave(n).reshape(shape))
    global_pool('kMax', F.adaptive_max_pool2d, wave(n).reshape(shape))
    print('// GlobalMaxPool2D of Quantised(%s): tied maxima.' % (shape,))
    global_pool('kMaxTies', F.adaptive_max_pool2d, quantised(n).reshape(shape))
    print('// GlobalMaxPool2D of Wave((1, 3, 2, 2)) with NaN at flat indices 2 and 8 '
          '(channel 0, positions 1 and 4).')
    x = wave(12)
    x[2] = float('nan')
    x[8] = float('nan')
    global_pool('kMaxNaN', F.adaptive_max_pool2d, x.reshape(1, 3, 2, 2))

    # Pad(x, {{0, 1}, {1, 0}, {2, 1}}, -0.75) of x = Wave((2, 2, 3)) is F.pad with the pairs
    # from the last axis: (2, 1, 1, 0, 0, 1).
    print('// Pad(Wave((2, 2, 3)), {{0, 1}, {1, 0}, {2, 1}}, -0.75): y (3, 3, 6), dy = '
          'Incoming(54).')
    x = wave(12).reshape(2, 2, 3).requires_grad_()
    y = F.pad(x, (2, 1, 1, 0, 0, 1), mode='constant', value=-0.75)
    y.backward(incoming(y.numel()).reshape(y.shape))
    emit('kPadY', y)
    emit('kPadDx', x.grad)


if __name__ == '__main__':
    main()
