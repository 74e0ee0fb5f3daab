"""ProtoNet's own explanation (Li, Liu, Chen & Rudin, AAAI 2018): the input, its
reconstruction, its nearest prototypes (decoded) with their distances, and the class scores.

Unlike a saliency map this is the network's actual reasoning: logits are a linear function
of the distances to the prototypes, so "this looks like prototype P3 (d = 1.2), which votes
for Sneaker" is exactly how the prediction was made.
"""

from __future__ import annotations

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
    from tfinterp.checks import check_images

    x = check_images(images, model=model)
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
