"""A small fake store of both tasks, for tests and for previewing a report.

``fake_store()`` returns ``(results, expected)`` frames that follow the store
contract: several variants, factor sweeps within variants (``aux_coef`` for
digits; ``lr``, ``activation``, ``init`` and ``dropout`` for circle), several
seeds, and a few missing, failed and diverged trials. The numbers are made up
but shaped like the real ones: auxiliary losses and weight sharing help on
digits, a tiny learning rate hurts on circle, and each seed shifts every
variant the same way, so that paired comparisons have something to pair.
"""

import hashlib

import numpy as np
import pandas as pd

from models.factors import TASK_FACTORS

ALL_FACTORS = list(dict.fromkeys(name for f in TASK_FACTORS.values() for name in f))


def _key(task: str, variant: str, factors: dict, seed: int) -> str:
    text = repr((task, variant, sorted(factors.items()), seed))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _curves(rng: np.random.Generator, final: float, epochs: int, val: bool) -> dict:
    """Per-epoch lists rising towards ``final`` accuracy, loss falling."""
    progress = 1.0 - np.exp(-np.arange(1, epochs + 1) / (epochs / 4))
    noise = rng.normal(0.0, 0.003, size=(3, epochs))
    test = 0.5 + (final - 0.5) * progress + noise[0]
    curves = {
        "train_loss": list(0.7 * (1.0 - progress) + 0.05 + np.abs(noise[1])),
        "train_accuracy": list(np.clip(test + 0.02 + noise[2], 0, 1)),
        "test_accuracy": list(np.clip(test, 0, 1)),
    }
    if val:
        curves["val_accuracy"] = list(np.clip(test + noise[1], 0, 1))
    return curves


def _digits_trials() -> list[tuple[str, dict, float, float]]:
    """(variant, factors, mean accuracy, digit accuracy) of each digits setting."""
    common = {"optimizer": "adam", "lr": 1e-3, "batch_size": 100, "epochs": 12}
    common |= {"val_fraction": 0.1, "momentum": 0.0, "weight_decay": 0.0}
    settings = [("baseline", {"architecture": "cnn"} | common, 0.82, np.nan)]
    for variant, shared, gain in (("siamese", True, 0.0), ("twin", False, -0.02)):
        for aux in (0.0, 0.5, 1.0):
            factors = {"architecture": "branch", "weight_sharing": shared}
            factors |= {"aux_coef": aux, "hidden": 128} | common
            accuracy = 0.87 + gain + 0.1 * min(aux, 0.5) - 0.02 * (aux == 1.0)
            settings.append((variant, factors, accuracy, 0.9 + 0.08 * aux))
    return settings


def _circle_trials() -> list[tuple[str, dict, float, float]]:
    """(variant, factors, mean accuracy, NaN) of each circle setting."""
    common = {"loss": "mse", "outputs": 2, "output_activation": "none"}
    common |= {"standardize": True, "hidden": 25, "num_hidden_layers": 3}
    common |= {"optimizer": "sgd", "batch_size": 100, "epochs": 30}
    common |= {"momentum": 0.0, "weight_decay": 0.0, "val_fraction": 0.0}
    report = {"activation": "tanh", "init": "xavier_normal", "dropout": 0.2}
    report |= common | {"lr": 1e-5, "epochs": 40}
    settings = [("circle_report2020", report, 0.70, np.nan)]
    for activation in ("relu", "tanh"):
        for lr in (1e-3, 1e-2, 1e-1):
            for init in ("default", "he"):
                for dropout in (0.0, 0.2):
                    factors = common | {"activation": activation, "lr": lr}
                    factors |= {"init": init, "dropout": dropout}
                    accuracy = {1e-3: 0.93, 1e-2: 0.975, 1e-1: 0.96}[lr]
                    accuracy += 0.005 * (activation == "tanh") - 0.01 * dropout
                    accuracy += 0.003 * (init == "he")
                    settings.append(("circle_mlp", factors, accuracy, np.nan))
    return settings


# (task, variant, seed) -> (status, error) for the trials that did not succeed.
_PROBLEMS = {
    ("digits", "twin", 0.0, 3): ("failed", "RuntimeError: out of memory"),
    ("digits", "siamese", 0.0, 2): ("diverged", "train loss is nan at epoch 7"),
    ("circle", "circle_mlp", 0.1, 1): ("diverged", "train loss is inf at epoch 3"),
}
# (task, variant, setting factor, seed) of trials the grid lists but never ran.
_MISSING = {("digits", "siamese", 1.0, 4), ("circle", "circle_report2020", None, 2)}


def fake_store(num_seeds: int = 5, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(results, expected)`` of a made-up run of both tasks.

    Digits: ``baseline`` plus ``siamese`` and ``twin`` at aux_coef 0, 0.5 and
    1. Circle: ``circle_report2020`` plus ``circle_mlp`` over activation x lr x init x
    dropout (24 settings, at most 3 seeds). One digits trial failed, two
    diverged, two are missing.
    """
    rng = np.random.default_rng(seed)
    seed_shift = rng.normal(0.0, 0.006, size=num_seeds)
    expected_rows, result_rows = [], []
    for task, settings in (("digits", _digits_trials()), ("circle", _circle_trials())):
        num_task_seeds = num_seeds if task == "digits" else min(num_seeds, 3)
        for variant, factors, accuracy, digit_accuracy in settings:
            swept = factors.get("aux_coef") if task == "digits" else factors.get("lr")
            for trial_seed in range(num_task_seeds):
                row = {name: factors.get(name, np.nan) for name in ALL_FACTORS}
                key = _key(task, variant, factors, trial_seed)
                ident = {"key": key, "task": task, "variant": variant}
                ident["seed"] = trial_seed
                expected_rows.append(ident | row)
                missing_id = swept if variant != "circle_report2020" else None
                if (task, variant, missing_id, trial_seed) in _MISSING:
                    continue
                status, error = _PROBLEMS.get(
                    (task, variant, swept, trial_seed), ("ok", None)
                )
                final = float(np.clip(accuracy + seed_shift[trial_seed], 0, 1))
                final += float(rng.normal(0.0, 0.003))
                val = factors["val_fraction"] > 0
                result = ident | row | {"status": status, "error": error}
                result |= {
                    "train_accuracy": min(final + 0.02, 1.0),
                    "test_accuracy": final if status == "ok" else np.nan,
                    "val_accuracy": final + rng.normal(0, 0.003) if val else np.nan,
                    "train_loss": 0.05 if status == "ok" else np.nan,
                    "train_digit_accuracy": digit_accuracy + 0.05,
                    "test_digit_accuracy": digit_accuracy + rng.normal(0, 0.004),
                    "train_seconds": (2.0 if task == "digits" else 0.3)
                    * (1.5 if variant == "twin" else 1.0)
                    * (1.0 + 0.05 * rng.random()),
                    "num_params": 70_000 if task == "digits" else 1_402,
                    "threads": 1,
                    "stack_size": 1 if task == "digits" else 8,
                    "curves": _curves(rng, final, int(factors["epochs"]), val),
                    "state": f"{variant}-{trial_seed}".encode()
                    if task == "circle"
                    else None,
                }
                result_rows.append(result)
    return pd.DataFrame(result_rows), pd.DataFrame(expected_rows)
