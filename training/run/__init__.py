"""The run folder contract: every file of a run, the event schema, the writer, the lock and the fold.

Imports only ``training.core``; never torch (the app and the CLI read runs without it).
"""
