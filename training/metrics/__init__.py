"""Binary metrics, curves, threshold rules, bootstrap intervals and paired tests.

numpy, scipy and scikit-learn only; imports only ``training.core``, never torch.
"""
