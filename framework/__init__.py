"""A small deep-learning framework written with tensor operations only.

It reproduces the EE-559 mini-project 2 framework: modules with an explicit
``forward``/``backward``/``param`` protocol, losses and optimizers, and no
``torch.nn`` or autograd. Every module also accepts a leading model axis
(``num_models=M``), so M independent networks train in one pass, and
``flatten_parameters`` makes an optimizer step a handful of tensor operations.
Run it under ``no_grad()`` (or with autograd otherwise off).
"""

from framework import init
from framework.activations import ReLU, Sigmoid, Tanh
from framework.dropout import Dropout
from framework.flat import flatten_parameters
from framework.linear import Linear
from framework.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from framework.module import Module, Sequential, no_grad
from framework.optim import SGD, Adam, Optimizer

__all__ = [
    "SGD",
    "Adam",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Linear",
    "MSELoss",
    "Module",
    "Optimizer",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "flatten_parameters",
    "init",
    "no_grad",
]
