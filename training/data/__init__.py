"""Datasets on disk: sources, records, patients, decoding, splits, the cache, arrays, stats, demo, download.

Imports only ``training.core``; never the engine, evaluation or experiments.
"""
