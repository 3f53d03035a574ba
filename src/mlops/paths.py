"""Where the project keeps what the pipeline makes: every path of its layout named once.

``dvc.yaml`` declares the same paths to DVC (its stages' outputs); a module that reads or writes
one of them takes it from here.
"""

from __future__ import annotations

from pathlib import Path

MODEL_DIR = Path("model")  # the trained model folder (dvc.yaml's artifact of type model)
CLEAN_DIR = Path("build/clean")  # validated tables
FEATURES_DIR = Path("build/features")  # the model frame, split
PR_REPORT_DIR = Path("build/pr-report")
REGISTRY_DIR = Path("build/registry")  # model folders fetched from the registry
MONITORING_DIR = Path("build/monitoring")  # mlops monitor drift's report
LIFECYCLE_DIR = Path("build/lifecycle")  # mlops lifecycle's timeline and report

REPORTS = Path("reports")  # small, kept in git: metrics, plots' data, decisions
QUALITY_JSON = REPORTS / "data_quality.json"
QUALITY_MD = REPORTS / "data_quality.md"
SPLIT_JSON = REPORTS / "split.json"
METRICS_JSON = REPORTS / "metrics.json"
SLICES_JSON = REPORTS / "slices.json"
IMPORTANCE_JSON = REPORTS / "importance.json"
PLOTS_DIR = REPORTS / "plots"
PROFILE_JSON = REPORTS / "profile.json"
SERVING_CHECK_JSON = REPORTS / "serving_check.json"
GATE_JSON = REPORTS / "gate.json"
GATE_MD = REPORTS / "gate.md"
