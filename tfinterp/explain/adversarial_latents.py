"""Adversarial latent reconstructions (Zheng et al., "Insights from Attacking Interpretable
Models", Fig. 3): attack a model with an encoder and a decoder (a ProtoNet, or the
encoder-classifier-decoder of the paper's section 3) with PGD for increasing iteration counts
and decode the adversarial latent codes with the network's own decoder, to see how the
perturbation moves the code (for example, a targeted 8 -> 0 attack erases the middle of the
8 in latent space).
"""

from __future__ import annotations

import numpy as np

from tfinterp.errors import UserError


def require_protonet(model):
    """`UserError` unless `model` is a classifier with an encoder and a decoder (``encode`` /
    ``decode``): a ProtoNet or an encoder-classifier-decoder."""
    if not hasattr(model, "encode") or not hasattr(model, "decode"):
        raise UserError(f"adversarial latent reconstructions need a ProtoNet or an encoder-classifier-decoder "
                        f"(encoder + decoder); got a {type(model).__name__}")


def adversarial_latents(model, images, labels, targets=None, steps=(0, 10, 20, 50, 100), eps=0.3,
                        step_size=0.01, batch_size=256) -> dict:
    """Run L-inf PGD (Madry et al. 2018, no random start) for each count in `steps` and decode.

    `targets` gives one target class per image, or -1 for an untargeted attack on that row.
    With a fixed `step_size`, more iterations move farther (up to `eps`), as in the paper.
    Returns arrays over [rows, len(steps)]: ``adversarial`` and ``decoded`` images,
    ``predicted`` classes and their ``probability``, and ``target_probability``
    (the probability of the target class, or of the true class for untargeted rows).
    """
    import tensorflow as tf

    from tfinterp.attacks import PGD

    require_protonet(model)
    steps = [int(s) for s in steps]
    if not steps or min(steps) < 0:
        raise UserError(f"iteration counts must be non-negative integers, got {steps}")
    x = np.asarray(images, np.float32)
    y = np.asarray(labels, np.int64).reshape(-1)
    t = np.full(len(x), -1, np.int64) if targets is None else np.asarray(targets, np.int64).reshape(-1)
    if len(y) != len(x) or len(t) != len(x):
        raise UserError(f"got {len(x)} images, {len(y)} labels and {len(t)} targets")
    targeted = t >= 0
    adv = np.repeat(x[:, None], len(steps), axis=1)
    for j, n in enumerate(steps):
        if n == 0:
            continue
        for mask, is_t in ((~targeted, False), (targeted, True)):
            if mask.any():
                pgd = PGD(model, eps=float(eps), steps=n, step_size=float(step_size), norm="inf",
                          targeted=is_t, loss="ce", random_start=False, restarts=1, batch_size=batch_size)
                adv[mask, j] = pgd.attack(x[mask], y[mask], t[mask] if is_t else None)
    flat = adv.reshape((-1,) + x.shape[1:])

    @tf.function(input_signature=[tf.TensorSpec((None,) + x.shape[1:], tf.float32)])
    def run(batch):
        logits = model(batch, training=False)
        recon = model.decode(model.encode(batch, training=False), training=False)
        return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1), recon

    outs = [run(tf.constant(flat[i:i + batch_size])) for i in range(0, len(flat), batch_size)]
    probs = np.concatenate([o[0].numpy() for o in outs]).reshape(len(x), len(steps), -1)
    decoded = np.concatenate([o[1].numpy() for o in outs]).reshape(adv.shape)
    focus = np.where(targeted, t, y)
    return {"steps": steps, "adversarial": adv, "decoded": decoded, "predicted": probs.argmax(-1),
            "probability": probs.max(-1), "target_probability": probs[np.arange(len(x)), :, focus],
            "labels": y, "targets": t, "linf": np.abs(adv - x[:, None]).reshape(len(x), len(steps), -1).max(-1)}


def pick_examples(model, images, labels, untargeted_classes=(), targeted_pairs=()):
    """First correctly classified test image of each requested class (untargeted rows), then of
    each source class of the (source, target) pairs (the first of the class if none is
    classified correctly). Returns (indices, targets)."""
    require_protonet(model)
    pred = np.concatenate([np.asarray(model(images[i:i + 512], training=False)).argmax(-1)
                           for i in range(0, len(images), 512)])
    indices, targets = [], []
    for c, tgt in [(c, -1) for c in untargeted_classes] + list(targeted_pairs):
        ok = [i for i in np.flatnonzero((labels == c) & (pred == c)) if i not in indices]
        ok = ok or list(np.flatnonzero(labels == c))  # none classified right: take the first anyway
        if not len(ok):
            raise UserError(f"no test image of class {c}")
        indices.append(int(ok[0]))
        targets.append(int(tgt))
    return np.array(indices), np.array(targets)
