"""``mlops``: the one command line. DVC stages, nox sessions and workflows only call this.

One module per group of subcommands; each registers its commands on the root ``app`` when
imported, in the lifecycle's order so that ``mlops --help`` reads from data to release.
Subcommands import what they need when they run, so quick ones (registry, lineage) start fast.
"""

from importlib import import_module

from mlops.cli.app import app, main

for _group in ("data", "pipeline", "serving", "registry", "monitor", "gitops"):
    import_module(f"mlops.cli.{_group}")

__all__ = ["app", "main"]
