"""``GemmConv2d`` against ``nn.Conv2d``: the same outputs and gradients.

The comparisons run in float64, where the two summation orders agree to
rounding; the fallback paths must be ``nn.Conv2d`` bit for bit.
"""

import pytest
import torch
from torch import nn

from models.digits_conv import GemmConv2d
from models.digits_nets import digit_branch

CASES = [
    # in_channels, out_channels, kernel, height, width, bias
    (32, 64, 3, 6, 6, True),  # the small digit CNN's second convolution
    (1, 8, 3, 14, 14, True),
    (3, 5, (2, 3), 7, 5, False),
    (4, 2, 1, 3, 4, True),
]


def _pair(cin, cout, kernel, bias, seed=0):
    """A ``GemmConv2d`` and an ``nn.Conv2d`` with the same float64 weights."""
    torch.manual_seed(seed)
    ours = GemmConv2d(cin, cout, kernel, bias=bias).double()
    reference = nn.Conv2d(cin, cout, kernel, bias=bias).double()
    reference.load_state_dict(ours.state_dict())
    layout = torch.channels_last
    return ours.to(memory_format=layout), reference.to(memory_format=layout)


def _input(n, cin, h, w, seed=1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cin, h, w, generator=generator, dtype=torch.float64)
    return x.to(memory_format=torch.channels_last)


@pytest.mark.parametrize("cin, cout, kernel, h, w, bias", CASES)
def test_outputs_and_gradients_equal_nn_conv2d(cin, cout, kernel, h, w, bias):
    ours, reference = _pair(cin, cout, kernel, bias)
    x = _input(5, cin, h, w)
    grads = []
    for conv in (ours, reference):
        conv.zero_grad(set_to_none=True)
        x_leaf = x.clone().requires_grad_()
        out = conv(x_leaf)
        weights = torch.randn(out.shape, dtype=out.dtype,
                              generator=torch.Generator().manual_seed(2))  # fmt: skip
        (out * weights).sum().backward()
        grads.append([out.detach(), x_leaf.grad, *(p.grad for p in conv.parameters())])
    assert ours(x.requires_grad_()).grad_fn.name() == "_Im2colConvBackward"
    assert grads[0][0].is_contiguous(memory_format=torch.channels_last)
    for got, expected in zip(*grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_a_first_layer_gets_weight_gradients_only():
    ours, reference = _pair(1, 8, 3, True)
    x = _input(4, 1, 14, 14)  # pixels: no gradient wanted
    for conv in (ours, reference):
        conv(x).square().sum().backward()
    assert x.grad is None
    for got, expected in zip(ours.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(got.grad, expected.grad, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    ours, _ = _pair(2, 3, (3, 2), True)
    x = _input(2, 2, 5, 4).requires_grad_()
    assert torch.autograd.gradcheck(ours, (x,))


@pytest.mark.parametrize(
    "settings, layout, grad",
    [
        ({}, torch.channels_last, False),  # evaluation
        ({}, torch.contiguous_format, True),  # NCHW input
        ({"padding": 1}, torch.channels_last, True),
        ({"stride": 2}, torch.channels_last, True),
    ],
)
def test_other_cases_are_nn_conv2d_itself(settings, layout, grad):
    torch.manual_seed(0)
    ours = GemmConv2d(4, 6, 3, **settings)
    reference = nn.Conv2d(4, 6, 3, **settings)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(3, 4, 8, 8).to(memory_format=layout)
    with torch.set_grad_enabled(grad):
        got, expected = ours(x), reference(x)
    assert torch.equal(got, expected)
    if grad:
        assert got.grad_fn.name() == "ConvolutionBackward0"


def test_the_small_digit_cnn_trains_its_second_convolution_as_a_matmul():
    convs = [m for m in digit_branch("small", 128, 0.0) if isinstance(m, nn.Conv2d)]
    assert [type(conv) for conv in convs] == [nn.Conv2d, GemmConv2d]
