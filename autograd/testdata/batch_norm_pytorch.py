#!/usr/bin/python3
"""PyTorch's numbers for autograd/nn_functions_test.cc's BatchNorm parity test.

    /usr/bin/python3 autograd/testdata/batch_norm_pytorch.py

Prints C++ initialisers (paste them into the test): for each case, torch's
F.batch_norm (float32) on the channels-first permutation of gradway's channels-last input,
the running statistics after the update, and the gradients of L = sum(w * y) with respect
to x (back in channels-last order), gamma and beta.

Inputs, by formulas the test computes too (i: the channels-last flat index, c: the channel):
    x[i] = sin(0.37 i + 0.1) * 2        w[i] = cos(0.23 i + 0.5)
    gamma[c] = 0.8 + 0.3 c              beta[c] = 0.1 c - 0.2
    running_mean[c] = 0.05 c - 0.1      running_var[c] = 1 + 0.5 c
Keras momentum 0.9 (torch's momentum 0.1), epsilon 1e-3.
"""
import math

import torch
import torch.nn.functional as F

MOMENTUM = 0.9  # Keras' convention; torch's is 1 - it
EPSILON = 1e-3
CASES = [("Train4D", [2, 3, 2, 3], True), ("Train2D", [5, 4], True),
         ("Infer2D", [5, 4], False)]


def by_formula(shape, f):
    n = math.prod(shape)
    return torch.tensor([f(i) for i in range(n)], dtype=torch.float32).reshape(shape)


def literal(v):
    s = f"{v:.9g}"
    return s + ("f" if any(ch in s for ch in ".e") else ".f")


def cpp(name, t):
    """constexpr float k<name>[] = {...}; wrapped at 96 columns."""
    lines, line = [], f"constexpr float k{name}[] = {{"
    for v in t.detach().reshape(-1).tolist():
        item = literal(v) + ", "
        if len(line) + len(item.rstrip()) > 96:
            lines.append(line.rstrip())
            line = "    "
        line += item
    lines.append(line.rstrip().rstrip(",") + "};")
    return "\n".join(lines)


def main():
    print("// Produced by autograd/testdata/batch_norm_pytorch.py (torch "
          f"{torch.__version__}).")
    for name, shape, training in CASES:
        c = shape[-1]
        x = by_formula(shape, lambda i: math.sin(0.37 * i + 0.1) * 2)
        w = by_formula(shape, lambda i: math.cos(0.23 * i + 0.5))
        gamma = by_formula([c], lambda k: 0.8 + 0.3 * k).requires_grad_()
        beta = by_formula([c], lambda k: 0.1 * k - 0.2).requires_grad_()
        running_mean = by_formula([c], lambda k: 0.05 * k - 0.1)
        running_var = by_formula([c], lambda k: 1 + 0.5 * k)
        # Channels last -> channels first: (N, H, W, C) -> (N, C, H, W); (N, C) stays.
        to_first = [0, 3, 1, 2] if len(shape) == 4 else [0, 1]
        to_last = [0, 2, 3, 1] if len(shape) == 4 else [0, 1]
        x_first = x.permute(*to_first).contiguous().requires_grad_()
        y_first = F.batch_norm(x_first, running_mean, running_var, gamma, beta,
                               training=training, momentum=1 - MOMENTUM, eps=EPSILON)
        y = y_first.permute(*to_last)
        (y * w).sum().backward()
        dx = x_first.grad.permute(*to_last)
        print(f"// {name}: input {shape}, training = {str(training).lower()}")
        print(cpp(name + "Y", y))
        print(cpp(name + "Dx", dx))
        print(cpp(name + "Dgamma", gamma.grad))
        print(cpp(name + "Dbeta", beta.grad))
        print(cpp(name + "RunningMean", running_mean))
        print(cpp(name + "RunningVar", running_var))


if __name__ == "__main__":
    main()
