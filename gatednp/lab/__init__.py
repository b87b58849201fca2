"""The lab: what teaches by running. Tasks, experiments, gradient flow, pictures, the course models.

It uses the core (`gatednp.recurrent`, `gatednp.train`, ...) and the core never imports it, except
the package face (`gatednp/__init__.py` re-exports `LSTMModel`, `GRUModel`, `gate_activations`)
and the command line (`gatednp/cli.py` runs `demo` and `experiment` from here).
"""
