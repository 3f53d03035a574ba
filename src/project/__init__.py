"""The team's code: what a fork edits beside ``params.yaml`` and ``schema.yaml``.

``features`` (joins and derived columns), ``model`` (the estimators) and ``sources`` (where raw
data comes from when there is no DVC remote). Everything under ``mlops`` is the platform.
"""
