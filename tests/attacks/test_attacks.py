"""Attacks: invariants for every attack, and answers known by theory on linear models.

A linear softmax model z = W x + b fitted by scikit-learn on the real 8x8 digits is the
toy model: for it the exact worst case of an L-inf attack is known in closed form, the
FGSM step is known analytically, and the minimal L2 distance to a binary decision
boundary is |margin| / ||w_1 - w_0||.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfinterp.errors import UserError


def _digits(classes=None, n=300):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    if classes is not None:
        keep = np.isin(y, classes)
        x, y = x[keep], np.searchsorted(classes, y[keep])
    return x[:n], y[:n]


def _linear_model(x, y, C=1.0, name="linear"):
    """Keras Flatten -> Dense with the weights of a scikit-learn logistic regression."""
    import keras
    from sklearn.linear_model import LogisticRegression

    k = int(y.max()) + 1
    clf = LogisticRegression(C=C, max_iter=2000).fit(x.reshape(len(x), -1), y)
    W, b = clf.coef_, clf.intercept_
    if k == 2:  # sklearn's binary form: one row; as two logits, [0, z]
        W, b = np.vstack([np.zeros_like(W), W]), np.r_[0.0, b]
    m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(name="flat"),
                          keras.layers.Dense(k, name="logits")], name=name)
    m.get_layer("logits").set_weights([W.T.astype(np.float32), b.astype(np.float32)])
    return m, W.astype(np.float64), b.astype(np.float64)


@pytest.fixture(scope="module")
def digits():
    return _digits()


@pytest.fixture(scope="module")
def linear(digits):
    x, y = digits
    return _linear_model(x, y)


def _acc(model, x, y):
    return float((np.asarray(model(x)).argmax(-1) == y).mean())


def exact_linf_robust(W, b, x, y, eps):
    """Exact robust accuracy of a linear model under L-inf eps with pixels in [0, 1].

    For each rival class j, max over the box of (w_j - w_y).x' is reached coordinate-wise
    at clip(x + eps * sign(w_j - w_y)); the example is robust iff no rival can win.
    """
    xf = x.reshape(len(x), -1).astype(np.float64)
    ok = np.ones(len(x), bool)
    for j in range(W.shape[0]):
        d = W[j][None] - W[y]                            # [N, D]
        xs = np.clip(xf + eps * np.sign(d), 0, 1)
        gap = (d * xs).sum(1) + b[j] - b[y]
        ok &= ~((gap > 0) & (j != y))
    return float(ok.mean())


def _attack(name, model, **kw):
    from tfinterp.attacks import get_attack

    return get_attack(name, model, **kw)


EPS_CASES = [
    ("fgsm", dict(eps=0.1), "inf", 0.1),
    ("pgd", dict(eps=0.1, steps=10, step_size=0.02), "inf", 0.1),
    ("pgd", dict(eps=0.1, steps=10, step_size=0.02, loss="margin", restarts=2), "inf", 0.1),
    ("pgd", dict(eps=1.0, steps=10, step_size=0.3, norm="l2"), "l2", 1.0),
    ("ifgs", dict(steps=10, step_size=0.01, eps=0.05), "inf", 0.05),
    ("ensemble", dict(steps=10, eps=0.08), "inf", 0.08),
    ("cw", dict(steps=20, binary_search_steps=2), None, None),
]


@pytest.mark.parametrize("name,params,norm,eps", EPS_CASES, ids=[c[0] + "-" + str(i) for i, c in enumerate(EPS_CASES)])
def test_every_attack_stays_in_range_and_ball(name, params, norm, eps, digits):
    """Invariants on a nonlinear CNN: [0, 1], the eps ball, shape, dtype, finite values."""
    import keras

    keras.utils.set_random_seed(1)
    cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                            keras.layers.Flatten(), keras.layers.Dense(10)])
    x, y = digits[0][:40], digits[1][:40]
    atk = _attack(name, cnn, batch_size=16, seed=0, **params)
    targets = (y + 1) % 10 if atk.is_targeted else None
    adv = atk.attack(x, y, targets)
    assert adv.shape == x.shape and adv.dtype == np.float32 and np.all(np.isfinite(adv))
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    d = (adv - x).reshape(len(x), -1)
    if norm == "inf":
        assert np.abs(d).max() <= eps + 1e-6
    elif norm == "l2":
        assert np.linalg.norm(d, axis=1).max() <= eps * (1 + 1e-5)
    assert np.abs(d).max() > 0  # it did move


def test_fgsm_equals_the_analytic_step(linear, digits):
    """FGSM on z = Wx + b: grad_x CE = W^T (softmax(z) - onehot(y))."""
    model, W, b = linear
    x, y = digits[0][:50], digits[1][:50]
    adv = _attack("fgsm", model, eps=0.07).attack(x, y)
    xf = x.reshape(len(x), -1).astype(np.float64)
    z = xf @ W.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = (p - np.eye(W.shape[0])[y]) @ W
    expected = np.clip(xf + 0.07 * np.sign(g), 0, 1).reshape(x.shape)
    assert np.abs(adv - expected).max() < 1e-5


def test_pgd_matches_the_exact_worst_case_of_a_linear_model(linear, digits):
    """No attack can beat the exact robust accuracy; PGD with restarts comes within 3 points."""
    from tfinterp.attacks import PGD

    model, W, b = linear
    x, y = digits
    for eps in (0.05, 0.1):
        exact = exact_linf_robust(W, b, x, y, eps)
        adv = PGD(model, eps=eps, steps=30, step_size=eps / 4, loss="margin", restarts=2, seed=0).attack(x, y)
        acc = _acc(model, adv, y)
        assert exact - 1e-9 <= acc <= exact + 0.03, (eps, exact, acc)


def test_untargeted_pgd_drives_an_undefended_model_to_zero(linear, digits):
    from tfinterp.attacks import PGD

    model, _, _ = linear
    x, y = digits
    assert _acc(model, x, y) > 0.95
    adv = PGD(model, eps=0.3, steps=20, step_size=0.03, batch_size=64, seed=0).attack(x, y)
    assert _acc(model, adv, y) < 0.02


def test_pgd_l2_untargeted_and_targeted(linear, digits):
    from tfinterp.attacks import PGD, random_targets

    model, _, _ = linear
    x, y = digits
    adv = PGD(model, eps=2.0, steps=20, norm="l2", seed=0).attack(x, y)
    assert _acc(model, adv, y) < 0.1
    t = random_targets(y, 10, seed=3)
    assert np.all(t != y)
    adv = PGD(model, eps=0.5, steps=40, step_size=0.05, targeted=True, loss="margin", seed=0).attack(x, y, t)
    hit = (np.asarray(model(adv)).argmax(-1) == t).mean()
    assert hit > 0.95


def test_restarts_keep_the_worst_case(linear, digits):
    """With tiny steps each restart is ~ a random start; keeping the best of 8 raises the loss."""
    from tfinterp.attacks import PGD
    from tfinterp.attacks.base import ce_loss

    model, _, _ = linear
    x, y = digits
    kw = dict(eps=0.1, steps=1, step_size=1e-6, seed=0)
    one = PGD(model, restarts=1, **kw).attack(x, y)
    eight = PGD(model, restarts=8, **kw).attack(x, y)
    l1 = ce_loss(model(one), y).numpy()
    l8 = ce_loss(model(eight), y).numpy()
    assert np.mean(l8 > l1) > 0.8 and l8.mean() > l1.mean()


def test_iterative_targeted_fgs_reaches_the_target(linear, digits):
    from tfinterp.attacks import IterativeTargetedFGS, least_likely_targets

    model, _, _ = linear
    x, y = digits
    t = least_likely_targets(model, x)
    probs = tf.nn.softmax(model(x)).numpy()
    assert np.array_equal(t, probs.argmin(-1))
    adv = IterativeTargetedFGS(model, steps=10, step_size=0.04).attack(x, y, t)
    assert np.abs(adv - x).max() <= 10 * 0.04 + 1e-6
    assert (np.asarray(model(adv)).argmax(-1) == t).mean() > 0.95
    with pytest.raises(UserError, match="targeted"):
        IterativeTargetedFGS(model).attack(x, y)


def test_ensemble_attack_fools_every_member_and_lambda_trades_distance(digits):
    from tfinterp.attacks import EnsembleAttack, least_likely_targets

    x, y = digits
    m1, _, _ = _linear_model(x, y, C=1.0, name="a")
    m2, _, _ = _linear_model(x[::-1], y[::-1], C=0.05, name="b")
    t = least_likely_targets([m1, m2], x)
    adv = EnsembleAttack([m1, m2], lam=0.01, steps=20, step_size=0.04).attack(x, y, t)
    assert adv.min() >= 0 and adv.max() <= 1
    for m in (m1, m2):
        assert (np.asarray(m(adv)).argmax(-1) == t).mean() > 0.9
    far = np.linalg.norm((adv - x).reshape(len(x), -1), axis=1).mean()
    adv2 = EnsembleAttack([m1, m2], lam=5.0, steps=20, step_size=0.04).attack(x, y, t)
    near = np.linalg.norm((adv2 - x).reshape(len(x), -1), axis=1).mean()
    assert near < far


def test_carlini_wagner_finds_the_minimal_l2_distance_of_a_binary_linear_model():
    """Distance to the hyperplane |m| / ||w1 - w0|| is a lower bound; C&W gets within 15 %."""
    from tfinterp.attacks import CarliniWagnerL2

    x, y = _digits(classes=[3, 8], n=120)
    model, W, b = _linear_model(x, y, C=0.5)
    xf = x.reshape(len(x), -1).astype(np.float64)
    z = xf @ W.T + b
    right = z.argmax(1) == y
    bound = np.abs(z[:, 1] - z[:, 0]) / np.linalg.norm(W[1] - W[0])
    adv = CarliniWagnerL2(model, steps=200, binary_search_steps=8, learning_rate=0.05,
                          initial_const=1.0).attack(x, y)
    fooled = np.asarray(model(adv)).argmax(-1) != y
    assert fooled[right].mean() > 0.95
    dist = np.linalg.norm((adv - x).reshape(len(x), -1), axis=1)
    ok = right & fooled
    assert np.all(dist[ok] >= bound[ok] * (1 - 1e-3))
    assert np.median(dist[ok] / bound[ok]) < 1.15
    assert adv.min() >= 0 and adv.max() <= 1


def test_one_trace_for_any_batch_size_and_perturb_inside_a_train_step(linear, digits):
    from tfinterp.attacks import PGD

    model, _, _ = linear
    x, y = digits
    atk = PGD(model, eps=0.1, steps=3, batch_size=64)
    atk.attack(x[:100], y[:100])
    atk.attack(x[:37], y[:37])
    assert atk._compiled.experimental_get_tracing_count() == 1

    @tf.function
    def step(xb, yb):  # what an adversarial-training step does: perturb inside the graph
        return atk.perturb(xb, tf.cast(yb, tf.int32), tf.cast(yb, tf.int32))

    adv = step(tf.constant(x[:20]), tf.constant(y[:20])).numpy()
    assert np.abs(adv - x[:20]).max() <= 0.1 + 1e-6


@pytest.mark.parametrize("kwargs,match", [
    (dict(eps=-0.1), "eps must be"),
    (dict(eps=float("nan")), "eps must be"),
    (dict(steps=0), "steps must be"),
    (dict(norm="l1"), "norm must be"),
    (dict(loss="hinge"), "loss must be"),
    (dict(restarts=0), "restarts must be"),
    (dict(batch_size=0), "batch_size must be"),
    (dict(epsilon=0.1), "unknown parameter"),
    (dict(eps=2.0), "larger than the pixel range"),
    (dict(clip_min=1.0, clip_max=0.0), "clip_min"),
])
def test_parameters_are_validated_in_one_place(linear, kwargs, match):
    from tfinterp.attacks import PGD

    with pytest.raises(UserError, match=match):
        PGD(linear[0], **kwargs)


def test_inputs_are_validated(linear, digits):
    from tfinterp.attacks import PGD, get_attack, select_targets

    model, _, _ = linear
    x, y = digits
    atk = PGD(model, eps=0.1, steps=2)
    with pytest.raises(UserError, match="out of range"):
        atk.attack(x[:4], [0, 1, 2, 10])
    with pytest.raises(UserError, match="NaN"):
        atk.attack(np.full_like(x[:2], np.nan), y[:2])
    with pytest.raises(UserError, match="shape"):
        atk.attack(np.zeros((2, 9, 9, 1), np.float32), y[:2])
    with pytest.raises(UserError, match="3 labels for 4"):
        atk.attack(x[:4], y[:3])
    with pytest.raises(UserError, match="untargeted"):
        atk.attack(x[:4], y[:4], targets=y[:4])
    with pytest.raises(UserError, match="unknown attack"):
        get_attack("deepfool", model)
    with pytest.raises(UserError, match="unknown target"):
        select_targets("nearest", model, x[:4], y[:4])
    assert np.array_equal(select_targets("7", model, x[:4], y[:4]), [7, 7, 7, 7])


def test_pixel_statistics_known_answer():
    from tfinterp.attacks.evaluate import pixel_statistics

    nat = np.zeros((2, 4, 4, 1), np.float32)
    nat[:, :2] = 1.0                       # half black, half white
    adv = np.clip(nat + 0.1, 0, 1)         # nothing black any more
    s = pixel_statistics({"natural": nat, "adversarial": adv}, bins=10)
    assert s["sets"]["natural"]["black_fraction"] == 0.5
    assert s["sets"]["adversarial"]["black_fraction"] == 0.0
    h = np.asarray(s["sets"]["adversarial"]["grey_histogram"])
    assert h[1] == pytest.approx(0.5) and h[-1] == pytest.approx(0.5)


def test_robustness_curve_with_and_without_threshold(linear, digits):
    from tfinterp.attacks.evaluate import robustness

    model, W, b = linear
    x, y = digits
    res = robustness(model, x, y, "pgd", [0.05, 0.2], steps=20, loss="margin", restarts=2, seed=0)
    accs = [r["accuracy"] for r in res["results"]]
    assert res["clean_accuracy"] > accs[0] > accs[1]
    assert accs[0] >= exact_linf_robust(W, b, x, y, 0.05) - 1e-9
    defended = robustness(model, x, y, "pgd", [0.05], defense=("threshold", 0.5), steps=20, seed=0)
    assert defended["results"][0]["defense"]["mu"] == 0.5
