"""What a trained run is worth: evaluate, predict, Grad-CAM, review cases, compare, report, site calibration.

May import every layer below it (core, run, metrics, data, models, engine); never experiments.
"""
