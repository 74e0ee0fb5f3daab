"""Issue 14, item 1 and the CLI half of item 5: commands that run as typed from any folder
(default --out), TensorFlow quieted once, a bad option pointing to its own command's help,
finished and foreign training folders, --unsafe-deserialization reaching every loader."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfinterp.cli.main import main

TFINTERP = str(Path(sys.executable).with_name("tfinterp"))
SAMPLE = Path(__file__).resolve().parents[2] / "saved_models" / "samples" / "clutter64_0.png"


def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _lines(text):
    return [ln for ln in text.splitlines() if ln.strip()]


@pytest.fixture
def fake_fashion(idx_dir, monkeypatch):
    monkeypatch.setenv("TFINTERP_DATA_DIR", str(idx_dir))


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A fresh current folder far from the repository."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


# ---- the one default-folder rule ---------------------------------------------------------------

def test_default_out_rule_and_every_writing_command_documents_it():
    import typer

    from tfinterp.cli.app import app
    from tfinterp.cli.common import OUT_RULES, default_out, images_stem, model_stem

    assert default_out("explain", "clutter64_0") == Path("runs/explain/clutter64_0")
    assert default_out("eval", model_stem("saved_models/vggsmall_clutter64.keras"), "clutter64") == \
        Path("runs/eval/vggsmall_clutter64_clutter64")
    assert default_out("attack", model_stem("cnn2"), "fashion_mnist", "pgd") == Path("runs/attack/cnn2_fashion_mnist_pgd")
    assert default_out("train-protonet", "a b/c") == Path("runs/train-protonet/a_b_c")  # no path tricks in names
    assert images_stem([str(SAMPLE), "x.png"]) == "clutter64_0"
    assert images_stem([str(SAMPLE.parent)]) == "samples" and images_stem([str(SAMPLE.parent / "*.png")]) == "samples"
    with pytest.raises(KeyError):
        default_out("explode")
    root = typer.main.get_command(app)
    commands = {"explain": ["explain"], "eval": ["eval"], "export": ["export"], "attack": ["attack"],
                "detect": ["detect"], "latent-attack": ["latent-attack"],
                "train-classifier": ["train", "classifier"], "train-protonet": ["train", "protonet"]}
    commands.update({k: ["analyze", k] for k in ("dataset-examples", "lc", "consistency", "lc-agreement")})  # lc
    commands["train-style-decoder"] = ["train", "style-decoder"]
    commands["train-sequence"] = ["train", "sequence"]
    assert set(commands) == set(OUT_RULES)
    for key, path in commands.items():
        cmd = root
        for word in path:
            cmd = cmd.commands[word]
        out = next(p for p in cmd.params if p.name == "out")
        assert not out.required and out.default is None, key
        assert f"runs/{key}/{OUT_RULES[key]}/" in out.help, (key, out.help)


def test_explain_runs_as_typed_from_any_folder(elsewhere, capsys):
    """`tfinterp explain saved_models/samples/clutter64_0.png --method guided-inversion`: the
    shipped model is found by its stem wherever the user stands; the files land in
    runs/explain/clutter64_0/ of the current folder, and the last line says so."""
    code, out, err = run(["explain", str(SAMPLE), "--method", "guided-inversion"], capsys)
    assert code == 0, err
    folder = elsewhere / "runs" / "explain" / "clutter64_0"
    summary = json.loads((folder / "clutter64_0_guided-inversion.json").read_text())
    assert summary["method"] == "guided-inversion" and Path(summary["model"]).name.startswith("vggsmall_clutter64")
    assert (folder / "clutter64_0_guided-inversion.png").exists()
    assert _lines(out)[-1] == "explanations written to runs/explain/clutter64_0/"


def test_train_protonet_runs_as_typed_then_is_finished_then_fresh(fake_fashion, elsewhere, capsys):
    """`tfinterp train protonet --epochs 1` from any folder trains the documented default
    configuration on the best data present (here: the fake full Fashion-MNIST), says which in
    one line, and writes runs/train-protonet/fashion_mnist/. Run again: finished, nothing
    trained (exit 0); --fresh: trained again with a fresh one-epoch history; another config on
    that finished folder: one line, exit 2."""
    from tfinterp.training.protonet import DEFAULTS

    argv = ["train", "protonet", "--epochs", "1", "--limit", "40", "--verbose", "0"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    said = [ln for ln in _lines(err) if "Fashion-MNIST" in ln or "MNIST" in ln]
    assert len(said) == 1 and said[0].startswith("tfinterp: training on full Fashion-MNIST ("), err
    folder = elsewhere / "runs" / "train-protonet" / "fashion_mnist"
    meta = json.loads((folder / "protonet_fashion_mnist.json").read_text())
    assert {k: meta["config"][k] for k in DEFAULTS} == {**DEFAULTS, "epochs": 1}
    assert meta["config"]["limit"] == 40 and (folder / "protonet_fashion_mnist.keras").exists()
    assert _lines(out)[-1].endswith("written to runs/train-protonet/fashion_mnist/")
    stamp = (folder / "protonet_fashion_mnist.keras").stat().st_mtime_ns

    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert _lines(out) == [f"runs/train-protonet/fashion_mnist/ holds a finished run of this configuration (test "
                           f"accuracy {meta['metrics']['test_accuracy']:.4f}); nothing to do (pass --fresh to train "
                           "again from scratch)"]
    assert (folder / "protonet_fashion_mnist.keras").stat().st_mtime_ns == stamp
    assert len(list(csv.DictReader(open(folder / "history.csv")))) == 1

    code, out, err = run([*argv, "--fresh"], capsys)
    assert code == 0, err
    assert (folder / "protonet_fashion_mnist.keras").stat().st_mtime_ns != stamp
    assert [r["epoch"] for r in csv.DictReader(open(folder / "history.csv"))] == ["0"]  # a fresh history

    code, out, err = run(["train", "protonet", "--epochs", "2", "--limit", "40", "--verbose", "0"], capsys)
    msg = [ln for ln in _lines(err) if ln.startswith("error: ")]
    assert code == 2 and len(msg) == 1 and "holds a finished run of protonet on fashion_mnist with epochs=1" in msg[0]
    assert "this run has epochs=2" in msg[0] and "--fresh" in msg[0]


def test_train_protonet_falls_back_to_mnist_and_says_so(monkeypatch, tmp_path):
    """Without the Fashion-MNIST IDX files the run picks MNIST, in one line."""
    import tfinterp.data.sources as sources
    from tfinterp.runs.protonet import best_dataset

    monkeypatch.setattr(sources, "search_dirs", lambda name: [tmp_path / "nowhere" / name])
    name, line = best_dataset()
    assert name == "mnist" and line.startswith("Fashion-MNIST is not installed") and "training on MNIST" in line
    d = tmp_path / "fm"
    d.mkdir()
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        (d / f).write_bytes(b"")
    monkeypatch.setattr(sources, "search_dirs", lambda name: [d])
    assert best_dataset()[0] == "mnist"  # the test labels are missing: not installed
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    assert best_dataset() == ("fashion_mnist", f"training on full Fashion-MNIST ({d})")


# ---- TensorFlow quieted in one place; --help without it --------------------------------------

def test_tensorflow_quieted_once_at_the_entry_and_help_stays_tf_free():
    code = ("import sys; from tfinterp.cli.main import main\n"
            "for argv in (['explain', '--help'], ['train', 'protonet', '--help'], ['train'], ['eval', '-h'],"
            " ['attack', '--help']):\n"
            "    main(argv); print('TF', 'tensorflow' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    said = [ln for ln in res.stdout.splitlines() if ln.startswith("TF ")]
    assert said == ["TF False"] * 5, (res.stdout[-300:], res.stderr[-300:])
    res = subprocess.run([TFINTERP, "models"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "vggsmall" in res.stdout
    assert res.stderr.strip() == "", res.stderr  # no oneDNN / CUDA / absl start-up lines
    import ast

    cli = Path(__file__).resolve().parents[2] / "cli"
    calls = [p.name for p in sorted(cli.glob("*.py")) for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
             == "quiet_tensorflow"]
    assert calls == ["main.py"]  # one call, at the entry


def test_bad_option_points_to_its_own_commands_help(capsys):
    for argv, hint in ((["explain", "x.png", "--bogus"], "(see 'tfinterp explain --help')"),
                       (["train", "classifier", "--bogus"], "(see 'tfinterp train classifier --help')"),
                       (["attack", "cnn2", "--eps"], "(see 'tfinterp attack --help')"),
                       (["explode"], "(see 'tfinterp --help')")):
        code, _, err = run(argv, capsys)
        assert code == 2 and len(_lines(err)) == 1 and _lines(err)[0].endswith(hint), (argv, err)


def test_toml_value_of_the_wrong_type_names_key_and_type(tmp_path, capsys):
    (tmp_path / "t.toml").write_text('[train]\nepochs = "three"\n')
    (tmp_path / "p.toml").write_text('[protonet]\nepochs = "three"\n')
    for table, cmd in (("train", "classifier"), ("protonet", "protonet")):
        code, _, err = run(["train", cmd, "--config", str(tmp_path / f"{table[0]}.toml"), "--out",
                            str(tmp_path / "o")], capsys)
        assert code == 2 and _lines(err) == [f"error: {table}: epochs must be an integer >= 1, got 'three'"]


def test_out_under_a_regular_file_is_one_line(tmp_path):
    from tfinterp.cli.common import out_dir
    from tfinterp.errors import UserError

    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match=r"^--out .*f/a/b: .*f is a file, not a folder$"):
        out_dir(tmp_path / "f" / "a" / "b")
    assert out_dir(tmp_path / "new" / "deep").is_dir()


# ---- training folders: finished, foreign, fresh --------------------------------------------------

def _train_cnn2(out, *extra):
    return ["train", "classifier", "--model", "cnn2", "--dataset", "fashion_mnist", "--epochs", "1",
            "--batch-size", "16", "--verbose", "0", "--out", str(out), *extra]


def test_finished_classifier_run_is_left_alone_unless_fresh(fake_fashion, tmp_path, capsys):
    out = tmp_path / "o"
    code, _, err = run(_train_cnn2(out), capsys)
    assert code == 0, err
    model = out / "cnn2_fashion_mnist.keras"
    stamp = model.stat().st_mtime_ns
    code, stdout, err = run(_train_cnn2(out), capsys)
    assert code == 0 and _lines(err) == [] and len(_lines(stdout)) == 1
    assert "holds a finished run of this configuration" in stdout and "--fresh" in stdout
    assert model.stat().st_mtime_ns == stamp
    assert len(list(csv.DictReader(open(out / "history.csv")))) == 1  # no second set of epochs
    code, _, err = run(_train_cnn2(out, "--fresh"), capsys)
    assert code == 0, err
    assert model.stat().st_mtime_ns != stamp
    assert [r["epoch"] for r in csv.DictReader(open(out / "history.csv"))] == ["0"]
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_resuming_into_another_models_backup_is_one_line(fake_fashion, tmp_path, capsys):
    """An interrupted cnn2 run's folder, then a madry run on it: one line naming both, exit 2
    (with the run record); a backup without a record (older tfinterp) that does not fit: one
    line too, not Keras' per-variable warnings; --fresh trains the new model there."""
    import keras

    from tfinterp.training import TrainConfig, train_classifier

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    out = tmp_path / "o"
    with pytest.raises(KeyboardInterrupt):
        train_classifier(TrainConfig(model="cnn2", dataset="fashion_mnist", epochs=2, batch_size=16), out,
                         callbacks=[Crash()], verbose=0)
    assert (out / "backup" / "latest.weights.h5").exists()
    madry = ["train", "classifier", "--model", "madry", "--dataset", "fashion_mnist", "--epochs", "1",
             "--batch-size", "16", "--verbose", "0", "--out", str(out)]
    code, _, err = run(madry, capsys)
    assert code == 2 and _lines(err) == [
        f"error: --out {out} holds the backup of an interrupted run of cnn2 on fashion_mnist; this run trains "
        "madry on fashion_mnist: pass --fresh to discard that backup and start over, or choose another --out"]
    (out / "run.json").unlink()
    code, _, err = run(madry, capsys)
    assert code == 2 and len(_lines(err)) == 1, err
    assert _lines(err)[0].startswith(f"error: the backup in {out / 'backup'} does not fit this model (")
    assert "Traceback" not in err and "Skipping" not in err
    code, _, err = run([*madry, "--fresh"], capsys)
    assert code == 0, err
    assert (out / "madry_fashion_mnist.keras").exists() and not (out / "backup").exists()


# ---- --unsafe-deserialization reaches every loader -------------------------------------------------

@pytest.fixture
def lambda_model(tmp_path):
    """A 28x28 classifier with a Lambda layer: safe mode refuses it."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inp)
    x = keras.layers.Dense(16, activation="relu", name="fc")(x)
    logits = keras.layers.Lambda(lambda t: t * 2.0, name="double")(keras.layers.Dense(10)(x))
    keras.Model(inp, logits).save(tmp_path / "lam.keras")
    return str(tmp_path / "lam.keras")


def test_unsafe_deserialization_opt_in_on_every_command(fake_fashion, lambda_model, tmp_path, capsys):
    o = str(tmp_path / "o")
    cases = [
        ["eval", lambda_model, "--dataset", "fashion_mnist", "--out", o],
        ["eval", lambda_model, "--dataset", "fashion_mnist", "--attack", "fgsm", "--eps", "0.1", "--out", o],
        ["export", lambda_model, "--out", str(tmp_path / "srv")],
        ["attack", lambda_model, "--dataset", "fashion_mnist", "--method", "fgsm", "--eps", "0.1", "--limit", "8",
         "--out", o],
        ["attack", lambda_model, "--method", "ensemble", "--ensemble", lambda_model, "--dataset", "fashion_mnist",
         "--eps", "0.1", "--steps", "2", "--limit", "8", "--out", o],
        ["detect", lambda_model, "--dataset", "fashion_mnist", "--layer", "fc", "--eps", "0.5", "--steps", "5",
         "--limit", "10", "--out", o],
    ]
    for argv in cases:
        code, _, err = run(argv, capsys)
        assert code == 2 and "safe mode refuses" in err, (argv, err)
        code, _, err = run([*argv, "--unsafe-deserialization"], capsys)
        assert code == 0, (argv, err)
    assert (tmp_path / "srv" / "1" / "saved_model.pb").exists()
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["method"] == "ensemble"
    # latent-attack: with the opt-in the file loads, and is then refused for not being a ProtoNet
    code, _, err = run(["latent-attack", lambda_model, "--out", o, "--unsafe-deserialization"], capsys)
    assert code == 2 and _lines(err) == ["error: adversarial latent reconstructions need a ProtoNet or an "
                                         "encoder-classifier-decoder (encoder + decoder); got a Functional"]
    code, _, err = run(["latent-attack", lambda_model, "--out", o], capsys)
    assert code == 2 and "safe mode refuses" in err


def test_help_lists_unsafe_deserialization_where_models_load():
    import typer

    from tfinterp.cli.app import app

    root = typer.main.get_command(app)
    for name in ("eval", "export", "attack", "detect", "latent-attack"):
        flags = [getattr(p, "opts", None) for p in root.commands[name].params]
        assert ["--unsafe-deserialization"] in flags, name


def test_eval_default_out_is_model_stem_and_dataset(fake_fashion, tiny_model_path, elsewhere, capsys):
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1))
    keras.Model(inp, keras.layers.Dense(10)(keras.layers.Flatten()(inp))).save(elsewhere / "flat.keras")
    code, out, err = run(["eval", "flat.keras", "--dataset", "fashion_mnist"], capsys)
    assert code == 0, err
    m = json.loads((elsewhere / "runs" / "eval" / "flat_fashion_mnist" / "metrics.json").read_text())
    assert m["examples"] == 20 and np.array(m["confusion_matrix"]).sum() == 20
    assert _lines(out)[-1].endswith("written to runs/eval/flat_fashion_mnist/")
