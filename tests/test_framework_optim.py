"""The framework's optimizers against torch.optim, step by step, in float64.

A few steps with fresh gradients each time must leave the parameters where
torch.optim leaves them. With per-model hyperparameters, each model's slice
must follow torch.optim run with that model's values alone.
"""

import pytest
import torch

import framework as fw

TOL = {"rtol": 1e-10, "atol": 1e-12}
NUM_STEPS = 4


def _gradients(shapes, generator):
    """NUM_STEPS lists of gradients, one per parameter shape."""
    return [
        [torch.randn(s, dtype=torch.float64, generator=generator) for s in shapes]
        for _ in range(NUM_STEPS)
    ]


def _run_framework(make, params, gradients):
    params = [p.clone() for p in params]
    grads = [torch.zeros_like(p) for p in params]
    optimizer = make(list(zip(params, grads, strict=True)))
    for step in gradients:
        for grad, value in zip(grads, step, strict=True):
            grad.copy_(value)
        optimizer.step()
    return params


def _run_torch(make, params, gradients):
    params = [p.clone().requires_grad_() for p in params]
    optimizer = make(params)
    for step in gradients:
        for p, value in zip(params, step, strict=True):
            p.grad = value.clone()
        optimizer.step()
    return [p.detach() for p in params]


CASES = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
]
OURS = {"sgd": fw.SGD, "adam": fw.Adam}
THEIRS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


@pytest.mark.parametrize(("name", "hyper"), CASES)
def test_optimizer_matches_torch_optim(name, hyper):
    generator = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (4,)]
    params = [torch.randn(s, dtype=torch.float64, generator=generator) for s in shapes]
    gradients = _gradients(shapes, generator)

    ours = _run_framework(lambda p: OURS[name](p, **hyper), params, gradients)
    theirs = _run_torch(lambda p: THEIRS[name](p, **hyper), params, gradients)

    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_per_model_hyperparameters_match_lone_torch_optim(name):
    generator = torch.Generator().manual_seed(1)
    shapes = [(3, 4, 2), (3, 4)]  # a stack of 3 models
    params = [torch.randn(s, dtype=torch.float64, generator=generator) for s in shapes]
    gradients = _gradients(shapes, generator)
    lr = torch.tensor([0.1, 0.01, 0.0], dtype=torch.float64)
    weight_decay = torch.tensor([0.0, 0.1, 0.2], dtype=torch.float64)
    momentum = torch.tensor([0.9, 0.0, 0.5], dtype=torch.float64)
    per_model = {"lr": lr, "weight_decay": weight_decay}
    if name == "sgd":
        per_model["momentum"] = momentum

    ours = _run_framework(lambda p: OURS[name](p, **per_model), params, gradients)

    for m in range(3):
        alone = {key: float(value[m]) for key, value in per_model.items()}
        theirs = _run_torch(
            lambda p, alone=alone: THEIRS[name](p, **alone),
            [p[m] for p in params],
            [[g[m] for g in step] for step in gradients],
        )
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a[m], b, **TOL, msg=f"model {m} of {name}")


def test_zero_grad_clears_every_gradient():
    layer = fw.Linear(3, 2)
    optimizer = fw.SGD(layer.param(), lr=0.1)
    layer(torch.randn(4, 3))
    layer.backward(torch.ones(4, 2))
    optimizer.zero_grad()
    assert all(not grad.any() for _, grad in layer.param())


def _stacked_network(seed: int) -> fw.Sequential:
    generators = [torch.Generator().manual_seed(seed + m) for m in range(3)]
    return fw.Sequential(
        fw.Linear(2, 5, num_models=3, generator=generators, dtype=torch.float64),
        fw.ReLU(),
        fw.Linear(5, 2, num_models=3, generator=generators, dtype=torch.float64),
    )


def test_flattened_parameters_are_the_modules_own():
    network = _stacked_network(0)
    before = [p.clone() for p, _ in network.param()]
    flat, flat_grad = fw.flatten_parameters(network, num_models=3)

    assert flat.shape == flat_grad.shape == (3, 2 * 5 + 5 + 5 * 2 + 2)
    for (p, _), old in zip(network.param(), before, strict=True):
        assert torch.equal(p, old), "flattening must keep the values"
    flat.add_(1.0)
    assert torch.equal(network[0].weight, before[0] + 1), "weights must be views"
    flat_grad.zero_()
    network(torch.randn(3, 4, 2, dtype=torch.float64))
    network.backward(torch.ones(3, 4, 2, dtype=torch.float64))
    assert torch.equal(flat_grad[:, -2:], network[2].bias_grad), "grads must be views"


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_a_step_on_the_flat_buffer_is_the_step_on_each_parameter(name):
    lr = torch.tensor([0.1, 0.01, 0.05], dtype=torch.float64)
    hyper = {"lr": lr, "weight_decay": torch.tensor([0.0, 0.1, 0.01]).double()}
    if name == "sgd":
        hyper["momentum"] = torch.tensor([0.9, 0.0, 0.5], dtype=torch.float64)
    separate, flattened = _stacked_network(0), _stacked_network(0)
    optimizers = [
        OURS[name](separate.param(), **hyper),
        OURS[name]([fw.flatten_parameters(flattened, num_models=3)], **hyper),
    ]
    x = torch.randn(3, 6, 2, dtype=torch.float64)

    for _ in range(NUM_STEPS):
        for network, optimizer in zip((separate, flattened), optimizers, strict=True):
            optimizer.zero_grad()
            network(x)
            network.backward(torch.ones(3, 6, 2, dtype=torch.float64))
            optimizer.step()

    for (a, _), (b, _) in zip(separate.param(), flattened.param(), strict=True):
        torch.testing.assert_close(a, b, **TOL)
