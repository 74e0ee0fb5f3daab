"""Every registered attack, by registration: the contract of `tfinterp.attacks.base`.

Parametrized over `ATTACKS.names()` (and, for an attack with a ``norm`` parameter, over its
norms), so a new attack is tested the moment it registers. A tiny CNN on the real 8x8
digits, images squeezed into [0.2, 0.8] and the pixel range set to the same interval, so
that clipping to the range is exercised (many pixels start on its lower edge).
"""

import numpy as np
import pytest

from tfinterp.attacks import ATTACKS
from tfinterp.errors import UserError

LO, HI = 0.2, 0.8

# cheap settings per attack (an attack missing here runs with its defaults)
CHEAP = {
    "fgsm": dict(eps=0.1),
    "pgd": dict(eps=0.1, steps=5, step_size=0.03),
    "pgd_kl": dict(eps=0.1, steps=5, step_size=0.03),
    "ifgs": dict(steps=5, step_size=0.02, eps=0.06),
    "ensemble": dict(steps=5, eps=0.08),
    "cw": dict(steps=10, binary_search_steps=2, learning_rate=0.05),
}
L2_EPS = 0.5  # the radius when an attack runs with norm="l2"


def _cases():
    for name in ATTACKS.names():
        spec = ATTACKS.get(name).param_spec()
        for norm in (spec["norm"].choices if "norm" in spec else (None,)):
            yield pytest.param(name, norm, id=name if norm is None else f"{name}-{norm}")


CASES = list(_cases())


def _params(name, norm, **extra):
    p = dict(CHEAP.get(name, {}))
    if norm is not None:
        p["norm"] = norm
        if norm == "l2" and "eps" in p:
            p["eps"] = L2_EPS
    return {"clip_min": LO, "clip_max": HI, "seed": 0, **p, **extra}


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (LO + (HI - LO) * d.images[:14] / 16.0).astype(np.float32)[..., None]
    return x, d.target[:14].astype(np.int64)


@pytest.fixture(scope="module")
def cnn():
    import keras

    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="tanh"),
                             keras.layers.Flatten(), keras.layers.Dense(10)], name="tiny")


def _targets(atk, y):
    return (y + 3) % 10 if atk.is_targeted else None


def _run(name, model, x, y, **params):
    atk = ATTACKS.create(name, model, **params)
    return atk, atk.attack(x, y, _targets(atk, y))


@pytest.mark.parametrize("name,norm", CASES)
def test_output_shape_range_ball_and_weights(name, norm, cnn, data):
    x, y = data
    before = [w.copy() for w in cnn.get_weights()]
    atk, adv = _run(name, cnn, x, y, batch_size=7, **_params(name, norm))
    assert adv.shape == x.shape and adv.dtype == np.float32 and np.all(np.isfinite(adv))
    assert adv.min() >= LO and adv.max() <= HI
    assert np.abs(adv - x).max() > 1e-3  # it moved
    if atk.bound is not None:
        eps, ball = atk.bound
        d = (adv - x).reshape(len(x), -1)
        assert ball == (norm or "inf")
        if ball == "inf":
            assert np.abs(d).max() <= eps + 1e-6
        else:
            assert np.linalg.norm(d, axis=1).max() <= eps * (1 + 1e-5)
    after = cnn.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    one = atk.attack(x[0], y[0], None if _targets(atk, y) is None else _targets(atk, y)[0])
    assert one.shape == x.shape[1:]  # one [H, W, C] image in, one out


@pytest.mark.parametrize("name,norm", CASES)
def test_batch_size_and_seeded_determinism(name, norm, cnn, data):
    """Deterministic attacks: the same images for batch sizes 1 and 7. Attacks with random
    starts draw from one stateful generator per attack, so their output depends on the
    batching: for them, the same seed and batch size give the same images, another seed
    others, and with the randomness switched off (``random_start=False``) batch sizes 1 and 7
    agree again."""
    x, y = data
    p = _params(name, norm)
    atk, a7 = _run(name, cnn, x, y, batch_size=7, **p)
    _, again = _run(name, cnn, x, y, batch_size=7, **p)
    np.testing.assert_array_equal(a7, again)
    if atk.stochastic:
        _, other = _run(name, cnn, x, y, batch_size=7, **{**p, "seed": 1})
        assert np.abs(other - a7).max() > 1e-3
        if getattr(atk, "random_start_required", False):
            return  # PGD on the KL (TRADES) starts at x + noise by definition: nothing to switch off
        assert "random_start" in atk.param_spec(), "a stochastic attack needs a way to switch it off here"
        p = {**p, "random_start": False}
        _, a7 = _run(name, cnn, x, y, batch_size=7, **p)
    _, a1 = _run(name, cnn, x, y, batch_size=1, **p)
    np.testing.assert_allclose(a1, a7, atol=1e-5)


def _bad_values(p):
    """Values the table must refuse, with why."""
    bad = ["not-a-value"]
    if p.type in (int, float):
        bad.append(float("nan"))
        if p.min is not None:
            bad.append(p.min if p.min_open else p.min - 1)
        if p.max is not None:
            bad.append(p.max if p.max_open else p.max + 1)
    if p.type is int:
        bad.append(1.5)
    if p.type is bool:
        bad.append(2)
    return bad


@pytest.mark.parametrize("name", ATTACKS.names())
def test_bad_and_unknown_parameters_are_user_errors_naming_them(name, cnn):
    spec = ATTACKS.get(name).param_spec()
    for key, p in spec.items():
        for value in _bad_values(p):
            with pytest.raises(UserError, match=rf"^{name}: {key} must be "):
                ATTACKS.create(name, cnn, **{key: value})
    with pytest.raises(UserError, match=rf"^{name}: unknown parameter not_a_param; known: .*batch_size"):
        ATTACKS.create(name, cnn, not_a_param=1)
    with pytest.raises(UserError, match="clip_min"):
        ATTACKS.create(name, cnn, clip_min=1.0, clip_max=0.0)


@pytest.mark.parametrize("name", ATTACKS.names())
def test_string_values_are_converted_by_the_table(name, cnn):
    """What `--param key=value` gives (strings) builds the same attack as typed values."""
    typed = ATTACKS.create(name, cnn, **_params(name, None))
    strings = ATTACKS.create(name, cnn, **{k: str(v) for k, v in _params(name, None).items()})
    assert strings.config == typed.config
    assert set(typed.config) == {"method"} | set(typed.param_spec()) and typed.config["method"] == name


@pytest.mark.parametrize("name", ATTACKS.names())
def test_targets_are_required_exactly_when_targeted(name, cnn, data):
    x, y = data
    cls = ATTACKS.get(name)
    spec = cls.param_spec()
    if cls.targeted_only:
        atk = ATTACKS.create(name, cnn, **_params(name, None))
        with pytest.raises(UserError, match=rf"{name} is targeted: give targets"):
            atk.attack(x, y)
    if "targeted" in spec:
        atk = ATTACKS.create(name, cnn, **_params(name, None, targeted=True))
        with pytest.raises(UserError, match=rf"{name} is targeted: give targets"):
            atk.attack(x, y)
        with pytest.raises(UserError, match="target 10 is out of range"):
            atk.attack(x[:2], y[:2], [1, 10])
        atk = ATTACKS.create(name, cnn, **_params(name, None, targeted=False))
        with pytest.raises(UserError, match=rf"{name} is untargeted: targets were given"):
            atk.attack(x, y, y)
    if getattr(cls, "label_free", False):  # PGD on the KL from the clean prediction (TRADES)
        atk = ATTACKS.create(name, cnn, **_params(name, None))
        with pytest.raises(UserError, match=rf"{name} is untargeted: targets were given"):
            atk.attack(x, y, y)
        return
    assert cls.targeted_only or "targeted" in spec, "every attack can be targeted or is targeted only"


# ---- robust accuracy with restarts: a one-pixel classifier whose flips are known by hand ----

# logits (0, 20 (x - 0.5)): class 1 iff the pixel is above 0.5. Under an L-inf attack of
# radius eps an example can be flipped iff its pixel is closer than eps to 0.5.
PIXELS = np.array([0.05, 0.30, 0.45, 0.55, 0.58, 0.70, 0.95, 0.52], np.float32)
LABELS = np.array([0, 0, 0, 1, 1, 1, 1, 0])  # the last is misclassified from the start


@pytest.fixture(scope="module")
def threshold_model():
    import keras

    m = keras.Sequential([keras.Input((1, 1, 1)), keras.layers.Flatten(), keras.layers.Dense(2)], name="pixel")
    m.layers[-1].set_weights([np.array([[0.0, 20.0]], np.float32), np.array([0.0, -10.0], np.float32)])
    return m


def test_robust_accuracy_counts_an_example_only_if_every_run_fails(threshold_model):
    from tfinterp.attacks import FGSM, PGD, robust_accuracy, robust_evaluation

    x, y = PIXELS.reshape(-1, 1, 1, 1), LABELS
    m = threshold_model
    # FGSM eps 0.1 moves every pixel 0.1 towards 0.5: flips 0.45, 0.55, 0.58
    r = robust_evaluation(m, x, y, FGSM(m, eps=0.1), restarts=3)
    assert r.clean_accuracy == 7 / 8
    np.testing.assert_array_equal(r.robust, [1, 1, 0, 0, 0, 1, 1, 0])
    assert r.accuracy == 0.5
    assert [row["examples"] for row in r.runs] == [7, 4, 4]  # only the unbroken are attacked again
    assert np.all(r.adversarial[[2, 3, 4], 0, 0, 0] == PIXELS[[2, 3, 4]] + np.float32([0.1, -0.1, -0.1]))
    assert robust_evaluation(m, x, y, FGSM(m, eps=0.1), restarts=3, attack_all=True).robust.tolist() == \
        r.robust.tolist()
    # a second, larger attack also flips 0.30 and 0.70: robust only if both fail
    both = robust_evaluation(m, x, y, [FGSM(m, eps=0.1), FGSM(m, eps=0.25)])
    np.testing.assert_array_equal(both.robust, [1, 0, 0, 0, 0, 0, 1, 0])
    # random starts, a negligible step: a run flips a pixel within eps of 0.5 only when its
    # random start crosses 0.5 (probability 1/4 for 0.45 and 0.55, 0.1 for 0.58); with 40
    # restarts every one of them falls, the far pixels never do
    rnd = dict(eps=0.1, steps=1, step_size=1e-6, seed=0)
    single = robust_accuracy(m, x, y, PGD(m, **rnd), restarts=1)
    many = robust_evaluation(m, x, y, PGD(m, **rnd), restarts=40)
    np.testing.assert_array_equal(many.robust, [1, 1, 0, 0, 0, 1, 1, 0])
    assert single > many.accuracy == 0.5
    assert robust_accuracy(m, x, y, PGD(m, **rnd), restarts="40") == 0.5  # a --param string
    with pytest.raises(UserError, match="restarts must be an integer >= 1"):
        robust_accuracy(m, x, y, FGSM(m), restarts=0)
    with pytest.raises(UserError, match="targeted: give targets"):
        robust_accuracy(m, x, y, PGD(m, targeted=True, eps=0.1, steps=1))
