"""`tfinterp analyze adversarial-set | ratios | detect | trace` through the CLI, on the fake
Fashion-MNIST IDX files and a tiny untrained model; bad input is one line, exit 2."""

import json

import keras
import numpy as np
import pytest

from conftest import write_fake_fashion
from tfinterp.cli.main import main


def run(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def models28(tmp_path_factory):
    from tfinterp import models

    d = tmp_path_factory.mktemp("m28")
    keras.utils.set_random_seed(0)
    models.get("vggsmall", input_shape=(28, 28, 1), num_classes=10, filters=(4, 4, 4),
               convs=(1, 1, 1)).save(d / "tiny28.keras")
    models.get("vggsmall", input_shape=(28, 28, 1), num_classes=5, filters=(4, 4, 4),
               convs=(1, 1, 1)).save(d / "five.keras")
    models.get("vggsmall", input_shape=(32, 32, 1), num_classes=10, filters=(4, 4, 4),
               convs=(1, 1, 1)).save(d / "wide.keras")
    return d


@pytest.fixture(scope="module")
def adv_set(models28, tmp_path_factory):
    """One adversarial set for the module's tests (made through the CLI), on the fake IDX files."""
    tmp = tmp_path_factory.mktemp("adv")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TFINTERP_CACHE_DIR", str(tmp / "cache"))
        data = write_fake_fashion(tmp / "data")
        mp.setenv("TFINTERP_DATA_DIR", str(data))
        code = main([str(a) for a in ["analyze", "adversarial-set", models28 / "tiny28.keras", "--dataset",
                                      "fashion_mnist", "--limit", "6", "--k", "2", "--attack", "pgd", "--eps", "0.3",
                                      "--steps", "3", "--chunk-size", "4", "--out", tmp / "adv"]])
        assert code == 0
        yield tmp / "adv", data


@pytest.fixture(autouse=True)
def _data(adv_set, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(adv_set[1]))


def test_the_analysis_commands(adv_set, models28, tmp_path, capsys):
    adv_set = adv_set[0]
    m = models28 / "tiny28.keras"
    z = np.load(adv_set / "adversarial_set.npz")
    assert json.loads(str(z["meta"]))["dataset"] == "fashion_mnist" and len(z["images"]) == 12
    summary = json.loads((adv_set / "summary.json").read_text())
    assert summary["k"] == 2 and (adv_set / "examples.png").exists()

    code, out, err = run(["analyze", "ratios", m, "--adversarial-set", adv_set, "--all", "--out", tmp_path / "r0"],
                         capsys)
    assert code == 0 and "n/a" in out, err  # one real image per class: no within-class distance
    code, out, err = run(["analyze", "ratios", m, "--adversarial-set", adv_set, "--all", "--bank-limit", "20",
                          "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    r = json.loads((tmp_path / "r" / "ratios.json").read_text())
    assert r["n"] == 12 and r["bank_images"] == 20 and len(r["r1"]) == 12
    assert np.all(np.isfinite(r["r1"])) and abs(np.mean(r["r1"]) - r["mean_r1"]) < 1e-9
    assert (tmp_path / "r" / "ratios.png").exists() and "mean r1" in out

    code, out, err = run(["analyze", "detect", m, "--adversarial-set", adv_set / "adversarial_set.npz", "--all",
                          "--fit-limit", "60", "--out", tmp_path / "d"], capsys)
    assert code == 0, err
    d = json.loads((tmp_path / "d" / "detector.json").read_text())
    assert d["layer"] == "last_conv" and d["pool"] == "mean" and d["dim"] == 4 and 0 <= d["auc"] <= 1
    assert d["natural"] == 6 and d["adversarial"] == 12 and (tmp_path / "d" / "roc.png").exists()

    code, out, err = run(["analyze", "trace", m, "--adversarial-set", adv_set, "--examples", "3", "--out",
                          tmp_path / "t"], capsys)
    assert code == 0, err
    t = json.loads((tmp_path / "t" / "trace.json").read_text())
    assert len(t["images"]) == 2 and t["channels"] == 4 and len(t["images"][0]["top_channels"]) == 2
    assert all(len(v) == 3 for v in t["dataset_examples"].values()) and (tmp_path / "t" / "trace.png").exists()


def test_bad_input_one_line_exit_2(adv_set, models28, tmp_path, capsys):
    adv_set = adv_set[0]
    m = models28 / "tiny28.keras"
    np.save(tmp_path / "sim.npy", np.eye(3))
    cases = [
        ("unknown layer, ratios", ["analyze", "ratios", m, "--adversarial-set", adv_set, "--layer", "nope"]),
        ("unknown layer, detect", ["analyze", "detect", m, "--adversarial-set", adv_set, "--layer", "nope"]),
        ("unknown layer, trace", ["analyze", "trace", m, "--adversarial-set", adv_set, "--layer", "nope"]),
        ("set of a 10-class model, 5-class model", ["analyze", "ratios", models28 / "five.keras",
                                                    "--adversarial-set", adv_set]),
        ("set of 28x28 images, 32x32 model", ["analyze", "detect", models28 / "wide.keras",
                                              "--adversarial-set", adv_set]),
        ("missing set", ["analyze", "ratios", m, "--adversarial-set", tmp_path / "none.npz"]),
        ("trace without input", ["analyze", "trace", m]),
        ("similarity of the wrong size", ["analyze", "trace", m, "--adversarial-set", adv_set, "--similarity",
                                          tmp_path / "sim.npy"]),
        ("unknown attack", ["analyze", "adversarial-set", m, "--dataset", "fashion_mnist", "--k", "2",
                            "--attack", "fgsm"]),
        ("k too large", ["analyze", "adversarial-set", m, "--dataset", "fashion_mnist", "--k", "10"]),
        ("pgd with an ensemble", ["analyze", "adversarial-set", m, "--models", m, "--dataset", "fashion_mnist",
                                  "--attack", "pgd"]),
    ]
    for name, argv in cases:
        code, out, err = run(argv + ["--out", tmp_path / "o"] if argv[1] != "trace" or "--out" not in argv
                             else argv, capsys)
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("tfinterp: ")]
        assert code == 2, (name, code, err)
        assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), (name, err)


def test_report_runs_every_analysis_into_one_page(adv_set, models28, tmp_path, capsys):
    """`analyze report` on a given set: one sub-folder per part, the page links every figure."""
    dist = np.where(np.eye(10, dtype=bool), 0, 4).tolist()  # a ready distance matrix: no WordNet needed
    np.save(tmp_path / "d.npy", np.asarray(dist, np.float64))
    out = tmp_path / "rep"
    code, stdout, err = run(["analyze", "report", models28 / "tiny28.keras", "--adversarial-set", adv_set[0],
                             "--mapping", tmp_path / "d.npy", "--all", "--out", out], capsys)
    assert code == 0, err
    page = (out / "report.html").read_text()
    summary = json.loads((out / "report.json").read_text())
    for part in ("dataset examples", "LC", "CS1 / CS2", "r1 / r2", "detector", "tracing"):
        assert summary["figures"][part], part
        for fig in summary["figures"][part]:
            assert (out / fig).exists() and f'src="{fig}"' in page
    assert 0 <= summary["numbers"]["detector"]["auc"] <= 1 and "report.html" in stdout
    code, _, err = run(["analyze", "report", models28 / "tiny28.keras", "--eps", "2", "--out", tmp_path / "x"], capsys)
    assert code == 2 and "--eps must be in (0, 1]" in err and len(err.strip().splitlines()) == 1
