"""The attack commands (`tfinterp attack`, `eval --attack`, `detect`) end to end through the CLI,
and their bad inputs: one line on stderr, exit 2."""

import numpy as np


def _cli(args, capsys):
    from tfinterp.cli.main import main

    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_attack_writes_npz_figure_and_stats(idx_dir, tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    out = tmp_path / "atk"
    code, stdout, err = _cli(["attack", "cnn2", "--method", "pgd", "--dataset", "fashion_mnist", "--eps", "0.1",
                              "--steps", "5", "--limit", "12", "--defense", "threshold", "--out", str(out)], capsys)
    assert code == 0, err
    d = np.load(out / "adversarial.npz")
    assert d["adversarial"].shape == (12, 28, 28, 1)
    assert np.abs(d["adversarial"] - d["images"]).max() <= 0.1 + 1e-6
    s = json.loads((out / "summary.json").read_text())
    assert s["defense"]["mu_source"].startswith("grid search") and 0 < s["defense"]["mu"] < 1
    assert s["attack"]["eps"] == 0.1 and s["attack"]["steps"] == 5
    for f in ("examples.png", "pixel_stats.png", "pixel_stats.json"):
        assert (out / f).stat().st_size > 0
    code, stdout, err = _cli(["attack", "cnn2", "--method", "ifgs", "--dataset", "fashion_mnist", "--steps", "3",
                              "--limit", "6", "--target", "4", "--out", str(tmp_path / "t")], capsys)
    assert code == 0, err
    assert np.all(np.load(tmp_path / "t" / "adversarial.npz")["targets"] == 4)


def test_cli_eval_robustness_curve(idx_dir, tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    out = tmp_path / "ev"
    code, stdout, err = _cli(["eval", "cnn2", "--dataset", "fashion_mnist", "--attack", "pgd", "--eps", "0.1,0.3",
                              "--steps", "4", "--defense", "threshold:0.4", "--pixel-stats", "--out", str(out)],
                             capsys)
    assert code == 0, err
    r = json.loads((out / "robustness.json").read_text())
    assert [row["eps"] for row in r["results"]] == [0.1, 0.3] and r["examples"] == 20
    assert all(row["defense"]["mu"] == 0.4 and row["max_linf"] <= row["eps"] + 1e-6 for row in r["results"])
    assert (out / "robustness.png").exists() and (out / "pixel_stats.png").exists()


def test_cli_attack_bad_inputs_exit_2_one_line(idx_dir, tiny_model_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))
    monkeypatch.setattr("tfinterp.data._tfds_reachable", lambda: False)
    o = str(tmp_path / "o")
    a = ["attack", "cnn2", "--dataset", "fashion_mnist", "--limit", "4", "--out", o]
    ev = ["eval", "cnn2", "--dataset", "fashion_mnist", "--out", o]
    cases = [
        ("unknown attack", a + ["--method", "deepfool"]),
        ("negative eps", a + ["--eps", "-0.1"]),
        ("eps beyond the pixel range", a + ["--eps", "3"]),
        ("unknown norm", a + ["--norm", "l1"]),
        ("unknown loss", a + ["--loss", "hinge"]),
        ("norm for fgsm", a + ["--method", "fgsm", "--norm", "l2"]),
        ("eps for cw", a + ["--method", "cw", "--eps", "0.1"]),
        ("target out of range", a + ["--target", "12"]),
        ("unknown target", a + ["--target", "nearest"]),
        ("unknown defense", a + ["--defense", "jpeg"]),
        ("mu out of range", a + ["--defense", "threshold:1.5"]),
        ("mu not a number", a + ["--defense", "threshold:high"]),
        ("ensemble models without ensemble", a + ["--ensemble", "cnn2"]),
        ("missing ensemble model", a + ["--method", "ensemble", "--ensemble", str(tmp_path / "gone.keras")]),
        ("model and data shapes differ", ["attack", str(tiny_model_path), "--dataset", "fashion_mnist",
                                          "--out", o]),
        ("unknown dataset", ["attack", "cnn2", "--dataset", "imagenet-9000", "--out", o]),
        ("eps list with text", ev + ["--attack", "pgd", "--eps", "0.1,abc"]),
        ("eps list empty", ev + ["--attack", "pgd", "--eps", ","]),
        ("eps without attack", ev + ["--eps", "0.1"]),
        ("defense without attack", ev + ["--defense", "threshold"]),
        ("unbounded attack in eval", ev + ["--attack", "cw"]),
        ("detector unknown layer", ["detect", "cnn2", "--dataset", "fashion_mnist", "--layer", "conv99",
                                    "--out", o]),
    ]
    for name, argv in cases:
        code, out, err = _cli(argv, capsys)
        # cnn2 here is the untrained zoo model: load_model says so in its own line before the error
        lines = [ln for ln in err.splitlines() if ln.strip() and "random weights (untrained)" not in ln]
        assert code == 2, (name, code, err)
        assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), (name, err)
