"""Experiments: sweep planning, packing into ensemble jobs, the runner, the results table and the report."""
