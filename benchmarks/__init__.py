"""Benchmarks of gatednp against torch and a naive NumPy loop; see run.py."""
