#!/usr/bin/python3
"""Expected values for nn/augmentation_test.cc's PyTorch parity test.

    /usr/bin/python3 nn/testdata/augmentation_pytorch.py

The image x [1, 4, 5, 2] (NHWC) is x[i] = sin(0.37 i + 0.1) * 2 in row-major order. Each
case is a warp with a fixed transform (the layers with a degenerate factor range, so the
transform is not random), computed as tf.keras builds it, in float32 as gradway does:
  rotation:    angle = float32(factor * 2 pi); row [c, -s, x_off, s, c, y_off, 0, 0],
               x_off = ((w-1) - (c (w-1) - s (h-1))) / 2, y_off = ((h-1) - (s (w-1) + c (h-1))) / 2
  translation: dy = float32(height_factor) * h, dx = float32(width_factor) * w;
               row [1, 0, -dx, 0, 1, -dy, 0, 0]
Output pixel (x, y) reads the input point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k),
k = c0 x + c1 y + 1. PyTorch samples it: F.grid_sample(align_corners=False) with
padding_mode "reflection" (TF's "reflect": mirrored about the outer edge of the border
pixels, then clamped to the pixel centres) or "border" (TF's "nearest": clamped), on
float64, the grid being the points in grid_sample's [-1, 1] units: g = (2 p + 1) / size - 1.
Prints the expected outputs (NHWC, row-major) as C++ initialisers.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

H, W, C = 4, 5, 2


def image():
    i = np.arange(H * W * C, dtype=np.float64)
    return (np.sin(0.37 * i + 0.1) * 2).astype(np.float32).reshape(1, H, W, C)


def rotation(factor):
    f32 = np.float32
    angle = f32(factor * 2 * math.pi)
    c, s = np.cos(angle), np.sin(angle)
    h1, w1 = f32(H) - f32(1), f32(W) - f32(1)
    x_off = (w1 - (c * w1 - s * h1)) / f32(2)
    y_off = (h1 - (s * w1 + c * h1)) / f32(2)
    return np.array([c, -s, x_off, s, c, y_off, 0, 0], dtype=np.float32)


def translation(height_factor, width_factor):
    dy = np.float32(height_factor) * np.float32(H)
    dx = np.float32(width_factor) * np.float32(W)
    return np.array([1, 0, -dx, 0, 1, -dy, 0, 0], dtype=np.float32)


def warp(x, t, padding_mode):
    f32 = np.float32
    grid = np.zeros((1, H, W, 2), dtype=np.float64)
    for oy in range(H):
        for ox in range(W):
            fx, fy = f32(ox), f32(oy)
            k = t[6] * fx + t[7] * fy + f32(1)
            px = (t[0] * fx + t[1] * fy + t[2]) / k
            py = (t[3] * fx + t[4] * fy + t[5]) / k
            grid[0, oy, ox, 0] = (2 * float(px) + 1) / W - 1
            grid[0, oy, ox, 1] = (2 * float(py) + 1) / H - 1
    nchw = torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2)
    y = F.grid_sample(nchw, torch.from_numpy(grid), mode='bilinear',
                      padding_mode=padding_mode, align_corners=False)
    return y.permute(0, 2, 3, 1).reshape(-1).numpy()


def emit(name, values):
    print(f'// {name}')
    print(f'const float {name}[] = {{')
    row = []
    for v in values:
        row.append(f'{v:.9g}f')
        if len(row) == 5:
            print('    ' + ', '.join(row) + ',')
            row = []
    if row:
        print('    ' + ', '.join(row) + ',')
    print('};')


def main():
    x = image()
    emit('kRotation005Reflect', warp(x, rotation(0.05), 'reflection'))
    emit('kRotationMinus03Reflect', warp(x, rotation(-0.3), 'reflection'))
    emit('kTranslationNearest', warp(x, translation(0.3, -0.27), 'border'))
    emit('kTranslationReflect', warp(x, translation(-0.6, 0.9), 'reflection'))


if __name__ == '__main__':
    main()
