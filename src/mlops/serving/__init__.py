"""Serving: the HTTP service, batch scoring and the paths a model is scored through."""
