"""Datasets of measured schedules: workloads, generated models, collection, loading."""
