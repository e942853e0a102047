"""The model zoo: every model is built by name from ``training.models.registry``."""

from .registry import MODELS, ModelInfo, build_model, count_parameters, model_info, model_names

__all__ = ["MODELS", "ModelInfo", "build_model", "count_parameters", "model_info", "model_names"]
