#!/usr/bin/python3
"""PyTorch's nn.RNN, nn.GRU and nn.LSTM on the inputs and weights nn/recurrent_test.cc gives
gradway's SimpleRNN, GRU and LSTM, printed as C++ initialisers that the test embeds.

    /usr/bin/python3 nn/testdata/recurrent_pytorch.py

(PyTorch 1.13, CPU, float32, batch_first.) features 3, units 4, batch 2, 5 steps. Values
are v[i] = sin(a * i + b) * scale for a few (a, b, scale), rounded to float32. The weights
are made in Keras' layouts (kernel [3, G * 4], recurrent_kernel [4, G * 4], bias) and
converted here to PyTorch's: weight_ih = kernel.T, weight_hh = recurrent_kernel.T, the
GRU's gates reordered from Keras' (z, r, h) to PyTorch's (r, z, n) and its bias [2, 12]
split into bias_ih and bias_hh; the LSTM's and SimpleRNN's bias is bias_ih (bias_hh = 0).
Gradients are of sum(w * y) + sum(w' * h_n) (+ sum(w'' * c_n)), w[i] = cos(0.23 i + 0.2),
brought back to Keras' layouts.
  Plain: each cell over the whole sequences from initial states h0 (and c0).
  Masked: a bidirectional GRU and LSTM over a packed batch of lengths (5, 3): gradway's
          Bidirectional with the mask [[1,1,1,1,1], [1,1,1,0,0]] (padding outputs zeros in
          both), zero initial states.
"""
import math

import torch

from cxx_initializers import emit

F, H, B, T = 3, 4, 2, 5


def values(n, a, b, scale):
    return torch.tensor([math.sin(a * i + b) * scale for i in range(n)], dtype=torch.float32)


def weights(n, a=0.23, b=0.2):
    return torch.tensor([math.cos(a * i + b) for i in range(n)], dtype=torch.float32)


GATES = {'rnn': 1, 'gru': 3, 'lstm': 4}


def keras_weights(cell, salt):
    G = GATES[cell]
    kernel = values(F * G * H, 0.31 + salt, 0.4, 0.6).reshape(F, G * H)
    recurrent = values(H * G * H, 0.47 + salt, 1.1, 0.5).reshape(H, G * H)
    bias = values((2 if cell == 'gru' else 1) * G * H, 0.71 + salt, 0.3, 0.3)
    return kernel, recurrent, bias.reshape(2, G * H) if cell == 'gru' else bias


def to_torch_gates(cell, m):
    """Columns of a Keras [*, G*H] matrix in PyTorch's gate order."""
    if cell != 'gru':
        return m
    z, r, n = m[..., :H], m[..., H:2 * H], m[..., 2 * H:]
    return torch.cat([r, z, n], dim=-1)


def to_keras_gates(cell, m):
    if cell != 'gru':
        return m
    r, z, n = m[..., :H], m[..., H:2 * H], m[..., 2 * H:]
    return torch.cat([z, r, n], dim=-1)


def module(cell, bidirectional=False):
    cls = {'rnn': torch.nn.RNN, 'gru': torch.nn.GRU, 'lstm': torch.nn.LSTM}[cell]
    return cls(F, H, batch_first=True, bidirectional=bidirectional)


def set_direction(m, cell, suffix, kernel, recurrent, bias):
    with torch.no_grad():
        getattr(m, 'weight_ih_l0' + suffix).copy_(to_torch_gates(cell, kernel).T)
        getattr(m, 'weight_hh_l0' + suffix).copy_(to_torch_gates(cell, recurrent).T)
        if cell == 'gru':
            getattr(m, 'bias_ih_l0' + suffix).copy_(to_torch_gates(cell, bias[0]))
            getattr(m, 'bias_hh_l0' + suffix).copy_(to_torch_gates(cell, bias[1]))
        else:
            getattr(m, 'bias_ih_l0' + suffix).copy_(bias)
            getattr(m, 'bias_hh_l0' + suffix).zero_()


def emit_grads(prefix, m, cell, suffix):
    g = lambda name: getattr(m, name + '_l0' + suffix).grad
    emit(prefix + 'DKernel', to_keras_gates(cell, g('weight_ih').T))
    emit(prefix + 'DRecurrent', to_keras_gates(cell, g('weight_hh').T))
    if cell == 'gru':
        emit(prefix + 'DBias', torch.stack([to_keras_gates(cell, g('bias_ih')),
                                            to_keras_gates(cell, g('bias_hh'))]))
    else:
        emit(prefix + 'DBias', g('bias_ih'))


def plain(cell, salt):
    name = {'rnn': 'Rnn', 'gru': 'Gru', 'lstm': 'Lstm'}[cell]
    print('// %s from initial states.' % name)
    kernel, recurrent, bias = keras_weights(cell, salt)
    emit('k%sKernel' % name, kernel)
    emit('k%sRecurrent' % name, recurrent)
    emit('k%sBias' % name, bias)
    m = module(cell)
    set_direction(m, cell, '', kernel, recurrent, bias)
    x = values(B * T * F, 0.37 + salt, 0.1, 1.0).reshape(B, T, F).requires_grad_()
    h0 = values(B * H, 0.53, 0.7, 0.5).reshape(1, B, H).requires_grad_()
    c0 = values(B * H, 0.29, 1.3, 0.5).reshape(1, B, H).requires_grad_()
    emit('k%sX' % name, x)
    emit('k%sH0' % name, h0)
    if cell == 'lstm':
        emit('k%sC0' % name, c0)
    if cell == 'lstm':
        y, (hn, cn) = m(x, (h0, c0))
    else:
        y, hn = m(x, h0)
    loss = (y * weights(y.numel()).reshape(y.shape)).sum()
    loss = loss + (hn * weights(hn.numel(), 0.5, 0.1).reshape(hn.shape)).sum()
    if cell == 'lstm':
        loss = loss + (cn * weights(cn.numel(), 0.7, 0.9).reshape(cn.shape)).sum()
    loss.backward()
    emit('k%sY' % name, y)
    emit('k%sH' % name, hn)
    if cell == 'lstm':
        emit('k%sC' % name, cn)
    emit('k%sDx' % name, x.grad)
    emit('k%sDh0' % name, h0.grad)
    if cell == 'lstm':
        emit('k%sDc0' % name, c0.grad)
    emit_grads('k%s' % name, m, cell, '')


def masked(cell, salt):
    name = {'gru': 'BiGru', 'lstm': 'BiLstm'}[cell]
    print('// Bidirectional %s over a packed batch of lengths (5, 3).' % cell)
    m = module(cell, bidirectional=True)
    fwd = keras_weights(cell, salt)
    bwd = keras_weights(cell, salt + 0.05)
    set_direction(m, cell, '', *fwd)
    set_direction(m, cell, '_reverse', *bwd)
    for direction, w in (('Forward', fwd), ('Backward', bwd)):
        emit('k%s%sKernel' % (name, direction), w[0])
        emit('k%s%sRecurrent' % (name, direction), w[1])
        emit('k%s%sBias' % (name, direction), w[2])
    x = values(B * T * F, 0.41 + salt, 0.6, 1.0).reshape(B, T, F).requires_grad_()
    emit('k%sX' % name, x)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3]), batch_first=True)
    out, state = m(packed)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    hn = state[0] if cell == 'lstm' else state
    loss = (y * weights(y.numel()).reshape(y.shape)).sum()
    loss = loss + (hn * weights(hn.numel(), 0.5, 0.1).reshape(hn.shape)).sum()
    loss.backward()
    emit('k%sY' % name, y)
    emit('k%sH' % name, hn)  # [2 directions, B, H]
    emit('k%sDx' % name, x.grad)
    emit_grads('k%sForward' % name, m, cell, '')
    emit_grads('k%sBackward' % name, m, cell, '_reverse')


def main():
    plain('rnn', 0.0)
    plain('gru', 0.02)
    plain('lstm', 0.04)
    masked('gru', 0.06)
    masked('lstm', 0.08)


if __name__ == '__main__':
    main()
