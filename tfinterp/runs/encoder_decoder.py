"""`tfinterp train encoder-decoder` and `tfinterp figure encoder-decoder`: the natural / robust
encoder-classifier-decoder of Zheng et al., "Insights from Attacking Interpretable Models"
(section 3, Table 3, Figure 6).

`train` runs both stages (`tfinterp.training.encoder_decoder`). `compare` takes a natural and
a robust model, attacks the same test images with L-inf PGD against each (the classifier's
cross-entropy, or the reconstruction error with ``attack="autoencoder"``), decodes each
model's latent code of its adversarial examples, and writes ``encoder_decoder_comparison.png``
(originals; per model its adversarial inputs, their reconstructions and the reconstructions of
the clean images, with predictions and errors) and ``encoder_decoder_comparison.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

ATTACKS = ("classifier", "autoencoder")


def train(cfg, out, verbose=1, command=None, fresh=False) -> dict:
    """Train the encoder-classifier-decoder of `cfg` (both stages) under `out`; the JSON dict."""
    from tfinterp.training.encoder_decoder import train_encoder_decoder

    return train_encoder_decoder(cfg, out, verbose=verbose, command=command, fresh=fresh)


def require_encoder_decoder(model, what="model"):
    """`UserError` unless `model` is an encoder-classifier-decoder."""
    if not all(hasattr(model, a) for a in ("encode", "decode", "classify")):
        raise UserError(f"the {what} must be an encoder-classifier-decoder (tfinterp train encoder-decoder); "
                        f"got a {type(model).__name__}")


def pick_images(models, images, labels, per_class=1, seed=0):
    """Indices of test images that every model in `models` classifies correctly: `per_class`
    of each class, the first ones of a seeded order (the image of a class that none gets right
    is the first of that class, so every class appears)."""
    from tfinterp.attacks.robust import predict_classes
    from tfinterp.data.splits import permutation

    ok = np.ones(len(images), bool)
    for m in models:
        ok &= predict_classes(m, images) == labels
    order = permutation(len(images), seed)
    out = []
    for c in np.unique(labels):
        good = [i for i in order if labels[i] == c and ok[i]]
        good = good or [i for i in order if labels[i] == c]
        out.extend(int(i) for i in good[:per_class])
    return np.array(out, np.int64)


def attack_and_decode(model, images, labels, attack="classifier", eps=0.3, steps=20, seed=0, batch_size=256):
    """Adversarial examples against `model` (L-inf PGD, random start, step 2.5 * eps / steps),
    h(f(.)) of them and of the clean images, and g(f(.))'s predictions on each. A dict of arrays."""
    import tensorflow as tf

    from tfinterp.attacks import PGD
    from tfinterp.training.encoder_decoder import ReconstructionPGD

    x = np.asarray(images, np.float32)
    y = np.asarray(labels, np.int64)
    if attack == "classifier":
        adv = PGD(model, eps=eps, steps=steps, norm="inf", random_start=True, seed=seed,
                  batch_size=batch_size).attack(x, y)
    else:
        adv = ReconstructionPGD(model, eps=eps, steps=steps, seed=seed, batch_size=batch_size).attack(x)

    @tf.function(input_signature=[tf.TensorSpec((None,) + x.shape[1:], tf.float32)])
    def run(batch):
        logits, recon, _ = model.forward_all(batch, training=False)
        return tf.argmax(logits, -1), recon, tf.argmax(model(recon, training=False), -1)

    def apply(a):
        parts = [run(tf.constant(a[i:i + batch_size])) for i in range(0, len(a), batch_size)]
        return [np.concatenate([p[k].numpy() for p in parts]) for k in range(3)]

    pred_clean, recon_clean, pred_recon_clean = apply(x)
    pred_adv, recon_adv, pred_recon_adv = apply(adv)
    err = lambda r: ((r - x) ** 2).reshape(len(x), -1).mean(1)  # noqa: E731
    return {"adversarial": adv, "pred_clean": pred_clean, "pred_adv": pred_adv,
            "recon_clean": recon_clean, "recon_adv": recon_adv,
            "pred_recon_clean": pred_recon_clean, "pred_recon_adv": pred_recon_adv,
            "mse_recon_clean": err(recon_clean), "mse_recon_adv": err(recon_adv),
            "linf": np.abs(adv - x).reshape(len(x), -1).max(1)}


def compare(natural_spec: str, robust_spec: str, out, dataset="mnist", per_class=1, attack="classifier",
            eps=0.3, steps=20, seed=0, limit=None, command=None, unsafe_deserialization=False) -> dict:
    """The side-by-side figure (Zheng et al., Fig. 6) of a natural and a robust model on the same
    test images; also the mean reconstruction errors over `limit` test images (all when None)."""
    if attack not in ATTACKS:
        raise UserError(f"--attack must be one of {', '.join(ATTACKS)}, got '{attack}'")
    if not 0 < eps <= 1:
        raise UserError(f"--eps must be in (0, 1], got {eps}")
    if steps < 1 or per_class < 1:
        raise UserError(f"--steps and --per-class must be at least 1, got {steps} and {per_class}")
    from tfinterp.data import load_arrays
    from tfinterp.models import load_model
    from tfinterp.utils import write_json
    from tfinterp.viz.encoder_decoder import save_reconstruction_comparison

    models = {}
    for kind, spec in (("natural", natural_spec), ("robust", robust_spec)):
        m = load_model(spec, unsafe_deserialization=unsafe_deserialization)
        require_encoder_decoder(m, f"--{kind} model")
        models[kind] = m
    shapes = {tuple(m.image_shape) for m in models.values()}
    if len(shapes) > 1:
        raise UserError(f"the two models take different inputs ({' vs '.join(map(str, shapes))})")
    x, y = load_arrays(dataset, "test", materialize=True)
    x = np.asarray(x, np.float32)
    if tuple(x.shape[1:]) != shapes.pop():
        raise UserError(f"{dataset} images are {tuple(x.shape[1:])}; the models take "
                        f"{tuple(models['natural'].image_shape)}")
    idx = pick_images(list(models.values()), x, y, per_class, seed)
    res = {k: attack_and_decode(m, x[idx], y[idx], attack, eps, steps, seed) for k, m in models.items()}

    names = models["natural"].class_names or [str(c) for c in range(int(models["natural"].num_classes))]
    rows, row_titles, cells = [list(x[idx])], ["original"], [[f"{names[c]}" for c in y[idx]]]
    for kind, r in res.items():
        rows += [list(r["adversarial"]), list(r["recon_adv"]), list(r["recon_clean"])]
        row_titles += [f"{kind}:\nadversarial", f"{kind}:\nrecon. of adv.", f"{kind}:\nrecon. of clean"]
        cells += [[f"pred {names[p]}" for p in r["pred_adv"]],
                  [f"{e:.3f} | {names[p]}" for e, p in zip(r["mse_recon_adv"], r["pred_recon_adv"])],
                  [f"{e:.3f} | {names[p]}" for e, p in zip(r["mse_recon_clean"], r["pred_recon_clean"])]]
    out = Path(out)
    title = (f"PGD L-inf eps {eps:g}, {steps} steps, against the {attack}, on {dataset} test images; "
             "recon. titles: MSE per pixel vs the clean image | g(f(recon.))")
    fig = save_reconstruction_comparison(out / "encoder_decoder_comparison.png", rows, row_titles, cells, title)

    summary = {"command": command, "natural": natural_spec, "robust": robust_spec, "dataset": dataset,
               "attack": {"against": attack, "method": "pgd", "norm": "inf", "eps": eps, "steps": steps,
                          "step_size": 2.5 * eps / steps, "random_start": True, "seed": seed},
               "test_indices": idx, "labels": y[idx], "figure": str(fig),
               "shown": {k: {key: r[key] for key in ("pred_clean", "pred_adv", "pred_recon_adv", "mse_recon_adv",
                                                     "mse_recon_clean", "linf")} for k, r in res.items()}}
    if limit != 0:  # means over more test images than the figure shows
        from tfinterp.data.splits import permutation

        sel = np.sort(permutation(len(x), seed)[:limit]) if limit else np.arange(len(x))
        summary["test_means"] = {"examples": int(len(sel))}
        for k, m in models.items():
            r = attack_and_decode(m, x[sel], y[sel], attack, eps, steps, seed)
            summary["test_means"][k] = {
                "clean_accuracy": float(np.mean(r["pred_clean"] == y[sel])),
                "adversarial_accuracy": float(np.mean(r["pred_adv"] == y[sel])),
                "recon_mse_clean": float(r["mse_recon_clean"].mean()),
                "recon_mse_adversarial": float(r["mse_recon_adv"].mean()),
                "accuracy_on_recon_of_adversarial": float(np.mean(r["pred_recon_adv"] == y[sel])),
                "input_mse_adversarial": float(np.mean((r["adversarial"] - x[sel]) ** 2))}
    write_json(out / "encoder_decoder_comparison.json", summary)
    return summary
