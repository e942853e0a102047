"""pneumo-tui's headless engine: data, models, training, evaluation and the run folder.

Layers, lowest first; a package imports only the ones below it (``tests/test_layers.py`` checks):

    core         the base exception and crash-safe file writes
    run          the run folder contract: paths, events, the fold, lock, writer (no torch)
    metrics      binary metrics, curves, thresholds, bootstrap, significance (no torch)
    data         datasets on disk: sources, records, splits, cache, stats, demo, download
    models       the model zoo, built by name
    engine       the training loop and what it needs: recipes, checkpoints, devices
    evaluation   evaluate, predict, Grad-CAM, review cases, compare, report, site calibration
    experiments  study, repeat, bench

It never imports ``pneumo_tui``, Textual or typer.
"""
