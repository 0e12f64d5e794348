"""Circle training speed: the framework against its torch.nn twin, and a stack
of networks against training them one by one.

Usage::

    tox -e bench -- -k circle

Example of the closing table (2-core machine)::

    framework step vs torch.nn twin (circle_mlp)      2.6x    >= 2x
    stack of 100 vs one by one (circle_mlp)           4.2x    >= 5x
"""

import time

import pytest
import torch

import framework as fw
from benchmarks.data import generate_disc_set
from models.circle_nets import (
    build_network,
    build_torch_twin,
    encode_targets,
    make_loss,
)
from models.circle_train import train_circle, train_circle_stack
from models.registry import get_variant

STACK = 100
ALONE = 10  # trained one by one; the cost of 100 is extrapolated


def _torch_loss(factors):
    if factors["loss"] == "ce":
        return torch.nn.CrossEntropyLoss()
    return torch.nn.MSELoss()


@pytest.mark.parametrize("variant", ["circle_mlp", "circle_best"])
def test_framework_step_against_torch_twin(benchmark, speeds, variant):
    """One SGD/Adam step on a batch of 100: hand-written backward vs autograd."""
    factors = get_variant(variant).resolve()
    points, labels = generate_disc_set(factors["batch_size"], seed=0)
    targets = encode_targets(labels, factors)

    torch.manual_seed(0)
    network = build_network(factors)
    loss_fn = make_loss(factors)
    optimizer_class = fw.Adam if factors["optimizer"] == "adam" else fw.SGD
    optimizer = optimizer_class([fw.flatten_parameters(network)], lr=factors["lr"])

    def framework_step() -> None:
        with fw.no_grad():
            loss_fn(network(points), targets)
            optimizer.zero_grad()
            network.backward(loss_fn.backward())
            optimizer.step()

    twin = build_torch_twin(factors)
    twin_loss = _torch_loss(factors)
    twin_class = torch.optim.Adam if factors["optimizer"] == "adam" else torch.optim.SGD
    twin_optimizer = twin_class(twin.parameters(), lr=factors["lr"])

    def twin_step() -> None:
        loss = twin_loss(twin(points), targets)
        twin_optimizer.zero_grad()
        loss.backward()
        twin_optimizer.step()

    twin_seconds = _best_of(twin_step, repeats=2000)
    benchmark.pedantic(framework_step, rounds=2000, warmup_rounds=100)
    ours = _best_of(framework_step, repeats=2000)
    benchmark.extra_info.update(twin_seconds=twin_seconds, speedup=twin_seconds / ours)
    speeds.record(
        f"framework step vs torch.nn twin ({variant})",
        f"{twin_seconds / ours:.1f}x",
        f">= 2x ({ours * 1e6:.0f} vs {twin_seconds * 1e6:.0f} us)",
    )


@pytest.mark.parametrize("variant", ["circle_mlp", "circle_best", "circle_report2020"])
def test_stack_against_one_by_one(benchmark, speeds, variant):
    """A stack of 100 networks against the same trainings one at a time."""
    factors = get_variant(variant).resolve()
    start = time.perf_counter()
    for seed in range(ALONE):
        train_circle(factors, seed)
    alone = (time.perf_counter() - start) / ALONE

    elapsed = []

    def stack() -> None:
        start = time.perf_counter()
        train_circle_stack([factors] * STACK, list(range(STACK)))
        elapsed.append(time.perf_counter() - start)

    benchmark.pedantic(stack, rounds=1, iterations=1)
    each = elapsed[-1] / STACK
    benchmark.extra_info.update(alone_seconds=alone, speedup=alone / each)
    speeds.record(
        f"stack of {STACK} vs one by one ({variant})",
        f"{alone / each:.1f}x",
        f">= 5x ({each:.3f} vs {alone:.3f} s per training)",
    )


def _best_of(step, repeats: int) -> float:
    for _ in range(50):
        step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best
