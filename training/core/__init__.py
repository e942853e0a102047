"""The base every layer may use: the engine's base exception, one-line messages, crash-safe files.

Imports nothing else of ``training``.
"""
