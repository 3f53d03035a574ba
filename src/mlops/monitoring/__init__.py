"""Monitoring: drift against the training baseline, data quality, live performance, alerts."""
