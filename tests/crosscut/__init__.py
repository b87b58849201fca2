"""Suites that cut across the modules: torch parity (frozen fixtures and live), fuzzing, numerics,
argument validation. The rest of tests/ mirrors gatednp/ (tests/test_X.py for gatednp/X.py)."""
