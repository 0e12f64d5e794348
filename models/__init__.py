"""The model registry of both tasks and how each variant trains.

``list_models``, ``get_variant`` and ``create_model`` reach every variant;
``models.digits_train`` and ``models.circle_train`` train them.
"""

from models.registry import create_model, get_variant, list_models, register_model

__all__ = ["create_model", "get_variant", "list_models", "register_model"]
