"""The framework's losses against torch.nn's, in float64.

Values and input gradients must match torch's (mean reduction) to about
1e-10. Stacked losses must return one mean per model and give each model the
gradient of its own loss.
"""

import pytest
import torch

import framework as fw

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _inputs(name: str, shape: tuple[int, ...], generator: torch.Generator):
    """A loss's input and target of ``shape`` (..., N, C), as its type needs."""
    logits = 2 * torch.randn(shape, dtype=torch.float64, generator=generator)
    if name == "ce":
        labels = torch.randint(0, shape[-1], shape[:-1], generator=generator)
        return logits, labels
    target = torch.rand(shape, dtype=torch.float64, generator=generator)
    if name == "bce":
        return logits.sigmoid(), (target > 0.5).double()
    if name == "bce_logits":
        return logits, (target > 0.5).double()
    return logits, target


LOSSES = {
    "mse": (fw.MSELoss, torch.nn.MSELoss),
    "bce": (fw.BCELoss, torch.nn.BCELoss),
    "bce_logits": (fw.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss),
    "ce": (fw.CrossEntropyLoss, torch.nn.CrossEntropyLoss),
}


def _torch_loss(name: str, input: torch.Tensor, target: torch.Tensor):
    """Torch's loss value and gradient with respect to ``input``."""
    leaf = input.clone().requires_grad_()
    value = LOSSES[name][1]()(leaf, target)
    value.backward()
    return value.detach(), leaf.grad


@pytest.mark.parametrize("name", LOSSES)
def test_loss_matches_torch(name):
    input, target = _inputs(name, (7, 3), torch.Generator().manual_seed(1))
    expected, expected_grad = _torch_loss(name, input, target)

    loss = LOSSES[name][0]()
    with fw.no_grad():
        value = loss(input, target)
        grad = loss.backward()

    assert value.shape == (), "an unstacked loss is a scalar"
    torch.testing.assert_close(value, expected, **TOL)
    torch.testing.assert_close(grad, expected_grad, **TOL)
    torch.testing.assert_close(loss.backward(torch.tensor(3.0)), 3 * expected_grad)


@pytest.mark.parametrize("name", LOSSES)
def test_stacked_loss_gives_each_model_its_own_gradient(name):
    input, target = _inputs(name, (4, 6, 2), torch.Generator().manual_seed(2))

    loss = LOSSES[name][0](num_models=4)
    with fw.no_grad():
        values = loss(input, target)
        grad = loss.backward()

    assert values.shape == (4,), "a stacked loss gives one value per model"
    for m in range(4):
        expected, expected_grad = _torch_loss(name, input[m], target[m])
        torch.testing.assert_close(values[m], expected, **TOL)
        torch.testing.assert_close(grad[m], expected_grad, **TOL)


def test_stacked_loss_scales_by_per_model_grad_output():
    input, target = _inputs("mse", (3, 5, 2), torch.Generator().manual_seed(3))
    loss = fw.MSELoss(num_models=3)
    loss(input, target)
    scales = torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64)
    grad = loss.backward(scales)
    plain = loss.backward()
    for m in range(3):
        torch.testing.assert_close(grad[m], scales[m] * plain[m], **TOL)


def test_bce_clamps_its_logs_like_torch():
    input = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64)
    target = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    expected, _ = _torch_loss("bce", input, target)
    value = fw.BCELoss()(input, target)
    assert torch.isfinite(value), "log(0) must be clamped at -100"
    torch.testing.assert_close(value, expected, **TOL)


def test_bce_with_logits_is_stable_for_large_logits():
    input = torch.tensor([[800.0], [-800.0]], dtype=torch.float64)
    target = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    expected, expected_grad = _torch_loss("bce_logits", input, target)
    loss = fw.BCEWithLogitsLoss()
    torch.testing.assert_close(loss(input, target), expected, **TOL)
    torch.testing.assert_close(loss.backward(), expected_grad, **TOL)
