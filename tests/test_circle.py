"""The circle task: data, stacking, determinism, variants and the torch twin.

A trial trained in a stack must give the numbers it gives alone, the same
seed must give the same numbers, validation must come from training points
only, and every registered variant must train.
"""

import math

import pytest
import torch

import framework as fw
import models.circle_train as circle_train
from benchmarks.data import DISC_CENTRE, DISC_RADIUS, generate_disc_set
from benchmarks.seeding import derive_seed
from models.circle_nets import (
    build_network,
    build_torch_twin,
    copy_from_twin,
    copy_to_twin,
    encode_targets,
    inside_probability,
)
from models.circle_train import (
    circle_data,
    decision_grid,
    load_network,
    train_circle,
    train_circle_stack,
)
from models.factors import circle_stack_key as stack_key
from models.registry import create_model, get_variant, list_models

QUICK = {"epochs": 3}


def _factors(name: str = "circle_mlp", **overrides) -> dict:
    return get_variant(name).resolve({**QUICK, **overrides})


def _numbers(result: dict) -> dict:
    """Everything a trial reports except its timing."""
    return {k: v for k, v in result.items() if k not in ("train_seconds", "stack_size")}


def test_datasets_follow_the_course_and_the_seeding():
    data = circle_data(seed=5)
    train_input, train_labels = data["train"]
    test_input, _ = data["test"]

    assert train_input.shape == (1000, 2) and test_input.shape == (1000, 2)
    assert data["val"][0].shape == (0, 2), "no validation points by default"
    assert train_input.min() >= 0 and train_input.max() <= 1, "points in [0,1]^2"
    inside = (train_input - DISC_CENTRE).pow(2).sum(1) < DISC_RADIUS**2
    assert torch.equal(train_labels, inside.long()), "label 1 inside the disk"
    assert 0.4 < train_labels.double().mean() < 0.6, "classes are about balanced"

    expected = generate_disc_set(1000, derive_seed(5, "circle", "train"))[0]
    assert torch.equal(train_input, expected), "train set seeded by 'circle/train'"
    expected = generate_disc_set(1000, derive_seed(5, "circle", "test"))[0]
    assert torch.equal(test_input, expected), "test set seeded by 'circle/test'"
    assert not torch.equal(circle_data(seed=6)["train"][0], train_input)


def test_validation_holds_out_training_points_only():
    full, split = circle_data(seed=1), circle_data(seed=1, val_fraction=0.2)
    train_input = full["train"][0]

    assert split["train"][0].shape == (800, 2) and split["val"][0].shape == (200, 2)
    assert torch.equal(torch.cat([split["train"][0], split["val"][0]]), train_input)
    assert torch.equal(split["test"][0], full["test"][0]), "test set unchanged"


def test_test_points_never_influence_training_or_validation(monkeypatch):
    factors = _factors(val_fraction=0.2, dropout=0.1)
    honest = train_circle(factors, seed=3)

    # Flip every test label: only the test accuracy may change.
    test_seed = derive_seed(3, "circle", "test")

    def flipped(num_points: int, seed: int):
        points, labels = generate_disc_set(num_points, seed)
        return points, (1 - labels if seed == test_seed else labels)

    monkeypatch.setattr(circle_train, "generate_disc_set", flipped)
    tampered = train_circle(factors, seed=3)

    for name in ("train_loss", "train_accuracy", "val_accuracy"):
        assert tampered["curves"][name] == honest["curves"][name], name
    assert tampered["state"] == honest["state"], "the trained weights must not move"
    assert tampered["test_accuracy"] == pytest.approx(1 - honest["test_accuracy"])


def test_a_stacked_trial_gets_its_lone_numbers_in_float64():
    trials = [
        _factors(lr=0.1, momentum=0.9),
        _factors(lr=0.05, dropout=0.2, init="xavier_normal", weight_decay=1e-3),
        _factors(lr=0.02, init="he"),
    ]
    seeds = [0, 1, 2]
    stacked = train_circle_stack(trials, seeds, dtype=torch.float64)

    for factors, seed, result in zip(trials, seeds, stacked, strict=True):
        alone = train_circle(factors, seed, dtype=torch.float64)
        for name, curve in alone["curves"].items():
            assert result["curves"][name] == pytest.approx(curve, rel=1e-6, abs=1e-9)
        assert result["stack_size"] == 3 and alone["stack_size"] == 1


def test_a_stacked_trial_gets_its_lone_numbers_in_float32_up_to_rounding():
    # NOTE: not bitwise: CPU batched matrix products may round a matrix
    # differently with the number of matrices in the batch and its position.
    trials = [_factors("circle_best", outputs=1, lr=lr) for lr in (1e-3, 3e-3)]
    trials.append(_factors("circle_best", outputs=1, dropout=0.3))
    stacked = train_circle_stack(trials, [4, 5, 6])
    for factors, seed, result in zip(trials, [4, 5, 6], stacked, strict=True):
        alone = train_circle(factors, seed)
        for name, curve in alone["curves"].items():
            close = pytest.approx(curve, rel=1e-4, abs=2e-3)
            assert result["curves"][name] == close, f"seed {seed}: {name}"


def test_the_same_seed_gives_the_same_numbers():
    factors = _factors("circle_report2020", epochs=2)
    first, second = train_circle(factors, seed=9), train_circle(factors, seed=9)
    assert _numbers(first) == _numbers(second)
    assert _numbers(train_circle(factors, seed=10)) != _numbers(first)


def test_a_diverging_trial_leaves_its_stack_alone():
    calm, wild = _factors(lr=0.05), _factors(lr=10.0, momentum=0.99)
    calm_alone = train_circle(calm, seed=2)
    results = train_circle_stack([wild, calm], [1, 2])

    assert results[0]["status"] == "diverged"
    assert math.isnan(results[0]["test_accuracy"]), "a diverged trial has no metrics"
    assert results[1]["status"] == "ok"
    for name, curve in calm_alone["curves"].items():
        assert results[1]["curves"][name] == pytest.approx(curve, rel=1e-4, abs=2e-3)


def test_results_report_every_field():
    result = train_circle(_factors(val_fraction=0.1), seed=0)
    assert result["status"] == "ok" and result["stack_size"] == 1
    for name in ("train_accuracy", "val_accuracy", "test_accuracy"):
        assert 0 <= result[name] <= 1, name
        assert len(result["curves"][name]) == QUICK["epochs"], name
    assert result["train_loss"] == result["curves"]["train_loss"][-1]
    assert result["num_params"] == 2 * 25 + 25 + 2 * (25 * 25 + 25) + 25 * 2 + 2
    assert train_circle(_factors(), seed=0)["val_accuracy"] is None
    assert "val_accuracy" not in train_circle(_factors(), seed=0)["curves"]


def test_stack_key_groups_trials_that_can_share_a_stack():
    base = _factors()
    assert stack_key(base) == stack_key({**base, "lr": 0.5, "init": "he"})
    assert stack_key(base) == stack_key({**base, "dropout": 0.3, "momentum": 0.9})
    assert stack_key(base) != stack_key({**base, "batch_size": 10})
    with pytest.raises(ValueError, match="stack_key"):
        train_circle_stack([base, {**base, "epochs": 4}], [0, 1])


def test_load_network_rebuilds_the_trained_network():
    factors = _factors("circle_best", val_fraction=0.0)
    result = train_circle(factors, seed=7)
    network = load_network(factors, result["state"])
    test_input, test_labels = circle_data(seed=7)["test"]

    with fw.no_grad():
        probability = inside_probability(network(test_input), factors)
    accuracy = ((probability > 0.5) == test_labels.bool()).double().mean().item()
    assert accuracy == pytest.approx(result["test_accuracy"], abs=2e-3)
    assert len(result["state"]) < 20_000, "the state should stay small"

    xx, yy, prob = decision_grid(factors, result["state"], resolution=30)
    assert xx.shape == yy.shape == prob.shape == (30, 30)
    assert xx[0, -1] == 1 and yy[-1, 0] == 1, "the grid spans [0, 1]^2"
    assert prob.min() >= 0 and prob.max() <= 1


@pytest.mark.parametrize("name", list_models(task="circle"))
def test_every_circle_variant_builds_and_trains(name):
    network = create_model(name)
    assert isinstance(network, fw.Sequential) and network.param()
    result = train_circle(get_variant(name).resolve({"epochs": 2}), seed=0)
    assert all(math.isfinite(loss) for loss in result["curves"]["train_loss"])
    assert 0 <= result["test_accuracy"] <= 1


@pytest.mark.parametrize(
    ("loss", "outputs", "activation"),
    [
        (loss, outputs, activation)
        for loss in ("mse", "bce", "ce")
        for outputs in (1, 2)
        for activation in ("none", "sigmoid", "tanh")
    ],
)
def test_targets_read_back_as_their_labels(loss, outputs, activation):
    factors = _factors(loss=loss, outputs=outputs, output_activation=activation)
    labels = torch.tensor([0, 1, 1, 0])
    targets = encode_targets(labels, factors, torch.float64)
    code = labels.double().unsqueeze(1)
    if outputs == 2:
        code = torch.cat((1 - code, code), dim=1)

    # Outputs that meet their targets must be read as the right classes.
    if loss == "ce" or (loss == "bce" and activation == "none"):
        perfect = 4 * (2 * code - 1)  # logits
    elif loss == "bce" and activation == "tanh":
        perfect = 2 * targets - 1  # the probability is (output + 1) / 2
    else:
        perfect = targets
    assert torch.equal(inside_probability(perfect, factors) > 0.5, labels.bool())

    # And every combination trains.
    assert math.isfinite(train_circle(factors, seed=0)["train_loss"])


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"activation": "tanh", "output_activation": "sigmoid", "standardize": False},
        {"outputs": 1, "output_activation": "tanh", "num_hidden_layers": 1},
    ],
)
def test_the_torch_twin_computes_what_the_framework_computes(overrides):
    factors = _factors(**overrides)
    network = build_network(
        factors, torch.Generator().manual_seed(0), None, torch.float64
    )
    if factors["standardize"]:
        network[0].mean = torch.tensor([0.4, 0.6], dtype=torch.float64)
        network[0].std = torch.tensor([0.3, 0.2], dtype=torch.float64)
    twin = build_torch_twin(factors, torch.float64)
    copy_to_twin(network, twin)
    x = torch.rand(16, 2, dtype=torch.float64)
    grad_output = torch.randn(16, factors["outputs"], dtype=torch.float64)

    expected = twin(x)
    expected.backward(grad_output)
    with fw.no_grad():
        output = network(x)
        network.backward(grad_output)

    torch.testing.assert_close(output, expected.detach(), rtol=1e-10, atol=1e-12)
    for (_, grad), p in zip(network.param(), twin.parameters(), strict=True):
        torch.testing.assert_close(grad, p.grad, rtol=1e-10, atol=1e-12)

    # And back: a stacked network's model slice takes the twin's weights.
    stack = build_network([factors] * 2, dtype=torch.float64)
    copy_from_twin(twin, stack, model=1)
    with fw.no_grad():
        stacked_output = stack(x.expand(2, -1, -1))[1]
    torch.testing.assert_close(stacked_output, expected.detach())
