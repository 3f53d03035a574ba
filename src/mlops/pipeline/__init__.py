"""Training and evaluation: the model fitted from params.yaml, its metrics and plots."""
