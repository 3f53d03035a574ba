"""GitOps template for machine-learning operations: one package, one CLI (``mlops``)."""

__version__ = "0.1.0"
