"""Experiments: sweeps (planning, sampling, packing into ensembles, running), results and report."""
