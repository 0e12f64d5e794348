"""Digits training speed: a step and a trial per variant family, the suite
against a naive loop, and how close a trial comes to the machine's limit.

Usage::

    tox -e bench                       # everything, saved under .benchmarks/
    tox -e bench -- -k digits          # this file only

Two rows of the closing table come from this file (the README quotes them)::

    digits grid, suite vs naive loop             RATIO x trials/min  >= 3x (...)
    digits siamese trial, share of matmul limit            SHARE %  >= 40% (...)
"""

import subprocess
import sys
import time

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.store import Store
from benchmarks.timing import matmul_flops_per_second
from models.digits_train import load_splits, pair_loss, train_digits
from models.optimizers import Adam
from models.registry import get_variant

FAMILIES = ["mlp", "cnn", "siamese", "twin", "report2020_two_stage", "digit_argmax"]
# End-to-end variants both the naive loop and the suite can train.
COMPARED = ["mlp", "cnn", "siamese", "twin", "report2020"]
SEEDS = [0, 1]
# Rounds of the side-by-side comparisons; each reports its fastest.
ROUNDS = 2


@pytest.mark.parametrize("variant", FAMILIES + ["best"])
def test_digits_training_step(benchmark, variant, mnist_dir):
    factors = get_variant(variant).resolve()
    train, _, _ = load_splits(0, 0.0, mnist_dir)
    batch = train.to(torch.device("cpu")).take(torch.arange(factors["batch_size"]))
    torch.manual_seed(0)
    model = get_variant(variant).builder(**factors)
    model = model.to(memory_format=torch.channels_last)
    optimizer = Adam(model.parameters(), lr=factors["lr"])
    aux_coef = factors.get("aux_coef", 1.0)

    def step() -> None:
        loss = pair_loss(model(batch.input), batch, aux_coef)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    benchmark.pedantic(step, rounds=30, warmup_rounds=5)


@pytest.mark.parametrize("variant", FAMILIES + ["best"])
def test_digits_trial(benchmark, variant, mnist_dir):
    factors = get_variant(variant).resolve()
    result = benchmark.pedantic(
        train_digits, args=(variant, factors, 0, mnist_dir), rounds=1, iterations=1
    )
    benchmark.extra_info["test_accuracy"] = result["test_accuracy"]
    assert result["status"] == "ok"


def test_suite_against_naive_loop(benchmark, speeds, mnist_dir, tmp_path):
    """Trials per minute: ``ablate run`` (2 workers) vs the naive loop.

    Both are commands started afresh each round, so both wall times include
    starting Python, importing torch and loading MNIST: the naive script in
    its one process, the suite in its main process and two workers. The two
    alternate for ``ROUNDS`` rounds and the ratio is of the fastest of each,
    so a slow spell of the machine does not land on one side only.
    """
    trials = [f"{variant}:{seed}" for variant in COMPARED for seed in SEEDS]
    grid_file = tmp_path / "speed.toml"
    grid_file.write_text(
        f'description = "suite against naive loop"\nseeds = {len(SEEDS)}\n\n'
        f"[[sweep]]\nvariants = {COMPARED!r}\n".replace("'", '"')
    )
    naive_seconds, suite_seconds = [], []

    def naive() -> None:
        """The naive loop as commonly written: a script, one trial after another."""
        command = [sys.executable, "-m", "benchmarks.naive", str(mnist_dir), *trials]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        naive_seconds.append(time.perf_counter() - start)
        assert len(done.stdout.splitlines()) == len(trials)

    def suite() -> None:
        store = tmp_path / f"{len(suite_seconds)}.sqlite"
        command = [sys.executable, "-m", "benchmarks.cli", "run", str(grid_file)]
        command += ["--jobs", "2", "--store", str(store), "--data-dir", str(mnist_dir)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        suite_seconds.append(time.perf_counter() - start)
        assert f"{len(trials)} trained" in done.stdout, done.stdout + done.stderr
        with Store(store) as results:
            assert (results.results()["status"] == "ok").sum() == len(trials)

    # pytest-benchmark times ``suite``; ``setup`` runs the naive loop untimed
    # before each round.
    benchmark.pedantic(suite, setup=naive, rounds=ROUNDS, iterations=1)
    ratio = min(naive_seconds) / min(suite_seconds)
    benchmark.extra_info.update(
        naive_seconds=naive_seconds, suite_seconds=suite_seconds, speedup=ratio
    )
    speeds.record(
        "digits grid, suite vs naive loop",
        f"{ratio:.1f}x trials/min",
        f">= 3x ({60 * len(trials) / min(suite_seconds):.0f} vs "
        f"{60 * len(trials) / min(naive_seconds):.0f} trials/min)",
    )


def test_share_of_the_matmul_limit(benchmark, speeds, mnist_dir):
    """FLOPs of a siamese trial over its time, against one core's matmul rate.

    The time is the fastest of ``ROUNDS + 1`` trainings of the same trial.
    """
    variant = "siamese"
    factors = get_variant(variant).resolve()
    with FlopCounterMode(display=False) as counter:
        train_digits(variant, factors, 0, mnist_dir)
    flops = counter.get_total_flops()

    seconds = []

    def trial() -> None:
        result = train_digits(variant, factors, 0, mnist_dir)
        seconds.append(result["train_seconds"])

    benchmark.pedantic(trial, rounds=ROUNDS + 1, iterations=1)
    share = flops / min(seconds) / matmul_flops_per_second()
    benchmark.extra_info.update(gflop=flops / 1e9, share_of_matmul_limit=share)
    speeds.record(
        f"digits {variant} trial, share of matmul limit",
        f"{100 * share:.0f}%",
        f">= 40% ({flops / 1e9:.1f} GFLOP in {min(seconds):.2f} s)",
    )
