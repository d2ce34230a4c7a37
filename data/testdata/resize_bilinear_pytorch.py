"""Expected values for data/image_test.cc's ResizeBilinear parity test.

PyTorch's bilinear interpolation without align_corners or antialiasing samples at the
same half-pixel centres as tf.image.resize(method="bilinear"), which ResizeBilinear
follows. Computed in float64 from the integer test image both sides build:
pixel (y, x, c) = (37 * y + 11 * x + 5 * c) % 256, an HWC image.

  /usr/bin/python3 data/testdata/resize_bilinear_pytorch.py
"""
import torch
import torch.nn.functional as F


def case(h, w, c, out_h, out_w):
    img = torch.tensor([[[(37 * y + 11 * x + 5 * k) % 256 for k in range(c)]
                         for x in range(w)] for y in range(h)], dtype=torch.float64)
    nchw = img.permute(2, 0, 1).unsqueeze(0)
    out = F.interpolate(nchw, size=(out_h, out_w), mode="bilinear", align_corners=False,
                        antialias=False)
    values = out.squeeze(0).permute(1, 2, 0).reshape(-1).tolist()  # HWC
    print(f"// {h}x{w}x{c} -> {out_h}x{out_w}")
    print("{" + ", ".join(f"{v:.9g}" for v in values) + "}")


case(5, 7, 2, 3, 9)   # fewer rows, more columns
case(13, 11, 1, 4, 5)  # reduced by about 3: no antialiasing, pixels skipped
