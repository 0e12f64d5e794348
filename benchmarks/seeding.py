"""Independent random streams derived from one trial seed.

A trial draws its data, its initialisation and its data order from separate
generators, each seeded by hashing the trial seed with a purpose name. Streams
never overlap, and a trial's numbers depend only on its seed, never on what
else ran in the same process or in which order.
"""

import hashlib

import torch


def derive_seed(seed: int, *purpose: str) -> int:
    """A 63-bit seed for ``purpose`` (e.g. ``"digits", "init"``) of ``seed``."""
    text = "/".join([str(seed), *purpose]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def generator(seed: int, *purpose: str) -> torch.Generator:
    """A CPU generator seeded with ``derive_seed(seed, *purpose)``."""
    return torch.Generator().manual_seed(derive_seed(seed, *purpose))
