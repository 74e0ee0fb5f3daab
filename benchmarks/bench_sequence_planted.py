"""Sequence models on the planted-motif benchmark: held-out accuracy beside a PWM-score oracle.

The held-out sequences are the test part of the seeded split of a `train sequence` config
(`tfinterp.data.seqsets.split_sequences`), so the numbers are those of the models trained with
that config. The oracle knows the true PWMs: its features are, per sequence, the best
log-odds window score of each of the four motifs (GATA, TATA, EBOX, AP1), and a gradient
boosting classifier (scikit-learn) trained on the same training part maps them to the class.
It is a ceiling reference for what the noisy motifs allow, not a bound.

    python benchmarks/bench_sequence_planted.py --models runs/seqcnn_planted/seqcnn_planted.keras \
        runs/seqlstm_planted/seqlstm_planted.keras
"""

from __future__ import annotations

import numpy as np

import _common  # benchmarks/_common.py; no TensorFlow import


def best_scores(data, pwms):
    """(N, motifs) best log-odds window score of each PWM in each sequence."""
    from tfinterp.data.planted import log_odds

    out = []
    for pwm in pwms.values():
        win = np.lib.stride_tricks.sliding_window_view(data.x, (len(pwm), 4), axis=(1, 2))[:, :, 0]
        out.append(np.einsum("nlwa,wa->nl", win, log_odds(pwm)).max(1))
    return np.stack(out, 1)


def main():
    ap = _common.parser(__doc__, config="sequence_seqcnn_planted.toml", out="sequence_planted.json")
    ap.add_argument("--models", nargs="*", default=[], help=".keras files or shipped stems to score")
    args = ap.parse_args()
    from sklearn.ensemble import GradientBoostingClassifier

    from tfinterp.data.seqsets import split_sequences
    from tfinterp.runs.sequence import SequenceTrainConfig, load_data

    cfg = SequenceTrainConfig.from_dict(_common.read_config(args.config)["sequence"])
    data = load_data(cfg)
    train, _, test = split_sequences(data, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    pwms = data.meta["pwms"]
    oracle = GradientBoostingClassifier(random_state=0).fit(best_scores(train, pwms), train.y)
    pred = oracle.predict(best_scores(test, pwms))
    rows = {"pwm_score_oracle": _scores(pred, test.y, data.class_names)}
    if args.models:
        from tfinterp.models import load_model

        for spec in args.models:
            model = load_model(spec)
            p = np.asarray(model.predict(test.x, batch_size=256, verbose=0)).argmax(1)
            rows[str(spec)] = _scores(p, test.y, data.class_names)
    for name, r in rows.items():
        print(f"{name:50s} accuracy {r['accuracy']:.4f}  per class {r['per_class']}")
    _common.write_result(args.out, {**_common.header(), "config": cfg.asdict(), "test_examples": len(test),
                                    "results": rows})


def _scores(pred, y, names):
    return {"accuracy": float((pred == y).mean()),
            "per_class": {names[c]: round(float((pred[y == c] == c).mean()), 4) for c in range(len(names))}}


if __name__ == "__main__":
    main()
