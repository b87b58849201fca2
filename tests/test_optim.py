"""Tests of gatednp/optim.py and optimizer.py: Adam and SGD against hand-written formulas and
live PyTorch, the caller's arrays kept, state_dict round trips, argument checking and
clip_grad_norm."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gatednp.module import Parameter
from gatednp.optim import SGD, Adam, clip_grad_norm

SHAPES = [(3, 4), (4,), (2, 3, 2), (1,)]


def make_params(seed: int = 0, dtype=np.float64, shapes=SHAPES) -> list[Parameter]:
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]


def grad_sequence(n_steps: int, seed: int = 1, dtype=np.float64, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(n_steps)]


def run(opt, params, grads) -> None:
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad[...] = g
        opt.step()


def reference_adam(theta, grads, lr, betas, eps, weight_decay=0.0, amsgrad=False, maximize=False):
    """Textbook Adam (Kingma & Ba, with torch's L2 weight decay and amsgrad), one array."""
    b1, b2 = betas
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    v_max = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


ADAM_CONFIGS = [
    {},
    {"amsgrad": True},
    {"weight_decay": 0.3},
    {"maximize": True},
    {"amsgrad": True, "weight_decay": 0.05, "maximize": True, "betas": (0.5, 0.8)},
]


@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=str)
def test_adam_matches_textbook_formula(config):
    params = make_params()
    initial = [p.data.copy() for p in params]
    grads = grad_sequence(3)
    # Decreasing gradient magnitudes make amsgrad's max differ from v.
    grads = [[g / (t + 1) ** 2 for g in step] for t, step in enumerate(grads)]
    hyper = {"lr": 0.05, "betas": (0.9, 0.999), "eps": 1e-8, **config}
    run(Adam(params, **hyper), params, grads)
    for i, (p, theta0) in enumerate(zip(params, initial, strict=True)):
        expected = reference_adam(theta0, [step[i] for step in grads], **hyper)
        np.testing.assert_allclose(p.data, expected, rtol=1e-13, atol=1e-15, err_msg=f"param {i}")


def test_adam_amsgrad_differs_when_gradients_shrink():
    grads = [[np.array([1.0])], [np.array([0.01])]]
    out = []
    for amsgrad in (False, True):
        p = Parameter(np.array([0.0]))
        run(Adam([p], lr=0.1, amsgrad=amsgrad), [p], grads)
        out.append(p.data[0])
    assert out[0] != out[1]


def test_adam_first_step_moves_each_parameter_by_lr():
    params = make_params()
    params[1].grad[...] = 0  # a parameter without gradient does not move
    for p in params[:1] + params[2:]:
        p.grad[...] = np.random.default_rng(3).uniform(0.1, 2, p.shape) * np.sign(p.data)
    before = [p.data.copy() for p in params]
    Adam(params, lr=0.01).step()
    for p, b in zip(params, before, strict=True):
        delta = p.data - b
        if not p.grad.any():
            assert np.array_equal(delta, np.zeros_like(delta))
        else:  # |Δθ| = lr·|g| / (|g| + ε), against the gradient
            np.testing.assert_allclose(np.abs(delta), 0.01, rtol=1e-6)
            assert np.all(np.sign(delta) == -np.sign(p.grad))


@settings(max_examples=30, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(max_dims=3, max_side=4),
        elements=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
    ),
    st.floats(1e-4, 1.0),
)
def test_adam_first_step_is_lr_times_sign(grad, lr):
    p = Parameter(np.zeros_like(grad))
    p.grad[...] = grad
    Adam([p], lr=lr).step()
    np.testing.assert_allclose(p.data, -lr * np.sign(grad), rtol=1e-4)


def test_step_never_modifies_the_gradient():
    for opt_cls, kw in [
        (Adam, {"weight_decay": 0.1, "maximize": True}),
        (SGD, {"momentum": 0.9, "weight_decay": 0.1, "maximize": True}),
    ]:
        params = make_params()
        opt = opt_cls(params, lr=0.1, **kw)
        grads = grad_sequence(2)
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad[...] = g
            opt.step()
            for p, g in zip(params, step, strict=True):
                assert np.array_equal(p.grad, g)


# The caller's arrays ----------------------------------------------------------------------------


@pytest.mark.parametrize("opt_cls", [Adam, SGD])
def test_parameters_keep_the_users_arrays(opt_cls):
    params = make_params()
    held_data = [p.data for p in params]  # taken before the optimizer exists
    held_grad = [p.grad for p in params]
    values = [d.copy() for d in held_data]
    opt = opt_cls(params, lr=0.1)
    for p, d, g, v in zip(params, held_data, held_grad, values, strict=True):
        assert p.data is d and p.grad is g
        assert np.shares_memory(p.data, d) and np.array_equal(d, v)
    # writes through the held grads are what step() sees, and step() writes into the held data
    for g in held_grad:
        g[...] = 0
    held_grad[2][1, 2, 0] = 1.0
    opt.step()
    for i, (d, v) in enumerate(zip(held_data, values, strict=True)):
        assert (d != v).sum() == (1 if i == 2 else 0)
    assert held_data[2][1, 2, 0] < values[2][1, 2, 0]
    # in-place writes into p.data (as layers and Module.load_state_dict do) are used as they are
    held_data[0][...] = 5.0
    opt.zero_grad()
    assert all(not g.any() for g in held_grad)
    opt.step()
    assert np.array_equal(held_data[0], np.full((3, 4), 5.0))
    assert all(p.data is d and p.grad is g for p, d, g in zip(params, held_data, held_grad))


def test_rebinding_by_the_user_is_honoured():
    params = make_params()
    opt = SGD(params, lr=1.0)
    params[1].grad = np.ones(4)  # new arrays: the step reads and writes these
    new_data = params[1].data = np.zeros(4)
    opt.step()
    assert params[1].data is new_data and np.array_equal(new_data, -np.ones(4))
    before = [p.data.copy() for p in params]
    params[1].grad = np.ones(5)
    with pytest.raises(ValueError, match=r"parameter 1: p.grad was rebound to an array of shape"):
        opt.step()
    params[1].grad = np.ones(4, dtype=np.float32)
    with pytest.raises(ValueError, match=r"shape \(4,\) and dtype float32, expected \(4,\) and"):
        opt.step()
    params[1].grad = np.ones(4)
    params[3].data = [0.0]
    with pytest.raises(TypeError, match="parameter 3: p.data was rebound to a list"):
        opt.step()
    params[3].data = np.zeros(1)
    params[3].data.flags.writeable = False
    with pytest.raises(TypeError, match="parameter 3: p.data was rebound to a read-only array"):
        opt.step()
    assert all(np.array_equal(b, p.data) for b, p in zip(before, params) if p is not params[3])


def test_read_only_data_is_refused():
    p = Parameter(np.zeros(3))
    p.data.flags.writeable = False
    with pytest.raises(TypeError, match="parameter 0: data must be a writable ndarray"):
        Adam([p])


@pytest.mark.parametrize("opt_cls", [Adam, SGD])
def test_mixed_dtypes_equal_one_optimizer_per_dtype(opt_cls):
    """One optimizer over float64 and float32 parameters steps each exactly as if alone."""
    dtypes = [np.float64, np.float32, np.float64, np.float32]
    config = {"lr": 0.1, "weight_decay": 0.1, "maximize": True}
    config |= {"amsgrad": True} if opt_cls is Adam else {"momentum": 0.9, "nesterov": True}
    grads = [[g.astype(dt) for g, dt in zip(step, dtypes)] for step in grad_sequence(3)]

    def trained(keep):
        params = [Parameter(p.data.astype(dt)) for p, dt in zip(make_params(), dtypes)]
        opt = opt_cls([params[i] for i in keep], **config)
        run(opt, [params[i] for i in keep], [[step[i] for i in keep] for step in grads])
        return [params[i] for i in keep], opt.state_dict()["state"]

    mixed, mixed_state = trained([0, 1, 2, 3])
    (f64, f64_state), (f32, f32_state) = trained([0, 2]), trained([1, 3])
    for i, (p, alone, state) in enumerate(
        [(mixed[0], f64[0], f64_state[0]), (mixed[1], f32[0], f32_state[0]),
         (mixed[2], f64[1], f64_state[1]), (mixed[3], f32[1], f32_state[1])]
    ):  # fmt: skip
        assert p.dtype == dtypes[i] and p.grad.dtype == dtypes[i]
        assert np.array_equal(p.data, alone.data), i
        for key, value in state.items():
            assert np.array_equal(mixed_state[i][key], value), key
            assert key == "step" or value.dtype == dtypes[i], key


def test_params_from_a_generator():
    params = make_params()
    opt = Adam(p for p in params)
    assert len(opt.param_groups[0]["params"]) == len(params)


def test_step_allocates_nothing():
    params = make_params(shapes=[(200, 300), (300,), (100, 50)])
    for config in [{}, {"amsgrad": True, "weight_decay": 0.1, "maximize": True}]:
        opt = Adam(params, **config)
        opt.step()
        tracemalloc.start()
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 10_000, peak  # the buffers are ~500 kB each


# Arguments --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": -1.0}, "Invalid learning rate: -1.0"),
        ({"lr": float("nan")}, "Invalid learning rate: nan"),
        ({"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
        ({"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
        ({"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
        ({"weight_decay": -0.5}, "Invalid weight_decay value: -0.5"),
    ],
)
def test_adam_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(") + "$"):
        Adam(make_params(), **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": -0.1}, "Invalid learning rate: -0.1"),
        ({"momentum": -0.9}, "Invalid momentum value: -0.9"),
        ({"weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
        ({"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
        ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov momentum requires"),
    ],
)
def test_sgd_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match="^" + message):
        SGD(make_params(), **kwargs)


def test_bad_parameter_lists():
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        Adam([])
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        SGD(p for p in [])
    p = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="parameter 1 appears more than once"):
        Adam([p, p])
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        Adam([np.zeros(3)])
    with pytest.raises(TypeError, match="expected a floating dtype, got int64"):
        Adam([Parameter(np.zeros(3, dtype=np.int64))])


# state_dict -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "opt_cls, config",
    [
        (Adam, {"lr": 0.01}),
        (Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
        (SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
        (SGD, {"lr": 0.01}),
    ],
)
def test_state_dict_round_trip_resumes_bitwise(opt_cls, config):
    grads = grad_sequence(7)
    straight = make_params()
    run(opt_cls(straight, **config), straight, grads)

    first = make_params()
    opt = opt_cls(first, **config)
    run(opt, first, grads[:4])
    saved = opt.state_dict()  # a checkpoint: optimizer state and parameters
    saved_params = [p.data.copy() for p in first]
    saved_copy = {i: {k: np.copy(v) for k, v in e.items()} for i, e in saved["state"].items()}
    run(opt, first, grads[4:5])  # steps after saving do not change what was saved
    for i, entry in saved["state"].items():
        for key, value in entry.items():
            assert np.array_equal(value, saved_copy[i][key]), (i, key)

    resumed = make_params(seed=5)
    for p, saved_value in zip(resumed, saved_params, strict=True):
        p.data[...] = saved_value
    held = [p.data for p in resumed]
    opt2 = opt_cls(resumed, **{**config, "lr": 123.0})  # hyperparameters come from the dict
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == config["lr"]
    run(opt2, resumed, grads[4:])
    for p, q, held_data in zip(resumed, straight, held, strict=True):
        assert np.array_equal(p.data, q.data)
        assert p.data is held_data  # the parameters' own arrays, through load and steps


def test_state_dict_layout():
    params = make_params()
    opt = Adam(params, amsgrad=True)
    assert opt.state_dict()["state"] == {}
    run(opt, params, grad_sequence(2))
    sd = opt.state_dict()
    assert sd["param_groups"] == [
        {
            "lr": 1e-3,
            "betas": (0.9, 0.999),
            "eps": 1e-8,
            "weight_decay": 0.0,
            "amsgrad": True,
            "maximize": False,
            "params": [0, 1, 2, 3],
        }
    ]
    assert sorted(sd["state"]) == [0, 1, 2, 3]
    for i, p in enumerate(params):
        entry = sd["state"][i]
        assert entry["step"] == 2 and isinstance(entry["step"], int)
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert entry[key].shape == p.shape and entry[key].dtype == p.dtype
            assert not np.shares_memory(entry[key], p.data)
        entry["exp_avg"][...] = 99.0  # a copy: the optimizer is unaffected
    assert not np.any(opt.state_dict()["state"][0]["exp_avg"] == 99.0)


def test_sgd_state_dict_layout_and_toggled_amsgrad():
    params = make_params()
    opt = SGD(params, lr=0.1)
    run(opt, params, grad_sequence(1))
    assert opt.state_dict()["state"] == {}  # no momentum: no buffer, as torch
    opt.param_groups[0]["momentum"] = 0.9
    run(opt, params, grad_sequence(1))
    sd = opt.state_dict()
    assert np.array_equal(sd["state"][2]["momentum_buffer"], params[2].grad)
    # amsgrad switched on between steps: its buffer starts at zero, saved and loaded like any
    opt = Adam(params)
    run(opt, params, grad_sequence(1))
    opt.param_groups[0]["amsgrad"] = True
    sd = opt.state_dict()
    assert not sd["state"][0]["max_exp_avg_sq"].any()
    sd["param_groups"][0]["betas"] = list(sd["param_groups"][0]["betas"])  # as after JSON
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    run(opt, params, grad_sequence(1))
    assert opt.state_dict()["state"][0]["max_exp_avg_sq"].any()


def test_load_state_dict_errors():
    params = make_params()
    opt = Adam(params)
    run(opt, params, grad_sequence(1))
    good = opt.state_dict()

    def edited(fn):
        sd = {
            "state": {i: dict(e) for i, e in good["state"].items()},
            "param_groups": [dict(good["param_groups"][0])],
        }
        fn(sd)
        return sd

    cases = [
        (lambda sd: sd["param_groups"][0].update(params=[0, 1, 2]), "has 3 parameters"),
        (lambda sd: sd["state"][1].update(exp_avg=np.zeros(5)), r"state\[1\]\['exp_avg'\] has sh"),
        (lambda sd: sd["state"][2].pop("exp_avg_sq"), r"state\[2\] has keys"),
        (lambda sd: sd["state"][2].update(extra=1), r"state\[2\] has keys"),
        (lambda sd: sd["state"].pop(3), "entries for 3 of 4 parameters"),
        (lambda sd: sd["state"].update({7: sd["state"][0]}), "unknown parameter id 7"),
        (lambda sd: sd["param_groups"][0].update(lr=-2.0), "Invalid learning rate: -2.0"),
        (lambda sd: sd["param_groups"][0].pop("eps"), r"param_groups\[0\] has keys"),
        (lambda sd: sd["state"][0].update(step=2), "different steps"),
        (lambda sd: sd.pop("state"), "expected a dict with keys"),
    ]
    before = opt.state_dict()
    for fn, message in cases:
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict(edited(fn))
    after = opt.state_dict()  # a failed load changes nothing
    for i in before["state"]:
        for key in before["state"][i]:
            assert np.array_equal(before["state"][i][key], after["state"][i][key])


# Live parity with PyTorch ----------------------------------------------------------------------


def torch_trajectory(torch, opt_factory, dtype, grads, lr_schedule=None):
    params = [torch.tensor(p.data.copy(), requires_grad=True) for p in make_params(dtype=dtype)]
    opt = opt_factory(params)
    out = []
    for t, step in enumerate(grads):
        if lr_schedule is not None:
            opt.param_groups[0]["lr"] = lr_schedule(t)
        for p, g in zip(params, step, strict=True):
            p.grad = torch.tensor(g)
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out, opt


def ours_trajectory(opt_factory, dtype, grads, lr_schedule=None):
    params = make_params(dtype=dtype)
    opt = opt_factory(params)
    out = []
    for t, step in enumerate(grads):
        if lr_schedule is not None:
            opt.param_groups[0]["lr"] = lr_schedule(t)
        for p, g in zip(params, step, strict=True):
            p.grad[...] = g
        opt.step()
        out.append([p.data.copy() for p in params])
    return out, opt


def assert_close_per_tensor(ours, ref, rtol, atol_scale, what):
    scale = max(1.0, float(np.max(np.abs(ref))))
    err = np.abs(ours - ref)
    bound = atol_scale * scale + rtol * np.abs(ref)
    assert np.all(err <= bound), f"{what}: max |ours − torch| = {err.max():.3e}"


TOLERANCES = {np.float64: (1e-12, 1e-14), np.float32: (1e-6, 1e-6)}

TORCH_CONFIGS = [
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    (
        "Adam",
        {
            "lr": 0.003,
            "betas": (0.8, 0.99),
            "eps": 1e-6,
            "amsgrad": True,
            "weight_decay": 0.01,
            "maximize": True,
        },
    ),
    ("SGD", {"lr": 0.01, "momentum": 0.9}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.02, "momentum": 0.5, "dampening": 0.3, "maximize": True}),
    ("SGD", {"lr": 0.05}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name, config", TORCH_CONFIGS, ids=lambda x: str(x))
def test_trajectory_matches_torch(name, config, dtype):
    torch = pytest.importorskip("torch")
    grads = grad_sequence(25, dtype=dtype)
    ours_cls = {"Adam": Adam, "SGD": SGD}[name]
    torch_cls = getattr(torch.optim, name)
    ours, opt = ours_trajectory(lambda p: ours_cls(p, **config), dtype, grads)
    ref, topt = torch_trajectory(
        torch, lambda p: torch_cls(p, foreach=False, **config), dtype, grads
    )
    rtol, atol = TOLERANCES[dtype]
    for t, (step_ours, step_ref) in enumerate(zip(ours, ref, strict=True)):
        for i, (a, b) in enumerate(zip(step_ours, step_ref, strict=True)):
            assert a.dtype == b.dtype
            assert_close_per_tensor(a, b, rtol, atol, f"step {t + 1}, param {i}")
    # the optimizer state agrees too, key by key
    sd = opt.state_dict()["state"]
    for i, tstate in topt.state_dict()["state"].items():
        for key, value in tstate.items():
            if key == "step":
                assert sd[i][key] == value.item()
            else:
                assert_close_per_tensor(sd[i][key], value.numpy(), rtol, atol, f"{key}[{i}]")


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "optimizers.npz"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", range(len(TORCH_CONFIGS)), ids=lambda c: str(TORCH_CONFIGS[c]))
def test_trajectory_matches_frozen_torch(c, dtype):
    """The same comparison against torch.optim's trajectory frozen in tests/fixtures (written by
    generate.py with torch 2.13.0): every tensor after every step, and the final state; runs
    without torch."""
    name, config = TORCH_CONFIGS[c]
    with np.load(FIXTURE, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    assert json.loads(str(data["meta/config"]))["configs"][c] == [name, {
        k: list(v) if isinstance(v, tuple) else v for k, v in config.items()
    }]  # fmt: skip
    n = len(SHAPES)
    params = [Parameter(data[f"input/{dtype}/param{i}"].copy()) for i in range(n)]
    grads = [data[f"input/{dtype}/grads{i}"] for i in range(n)]
    opt = {"Adam": Adam, "SGD": SGD}[name](params, **config)
    rtol, atol = TOLERANCES[np.dtype(dtype).type]
    for t in range(len(grads[0])):
        for p, g in zip(params, grads, strict=True):
            p.grad[...] = g[t]
        opt.step()
        for i, p in enumerate(params):
            ref = data[f"traj/{c}/{dtype}/{i}"][t]
            assert p.data.dtype == ref.dtype
            assert_close_per_tensor(p.data, ref, rtol, atol, f"step {t + 1}, param {i}")
    sd = opt.state_dict()["state"]
    prefix = f"state/{c}/{dtype}/"
    for key in [k for k in data if k.startswith(prefix)]:
        i, buffer = key[len(prefix) :].split("/")
        if buffer == "step":
            assert sd[int(i)]["step"] == data[key].item()
        else:
            assert_close_per_tensor(sd[int(i)][buffer], data[key], rtol, atol, key)


def test_lr_changes_between_steps_match_torch():
    torch = pytest.importorskip("torch")
    grads = grad_sequence(10)

    def schedule(t):
        return 0.01 * 0.8**t

    ours, _ = ours_trajectory(lambda p: Adam(p, lr=1.0), np.float64, grads, schedule)
    ref, _ = torch_trajectory(
        torch, lambda p: torch.optim.Adam(p, lr=1.0, foreach=False), np.float64, grads, schedule
    )
    for a, b in zip(ours[-1], ref[-1], strict=True):
        assert_close_per_tensor(a, b, 1e-12, 1e-14, "final parameters")


# clip_grad_norm ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("norm_type", [2.0, float("inf"), 1.0, 3.0])
@pytest.mark.parametrize("fraction", [0.1, 0.9, 1.5])  # max_norm / total: clip, clip, not
def test_clip_grad_norm_matches_torch(fraction, norm_type, dtype):
    torch = pytest.importorskip("torch")
    grads = grad_sequence(1, dtype=dtype)[0]
    flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    max_norm = fraction * np.linalg.norm(flat, norm_type)
    params = make_params(dtype=dtype)
    tparams = [torch.tensor(p.data, requires_grad=True) for p in params]
    for p, q, g in zip(params, tparams, grads, strict=True):
        p.grad[...] = g
        q.grad = torch.tensor(g)
    total = clip_grad_norm(params, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type, foreach=False)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert isinstance(total, float)
    assert total == pytest.approx(ttotal.item(), rel=rtol)
    for i, (p, q) in enumerate(zip(params, tparams, strict=True)):
        assert p.grad.dtype == dtype
        assert_close_per_tensor(p.grad, q.grad.numpy(), rtol, rtol * 1e-2, f"grad {i}")
    if max_norm > total:
        assert all(np.array_equal(p.grad, g) for p, g in zip(params, grads, strict=True))


def test_clip_grad_norm_example_and_result():
    params = make_params()
    for p, g in zip(params, grad_sequence(1)[0], strict=True):
        p.grad[...] = g
    total = clip_grad_norm(params, 1.0)
    expected = np.sqrt(sum(np.sum(g**2) for g in grad_sequence(1)[0]))
    assert total == pytest.approx(expected, rel=1e-14)
    after = np.sqrt(sum(np.sum(p.grad**2) for p in params))
    assert after == pytest.approx(1.0 / (1.0 + 1e-6 / total), rel=1e-14)


def test_clip_grad_norm_nonfinite():
    params = make_params()
    params[1].grad[2] = np.inf
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 .* non-finite \(inf\)"):
        clip_grad_norm(params, 1.0, error_if_nonfinite=True)
    params[1].grad[2] = np.nan
    with pytest.raises(RuntimeError, match=r"non-finite \(nan\)"):
        clip_grad_norm(params, 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_nonfinite_without_error_matches_torch():
    torch = pytest.importorskip("torch")
    grads = grad_sequence(1)[0]
    grads[1][2] = np.inf
    params = make_params()
    tparams = [torch.tensor(p.data, requires_grad=True) for p in params]
    for p, q, g in zip(params, tparams, grads, strict=True):
        p.grad[...] = g
        q.grad = torch.tensor(g)
    total = clip_grad_norm(params, 1.0)  # inf · 0 = nan, without a warning, as torch
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 1.0, foreach=False)
    assert total == ttotal.item() == np.inf
    for p, q in zip(params, tparams, strict=True):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())


def test_clip_grad_norm_edge_cases():
    assert clip_grad_norm([], 1.0) == 0.0
    p = Parameter(np.zeros((0, 3)))
    q = Parameter(np.zeros(2))
    assert clip_grad_norm([p, q], 1.0, norm_type=float("inf")) == 0.0


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        hnp.arrays(
            np.float64, hnp.array_shapes(max_dims=2, max_side=4), elements=st.floats(-1e3, 1e3)
        ),
        min_size=1,
        max_size=4,
    ),
    st.floats(1e-3, 1e3),
    st.sampled_from([1.0, 2.0, float("inf")]),
)
def test_clip_grad_norm_bounds_the_norm(grads, max_norm, norm_type):
    params = [Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    total = clip_grad_norm(params, max_norm, norm_type)
    flat = np.concatenate([g.ravel() for g in grads])
    assert total == pytest.approx(np.linalg.norm(flat, norm_type), rel=1e-12, abs=1e-300)
    after = np.linalg.norm(np.concatenate([p.grad.ravel() for p in params]), norm_type)
    assert after <= max_norm * (1 + 1e-12) or after == pytest.approx(total)


def test_repr_is_torchs_layout():
    """print(optimizer) shows its hyperparameters as torch's does, not `<object at 0x…>`."""
    opt = SGD([Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
    assert repr(opt) == (
        "SGD (\nParameter Group 0\n    dampening: 0.0\n    lr: 0.1\n    maximize: False\n"
        "    momentum: 0.9\n    nesterov: False\n    weight_decay: 0.0\n)"
    )
    assert repr(Adam([Parameter(np.zeros(2))])).startswith("Adam (\nParameter Group 0\n    amsgrad")
