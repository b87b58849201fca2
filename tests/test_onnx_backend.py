"""The ONNX backend node test cases for LSTM, GRU and RNN (onnx's own test-case generator,
onnx/backend/test/case/node/{lstm,gru,rnn}.py) through gn.onnx.load: each case's expected
outputs reproduced by the loaded gatednp layer."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

import gatednp as gn  # noqa: E402

ROLES = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")


def backend_cases():
    """Importing a case module runs its export_* functions, which append to the generator's
    list of node cases (collect_testcases would import every operator's module: ~3 s)."""
    cases = importlib.import_module("onnx.backend.test.case.node")
    for name in ("lstm", "gru", "rnn"):
        importlib.import_module(f"onnx.backend.test.case.node.{name}")
    prefixes = ("test_lstm", "test_gru", "test_rnn", "test_simple_rnn")
    return {c.name: c for c in cases._NodeTestCases if c.name.startswith(prefixes)}


CASES = backend_cases()


def test_the_generator_has_the_known_cases():
    assert len(CASES) >= 18
    assert {"test_lstm_with_peepholes", "test_gru_seq_length", "test_simple_rnn_batchwise"} <= set(
        CASES
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_backend_case_through_load(name):
    case = CASES[name]
    graph = case.model.graph
    (node,) = graph.node
    ((inputs, expected),) = case.data_sets
    feeds = dict(zip([i.name for i in graph.input], inputs))
    role = dict(zip(ROLES, node.input))
    weights = {role[r]: feeds[role[r]] for r in ("W", "R", "B", "P") if role.get(r)}
    layer = gn.onnx.load(case.model, weights=weights)
    states = [feeds[role[r]] for r in ("initial_h", "initial_c") if role.get(r)]
    lengths = feeds.get(role.get("sequence_lens"))
    if layer.batch_first:  # layout 1: states are (B, D, H); gatednp takes torch's (D, B, H)
        states = [s.transpose(1, 0, 2) for s in states]
    state = None if not states else tuple(states) if len(states) == 2 else states[0]
    y, s = layer(feeds[role["X"]], state, lengths=lengths)
    D, H = layer.num_directions, layer.hidden_size
    Y = y.reshape(*y.shape[:2], D, H)  # (T, B, D, H), or (B, T, D, H) with batch_first
    finals = list(s) if isinstance(s, tuple) else [s]
    if layer.batch_first:
        finals = [f.transpose(1, 0, 2) for f in finals]
    else:
        Y = Y.transpose(0, 2, 1, 3)  # ONNX's (T, D, B, H)
    ours = dict(zip(node.output, [Y, *finals]))
    for out, want in zip(graph.output, expected):
        np.testing.assert_allclose(
            ours[out.name],
            want,
            rtol=case.rtol,
            atol=max(case.atol, 1e-6),
            err_msg=f"{name}: {out.name}",
        )
