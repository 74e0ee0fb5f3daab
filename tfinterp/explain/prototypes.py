"""ProtoNet's own explanation (Li, Liu, Chen & Rudin, AAAI 2018): the input, its
reconstruction, its nearest prototypes (decoded) with their distances, and the class scores.

Unlike a saliency map this is the network's actual reasoning: logits are a linear function
of the distances to the prototypes, so "this looks like prototype P3 (d = 1.2), which votes
for Sneaker" is exactly how the prediction was made.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def explain_prototypes(model, images, k: int = 3, batch_size: int = 256) -> dict:
    """Batched ProtoNet explanation of `images` [N,H,W,C].

    Returns NumPy arrays: ``probabilities`` [N, classes], ``reconstructions`` [N,H,W,C],
    ``distances`` [N, m], ``nearest`` [N, k] prototype indices (closest first), and
    ``prototype_images`` [m,H,W,C], ``prototype_class`` [m] (the class each prototype votes for).
    """
    import tensorflow as tf

    if not hasattr(model, "prototype_distances") or not hasattr(model, "decoded_prototypes"):
        raise UserError(f"--method prototypes needs a ProtoNet model; '{model.name}' is a "
                        f"{type(model).__name__} (train one with `tfinterp train protonet`)")
    from tfinterp.explain.base import check_images

    x = check_images(images, model)
    k = max(1, min(int(k), model.num_prototypes))

    @tf.function(input_signature=[tf.TensorSpec((None,) + x.shape[1:], tf.float32)])
    def run(batch):
        logits, recon, d, _ = model.forward_all(batch, training=False)
        return tf.nn.softmax(logits, axis=-1), recon, d

    parts = [run(tf.constant(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    probs, recon, dist = (np.concatenate([p[j].numpy() for p in parts]) for j in range(3))
    w = np.asarray(model.classifier.kernel)
    return {"probabilities": probs, "reconstructions": recon, "distances": dist,
            "nearest": np.argsort(dist, axis=1)[:, :k],
            "prototype_images": model.decoded_prototypes().numpy(),
            "prototype_class": (-w).argmax(axis=1)}


def explain_prototype_files(items, model: str, target=None, batch_size=32, out=Path("."), k: int = 3):
    """`tfinterp explain --method prototypes`: one figure and one JSON per image under `out`."""
    from tfinterp.explain.run import read_inputs
    from tfinterp.models import load_model
    from tfinterp.utils import write_json
    from tfinterp.viz.protonet import save_prototype_explanation

    net = load_model(model)
    if not hasattr(net, "prototype_distances"):
        raise UserError(f"--method prototypes needs a ProtoNet model; '{model}' is a {type(net).__name__} "
                        "(train one with `tfinterp train protonet`)")
    names, x = read_inputs(items, net)
    if target is not None:
        raise UserError("--method prototypes explains the predicted class; drop --target")
    res = explain_prototypes(net, x, k=k, batch_size=max(batch_size, 1))
    classes = net.class_names or [str(c) for c in range(net.num_classes)]
    proto_labels = [classes[c] for c in res["prototype_class"]]
    written = []
    for i, name in enumerate(names):
        p = res["probabilities"][i]
        pred = int(p.argmax())
        ids = res["nearest"][i]
        dists = res["distances"][i][ids]
        title = f"{name}: predicted {classes[pred]} (p={p[pred]:.3f})"
        fig = save_prototype_explanation(out / f"{name}_prototypes.png", x[i], res["reconstructions"][i],
                                         res["prototype_images"], ids, dists, p, classes, proto_labels, title)
        summary = {"image": name, "method": "prototypes", "model": model, "target": pred,
                   "target_name": classes[pred], "probability": float(p[pred]), "predicted": pred,
                   "probabilities": [float(v) for v in p],
                   "reconstruction_error": float(np.sum((res["reconstructions"][i] - x[i]) ** 2)),
                   "nearest_prototypes": [{"prototype": int(j), "distance": float(d),
                                           "votes_for": proto_labels[int(j)]} for j, d in zip(ids, dists)],
                   "distances": [float(v) for v in res["distances"][i]],
                   "overlay": str(fig)}
        write_json(out / f"{name}_prototypes.json", summary)
        written.append(summary)
    return written
