"""The model zoo: every model is built by name (``build_model``); importing this package registers them all.

Imports torch and ``training.core`` only.
"""

from training.models import compact, modern, study  # noqa: F401  (their @register decorators fill MODELS)
from training.models.registry import MODELS, ModelInfo, build_model, count_parameters, model_info, model_names

__all__ = ["MODELS", "ModelInfo", "build_model", "count_parameters", "model_info", "model_names"]
