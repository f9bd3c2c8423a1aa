"""Benchmarks: `make bench` (python -m bench) and one module per measured area."""
