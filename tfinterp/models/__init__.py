"""The model zoo: a registry of classifiers with canonical layer aliases, and model loading.

`get(name, **kw)` builds a zoo model; `list_models()` names them; `load_model(spec)`
accepts a shipped model stem (``vggsmall_clutter64``), a zoo name or a ``.keras`` path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tfinterp.errors import UserError

_REGISTRY = {}


def register(name, description):
    """Register a zoo constructor under `name` (a decorator)."""
    def deco(fn):
        _REGISTRY[name] = (fn, description)
        return fn
    return deco


def _register_classifiers():
    from tfinterp.models.archs import ARCHS

    for arch, (_, desc, _, _) in ARCHS.items():
        def make(arch=arch, **kw):
            from tfinterp.models.classifier import Classifier
            own = {"input_shape", "num_classes", "arch_kwargs", "class_names", "weights", "name"}
            extra = {k: kw.pop(k) for k in list(kw) if k not in own}
            kw["arch_kwargs"] = {**(kw.get("arch_kwargs") or {}), **extra}
            return Classifier(arch=arch, **kw)
        _REGISTRY.setdefault(arch, (make, desc))
    _REGISTRY.setdefault("protonet", (_make_protonet, "ProtoNet (Li et al. 2018): encoder, decoder, prototypes, "
                                                     "distance classifier (28x28x1)"))


def _make_protonet(**kw):
    from tfinterp.models.protonet import ProtoNet

    kw.pop("weights", None)
    kw.update(kw.pop("arch_kwargs", None) or {})
    return ProtoNet(**kw)


def list_models() -> dict[str, str]:
    """{name: description} of every zoo model."""
    _register_classifiers()
    return {k: v[1] for k, v in sorted(_REGISTRY.items())}


def get(name: str, **kwargs):
    """Build the zoo model `name` (keyword arguments go to its constructor).

    Classifiers take ``input_shape``, ``num_classes``, ``arch_kwargs`` and, for
    keras.applications models, ``weights`` ('imagenet' or None).
    """
    _register_classifiers()
    if name not in _REGISTRY:
        raise UserError(f"unknown model '{name}'; known: {', '.join(sorted(_REGISTRY))} "
                        "(see `tfinterp models`)")
    return _REGISTRY[name][0](**kwargs)


def saved_models_dir() -> Path:
    """Folder of the shipped models (``$TFINTERP_MODELS_DIR`` or the repository's saved_models/)."""
    env = os.environ.get("TFINTERP_MODELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "saved_models"


def shipped_models() -> dict[str, dict]:
    """{stem: metadata} for every ``<model>_<dataset>.keras`` shipped with its JSON."""
    out = {}
    folder = saved_models_dir()
    for path in sorted(folder.glob("*.keras")) if folder.is_dir() else []:
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        meta["path"] = str(path)
        out[path.stem] = meta
    return out


def load_model(spec: str, **kwargs):
    """Load a model from a shipped stem, a ``.keras`` path, or build a zoo model by name.

    ``.keras`` files load with Keras' safe mode on (no arbitrary code is deserialised).
    """
    import keras

    import tfinterp.models.archs  # noqa: F401  (registers custom layers for deserialisation)
    import tfinterp.models.classifier  # noqa: F401
    import tfinterp.models.protonet  # noqa: F401

    path = Path(spec)
    shipped = shipped_models()
    if spec in shipped:
        path = Path(shipped[spec]["path"])
    elif not path.exists():
        _register_classifiers()
        if spec in _REGISTRY:
            return get(spec, **kwargs)
        hint = ", ".join(list(shipped)[:5]) or "none"
        if path.suffix in (".keras", ".h5") or os.sep in spec:
            raise UserError(f"model file not found: {spec}")
        raise UserError(f"unknown model '{spec}': not a file, a shipped model ({hint}) or a zoo name "
                        f"({', '.join(sorted(_REGISTRY))})")
    if path.is_dir():
        raise UserError(f"{path} is a folder; pass a .keras file (SavedModels are for serving)")
    if path.suffix != ".keras":
        raise UserError(f"{path} is not a .keras model file")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UserError(f"could not load model {path}: {first}; is it a complete .keras file?")


def feature_model(model, names, include_output=False):
    """See `tfinterp.models.layers.feature_model`."""
    from tfinterp.models.layers import feature_model as _fm

    return _fm(model, names, include_output=include_output)


def __getattr__(name):  # lazy heavy imports
    if name == "Classifier":
        from tfinterp.models.classifier import Classifier
        return Classifier
    if name == "ProtoNet":
        from tfinterp.models.protonet import ProtoNet
        return ProtoNet
    if name in ("resolve_layer", "list_layer_paths", "run_with_taps"):
        from tfinterp.models import layers
        return getattr(layers, name)
    raise AttributeError(name)
