#!/usr/bin/python3
"""Prints PyTorch's numbers for autograd/functions_pytorch_test.cc, as C++ initialisers.

    /usr/bin/python3 autograd/testdata/functions_pytorch.py

(PyTorch 1.13, CPU, float32.) Inputs are formulas both sides compute: x[i] = sin(0.37 i +
0.1) * scale and the output weights w[i] = cos(0.23 i + 0.2), each evaluated in double and
rounded to float32; a gradient "dx" is d sum(w * f(x)) / dx. Slices: the indices PyTorch's
x[start:stop:step] takes along an axis of size 5.
"""
import math

import torch


def formula(n, scale, rounded=False):
    v = [math.sin(0.37 * i + 0.1) * scale for i in range(n)]
    if rounded:
        v = [float(round(a)) for a in v]
    return torch.tensor(v, dtype=torch.float32)


def weights(n):
    return torch.tensor([math.cos(0.23 * i + 0.2) for i in range(n)], dtype=torch.float32)


def fmt(v):
    if math.isnan(v):
        return 'NAN'
    if math.isinf(v):
        return 'INFINITY' if v > 0 else '-INFINITY'
    s = '%.9g' % v
    if 'e' not in s and '.' not in s:
        s += '.0'
    return s + 'f'


def emit(name, t):
    vals = [fmt(float(a)) for a in t.detach().reshape(-1).tolist()]
    lines, line = [], '   '
    for v in vals:
        if len(line) + len(v) + 2 > 90:
            lines.append(line)
            line = '   '
        line += ' ' + v + ','
    lines.append(line)
    print('const std::vector<float> %s = {\n%s\n};' % (name, '\n'.join(lines)))


def value_and_grad(name, f, x):
    x = x.clone().requires_grad_()
    y = f(x)
    (y * weights(y.numel()).reshape(y.shape)).sum().backward()
    emit('k%sY' % name, y)
    emit('k%sDx' % name, x.grad)


def value_and_grads(name, f, a, b):
    a = a.clone().requires_grad_()
    b = b.clone().requires_grad_()
    y = f(a, b)
    (y * weights(y.numel()).reshape(y.shape)).sum().backward()
    emit('k%sY' % name, y)
    emit('k%sDa' % name, a.grad)
    emit('k%sDb' % name, b.grad)


def main():
    F = torch.nn.functional
    print('// Activations of x = formula(13, 4): 13 values in (-4, 4).')
    x = formula(13, 4)
    value_and_grad('LeakyRelu', lambda t: F.leaky_relu(t, 0.2), x)
    value_and_grad('Elu', lambda t: F.elu(t, 0.7), x)
    value_and_grad('Gelu', lambda t: F.gelu(t), x)
    value_and_grad('GeluTanh', lambda t: F.gelu(t, approximate='tanh'), x)
    value_and_grad('Silu', F.silu, x)
    value_and_grad('HardSigmoid', F.hardsigmoid, x)

    print('// Max / min of x = round(formula(15, 2)) as (3, 5): ties; x[7] = NaN.')
    x = formula(15, 2, rounded=True)
    x[7] = float('nan')
    x = x.reshape(3, 5)
    for dim in (0, 1):
        for op, name in ((torch.max, 'Max'), (torch.min, 'Min')):
            xg = x.clone().requires_grad_()
            values, indices = op(xg, dim)
            (values * weights(values.numel()).reshape(values.shape)).sum().backward()
            emit('k%sDim%dValues' % (name, dim), values)
            emit('k%sDim%dIndices' % (name, dim), indices.float())
            emit('k%sDim%dDx' % (name, dim), xg.grad)
    print('// Whole-tensor max / min of round(formula(15, 2)) (no NaN): tied maxima.')
    x = formula(15, 2, rounded=True)
    value_and_grad('MaxAll', torch.max, x)
    value_and_grad('MinAll', torch.min, x)

    print('// Var of x = formula(15, 3) + 5 as (3, 5).')
    x = formula(15, 3).reshape(3, 5) + 5
    for dim in (0, 1):
        for correction in (0, 1):
            value_and_grad('Var%dC%d' % (dim, correction),
                           lambda t: torch.var(t, dim, unbiased=bool(correction)), x)

    print('// LogSumExp of x = formula(15, 60) as (3, 5) (exp overflows without the shift).')
    x = formula(15, 60).reshape(3, 5)
    value_and_grad('LogSumExp0', lambda t: torch.logsumexp(t, 0), x)
    value_and_grad('LogSumExp1', lambda t: torch.logsumexp(t, 1), x)
    inf = float('inf')
    edge = torch.tensor([[-inf, -inf, -inf], [1.0, inf, 2.0], [-inf, 0.5, -inf]])
    emit('kLogSumExpEdge', torch.logsumexp(edge, 1))

    print('// Batched matmul: a = formula(24, 1) as (2, 1, 3, 4), b = formula(60, 2) as (3, 4, 5)')
    print('// (broadcast to (2, 3, 3, 5)); q = formula(24, 1) as (2, 3, 4), k = formula(40, 2) as')
    print('// (2, 5, 4): q . k^T.')
    value_and_grads('MatMulBroadcast', torch.matmul, formula(24, 1).reshape(2, 1, 3, 4),
                    formula(60, 2).reshape(3, 4, 5))
    value_and_grads('MatMulTransB', lambda q, k: torch.matmul(q, k.transpose(-1, -2)),
                    formula(24, 1).reshape(2, 3, 4), formula(40, 2).reshape(2, 5, 4))

    print('// Layer norm of x = formula(42, 2) as (2, 3, 7) over its last axis, gamma =')
    print('// formula(7, 1.5), beta = formula(7, 0.5), epsilon 1e-3.')
    x = formula(42, 2).reshape(2, 3, 7).requires_grad_()
    gamma = formula(7, 1.5).requires_grad_()
    beta = formula(7, 0.5).requires_grad_()
    y = F.layer_norm(x, (7,), gamma, beta, 1e-3)
    (y * weights(y.numel()).reshape(y.shape)).sum().backward()
    emit('kLayerNormY', y)
    emit('kLayerNormDx', x.grad)
    emit('kLayerNormDgamma', gamma.grad)
    emit('kLayerNormDbeta', beta.grad)

    print('// Masked softmax of x = formula(30, 3) as (2, 3, 5): keys 0-2 of sample 0 and none of')
    print('// sample 1 kept (mask (2, 1, 5)), then also causally. PyTorch gives NaN for a row')
    print('// that keeps nothing (value and gradient), gradway 0: written as 0.')
    keep = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool).reshape(2, 1, 5)
    causal = torch.ones(3, 5, dtype=torch.bool).tril()
    for name, k in (('Padding', keep), ('Causal', keep & causal)):
        x = formula(30, 3).reshape(2, 3, 5).requires_grad_()
        y = torch.softmax(x.masked_fill(~k, float('-inf')), -1)
        (y * weights(y.numel()).reshape(y.shape)).sum().backward()
        emit('kMaskedSoftmax%sY' % name, torch.nan_to_num(y, nan=0.0))
        emit('kMaskedSoftmax%sDx' % name, torch.nan_to_num(x.grad, nan=0.0))

    print('// Slices of an axis of size 5: (start, stop, step) -> the indices taken.')
    cases = [(1, 4, 1), (-3, 5, 1), (-7, 2, 1), (3, 100, 1), (4, 2, 1), (0, 5, 2), (-4, -1, 2),
             (1, 5, 3), (6, 9, 1), (-100, -4, 1)]
    print('const std::vector<SliceCase> kSliceCases = {')
    for start, stop, step in cases:
        taken = torch.arange(5)[start:stop:step].tolist()
        print('    {%d, %d, %d, {%s}},' % (start, stop, step, ', '.join(map(str, taken))))
    print('};')

if __name__ == '__main__':
    main()
