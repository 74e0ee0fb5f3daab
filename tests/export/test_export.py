import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tfinterp import models
from tfinterp.export import export_serving, next_version


def test_saved_model_matches_keras_in_fresh_process(tmp_path):
    m = models.get("vggsmall", input_shape=(32, 32, 1), num_classes=4, filters=(4, 8, 8))
    x = np.random.default_rng(0).random((5, 32, 32, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    expected = __import__("tensorflow").nn.softmax(m(x)).numpy()
    path = export_serving(m, tmp_path / "serving")
    assert path == tmp_path / "serving" / "1" and next_version(tmp_path / "serving") == 2
    code = f"""
import json, numpy as np, tensorflow as tf
loaded = tf.saved_model.load({str(path)!r})
out = loaded.signatures["serving_default"](images=tf.constant(np.load({str(tmp_path / 'x.npy')!r})))
print(json.dumps({{k: v.numpy().tolist() for k, v in out.items()}}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert np.abs(np.array(out["probabilities"]) - expected).max() <= 1e-5
    assert out["class_id"] == expected.argmax(-1).tolist()
    saved_model_cli = str(Path(sys.executable).with_name("saved_model_cli"))
    cli = subprocess.run([saved_model_cli, "show", "--dir", str(path), "--all"],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr[-2000:]
    for word in ("serving_default", "images", "probabilities", "logits", "class_id"):
        assert word in cli.stdout


def test_explanation_signature_matches_library(tmp_path):
    from tfinterp.explain import get_explainer

    m = models.get("vggsmall", input_shape=(32, 32, 1), num_classes=4, filters=(4, 8, 8))
    x = np.random.default_rng(1).random((3, 32, 32, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    for method in ("gradcam", "gradient"):
        expected = get_explainer(method, m).explain(x)
        path = export_serving(m, tmp_path / method, explanation=method)
        code = f"""
import json, numpy as np, tensorflow as tf
sig = tf.saved_model.load({str(path)!r}).signatures
out = sig["explain"](images=tf.constant(np.load({str(tmp_path / 'x.npy')!r})))
print(json.dumps({{"sig": sorted(sig.keys()), "saliency": out["saliency"].numpy().tolist()}}))
"""
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        out = json.loads(res.stdout.strip().splitlines()[-1])
        assert out["sig"] == ["explain", "serving_default"]
        np.testing.assert_allclose(np.array(out["saliency"]), expected, atol=1e-5)
