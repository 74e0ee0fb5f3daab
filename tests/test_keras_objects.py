"""`import tfinterp` makes every tfinterp Keras class loadable (issue 13 item 6) without importing
TensorFlow itself: checked in fresh interpreters, whichever of keras / tensorflow comes first."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(str(p) for p in (ROOT / "saved_models").glob("*.keras"))


def _python(code, *args):
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.split()


def test_import_tfinterp_imports_neither_tensorflow_nor_keras():
    assert _python("import sys, tfinterp; print('tensorflow' in sys.modules, 'keras' in sys.modules)") == \
        ["False", "False"]


def test_every_shipped_model_loads_after_import_tfinterp_then_keras():
    assert len(SHIPPED) >= 2
    code = ("import sys, tfinterp, keras\n"
            "for p in sys.argv[1:]: print(type(keras.models.load_model(p)).__name__)")
    special = {"protonet": "ProtoNet", "seqcnn": "SequenceClassifier", "seqlstm": "SequenceClassifier"}
    want = [special.get(Path(p).stem.split("_")[0], "Classifier") for p in SHIPPED]
    assert sorted(_python(code, *SHIPPED)) == sorted(want)


def test_tensorflow_first_and_keras_first_also_work(tmp_path):
    import numpy as np

    from tfinterp.defenses import wrap
    from tfinterp.models import get

    net = get("cnn2", input_shape=(28, 28, 1), num_classes=10)
    wrapped = wrap(net, 0.5)
    path = tmp_path / "wrapped.keras"
    wrapped.save(path)
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asarray(wrapped(x)))
    check = ("m = load(sys.argv[1]); x = np.load(sys.argv[2]); "
             "print(bool(np.allclose(np.asarray(m(x)), np.load(sys.argv[3]), atol=1e-5)))")
    files = [str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")]
    # TensorFlow imports Keras half-way through its own import: the classes register after both
    assert _python("import sys, numpy as np, tfinterp, tensorflow as tf; load = tf.keras.models.load_model; "
                   + check, *files) == ["True"]
    # Keras already imported: `import tfinterp` registers at once
    assert _python("import sys, numpy as np, keras, tfinterp; load = keras.models.load_model; "
                   + check, *files) == ["True"]


def test_every_module_with_a_keras_class_is_listed():
    from tfinterp.keras_objects import KERAS_MODULES

    found = set()
    for path in (ROOT / "tfinterp").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any("register_keras_serializable" in ast.unparse(d)
                                                      for d in node.decorator_list):
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert found and found <= set(KERAS_MODULES), sorted(found - set(KERAS_MODULES))


def test_the_shipped_models_are_enumerated():
    stems = {Path(p).stem for p in SHIPPED}
    assert {"vggsmall_clutter64", "vggsmall_clutter64rgb", "madry_fashion_mnist", "protonet_fashion_mnist"} <= stems
