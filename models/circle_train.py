"""Training and evaluation on the circle task, many trials in one stack.

Each trial is a factor dict and a seed. The seed fixes everything random,
through ``benchmarks.seeding``: the 1000 training and 1000 test points
(``"circle", "train"`` and ``"circle", "test"``), the initialisation
(``"init"``), the order of the training points in each epoch (``"order"``) and
the dropout masks (``"dropout"``). Trials whose factors agree on
``models.factors.circle_stack_key`` train together as one stacked network, so
a stack of M costs far less than M trainings, and each trial gets the numbers
it would get alone.

Validation holds out the last ``val_fraction`` of the training points (the
points are i.i.d., so that is a random subset); the network trains on the rest,
whose statistics also standardize the inputs. The test points are evaluated
after every epoch for the learning curves and never used for anything else.

Determinism: the same trials, seeds and stack order give bitwise the same
numbers. The same trial in another stack agrees to rounding only (exactly in
most settings, not in all): CPU batched matrix products may round a matrix
differently with the batch size and the matrix's place in it. Run on one
thread: thread counts change reductions, and tiny ops thrash on shared cores.
"""

import io
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

import framework as fw
from benchmarks.data import generate_disc_set
from benchmarks.seeding import derive_seed, generator
from models.circle_nets import (
    Standardize,
    build_network,
    encode_targets,
    inside_probability,
    make_loss,
    num_parameters,
)
from models.factors import circle_stack_key

NUM_POINTS = 1000
DIVERGED_LOSS = 1e6
"""An epoch's mean training loss above this (or not finite) means divergence."""
EVAL_ROWS = 500
"""Points per model in one evaluation forward pass.

NOTE: fixed rather than sized to the stack, because products with different
row counts may round differently; chunks also keep a large stack's activations
in cache (evaluation is 1.6x faster at M=100 than in one pass).
"""


def circle_data(
    seed: int, val_fraction: float = 0.0
) -> dict[str, tuple[Tensor, Tensor]]:
    """The ``"train"``, ``"val"`` and ``"test"`` points of one seed.

    Each is ``(input (N, 2) float32, labels (N,) int64)``; the validation
    points are the last ``round(val_fraction * 1000)`` of the training set, and
    the training part is the rest.
    """
    train_input, train_labels = generate_disc_set(
        NUM_POINTS, derive_seed(seed, "circle", "train")
    )
    test_input, test_labels = generate_disc_set(
        NUM_POINTS, derive_seed(seed, "circle", "test")
    )
    split = NUM_POINTS - round(val_fraction * NUM_POINTS)
    return {
        "train": (train_input[:split], train_labels[:split]),
        "val": (train_input[split:], train_labels[split:]),
        "test": (test_input, test_labels),
    }


def train_circle(
    factors: Mapping[str, Any], seed: int, dtype: torch.dtype = torch.float32
) -> dict[str, Any]:
    """Train one trial: a stack of one. See ``train_circle_stack``."""
    return train_circle_stack([factors], [seed], dtype)[0]


def train_circle_stack(
    factor_list: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    dtype: torch.dtype = torch.float32,
) -> list[dict[str, Any]]:
    """Train trial i (``factor_list[i]``, ``seeds[i]``) for every i, together.

    All trials must share one ``circle_stack_key``. Returns one dict per trial:
    ``status`` ("ok", or "diverged" when an epoch's loss was not finite or
    above ``DIVERGED_LOSS``; the final metrics are then NaN), ``train_accuracy``,
    ``val_accuracy`` (None without validation) and ``test_accuracy`` (fractions
    in [0, 1], measured after the last epoch in evaluation mode),
    ``train_loss`` (mean over the last epoch's batches), ``curves`` (per-epoch
    lists of the four, where ``train_accuracy`` is the running accuracy over
    the epoch's batches, in training mode), ``train_seconds`` (the stack's wall
    time divided by its size), ``stack_size``, ``num_params`` (of one network)
    and ``state`` (the trained weights as bytes, for ``load_network``).
    """
    if len(factor_list) != len(seeds) or not seeds:
        raise ValueError(f"{len(factor_list)} factor dicts for {len(seeds)} seeds")
    if len({circle_stack_key(factors) for factors in factor_list}) > 1:
        raise ValueError("the trials of a stack must share one circle_stack_key")
    first = factor_list[0]
    start = time.perf_counter()

    with fw.no_grad():
        # One row per trial of every data tensor: (M, N, 2) points, (M, N) labels.
        data = [circle_data(seed, first["val_fraction"]) for seed in seeds]
        sets = {
            name: (
                torch.stack([d[name][0] for d in data]).to(dtype),
                torch.stack([d[name][1] for d in data]),
            )
            for name in ("train", "val", "test")
        }
        network = build_network(
            factor_list,
            init_generator=[generator(seed, "circle", "init") for seed in seeds],
            dropout_generator=[generator(seed, "circle", "dropout") for seed in seeds],
            dtype=dtype,
        )
        if first["standardize"]:
            network[0].mean = sets["train"][0].mean(1, keepdim=True)
            network[0].std = sets["train"][0].std(1, keepdim=True)

        order_generators = [generator(seed, "circle", "order") for seed in seeds]
        fitted = _fit(network, factor_list, sets, order_generators, dtype)

    seconds = time.perf_counter() - start
    return _results(network, factor_list, fitted, seconds)


def _fit(
    network: fw.Sequential,
    factor_list: Sequence[Mapping[str, Any]],
    sets: dict[str, tuple[Tensor, Tensor]],
    order_generators: list[torch.Generator],
    dtype: torch.dtype,
) -> dict[str, dict[str, Tensor]]:
    """Train the stack; per-epoch curves ``(epochs, M)`` and final metrics ``(M,)``.

    The curve ``train_accuracy`` is the running accuracy over each epoch's
    batches (training mode, as in most reports: it costs nothing); validation
    and test accuracies are measured after each epoch in evaluation mode, and
    the final ``train_accuracy`` too, after the last epoch.
    """
    first = factor_list[0]
    num_models = len(factor_list)
    loss_fn = make_loss(first, num_models)
    optimizer = _optimizer(network, factor_list, dtype)
    dropouts = [m for m in network.modules() if isinstance(m, fw.Dropout)]
    train_input, train_labels = sets["train"]
    train_targets = encode_targets(train_labels, first, dtype)
    num_train, batch_size = train_input.shape[1], first["batch_size"]
    rows = torch.arange(num_models).unsqueeze(1)
    evaluated = ["val", "test"] if sets["val"][1].shape[1] > 0 else ["test"]
    names = ["train_loss", "train_accuracy"] + [f"{n}_accuracy" for n in evaluated]
    history: dict[str, list[Tensor]] = {name: [] for name in names}

    for _ in range(first["epochs"]):
        # Each trial shuffles with its own generator: one call per trial and epoch.
        network.train()
        order = torch.stack(
            [torch.randperm(num_train, generator=g) for g in order_generators]
        )
        epoch_input = train_input[rows, order]
        epoch_targets = train_targets[rows, order]
        for dropout in dropouts:
            dropout.predraw(num_train)

        loss_sum = torch.zeros(num_models, dtype=dtype)
        outputs = []
        for begin in range(0, num_train, batch_size):
            batch = slice(begin, begin + batch_size)
            output = network(epoch_input[:, batch])
            loss = loss_fn(output, epoch_targets[:, batch])
            optimizer.zero_grad()
            network.backward(loss_fn.backward())
            optimizer.step()
            loss_sum += loss * output.shape[1]
            outputs.append(output)
        history["train_loss"].append(loss_sum / num_train)
        running = inside_probability(torch.cat(outputs, dim=1), first)
        history["train_accuracy"].append(_accuracy(running, train_labels[rows, order]))

        network.eval()
        for name in evaluated:
            probability = _evaluate(network, sets[name][0], first)
            history[f"{name}_accuracy"].append(_accuracy(probability, sets[name][1]))

    curves = {name: torch.stack(values) for name, values in history.items()}
    final = {name: values[-1] for name, values in curves.items()}
    final["train_accuracy"] = _accuracy(
        _evaluate(network, train_input, first), train_labels
    )
    return {"curves": curves, "final": final}


def _evaluate(
    network: fw.Sequential, inputs: Tensor, factors: Mapping[str, Any]
) -> Tensor:
    """The network's probability of "inside" for ``inputs (M, N, 2)``: (M, N)."""
    chunks = inputs.split(EVAL_ROWS, dim=1)
    return torch.cat([inside_probability(network(x), factors) for x in chunks], 1)


def _accuracy(probability: Tensor, labels: Tensor) -> Tensor:
    """Share of points ``(M, N)`` on the right side of 0.5: (M,), NaN if N = 0."""
    return ((probability > 0.5) == labels.bool()).double().mean(1)


def _optimizer(
    network: fw.Sequential,
    factor_list: Sequence[Mapping[str, Any]],
    dtype: torch.dtype,
) -> fw.Optimizer:
    """The stack's optimizer, with each trial's lr, momentum and weight decay.

    Adam ignores ``momentum`` and keeps torch's default betas and eps.
    """

    def per_model(name: str) -> Tensor:
        return torch.tensor([factors[name] for factors in factor_list], dtype=dtype)

    # One buffer for all parameters: a step is a few tensor operations.
    params = [fw.flatten_parameters(network, len(factor_list))]
    if factor_list[0]["optimizer"] == "adam":
        return fw.Adam(
            params, lr=per_model("lr"), weight_decay=per_model("weight_decay")
        )
    return fw.SGD(
        params,
        lr=per_model("lr"),
        momentum=per_model("momentum"),
        weight_decay=per_model("weight_decay"),
    )


def _results(
    network: fw.Sequential,
    factor_list: Sequence[Mapping[str, Any]],
    fitted: dict[str, dict[str, Tensor]],
    seconds: float,
) -> list[dict[str, Any]]:
    """One result dict per trial of the stack."""
    num_models = len(factor_list)
    names = ["train_loss", "train_accuracy", "test_accuracy"]
    if factor_list[0]["val_fraction"] > 0:
        names.append("val_accuracy")
    curves = {name: fitted["curves"][name].T.tolist() for name in names}
    final = {name: fitted["final"][name].tolist() for name in names}
    losses = fitted["curves"]["train_loss"]
    diverged = (~torch.isfinite(losses) | (losses > DIVERGED_LOSS)).any(0).tolist()

    results = []
    for m in range(num_models):
        metrics = {name: math.nan if diverged[m] else final[name][m] for name in names}
        results.append(
            {
                "status": "diverged" if diverged[m] else "ok",
                "train_accuracy": metrics["train_accuracy"],
                "test_accuracy": metrics["test_accuracy"],
                "val_accuracy": metrics.get("val_accuracy"),
                "train_loss": metrics["train_loss"],
                "curves": {name: curves[name][m] for name in names},
                "train_seconds": seconds / num_models,
                "stack_size": num_models,
                "num_params": num_parameters(network),
                "state": _state(network, m),
            }
        )
    return results


def _state(network: fw.Sequential, model: int) -> bytes:
    """Model ``model``'s parameters (and input statistics) as float32 bytes."""
    state = {"parameters": [p[model].float().clone() for p, _ in network.param()]}
    if isinstance(network[0], Standardize):
        state["mean"] = network[0].mean[model].reshape(2).float().clone()
        state["std"] = network[0].std[model].reshape(2).float().clone()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_network(factors: Mapping[str, Any], state: bytes) -> fw.Sequential:
    """The trained single network of ``state``, in evaluation mode, float32."""
    loaded = torch.load(io.BytesIO(state), weights_only=True)
    network = build_network(factors, init_generator=torch.Generator())
    for (p, _), trained in zip(network.param(), loaded["parameters"], strict=True):
        p.copy_(trained)
    if isinstance(network[0], Standardize):
        network[0].mean, network[0].std = loaded["mean"], loaded["std"]
    return network.eval()


def decision_grid(
    factors: Mapping[str, Any], state: bytes, resolution: int = 200
) -> tuple[Tensor, Tensor, Tensor]:
    """The trained network's probability of "inside" on a grid over [0, 1]^2.

    Returns ``xx, yy, prob``, each ``(resolution, resolution)`` float32, with
    ``xx[i, j]`` and ``yy[i, j]`` the coordinates of ``prob[i, j]`` (ready for
    ``contourf(xx, yy, prob)``).
    """
    network = load_network(factors, state)
    axis = torch.linspace(0, 1, resolution)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack((xx.flatten(), yy.flatten()), dim=1)
    with fw.no_grad():
        prob = inside_probability(network(points), factors)
    return xx, yy, prob.reshape(resolution, resolution)
