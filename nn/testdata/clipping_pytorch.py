"""PyTorch's gradient clipping on the gradients nn/optimizers_test.cc clips with gradway's
GradientClipping, printed as C++ initialisers that the test embeds.

Two parameters: a [3, 5] with gradient ga[i] = sin(0.37 i + 0.1) * 2 and b [7] with
gb[i] = cos(0.53 i + 0.2) * 3 (float32, row-major i).
  kClipNorm:       clipnorm 1.0, each parameter on its own: clip_grad_norm_([a], 1.0) and
                   clip_grad_norm_([b], 1.0) (Keras' clipnorm is per variable);
  kGlobalClipNorm: global_clipnorm 2.0: clip_grad_norm_([a, b], 2.0);
  kClipValue:      clipvalue 0.5: clip_grad_value_([a, b], 0.5).
Each list is a's 15 values then b's 7. PyTorch divides by norm + 1e-6 where Keras divides
by max(norm, clipnorm), so the two differ by about 1e-6 relative; the test allows 1e-5.

Run: python3 nn/testdata/clipping_pytorch.py  (torch 1.13)
"""
import math

import torch


def grads():
    ga = torch.tensor([math.sin(0.37 * i + 0.1) * 2 for i in range(15)],
                      dtype=torch.float32).reshape(3, 5)
    gb = torch.tensor([math.cos(0.53 * i + 0.2) * 3 for i in range(7)], dtype=torch.float32)
    a = torch.zeros(3, 5, requires_grad=True)
    b = torch.zeros(7, requires_grad=True)
    a.grad = ga.clone()
    b.grad = gb.clone()
    return a, b


def emit(name, a, b):
    values = a.grad.flatten().tolist() + b.grad.tolist()
    print("const std::vector<float> %s = {" % name)
    print("    " + ", ".join("%.9g" % v for v in values) + "};")


a, b = grads()
print("// norms: a %.9g, b %.9g" % (a.grad.norm().item(), b.grad.norm().item()))
torch.nn.utils.clip_grad_norm_([a], 1.0)
torch.nn.utils.clip_grad_norm_([b], 1.0)
emit("kClipNorm", a, b)

a, b = grads()
torch.nn.utils.clip_grad_norm_([a, b], 2.0)
emit("kGlobalClipNorm", a, b)

a, b = grads()
torch.nn.utils.clip_grad_value_([a, b], 0.5)
emit("kClipValue", a, b)
