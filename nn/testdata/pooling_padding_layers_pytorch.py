#!/usr/bin/python3
"""PyTorch's numbers for nn/layers_test.cc's ZeroPadding2D, GlobalAveragePooling2D and
GlobalMaxPooling2D tests, printed as C++ initialisers.

    /usr/bin/python3 nn/testdata/pooling_padding_layers_pytorch.py

The input, by flat row-major index i of gradway's NHWC batch x [1, 3, 2, 2]:
    x[i] = sin(0.37 i + 0.1) * 2
the incoming gradient of the [1, 2] pooled output: dy[i] = cos(0.23 i + 0.3).
Layers: ZeroPadding2D(((1, 0), (2, 1))) -> [1, 4, 5, 2], which is F.pad on the NCHW image
with (left, right, top, bottom) = (2, 1, 1, 0); then global average / max pooling, which
are F.adaptive_avg_pool2d / F.adaptive_max_pool2d(., 1). torch 1.13, float32, CPU.
"""
import math

import torch
import torch.nn.functional as F


def emit(name, t):
    vals = []
    for v in t.detach().reshape(-1).tolist():
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


def main():
    x_nhwc = torch.tensor([math.sin(0.37 * i + 0.1) * 2 for i in range(12)],
                          dtype=torch.float32).reshape(1, 3, 2, 2)
    dy = torch.tensor([math.cos(0.23 * i + 0.3) for i in range(2)], dtype=torch.float32)
    nhwc = lambda t: t.permute(0, 2, 3, 1)
    x = x_nhwc.permute(0, 3, 1, 2).contiguous().requires_grad_()
    padded = F.pad(x, (2, 1, 1, 0))
    emit('kPadded', nhwc(padded))  # [1, 4, 5, 2], NHWC
    emit('kAverage', F.adaptive_avg_pool2d(padded, 1).reshape(1, 2))
    maximum = F.adaptive_max_pool2d(padded, 1).reshape(1, 2)
    emit('kMaximum', maximum)
    maximum.backward(dy.reshape(1, 2))
    emit('kMaximumDx', nhwc(x.grad))  # through the padding, NHWC


if __name__ == '__main__':
    main()
