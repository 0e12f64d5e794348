"""One buffer for all of a network's parameters, so an optimizer step is a few ops.

An optimizer normally runs its update once per parameter tensor: for a small
network that is dozens of tiny tensor operations per step, and their Python
overhead dominates. ``flatten_parameters`` moves every parameter into one
contiguous buffer and every gradient into another, rebinding the module's own
tensors to views of them (``Tensor.set_``), so the modules work unchanged and
an optimizer given the single pair updates everything at once.

With a model axis the buffers are ``(M, P)``: model m's parameters are row m,
so per-model hyperparameters of shape ``(M,)`` still broadcast per model.
"""

import torch
from torch import Tensor

from framework.module import Module


def flatten_parameters(
    module: Module, num_models: int | None = None
) -> tuple[Tensor, Tensor]:
    """Rebind ``module``'s parameters and gradients to views of two buffers.

    Returns ``(parameters, gradients)``, each ``(P,)``, or ``(M, P)`` when
    ``num_models`` is M, P being the number of parameters of one model. Pass
    ``[flatten_parameters(module)]`` to an optimizer instead of
    ``module.param()``. Values are kept.
    """
    pairs = module.param()
    if not pairs:
        raise ValueError("the module has no parameters to flatten")
    lead = () if num_models is None else (num_models,)
    sizes = [p[0].numel() if lead else p.numel() for p, _ in pairs]
    first = pairs[0][0]
    flat_parameters = torch.empty(*lead, sum(sizes), dtype=first.dtype)
    flat_gradients = torch.empty_like(flat_parameters)

    offset = 0
    for pair, size in zip(pairs, sizes, strict=True):
        for tensor, flat in zip(pair, (flat_parameters, flat_gradients), strict=True):
            assert tensor.shape[: len(lead)] == lead, (
                "every parameter needs the model axis"
            )
            view = flat[..., offset : offset + size].view(tensor.shape)
            view.copy_(tensor)
            tensor.set_(view)
        offset += size
    return flat_parameters, flat_gradients
