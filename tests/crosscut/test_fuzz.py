"""Property-based fuzzing of the public API: a call either works and matches the slow reference,
or raises one of the documented errors (ValueError/TypeError, raised by gatednp itself).

Validity is predicted independently of gatednp from the drawn shapes, so a bad input that slips
through and a good input that is refused both fail.
"""

import os
import traceback

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import gatednp as gn
from tests import oracle

GATEDNP = os.path.dirname(gn.__file__)
DTYPES = {"f32": np.float32, "f64": np.float64, "i64": np.int64}


def _documented(err: BaseException) -> bool:
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return isinstance(err, (ValueError, TypeError)) and frame.filename.startswith(GATEDNP)


FLAWS = ["rank", "features", "dtype", "state", "lengths-count", "lengths-range", "proj"]


@st.composite
def layer_calls(draw):
    """A layer and a call of it, either valid or with exactly one flaw (key "flaw")."""
    flaw = draw(st.sampled_from([None, None, None, *FLAWS]))
    kind = draw(st.sampled_from(["lstm", "gru"]))
    if flaw == "proj":
        kind = "lstm"
    I, H, L = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    D = draw(st.sampled_from([1, 2]))
    batch_first = draw(st.booleans())
    proj = draw(st.integers(0, H - 1)) if kind == "lstm" else 0
    if flaw == "proj":
        proj = draw(st.sampled_from([H, H + 1, -1]))
    model_dtype = draw(st.sampled_from(["f32", "f64"]))
    x_dtype = model_dtype
    if flaw == "dtype":
        x_dtype = draw(st.sampled_from([d for d in DTYPES if d != model_dtype]))
    rank = draw(st.sampled_from([2, 3, 3]))
    if flaw == "rank":
        rank = draw(st.sampled_from([1, 4]))
    if flaw in ("lengths-count", "lengths-range"):
        rank = 3
    T, B = draw(st.integers(0, 4)), draw(st.integers(0, 3))  # T = 0 is valid, as in ONNX
    features = I + (draw(st.sampled_from([-1, 1])) if flaw == "features" and I > 1 else flaw == "features")  # fmt: skip
    shape = {1: (features,), 2: (T, features), 3: (B, T, features) if batch_first else (T, B, features), 4: (1, T, B, features)}[rank]  # fmt: skip
    state = None
    if flaw == "state" or draw(st.booleans()):
        batch = (B,) if rank == 3 else ()
        state = [(D * L, *batch, size) for size in ([proj or H, H] if kind == "lstm" else [H])]
        if flaw == "state":
            part = draw(st.integers(0, len(state) - 1))
            axis = draw(st.integers(0, len(state[part]) - 1))
            state[part] = tuple(d + 1 if i == axis else d for i, d in enumerate(state[part]))
    lengths = None
    if rank == 3 and (flaw in ("lengths-count", "lengths-range") or draw(st.booleans())):
        n = B + (flaw == "lengths-count")
        lengths = draw(st.lists(st.integers(0, T), min_size=n, max_size=n))  # 0: no step
        if flaw == "lengths-range":
            if B == 0:
                lengths = [draw(st.sampled_from([-1, T + 1]))]  # also a wrong count
            else:
                lengths[draw(st.integers(0, B - 1))] = draw(st.sampled_from([-1, T + 1]))
    return dict(kind=kind, I=I, H=H, L=L, bidirectional=D == 2, batch_first=batch_first, proj=proj,
                model_dtype=model_dtype, x_dtype=x_dtype, shape=shape, seed=draw(st.integers(0, 2**32 - 1)),
                state=state, lengths=lengths, valid=flaw is None, flaw=flaw)  # fmt: skip


def _run(c):
    rng = np.random.default_rng(c["seed"])
    dtype = DTYPES[c["model_dtype"]]
    options = dict(
        num_layers=c["L"], bidirectional=c["bidirectional"], batch_first=c["batch_first"]
    )
    if c["kind"] == "lstm":
        layer = gn.LSTM(c["I"], c["H"], proj_size=c["proj"], dtype=dtype, rng=rng, **options)
        options["proj_size"] = c["proj"]
    else:
        layer = gn.GRU(c["I"], c["H"], dtype=dtype, rng=rng, **options)
    x = (rng.standard_normal(c["shape"]) * 2).astype(DTYPES[c["x_dtype"]])
    state = None
    if c["state"] is not None:
        parts = [rng.standard_normal(s).astype(DTYPES[c["x_dtype"]]) for s in c["state"]]
        state = tuple(parts) if c["kind"] == "lstm" else parts[0]
    lengths = None if c["lengths"] is None else np.array(c["lengths"], dtype=np.int64)
    y, s = layer(x, state, lengths=lengths)
    return layer, x, state, lengths, options, y, s


@settings(max_examples=80)  # many draws are invalid: enough valid ones need more examples
@given(layer_calls())
def test_forward_works_and_matches_reference_or_raises_a_documented_error(c):
    try:
        layer, x, state, lengths, options, y, s = _run(c)
    except Exception as err:
        assert _documented(err), f"undocumented error {type(err).__name__}: {err}"
        assert not c["valid"], f"a valid call was refused: {err}"
        return
    assert c["valid"], "an invalid call was accepted"
    ref_len = None if lengths is None else list(lengths)
    y_ref, s_ref = oracle.forward(layer, x, state, ref_len)
    tol = 1e-10 if y.dtype == np.float64 else 1e-4
    assert y.shape == y_ref.shape and y.dtype == x.dtype
    if y.size:
        assert np.abs(y - y_ref).max() <= tol
    for a, b in zip(
        s if isinstance(s, tuple) else (s,), s_ref if isinstance(s_ref, tuple) else (s_ref,)
    ):
        assert a.shape == b.shape and (a.size == 0 or np.abs(a - b).max() <= tol)


@settings(max_examples=40)
@given(layer_calls(), st.booleans(), st.integers(0, 2))
def test_backward_accepts_exactly_the_output_shape(c, wrong, axis):
    try:
        layer, x, *_, y, s = _run(c)
    except (ValueError, TypeError):
        return
    shape = list(y.shape)
    if wrong:
        shape[min(axis, len(shape) - 1)] += 1
    dy = np.ones(shape, dtype=y.dtype)
    try:
        dx, _ = layer.backward(dy)
    except Exception as err:
        assert _documented(err) and wrong, f"{type(err).__name__}: {err}"
        return
    assert not wrong and dx.shape == x.shape and dx.dtype == x.dtype and np.isfinite(dx).all()


@given(
    st.sampled_from([gn.Adam, gn.SGD]),
    st.one_of(st.floats(allow_nan=True), st.text(max_size=2), st.none(), st.integers(-2, 2)),
)
def test_optimizer_learning_rate(optimizer, lr):
    params = gn.Linear(2, 2, rng=0).parameters()
    number = isinstance(lr, (int, float)) and not isinstance(lr, bool)
    try:
        optimizer(params, lr=lr)
    except Exception as err:
        assert _documented(err) and not (number and lr >= 0), f"{type(err).__name__}: {err}"
        return
    assert number and lr >= 0


@given(
    st.tuples(st.integers(0, 3), st.integers(1, 3)),
    st.tuples(st.integers(0, 3), st.integers(1, 3)),
    st.sampled_from(["f32", "f64", "i64"]),
)
def test_losses_never_broadcast(pred_shape, target_shape, dtype):
    pred = np.ones(pred_shape, DTYPES[dtype])
    target = np.zeros(target_shape, DTYPES[dtype])
    for loss_fn in (gn.mse_loss, gn.l1_loss, gn.huber_loss):
        try:
            loss, dpred = loss_fn(pred, target)
        except Exception as err:
            assert _documented(err) and (pred_shape != target_shape or dtype == "i64"), str(err)
            continue
        assert pred_shape == target_shape and dpred.shape == pred.shape
