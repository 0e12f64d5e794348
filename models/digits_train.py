"""Training and evaluation of every digit-pair variant, one seed at a time.

``train_digits(factors, seed)`` draws fresh pairs and a fresh initialisation
for ``seed``, standardizes inputs with training statistics only, trains with
loss ``(1 - aux_coef) * comparison + aux_coef / 2 * (digit1 + digit2)``, and
returns final and per-epoch metrics. When ``val_fraction > 0`` a share of the
training pairs is held out and reported as validation accuracy; the test pairs
are only ever evaluated, never used to choose anything.

Two architectures train differently: ``two_stage`` fits the digit CNN first
and then a comparator on one-hot pairs of true classes; ``argmax`` fits only
the digit CNN and compares predicted digits arithmetically.

Optimizers are ``models.optimizers``' Adam and SGD: torch.optim's updates bit
for bit, without the ~2 s ``torch._dynamo`` import that torch.optim costs
every process that trains.
"""

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks.data import generate_pair_sets
from benchmarks.seeding import derive_seed, generator
from models.digits_augment import shift_images, swap_pairs
from models.optimizers import SGD, Adam
from models.registry import get_variant

log = logging.getLogger(__name__)

NUM_PAIRS = 1000
DIVERGED_LOSS = 1e6


@dataclass
class Split:
    """Pairs: ``input (N, 2, 14, 14)``, ``target (N,)``, ``classes (N, 2)``."""

    input: torch.Tensor
    target: torch.Tensor
    classes: torch.Tensor

    def __len__(self) -> int:
        return self.input.size(0)

    def take(self, index: torch.Tensor) -> "Split":
        return Split(self.input[index], self.target[index], self.classes[index])

    def to(self, device: torch.device) -> "Split":
        """On ``device``, with images in the channels-last layout."""
        input = self.input.to(device, memory_format=torch.channels_last)
        return Split(input, self.target.to(device), self.classes.to(device))


def load_splits(
    seed: int, val_fraction: float, data_dir: str | None = None
) -> tuple[Split, Split | None, Split]:
    """Train, validation (or None) and test pairs for ``seed``, standardized.

    Mean and std come from the training pairs that are trained on, so neither
    the validation nor the test pairs influence the inputs.
    """
    sets = generate_pair_sets(NUM_PAIRS, derive_seed(seed, "digits", "data"), data_dir)
    train, test = Split(*sets[:3]), Split(*sets[3:])
    val = None
    if val_fraction > 0:
        order = torch.randperm(len(train), generator=generator(seed, "digits", "val"))
        num_val = round(val_fraction * len(train))
        train, val = train.take(order[num_val:]), train.take(order[:num_val])

    mean, std = train.input.mean(), train.input.std()
    for split in (train, val, test):
        if split is not None:
            split.input = (split.input - mean) / std
    return train, val, test


def train_digits(
    variant: str,
    factors: dict[str, Any],
    seed: int,
    data_dir: str | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Train one digit-pair trial and return its metrics.

    ``factors`` is the variant's resolved factor dict (``Variant.resolve``).
    Accuracies are fractions in [0, 1], NaN where a network has no digit
    outputs; ``curves`` holds per-epoch lists; ``train_seconds`` is the wall
    time of training and its per-epoch evaluation.
    """
    device = torch.device(device)
    train, val, test = (
        split.to(device) if split is not None else None
        for split in load_splits(seed, factors["val_fraction"], data_dir)
    )

    # torch.nn draws initial weights and dropout masks from the global
    # generator: seed it for this trial and restore it afterwards.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(derive_seed(seed, "digits", "init"))
        model = get_variant(variant).builder(**factors)
        # Channels-last convolutions and pooling run about twice as fast on CPU.
        model = model.to(device, memory_format=torch.channels_last)
        trainer = _Trainer(model, factors, seed, train, val, test)
        start = time.perf_counter()
        architecture = factors["architecture"]
        if architecture == "two_stage":
            trainer.has_comparator = False
            status = trainer.fit(aux_coef=1.0)
            trainer.has_comparator = True
            if status == "ok":
                status = trainer.fit_comparator()
        else:
            aux_coef = 1.0 if architecture == "argmax" else factors.get("aux_coef", 0.0)
            status = trainer.fit(aux_coef)
        seconds = time.perf_counter() - start

    result = trainer.final_metrics()
    result.update(
        status=status,
        train_seconds=seconds,
        num_params=sum(p.numel() for p in model.parameters()),
        curves=trainer.curves,
    )
    return result


class _Trainer:
    """The optimisation loop shared by every architecture."""

    def __init__(self, model, factors, seed, train, val, test) -> None:
        self.model, self.factors = model, factors
        self.train, self.val, self.test = train, val, test
        self.order = generator(seed, "digits", "order")
        # False while two_stage fits its digit CNN: no comparison to score yet.
        self.has_comparator = True
        names = ["train_loss", "train_accuracy", "test_accuracy", "test_digit_accuracy"]
        if val is not None:
            names.append("val_accuracy")
        self.curves: dict[str, list[float]] = {name: [] for name in names}

    def optimizer(self, parameters) -> torch.optim.Optimizer:
        f = self.factors
        if f["optimizer"] == "adam":
            return Adam(parameters, lr=f["lr"], weight_decay=f["weight_decay"])
        return SGD(
            parameters,
            lr=f["lr"],
            momentum=f["momentum"],
            weight_decay=f["weight_decay"],
        )

    def scheduler(self, optimizer: torch.optim.Optimizer):
        """The per-step learning-rate schedule, or None for a constant rate."""
        f = self.factors
        steps = f["epochs"] * math.ceil(len(self.train) / f["batch_size"])
        if f["schedule"] == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        if f["schedule"] == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, f["lr"], steps)
        return None

    def fit(self, aux_coef: float) -> str:
        """Train end to end for ``epochs``; "ok" or "diverged"."""
        f = self.factors
        optimizer = self.optimizer(self.model.parameters())
        scheduler = self.scheduler(optimizer)
        for _ in range(f["epochs"]):
            self.model.train()
            total_loss, correct = 0.0, 0
            for batch in self.batches():
                output = self.model(batch.input)
                loss = pair_loss(output, batch, aux_coef)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total_loss += loss.item() * len(batch)
                correct += (output.comparison.argmax(1) == batch.target).sum().item()
            mean_loss = total_loss / len(self.train)
            self.log_epoch(mean_loss, correct / len(self.train))
            if not math.isfinite(mean_loss) or mean_loss > DIVERGED_LOSS:
                return "diverged"
        return "ok"

    def fit_comparator(self) -> str:
        """Stage two of ``two_stage``: the comparator on the frozen CNN's outputs.

        The digit CNN runs once, in eval mode, on the unaugmented training
        pairs; the comparator then trains for ``epochs`` on those outputs.
        """
        f = self.factors
        self.model.eval()
        with torch.no_grad():
            digits = self.model.digit_logits(self.train.input)
        optimizer = self.optimizer(self.model.head.parameters())
        for _ in range(f["epochs"]):
            order = torch.randperm(len(self.train), generator=self.order)
            for index in order.split(f["batch_size"]):
                index = index.to(digits.device)
                output = self.model.compare(digits[index])
                loss = F.cross_entropy(output, self.train.target[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            if not math.isfinite(loss.item()):
                return "diverged"
        return "ok"

    def batches(self):
        """Shuffled (and augmented when asked) training batches for one epoch."""
        f = self.factors
        train = self.train
        if f.get("swap_pairs") and self.has_comparator:
            train = swap_pairs(train, self.order)
        if f.get("augment"):
            train = Split(shift_images(train.input, f["augment"], self.order),
                          train.target, train.classes)  # fmt: skip
        order = torch.randperm(len(train), generator=self.order).to(train.input.device)
        for index in order.split(f["batch_size"]):
            yield train.take(index)

    @torch.no_grad()
    def evaluate(self, split: Split) -> tuple[float, float]:
        """Comparison and digit accuracy (NaN without digit outputs) on a split."""
        self.model.eval()
        output = self.model(split.input)
        comparison = (output.comparison.argmax(1) == split.target).float().mean().item()
        if output.digits is None:
            return comparison, float("nan")
        digit = (output.digits.argmax(-1) == split.classes).float().mean().item()
        return comparison, digit

    def log_epoch(self, loss: float, train_accuracy: float) -> None:
        nan = float("nan")
        test_accuracy, test_digit_accuracy = self.evaluate(self.test)
        scored = self.has_comparator
        self.curves["train_loss"].append(loss)
        self.curves["train_accuracy"].append(train_accuracy if scored else nan)
        self.curves["test_accuracy"].append(test_accuracy if scored else nan)
        self.curves["test_digit_accuracy"].append(test_digit_accuracy)
        if self.val is not None:
            val_accuracy = self.evaluate(self.val)[0] if scored else nan
            self.curves["val_accuracy"].append(val_accuracy)

    def final_metrics(self) -> dict[str, float | None]:
        train_acc, train_digit = self.evaluate(self.train)
        test_acc, test_digit = self.evaluate(self.test)
        val_acc = self.evaluate(self.val)[0] if self.val is not None else None
        losses = self.curves["train_loss"]
        return {
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
            "val_accuracy": val_acc,
            "train_loss": losses[-1] if losses else float("nan"),
            "train_digit_accuracy": train_digit,
            "test_digit_accuracy": test_digit,
        }


def pair_loss(output, batch: Split, aux_coef: float) -> torch.Tensor:
    """``(1 - a) * CE(comparison) + a / 2 * (CE(digit1) + CE(digit2))``."""
    if output.digits is None or aux_coef == 0:
        return F.cross_entropy(output.comparison, batch.target)
    # The mean over both digits is the half-sum of the two per-digit means.
    digit_loss = F.cross_entropy(output.digits.flatten(0, 1), batch.classes.flatten())
    if aux_coef == 1:
        return digit_loss
    comparison_loss = F.cross_entropy(output.comparison, batch.target)
    return (1 - aux_coef) * comparison_loss + aux_coef * digit_loss
