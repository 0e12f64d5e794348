"""The framework's layers against torch autograd and torch.nn, in float64.

Each module's forward output, input gradient and parameter gradients must
match torch's to about 1e-10, alone and with a leading model axis (where each
model's slice is compared with an independent torch computation).
"""

import math

import pytest
import torch

import framework as fw

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _generators(num_models: int, seed: int = 0) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed + m) for m in range(num_models)]


def _torch_linear(weight, bias, x, grad_output):
    """Output and gradients of x @ weight.T + bias by torch autograd."""
    weight = weight.clone().requires_grad_()
    bias = None if bias is None else bias.clone().requires_grad_()
    x = x.clone().requires_grad_()
    output = x @ weight.T + (0 if bias is None else bias)
    output.backward(grad_output)
    return output.detach(), x.grad, weight.grad, None if bias is None else bias.grad


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_nn_linear(bias):
    layer = fw.Linear(3, 4, bias=bias, dtype=torch.float64)
    reference = torch.nn.Linear(3, 4, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(layer.weight)
        if bias:
            reference.bias.copy_(layer.bias)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    grad_output = torch.randn(5, 4, dtype=torch.float64)

    expected = reference(x)
    expected.backward(grad_output)
    with fw.no_grad():
        output = layer(x.detach())
        grad_input = layer.backward(grad_output)

    torch.testing.assert_close(output, expected.detach(), **TOL)
    torch.testing.assert_close(grad_input, x.grad, **TOL)
    torch.testing.assert_close(layer.weight_grad, reference.weight.grad, **TOL)
    if bias:
        torch.testing.assert_close(layer.bias_grad, reference.bias.grad, **TOL)
    assert [p.shape for p, _ in layer.param()] == [
        p.shape for p in reference.parameters()
    ], "param() must list weight (out, in) then bias (out,)"


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("num_rows", [2, 7])  # fewer and more rows than outputs
def test_stacked_linear_matches_each_model(bias, num_rows):
    layer = fw.Linear(3, 4, bias=bias, num_models=3, dtype=torch.float64)
    x = torch.randn(3, num_rows, 3, dtype=torch.float64)
    grad_output = torch.randn(3, num_rows, 4, dtype=torch.float64)

    with fw.no_grad():
        output = layer(x)
        grad_input = layer.backward(grad_output)

    for m in range(3):
        bias_m = layer.bias[m] if bias else None
        expected = _torch_linear(layer.weight[m], bias_m, x[m], grad_output[m])
        torch.testing.assert_close(output[m], expected[0], **TOL)
        torch.testing.assert_close(grad_input[m], expected[1], **TOL)
        torch.testing.assert_close(layer.weight_grad[m], expected[2], **TOL)
        if bias:
            torch.testing.assert_close(layer.bias_grad[m], expected[3], **TOL)


@pytest.mark.parametrize("num_models", [None, 2])
def test_linear_accumulates_gradients_until_zero_grad(num_models):
    layer = fw.Linear(2, 3, num_models=num_models, dtype=torch.float64)
    shape = (5, 2) if num_models is None else (num_models, 5, 2)
    x = torch.randn(shape, dtype=torch.float64)
    grad_output = torch.randn(*shape[:-1], 3, dtype=torch.float64)

    layer(x)
    layer.backward(grad_output)
    once = [grad.clone() for _, grad in layer.param()]
    layer.backward(grad_output)
    for (_, grad), first in zip(layer.param(), once, strict=True):
        torch.testing.assert_close(grad, 2 * first, **TOL)

    layer.zero_grad()
    assert all(not grad.any() for _, grad in layer.param()), "zero_grad must zero"


def test_default_init_is_torch_linear_init():
    ours = fw.Linear(5, 3, generator=torch.Generator().manual_seed(7))
    weight, bias = torch.empty(3, 5), torch.empty(3)
    generator = torch.Generator().manual_seed(7)
    torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    torch.nn.init.uniform_(
        bias, -1 / math.sqrt(5), 1 / math.sqrt(5), generator=generator
    )

    torch.testing.assert_close(ours.weight, weight, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ours.bias, bias, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("name", "torch_init"),
    [
        ("xavier_uniform", torch.nn.init.xavier_uniform_),
        ("xavier_normal", torch.nn.init.xavier_normal_),
        (
            "he",
            lambda w, generator: torch.nn.init.kaiming_normal_(
                w, mode="fan_in", nonlinearity="relu", generator=generator
            ),
        ),
    ],
)
def test_named_inits_match_torch_nn_init(name, torch_init):
    ours = fw.Linear(30, 20, init=name, generator=torch.Generator().manual_seed(3))
    weight = torch.empty(20, 30)
    torch_init(weight, generator=torch.Generator().manual_seed(3))

    torch.testing.assert_close(ours.weight, weight, rtol=1e-6, atol=1e-7)
    assert not ours.bias.any(), f"{name} must start with a zero bias"


def test_stacked_init_gives_each_model_its_lone_weights():
    inits = ["default", "xavier_normal", "he"]
    stacked = fw.Linear(4, 6, num_models=3, init=inits, generator=_generators(3))
    for m, generator in enumerate(_generators(3)):
        alone = fw.Linear(4, 6, init=inits[m], generator=generator)
        assert torch.equal(stacked.weight[m], alone.weight), f"model {m} weight"
        assert torch.equal(stacked.bias[m], alone.bias), f"model {m} bias"


ACTIVATIONS = [
    (fw.ReLU, torch.relu),
    (fw.Tanh, torch.tanh),
    (fw.Sigmoid, torch.sigmoid),
]


@pytest.mark.parametrize(("module", "function"), ACTIVATIONS)
@pytest.mark.parametrize("shape", [(6, 5), (3, 6, 5)])
def test_activation_matches_autograd(module, function, shape):
    x = 3 * torch.randn(shape, dtype=torch.float64)
    x[0, 0] = 0.0  # ReLU's kink: torch's derivative there is 0
    grad_output = torch.randn(shape, dtype=torch.float64)
    leaf = x.clone().requires_grad_()
    expected = function(leaf)
    expected.backward(grad_output)

    activation = module()
    with fw.no_grad():
        output = activation(x)
        grad_input = activation.backward(grad_output)

    torch.testing.assert_close(output, expected.detach(), **TOL)
    torch.testing.assert_close(grad_input, leaf.grad, **TOL)
    assert activation.param() == [], "activations have no parameters"


def test_dropout_is_inverted_and_identity_in_eval():
    dropout = fw.Dropout(0.25, generator=torch.Generator().manual_seed(0))
    x = torch.ones(400, 50, dtype=torch.float64)

    output = dropout(x)
    values = set(output.unique().tolist())
    assert values <= {0.0, 1 / 0.75}, (
        f"kept elements must be scaled by 1/(1-p): {values}"
    )
    assert abs((output == 0).double().mean().item() - 0.25) < 0.01, "drop rate ~ p"
    grad_output = torch.randn_like(x)
    torch.testing.assert_close(dropout.backward(grad_output), grad_output * output)

    dropout.eval()
    assert dropout(x) is x, "evaluation mode must be the identity"
    assert dropout.backward(grad_output) is grad_output


def test_dropout_with_p_zero_is_exactly_the_identity():
    dropout = fw.Dropout(
        torch.tensor([0.0, 0.5]), num_models=2, generator=_generators(2)
    )
    x = torch.randn(2, 100, 7)
    output = dropout(x)
    assert torch.equal(output[0], x[0]), "p = 0 must not change model 0"
    assert (output[1] == 0).any(), "p = 0.5 must drop some elements of model 1"


def test_stacked_dropout_draws_each_model_its_lone_masks():
    rates = [0.1, 0.5, 0.3]
    stacked = fw.Dropout(torch.tensor(rates), num_models=3, generator=_generators(3))
    stacked.predraw(10)
    x = torch.randn(3, 10, 4)
    first, second = stacked(x[:, :6]), stacked(x[:, 6:])

    for m, generator in enumerate(_generators(3)):
        alone = fw.Dropout(
            torch.tensor([rates[m]]), num_models=1, generator=[generator]
        )
        alone.predraw(10)
        assert torch.equal(alone(x[m : m + 1, :6])[0], first[m]), f"model {m}, batch 1"
        assert torch.equal(alone(x[m : m + 1, 6:])[0], second[m]), f"model {m}, batch 2"

    with pytest.raises(RuntimeError, match="predraw"):
        stacked(x[:, :1])


def test_sequential_matches_torch_nn_sequential():
    torch.manual_seed(0)
    reference = torch.nn.Sequential(
        torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3), torch.nn.ReLU()
    ).double()
    ours = fw.Sequential(
        fw.Linear(2, 8, dtype=torch.float64),
        fw.Tanh(),
        fw.Linear(8, 3, dtype=torch.float64),
        fw.ReLU(),
    )
    with torch.no_grad():
        for (p, _), q in zip(ours.param(), reference.parameters(), strict=True):
            p.copy_(q)
    x = torch.randn(9, 2, dtype=torch.float64, requires_grad=True)
    grad_output = torch.randn(9, 3, dtype=torch.float64)
    expected = reference(x)
    expected.backward(grad_output)

    with fw.no_grad():
        output = ours(x.detach())
        grad_input = ours.backward(grad_output)

    torch.testing.assert_close(output, expected.detach(), **TOL)
    torch.testing.assert_close(grad_input, x.grad, **TOL)
    for (_, grad), q in zip(ours.param(), reference.parameters(), strict=True):
        torch.testing.assert_close(grad, q.grad, **TOL)
    assert len(ours.param()) == 4 and "Tanh()" in repr(ours)


def test_train_and_eval_reach_nested_modules():
    inner = fw.Sequential(fw.Linear(2, 2), fw.Dropout(0.5))
    outer = fw.Sequential(inner, fw.ReLU())
    outer.eval()
    assert not any(m.training for m in outer.modules()), "eval() must reach all"
    outer.train()
    assert all(m.training for m in outer.modules()), "train() must reach all"


def test_no_grad_restores_the_previous_mode():
    assert torch.is_grad_enabled()
    with fw.no_grad():
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled(), "no_grad must restore autograd"
