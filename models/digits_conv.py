"""A convolution whose weight gradient is one matrix product.

On CPU, for the small digit CNN's second convolution (32 to 64 channels, 3x3,
6x6 inputs, batches of 200 images), oneDNN takes 3.0 ms for the weight
gradient where a plain matrix product of the same size takes 1.8 ms.
``GemmConv2d`` trains that layer as an explicit im2col product instead:

- forward: the ``(N*Ho*Wo, kh*kw*C)`` patch matrix of the channels-last input
  times the ``(kh*kw*C, O)`` weight matrix, plus the bias;
- backward: the weight gradient is the output gradient's transpose times the
  patch matrix saved by the forward pass, the bias gradient its column sums,
  and the input gradient oneDNN's own (faster there than folding patches).

The result equals ``nn.Conv2d`` up to float rounding (the sums run in another
order). Without a weight gradient to compute, off CPU, on an input that is
not channels-last, or with a stride, padding, dilation or groups, it is
``nn.Conv2d`` itself.
"""

import torch
from torch import nn


class GemmConv2d(nn.Conv2d):
    """``nn.Conv2d`` trained as an im2col matrix product on CPU (see module)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` to ``(N, O, H - kh + 1, W - kw + 1)``."""
        if not self._gemm_applies(x):
            return super().forward(x)
        return _Im2colConv.apply(x, self.weight, self.bias)

    def _gemm_applies(self, x: torch.Tensor) -> bool:
        plain = (
            self.stride == (1, 1)
            and self.dilation == (1, 1)
            and self.groups == 1
            and self.padding in ((0, 0), "valid")
        )
        return (
            plain
            and torch.is_grad_enabled()
            and self.weight.requires_grad
            and x.device.type == "cpu"
            and x.dim() == 4
            and x.is_contiguous(memory_format=torch.channels_last)
        )


def _patches(x: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """Channels-last ``(N, C, H, W)`` to its ``(N*Ho*Wo, kh*kw*C)`` patches.

    A row holds one output pixel's receptive field in (row, column, channel)
    order, the order of a channels-last weight's ``(kh, kw, C)`` memory.
    """
    n, c, h, w = x.shape
    nhwc = x.permute(0, 2, 3, 1)  # a view: x is channels-last
    s_n, s_h, s_w, s_c = nhwc.stride()
    windows = nhwc.as_strided(
        (n, h - kh + 1, w - kw + 1, kh, kw, c), (s_n, s_h, s_w, s_h, s_w, s_c)
    )
    return windows.reshape(-1, kh * kw * c)


class _Im2colConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        out_channels, in_channels, kh, kw = weight.shape
        n, _, h, w = x.shape
        cols = _patches(x, kh, kw)
        matrix = weight.permute(0, 2, 3, 1).reshape(out_channels, -1)
        weights = matrix.t()
        out = cols @ weights if bias is None else torch.addmm(bias, cols, weights)
        ctx.save_for_backward(x, weight, cols)
        # (N*Ho*Wo, O) is the channels-last memory of (N, O, Ho, Wo).
        return out.view(n, h - kh + 1, w - kw + 1, out_channels).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, cols = ctx.saved_tensors
        out_channels, in_channels, kh, kw = weight.shape
        grad_rows = grad_out.permute(0, 2, 3, 1).reshape(-1, out_channels)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad_out, x, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                [True, False, False],
            )[0]  # fmt: skip
        if ctx.needs_input_grad[1]:
            grad_weight = grad_rows.t() @ cols
            grad_weight = grad_weight.view(out_channels, kh, kw, in_channels)
            grad_weight = grad_weight.permute(0, 3, 1, 2)
        if ctx.needs_input_grad[2]:  # False when there is no bias
            grad_bias = grad_rows.sum(0)
        return grad_x, grad_weight, grad_bias
