"""A slow, obviously correct forward oracle for LSTM, GRU and RNN (tests only).

This file is deliberately slow. It exists so that the fast, hoisted code in `gatednp` has an
independent implementation to be checked against: every gate is computed on its own line from
its own slice of torch's fused weights, time is a plain Python loop, and variable lengths are
handled by running each batch element on its own, over its own first `lengths[b]` steps. It uses
only `@`, `np.exp` and `np.tanh`, so it also runs on complex arrays, which gives exact
derivatives by the complex step (`complex_step_jvp`, `complex_step_grad`).
`tests/test_reference.py` proves that it equals PyTorch.

Shapes: T time steps, B batch, I input features, H hidden units, P = proj_size, H_out = P if
P > 0 else H, D = 2 if bidirectional else 1, L = num_layers.

Equations (torch's, σ(x) = 1/(1 + exp(−x)), ⊙ elementwise):

    LSTM  i  = σ(W_ii x + b_ii + W_hi h + b_hi)
          f  = σ(W_if x + b_if + W_hf h + b_hf)
          g  = tanh(W_ig x + b_ig + W_hg h + b_hg)
          o  = σ(W_io x + b_io + W_ho h + b_ho)
          c' = f ⊙ c + i ⊙ g
          h' = o ⊙ tanh(c')                 (with P > 0:  h' = W_hr (o ⊙ tanh(c')))
    GRU   r  = σ(W_ir x + b_ir + W_hr h + b_hr)
          z  = σ(W_iz x + b_iz + W_hz h + b_hz)
          n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
          h' = (1 − z) ⊙ n + z ⊙ h
    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)    (or relu instead of tanh)

Fused layout (torch's): LSTM weight_ih (4H, I) = [W_ii|W_if|W_ig|W_io] stacked by rows,
weight_hh (4H, H_out), biases (4H,), weight_hr (P, H); GRU weight_ih (3H, I) = [W_ir|W_iz|W_in],
weight_hh (3H, H), biases (3H,); RNN weight_ih (H, I), weight_hh (H, H), biases (H,).
Layer parameters are named `weight_ih_l{k}` etc., with a `_reverse` suffix for the reverse
direction; `bias=False` means the bias keys are absent.
"""

import numpy as np


def sigmoid(x):
    """σ(x) = 1/(1 + exp(−x)), real or complex x with |Re x| < ~700 (beyond, exp overflows)."""
    return 1 / (1 + np.exp(-x))


def relu(x):
    """max(x, 0); for complex x, x where Re x > 0 else 0 (the complex-step extension)."""
    if np.iscomplexobj(x):
        return np.where(x.real > 0, x, 0)
    return np.maximum(x, 0)


def _rows(a, k, H):
    """Gate k's slice (rows k·H .. (k+1)·H) of a fused weight (G·H, N) or bias (G·H,)."""
    return a[k * H : (k + 1) * H]


def _bias_rows(b, k, H):
    """Gate k's slice of a fused bias, or 0 when the layer has no bias (b is None)."""
    return 0 if b is None else _rows(b, k, H)


# Cells: one time step. x (B, I) or (I,); the batch axis is optional everywhere.


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """One LSTM step.

    Args:
        x: (B, I) input.
        h: (B, H_out) previous hidden state.
        c: (B, H) previous cell state.
        w_ih: (4H, I), rows [W_ii|W_if|W_ig|W_io].
        w_hh: (4H, H_out), rows [W_hi|W_hf|W_hg|W_ho].
        b_ih, b_hh: (4H,) or None.
        w_hr: (P, H) projection or None.

    Returns:
        (h_new (B, H_out), c_new (B, H)).
    """
    H = w_ih.shape[0] // 4
    W_ii, W_if, W_ig, W_io = (_rows(w_ih, k, H) for k in range(4))
    W_hi, W_hf, W_hg, W_ho = (_rows(w_hh, k, H) for k in range(4))
    b_ii, b_if, b_ig, b_io = (_bias_rows(b_ih, k, H) for k in range(4))
    b_hi, b_hf, b_hg, b_ho = (_bias_rows(b_hh, k, H) for k in range(4))

    i = sigmoid(x @ W_ii.T + b_ii + h @ W_hi.T + b_hi)
    f = sigmoid(x @ W_if.T + b_if + h @ W_hf.T + b_hf)
    g = np.tanh(x @ W_ig.T + b_ig + h @ W_hg.T + b_hg)
    o = sigmoid(x @ W_io.T + b_io + h @ W_ho.T + b_ho)
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    if w_hr is not None:
        h_new = h_new @ w_hr.T
    return h_new, c_new


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step.

    Args:
        x: (B, I) input.
        h: (B, H) previous hidden state.
        w_ih: (3H, I), rows [W_ir|W_iz|W_in].
        w_hh: (3H, H), rows [W_hr|W_hz|W_hn].
        b_ih, b_hh: (3H,) or None.

    Returns:
        h_new (B, H).
    """
    H = w_ih.shape[0] // 3
    W_ir, W_iz, W_in = (_rows(w_ih, k, H) for k in range(3))
    W_hr, W_hz, W_hn = (_rows(w_hh, k, H) for k in range(3))
    b_ir, b_iz, b_in = (_bias_rows(b_ih, k, H) for k in range(3))
    b_hr, b_hz, b_hn = (_bias_rows(b_hh, k, H) for k in range(3))

    r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = np.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    h_new = (1 - z) * n + z * h
    return h_new


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One Elman RNN step.

    Args:
        x: (B, I) input.
        h: (B, H) previous hidden state.
        w_ih: (H, I).
        w_hh: (H, H).
        b_ih, b_hh: (H,) or None.
        nonlinearity: "tanh" or "relu".

    Returns:
        h_new (B, H).
    """
    activation = {"tanh": np.tanh, "relu": relu}[nonlinearity]
    b_ih = 0 if b_ih is None else b_ih
    b_hh = 0 if b_hh is None else b_hh
    h_new = activation(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
    return h_new


# Layers: torch.nn.LSTM / GRU / RNN semantics over whole sequences.


def _expected_keys(num_layers, D, bias, proj):
    """The parameter names torch gives a module with these arguments."""
    keys = set()
    for layer in range(num_layers):
        for direction in range(D):
            suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
            keys |= {"weight_ih" + suffix, "weight_hh" + suffix}
            if bias:
                keys |= {"bias_ih" + suffix, "bias_hh" + suffix}
            if proj:
                keys.add("weight_hr" + suffix)
    return keys


def _check_keys(params, num_layers, D, proj):
    """Raise if params does not hold exactly torch's names (bias inferred from bias_ih_l0)."""
    expected = _expected_keys(num_layers, D, "bias_ih_l0" in params, proj)
    if set(params) != expected:
        missing = sorted(expected - set(params))
        unexpected = sorted(set(params) - expected)
        raise ValueError(f"parameter names: missing {missing}, unexpected {unexpected}")


def _run(step, params, x, initial, sizes, *, num_layers, bidirectional, batch_first, lengths):
    """Stack layers and directions over a sequence, one batch element at a time.

    Args:
        step: step(x_t (1, I_layer), state tuple, suffix) -> new state tuple; the new state's
            first entry is the output h_t (1, H_out).
        params: torch-named parameters (used only for their dtype here).
        x: (T, B, I), (B, T, I) if batch_first, or (T, I) unbatched.
        initial: None (zeros) or a tuple of initial states, each (D·L, B, S), or (D·L, S)
            unbatched.
        sizes: the state sizes S, e.g. (H_out, H) for the LSTM; sizes[0] is the output's.
        lengths: None or B ints in 1..T.

    Returns:
        (y (T, B, D·H_out) laid out like x, tuple of final states each (D·L, B, S)).
    """
    D = 2 if bidirectional else 1
    x = np.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"x must be (T, I) or 3-D, got shape {x.shape}")
    unbatched = x.ndim == 2
    if unbatched:
        if lengths is not None:
            raise ValueError("lengths needs batched input")
        x = x[:, None, :]  # (T, 1, I)
    elif batch_first:
        x = x.transpose(1, 0, 2)  # (T, B, I)
    T, B, _ = x.shape

    # Initial states: (D·L, B, S), zeros when not given.
    if initial is None:
        dtype = np.result_type(x, *params.values())
        initial = tuple(np.zeros((D * num_layers, B, S), dtype=dtype) for S in sizes)
    else:
        initial = tuple(np.asarray(s) for s in initial)
        if unbatched:
            initial = tuple(s[:, None, :] for s in initial)
    for s, S in zip(initial, sizes, strict=True):
        if s.shape != (D * num_layers, B, S):
            raise ValueError(f"state has shape {s.shape}, expected {(D * num_layers, B, S)}")

    if lengths is None:
        lengths = [T] * B
    lengths = [int(length) for length in lengths]
    if len(lengths) != B or not all(1 <= length <= T for length in lengths):
        raise ValueError(f"lengths must be {B} ints in 1..{T}, got {lengths}")

    dtype = np.result_type(x, *params.values(), *initial)
    H_out = sizes[0]
    y = np.zeros((T, B, D * H_out), dtype=dtype)  # zero past each sequence's length
    final = tuple(np.zeros(s.shape, dtype=dtype) for s in initial)

    # Each sequence on its own: its first lengths[b] steps, layer by layer, direction by direction.
    for b in range(B):
        L_b = lengths[b]
        layer_input = x[:L_b, b : b + 1, :]  # (L_b, 1, I)
        for layer in range(num_layers):
            direction_outputs = []
            for direction in range(D):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                index = layer * D + direction
                state = tuple(s[index, b : b + 1, :] for s in initial)  # each (1, S)
                times = range(L_b) if direction == 0 else range(L_b - 1, -1, -1)
                outputs = [None] * L_b
                for t in times:
                    state = step(layer_input[t], state, suffix)
                    outputs[t] = state[0]
                for final_state, s in zip(final, state, strict=True):
                    final_state[index, b] = s[0]
                direction_outputs.append(np.stack(outputs))  # (L_b, 1, H_out)
            layer_input = np.concatenate(direction_outputs, axis=-1)  # (L_b, 1, D·H_out)
        y[:L_b, b] = layer_input[:, 0]

    if unbatched:
        return y[:, 0], tuple(f[:, 0] for f in final)
    if batch_first:
        y = y.transpose(1, 0, 2)  # (B, T, D·H_out)
    return y, final


def lstm(
    params,
    x,
    state=None,
    *,
    num_layers=1,
    bidirectional=False,
    proj_size=0,
    batch_first=False,
    lengths=None,
):
    """torch.nn.LSTM's forward (no dropout).

    Args:
        params: torch-named parameters (see the module docstring).
        x: (T, B, I), (B, T, I) if batch_first, or (T, I) unbatched.
        state: None (zeros) or (h0 (D·L, B, H_out), c0 (D·L, B, H)); unbatched (D·L, H_out),
            (D·L, H).
        lengths: None, or B ints in 1..T: as pack_padded_sequence(enforce_sorted=False) → LSTM
            → pad_packed_sequence(total_length=T).

    Returns:
        (y (T, B, D·H_out) laid out like x, (h_n (D·L, B, H_out), c_n (D·L, B, H))).
    """
    D = 2 if bidirectional else 1
    _check_keys(params, num_layers, D, proj_size > 0)
    H = params["weight_ih_l0"].shape[0] // 4
    H_out = proj_size if proj_size > 0 else H

    def step(x_t, state, suffix):
        h, c = state
        return lstm_cell(
            x_t,
            h,
            c,
            params["weight_ih" + suffix],
            params["weight_hh" + suffix],
            params.get("bias_ih" + suffix),
            params.get("bias_hh" + suffix),
            params.get("weight_hr" + suffix),
        )

    y, (h_n, c_n) = _run(
        step,
        params,
        x,
        state,
        (H_out, H),
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        lengths=lengths,
    )
    return y, (h_n, c_n)


def gru(params, x, h0=None, *, num_layers=1, bidirectional=False, batch_first=False, lengths=None):
    """torch.nn.GRU's forward (no dropout).

    Args:
        params: torch-named parameters (see the module docstring).
        x: (T, B, I), (B, T, I) if batch_first, or (T, I) unbatched.
        h0: None (zeros) or (D·L, B, H); unbatched (D·L, H).
        lengths: None, or B ints in 1..T (see `lstm`).

    Returns:
        (y (T, B, D·H) laid out like x, h_n (D·L, B, H)).
    """
    D = 2 if bidirectional else 1
    _check_keys(params, num_layers, D, proj=False)
    H = params["weight_ih_l0"].shape[0] // 3

    def step(x_t, state, suffix):
        (h,) = state
        h_new = gru_cell(
            x_t,
            h,
            params["weight_ih" + suffix],
            params["weight_hh" + suffix],
            params.get("bias_ih" + suffix),
            params.get("bias_hh" + suffix),
        )
        return (h_new,)

    y, (h_n,) = _run(
        step,
        params,
        x,
        None if h0 is None else (h0,),
        (H,),
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        lengths=lengths,
    )
    return y, h_n


def rnn(
    params,
    x,
    h0=None,
    *,
    num_layers=1,
    bidirectional=False,
    nonlinearity="tanh",
    batch_first=False,
    lengths=None,
):
    """torch.nn.RNN's forward (no dropout).

    Args:
        params: torch-named parameters (see the module docstring).
        x: (T, B, I), (B, T, I) if batch_first, or (T, I) unbatched.
        h0: None (zeros) or (D·L, B, H); unbatched (D·L, H).
        nonlinearity: "tanh" or "relu".
        lengths: None, or B ints in 1..T (see `lstm`).

    Returns:
        (y (T, B, D·H) laid out like x, h_n (D·L, B, H)).
    """
    D = 2 if bidirectional else 1
    _check_keys(params, num_layers, D, proj=False)
    H = params["weight_ih_l0"].shape[0]

    def step(x_t, state, suffix):
        (h,) = state
        h_new = rnn_cell(
            x_t,
            h,
            params["weight_ih" + suffix],
            params["weight_hh" + suffix],
            params.get("bias_ih" + suffix),
            params.get("bias_hh" + suffix),
            nonlinearity,
        )
        return (h_new,)

    y, (h_n,) = _run(
        step,
        params,
        x,
        None if h0 is None else (h0,),
        (H,),
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        lengths=lengths,
    )
    return y, h_n


# The complex step: exact derivatives of a real-analytic f, no subtraction, no cancellation.
#     f(θ + i·ε·u) = f(θ) + i·ε·J u + O(ε²),   so   J u = Im f(θ + i·ε·u) / ε   with ε = 1e-30.

COMPLEX_STEP = 1e-30


def _flatten(tree):
    """The arrays of a nested tuple/list of arrays, depth first."""
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _flatten(item)]
    return [np.asarray(tree)]


def complex_step_jvp(f, arrays, tangents, eps=COMPLEX_STEP):
    """Directional derivative J u of f at `arrays` along `tangents`.

    Args:
        f: f(arrays: dict[str, ndarray]) -> ndarray or nested tuple of ndarrays; real-analytic
            (written with @, np.exp, np.tanh, ... as in this file), real for real inputs.
        arrays: dict name -> real ndarray, the point θ.
        tangents: dict name -> real ndarray of the same shape, the direction u (missing = 0).

    Returns:
        list of ndarrays, the derivative of each output of f (flattened depth first).
    """
    point = {name: a.astype(complex) for name, a in arrays.items()}
    for name, u in tangents.items():
        point[name] = point[name] + 1j * eps * u
    return [np.imag(out) / eps for out in _flatten(f(point))]


def complex_step_grad(f, arrays, upstream, eps=COMPLEX_STEP):
    """Gradient of ⟨f(θ), upstream⟩ with respect to every element of every array (tiny shapes).

    One evaluation of f per element: grad[name][k] = Σ_outputs ⟨J e_(name, k), upstream⟩.

    Args:
        f: as in `complex_step_jvp`.
        arrays: dict name -> real ndarray.
        upstream: ndarray or nested tuple of ndarrays matching the outputs of f.

    Returns:
        dict name -> ndarray with the shape of arrays[name].
    """
    upstream = _flatten(upstream)
    grads = {}
    for name, a in arrays.items():
        grad = np.zeros(a.shape)
        for k in np.ndindex(a.shape):
            e_k = np.zeros(a.shape)
            e_k[k] = 1.0
            derivatives = complex_step_jvp(f, arrays, {name: e_k}, eps)
            if len(derivatives) != len(upstream):
                raise ValueError(f"f has {len(derivatives)} outputs, upstream {len(upstream)}")
            grad[k] = sum(np.sum(d * u) for d, u in zip(derivatives, upstream, strict=True))
        grads[name] = grad
    return grads
