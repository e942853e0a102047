"""Many runs at once: the study reproduction, seed repeats, throughput benchmarks.

May import every other layer.
"""
