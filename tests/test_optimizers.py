"""The digits trainer's Adam and SGD against torch.optim: equal bit for bit.

Both optimizers update copies of the same parameters with gradients that
depend on the parameters (so any difference would grow), for 300 steps,
under each learning-rate schedule the trainer uses. A subprocess checks that
building and stepping them never imports torch._dynamo, the reason they exist.
"""

import subprocess
import sys

import pytest
import torch

from models.optimizers import SGD, Adam

STEPS = 300
CONFIGS = {
    "adam": (Adam, torch.optim.Adam, {"lr": 3e-3}),
    "adam_wd": (Adam, torch.optim.Adam, {"lr": 1e-3, "weight_decay": 1e-3}),
    "adam_betas": (Adam, torch.optim.Adam, {"lr": 1e-2, "betas": (0.8, 0.99)}),
    "sgd": (SGD, torch.optim.SGD, {"lr": 0.05}),
    "sgd_momentum": (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "sgd_all": (
        SGD,
        torch.optim.SGD,
        {"lr": 0.02, "momentum": 0.5, "weight_decay": 1e-2},
    ),
}


def make_params() -> list[torch.Tensor]:
    """A conv weight in channels-last layout, a bias, a matrix, a frozen one."""
    generator = torch.Generator().manual_seed(0)
    conv = torch.randn(8, 4, 3, 3, generator=generator)
    params = [
        conv.to(memory_format=torch.channels_last),
        torch.randn(8, generator=generator),
        torch.randn(33, 17, generator=generator),
        torch.randn(5, generator=generator),  # never gets a gradient
    ]
    return [p.requires_grad_() for p in params]


def set_gradients(params: list[torch.Tensor], step: int) -> None:
    """Gradients that depend on the parameters and vary with the step."""
    generator = torch.Generator().manual_seed(step)
    for p in params[:-1]:
        noise = torch.randn(p.shape, generator=generator)
        p.grad = torch.sin(3 * p.detach()) + 0.1 * noise


def schedule(name: str, optimizer: torch.optim.Optimizer, lr: float):
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, STEPS)
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, STEPS)
    return None


def train(optimizer_class, hyper: dict, schedule_name: str) -> list[torch.Tensor]:
    params = make_params()
    optimizer = optimizer_class(params, **hyper)
    scheduler = schedule(schedule_name, optimizer, hyper["lr"])
    for step in range(STEPS):
        optimizer.zero_grad(set_to_none=True)
        set_gradients(params, step)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return params


@pytest.mark.parametrize("schedule_name", ["constant", "cosine", "onecycle"])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_updates_equal_torch_optim_bit_for_bit(config, schedule_name):
    ours, theirs, hyper = CONFIGS[config]
    mine = train(ours, hyper, schedule_name)
    reference = train(theirs, hyper, schedule_name)
    for p, q in zip(mine, reference, strict=True):
        assert p.is_contiguous(memory_format=torch.channels_last) == (
            q.is_contiguous(memory_format=torch.channels_last)
        )
        assert torch.equal(p, q), f"{config}/{schedule_name}: {(p - q).abs().max()}"
    # The parameter that never had a gradient did not move.
    assert torch.equal(mine[-1], make_params()[-1])


def test_training_never_imports_dynamo():
    script = """
import sys, torch
from models.optimizers import Adam, SGD
for make in (lambda p: Adam(p, lr=1e-3), lambda p: SGD(p, lr=0.1, momentum=0.9)):
    w = torch.randn(3, 3, requires_grad=True)
    optimizer = make([w])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.01, 10)
    for _ in range(3):
        optimizer.zero_grad()
        (w ** 2).sum().backward()
        optimizer.step()
        scheduler.step()
print("torch._dynamo" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_bad_parameters_and_closures_are_refused():
    with pytest.raises(TypeError, match="leaf tensors"):
        Adam([torch.ones(2, requires_grad=True) * 2])
    optimizer = SGD([torch.ones(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="no closure"):
        optimizer.step(lambda: 0.0)
