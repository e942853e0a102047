"""The training loop and what it needs: recipes, checkpoints, devices, DDP, optimisers, augmentation, inference.

May import core, run, metrics, data and models; never evaluation or experiments.
"""
