"""tfinterp's Keras classes, known to `keras.models.load_model` as soon as Keras is imported.

Every shipped ``.keras`` file names classes registered with
``@keras.saving.register_keras_serializable(package="tfinterp")`` (``tfinterp>ProtoNet``,
``tfinterp>Classifier``, ...). Keras finds them only once the modules defining them have
run. `import tfinterp` must not import TensorFlow (the CLI answers ``--help`` without it),
so instead of importing those modules it calls `install`:

- if Keras is already imported, the modules are imported at once (TensorFlow is loaded anyway);
- otherwise a finder on `sys.meta_path` waits for the import of ``keras`` (or of
  ``tensorflow``, which imports Keras itself) to finish, then imports them and removes itself.

So ``import tfinterp, keras; keras.models.load_model("saved_models/protonet_fashion_mnist.keras")``
works, and ``import tfinterp`` alone leaves TensorFlow unimported.
"""

from __future__ import annotations

import importlib
import sys
import warnings

# Every module that defines a class decorated with register_keras_serializable
# (tests/runs/test_keras_objects.py fails when one is missing here).
KERAS_MODULES = (
    "tfinterp.models.archs",
    "tfinterp.models.classifier",
    "tfinterp.models.protonet",
    "tfinterp.models.encoder_decoder",
    "tfinterp.models.sequence",
    "tfinterp.defenses.thresholding",
    "tfinterp.training.style_decoder",
)

_WATCHED = ("keras", "tensorflow")


def register_keras_objects():
    """Import every module that registers a tfinterp Keras class (imports TensorFlow)."""
    for name in KERAS_MODULES:
        importlib.import_module(name)


def _initializing(name: str) -> bool:
    module = sys.modules.get(name)
    return module is not None and bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _ready(finished: str | None = None) -> bool:
    """Keras is imported and neither Keras nor TensorFlow is still half-way through its import
    (`finished` has just run to its end, though importlib still marks it as initializing)."""
    if "keras" not in sys.modules:
        return False
    return not any(_initializing(n) for n in _WATCHED if n != finished)


class _AfterKerasImport:
    """A meta-path finder that adds nothing: it wraps the loader of ``keras`` / ``tensorflow``
    so that `register_keras_objects` runs when their import is complete."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _WATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        run = getattr(loader, "exec_module", None)
        if run is None:
            return spec

        def exec_module(module):
            run(module)
            if _ready(finished=fullname):
                _register_once()

        try:
            loader.exec_module = exec_module  # this module's own loader instance only
        except (AttributeError, TypeError):
            pass
        return spec


_FINDER = _AfterKerasImport()
_done = False


def _register_once():
    global _done
    if _done:
        return
    _done = True
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    try:
        register_keras_objects()
    except Exception as e:  # never break the user's `import keras`
        warnings.warn(f"tfinterp could not register its Keras classes ({type(e).__name__}: {e}); "
                      "call tfinterp.keras_objects.register_keras_objects() before loading a .keras file")


def install():
    """Make tfinterp's Keras classes loadable now (Keras imported) or when Keras is imported."""
    if _done:
        return
    if _ready():
        _register_once()
    elif _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
