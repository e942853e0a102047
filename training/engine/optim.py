"""Optimizer, learning-rate schedule and early stopping, as the recipe names them."""

from __future__ import annotations

import math

import torch

from training.run.schema import is_better


def build_optimizer(model: torch.nn.Module, recipe) -> torch.optim.Optimizer:
    # No weight decay on biases and BatchNorm scales: decaying them only hurts.
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if recipe.optimizer == "adam":
        return torch.optim.Adam(groups, lr=recipe.lr)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=recipe.lr)
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=0.9, nesterov=True)


class LRSchedule:
    """Warmup, then cosine decay per step, or a plateau cut per epoch (Keras ReduceLROnPlateau)."""

    def __init__(self, optimizer: torch.optim.Optimizer, recipe, steps_per_epoch: int):
        self.optimizer = optimizer
        self.kind = recipe.scheduler
        self.base_lr = recipe.lr
        self.min_lr = recipe.min_lr
        self.warmup_steps = recipe.warmup_epochs * steps_per_epoch
        self.total_steps = max(1, recipe.epochs * steps_per_epoch)
        self.plateau = None
        if self.kind == "plateau":
            self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=recipe.plateau_factor, patience=recipe.plateau_patience,
                min_lr=recipe.min_lr,
            )

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def before_step(self, global_step: int) -> None:
        """``global_step`` counts from 0 over the whole run."""
        if global_step < self.warmup_steps:
            self._set(self.base_lr * (global_step + 1) / self.warmup_steps)
        elif self.kind == "cosine":
            progress = (global_step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
            cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
            self._set(self.min_lr + (self.base_lr - self.min_lr) * cosine)

    def after_epoch(self, val_loss: float) -> None:
        if self.plateau is not None:
            self.plateau.step(val_loss)

    def _set(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict:
        return {"plateau": self.plateau.state_dict() if self.plateau else None}

    def load_state_dict(self, state: dict) -> None:
        if self.plateau is not None and state.get("plateau"):
            self.plateau.load_state_dict(state["plateau"])


class EarlyStopping:
    """Stop after ``patience`` epochs without a better value of ``metric`` (0 = never)."""

    def __init__(self, metric: str, patience: int):
        self.metric = metric
        self.patience = patience
        self.best: float | None = None
        self.wait = 0

    def update(self, value: float | None) -> bool:
        """Record an epoch's value; True when training should stop."""
        if value is not None and is_better(self.metric, value, self.best):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        return self.patience > 0 and self.wait >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait = state["best"], state["wait"]
