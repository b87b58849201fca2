"""Keras weights in and out, without Keras: `from_keras`, `to_keras`, `read_keras_weights`.

A Keras recurrent layer keeps, in `get_weights()` order,
    kernel (I, G·H), recurrent_kernel (H, G·H), bias             (bias only with use_bias)
with the gates on the last axis in Keras' order (LSTM i f c o = torch's i f g o; GRU z r h,
torch's r z n reordered) and one bias where torch has two:
    LSTM, SimpleRNN, GRU(reset_after=False)   bias (G·H,)      the sum b_ih + b_hh
    GRU(reset_after=True), Keras' default     bias (2, 3H)     [input bias; recurrent bias]
Keras' equations are torch's (GRU: h = z ⊙ h_prev + (1 − z) ⊙ n, with the reset gate after
the recurrent kernel when reset_after=True, before it otherwise = gatednp's reset_after=False),
so only the arrays move: transposed, gates reordered with `convert_gates`, biases split
(b_ih = bias, b_hh = 0) or summed. A `Bidirectional` wrapper's weights are the forward layer's
then the backward layer's (merge_mode="concat" is gatednp's bidirectional output); a stack of
layers is each layer's weights in turn, as `model.get_weights()` lists them. Keras is
batch-first: `from_keras` builds layers with `batch_first=True`.

>>> import numpy as np, gatednp as gn
>>> rng = np.random.default_rng(0)
>>> kernel, recurrent, bias = rng.random((3, 12)), rng.random((4, 12)), rng.random((2, 12))
>>> gru = gn.from_keras([kernel, recurrent, bias], "gru")   # Keras GRU(4), reset_after=True
>>> gru
GRU(3, 4, batch_first=True)
>>> all(np.array_equal(a, b) for a, b in zip(gn.to_keras(gru), [kernel, recurrent, bias]))
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .gates import CANONICAL, convert_gates
from .recurrent import GRU, LSTM, RNN, RNNBase

__all__ = ["from_keras", "to_keras", "read_keras_weights", "keras_activations", "KERAS_ACTIVATIONS"]

KERAS_LAYERS = {"lstm": "lstm", "gru": "gru", "simplernn": "rnn", "rnn": "rnn"}
GATES = {cell: len(order) for cell, order in CANONICAL.items()}  # gate blocks per cell


def _cell(kind: str) -> str:
    cell = KERAS_LAYERS.get(str(kind).lower().replace("_", ""))
    if cell is None:
        raise ValueError(f"kind must be 'lstm', 'gru' or 'simplernn', got {kind!r}")
    return cell


def from_keras(
    weights: Sequence[np.ndarray],
    kind: str,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    reset_after: bool = True,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    dtype=None,
) -> RNNBase:
    """A gatednp layer (batch_first=True) equal to Keras layers with these `get_weights()`.

    Args:
        weights: the arrays in `get_weights()` order: per layer (and per direction of a
            Bidirectional wrapper) kernel, recurrent_kernel and, with use_bias, bias.
        kind: "lstm", "gru" or "simplernn".
        num_layers, bidirectional: how many stacked layers, and Bidirectional wrappers.
        reset_after: the Keras GRU's reset_after (its default is True).
        activation, recurrent_activation: the layer's Keras activations (defaults "tanh" and
            "sigmoid", Keras' own): any of KERAS_ACTIVATIONS, as gatednp's `activations`.
        dtype: float32 or float64; None keeps the kernel's.
    """
    cell = _cell(kind)
    arrays = [np.asarray(w) for w in weights]
    if not arrays:
        raise ValueError("from_keras needs the layer's weights: kernel, recurrent_kernel, bias")
    D = 2 if bidirectional else 1
    per = len(arrays) / (num_layers * D)
    if per not in (2, 3):
        raise ValueError(
            f"{num_layers} {cell} layer(s){' (bidirectional)' if bidirectional else ''} have "
            f"{num_layers * D * 2} (use_bias=False) or {num_layers * D * 3} arrays; got {len(arrays)}"
        )
    per, G = int(per), GATES[cell]
    kernel = arrays[0]
    if kernel.ndim != 2 or kernel.shape[1] % G:
        raise ValueError(f"a {cell} kernel is (I, {G}·H); got shape {kernel.shape}")
    I, H = kernel.shape[0], kernel.shape[1] // G
    dtype = np.dtype(kernel.dtype if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    options = _activation_options(cell, activation, recurrent_activation)
    common = dict(bias=per == 3, batch_first=True, bidirectional=bidirectional, dtype=dtype)
    if cell == "lstm":
        layer = LSTM(I, H, num_layers, **common, **options)
    elif cell == "gru":
        layer = GRU(I, H, num_layers, reset_after=bool(reset_after), **common, **options)
    else:
        layer = RNN(I, H, num_layers, **common, **options)
    state = {}
    for k, suffix in enumerate(_directions(layer)):
        state.update(_from_arrays(layer, suffix, arrays[k * per : (k + 1) * per]))
    layer.load_state_dict(state)
    return layer


# Keras' activation names as ONNX's (name, α, β); Keras 3's hard_sigmoid is relu6(x + 3) / 6
KERAS_ACTIVATIONS = {
    "tanh": ("tanh", None, None),
    "sigmoid": ("sigmoid", None, None),
    "relu": ("relu", None, None),
    "linear": ("identity", None, None),
    "hard_sigmoid": ("hardsigmoid", 1 / 6, 0.5),
    "softsign": ("softsign", None, None),
    "softplus": ("softplus", None, None),
    "elu": ("elu", 1.0, None),
}


def _activation_options(cell: str, activation: str, recurrent: str) -> dict:
    """gatednp's options for a Keras layer's activation and recurrent_activation."""
    for what, name in (("activation", activation), ("recurrent_activation", recurrent)):
        if name not in KERAS_ACTIVATIONS:
            raise ValueError(
                f"{what}={name!r} has no gatednp match; Keras names gatednp has: "
                f"{sorted(KERAS_ACTIVATIONS)}"
            )
    if cell == "rnn":
        if activation in ("tanh", "relu"):
            return {"nonlinearity": activation}
        roles = [activation]
    else:
        if (activation, recurrent) == ("tanh", "sigmoid"):
            return {}
        roles = [recurrent, activation, activation][: 3 if cell == "lstm" else 2]
    table = [KERAS_ACTIVATIONS[r] for r in roles]
    return {
        "activations": tuple(t[0] for t in table),
        "activation_alpha": tuple(t[1] for t in table),
        "activation_beta": tuple(t[2] for t in table),
    }


def keras_activations(layer: RNNBase) -> dict[str, str]:
    """The Keras `activation` (and `recurrent_activation`) of the layer equal to `layer`."""
    cell, opts = layer.kind.name, layer.cell_options
    if opts.get("activations") is None:
        if cell == "rnn":
            return {"activation": opts["nonlinearity"]}
        return {"activation": "tanh", "recurrent_activation": "sigmoid"}
    alphas, betas = opts["activation_alpha"] or (), opts["activation_beta"] or ()
    names = []
    for k, name in enumerate(opts["activations"]):
        keras = [
            key
            for key, (onnx, a, b) in KERAS_ACTIVATIONS.items()
            if onnx == name
            and (a is None or np.isclose(a, alphas[k]))
            and (b is None or np.isclose(b, betas[k]))
        ]
        if not keras:
            raise ValueError(f"Keras has no activation equal to {name!r} (α, β of position {k})")
        names.append(keras[0])
    if cell == "rnn":
        return {"activation": names[0]}
    if cell == "lstm" and names[1] != names[2]:
        raise ValueError(f"Keras' LSTM uses one activation for g and h, got {names[1:]}")
    return {"activation": names[1], "recurrent_activation": names[0]}


def _directions(layer: RNNBase):
    """The parameter-name suffix of each layer and direction: "_l0", "_l0_reverse", "_l1", ..."""
    D = layer.num_directions
    for k in range(layer.num_layers * D):
        yield f"_l{k // D}{'_reverse' if k % D else ''}"


def _two_biases(layer: RNNBase) -> bool:
    """Whether the Keras layer keeps [input bias; recurrent bias] (2, 3H): its GRU, reset after."""
    return layer.kind.name == "gru" and layer.cell_options["reset_after"]


def _from_arrays(layer: RNNBase, suffix: str, arrays: list[np.ndarray]) -> dict:
    cell, H = layer.kind.name, layer.hidden_size
    G = GATES[cell]
    kernel, recurrent = arrays[0], arrays[1]
    expect_in = layer.input_size if suffix.startswith("_l0") else H * layer.num_directions
    if kernel.shape != (expect_in, G * H) or recurrent.shape != (H, G * H):
        raise ValueError(
            f"layer {suffix[1:]}: a {cell} kernel ({expect_in}, {G * H}) and recurrent_kernel "
            f"({H}, {G * H}) were expected, got {kernel.shape} and {recurrent.shape}"
        )

    def torch_order(w):
        return convert_gates(w, "keras", "torch", cell=cell, axis=-1)

    state = {
        f"weight_ih{suffix}": torch_order(kernel).T,
        f"weight_hh{suffix}": torch_order(recurrent).T,
    }
    if len(arrays) == 3:
        bias = arrays[2]
        two = _two_biases(layer)
        want = (2, G * H) if two else (G * H,)
        if bias.shape != want:
            raise ValueError(
                f"layer {suffix[1:]}: a {cell} bias {want} was expected, got {bias.shape}"
            )
        bias = torch_order(bias)
        state[f"bias_ih{suffix}"] = bias[0] if two else bias
        state[f"bias_hh{suffix}"] = bias[1] if two else np.zeros_like(bias)
    return {k: np.ascontiguousarray(v, dtype=layer.dtype) for k, v in state.items()}


def to_keras(layer: RNNBase) -> list[np.ndarray]:
    """The `get_weights()` arrays of the Keras layers equal to `layer` (kernel,
    recurrent_kernel, bias per layer and direction, as `from_keras` takes them)."""
    if not isinstance(layer, RNNBase):
        raise TypeError(f"to_keras takes a gn.LSTM, gn.GRU or gn.RNN, got {type(layer).__name__}")
    keras_has = {"reset_after", "activations", "activation_alpha", "activation_beta"}
    keras_activations(layer)  # refuses activations Keras lacks
    if (
        set(layer.variant) - keras_has
        or getattr(layer, "proj_size", 0)
        or getattr(layer, "peepholes", False)
    ):
        raise ValueError(
            f"Keras has no {type(layer).__name__} with {layer.extra_repr()}: only torch's "
            "own cells, the GRU's reset_after=False and activations Keras has convert"
        )
    cell, sd, two = layer.kind.name, layer.state_dict(), _two_biases(layer)

    def keras_order(w):
        return convert_gates(w, "torch", "keras", cell=cell, axis=-1)

    out = []
    for suffix in _directions(layer):
        out += [keras_order(sd[f"weight_ih{suffix}"].T), keras_order(sd[f"weight_hh{suffix}"].T)]
        if layer.bias:
            b_ih, b_hh = sd[f"bias_ih{suffix}"], sd[f"bias_hh{suffix}"]
            out.append(keras_order(np.stack([b_ih, b_hh]) if two else b_ih + b_hh))
    return [np.ascontiguousarray(w) for w in out]


def read_keras_weights(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """The weights in a Keras weights file, by layer: `{layer path: [arrays]}` in
    `get_weights()` order, for Keras 3's `.weights.h5` (`layers/lstm/cell/vars/0, 1, 2`) and
    the legacy HDF5 format of Keras 2 (`layer_names` / `weight_names` attributes). Needs the
    optional h5py (`pip install "gatednp[keras]"`)."""
    try:
        import h5py
    except ImportError:
        raise ImportError(
            'reading Keras weight files needs h5py: pip install "gatednp[keras]"'
        ) from None
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no Keras weights file at {path!r}")
    layers: dict[str, list[np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in group.attrs:  # Keras 2: layer groups with weight_names
            for name in _strings(group.attrs["layer_names"]):
                names = _strings(group[name].attrs.get("weight_names", []))
                if names:
                    layers[name] = [np.asarray(group[name][w]) for w in names]
        else:  # Keras 3: a "vars" group of datasets 0, 1, 2... per object

            def visit(name, obj):
                if isinstance(obj, h5py.Group) and name.split("/")[-1] == "vars" and len(obj):
                    keys = sorted(
                        obj, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else k)
                    )
                    layers[name.rsplit("/vars", 1)[0]] = [np.asarray(obj[k]) for k in keys]

            f.visititems(visit)
    if not layers:
        raise ValueError(f"{path!r} holds no Keras layer weights (neither Keras 3 nor 2 layout)")
    return layers


def _strings(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
