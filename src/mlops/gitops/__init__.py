"""GitOps: what the workflows run (reports, retraining, release) and the GitHub edge."""
