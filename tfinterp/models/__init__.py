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
    for arch, desc in _SEQUENCE_ARCHS.items():
        _REGISTRY.setdefault(arch, (lambda arch=arch, **kw: _make_sequence(arch, **kw), desc))
    _REGISTRY.setdefault("encoder_decoder", (_make_encoder_decoder,
                                             "encoder (madry to pool5) + FC classifier + deconv decoder "
                                             "(Zheng et al., Table 3; 28x28x1)"))


# the sequence zoo (tfinterp.models.sequence), described here so `tfinterp models` needs no TensorFlow
_SEQUENCE_ARCHS = {
    "seqcnn": "DeepBind-like 1D CNN on one-hot sequences (conv, ReLU, max-pool, dense; default 100x4 DNA)",
    "seqlstm": "conv + bidirectional LSTM on one-hot sequences (DanQ-like; default 100x4 DNA)",
}


def _make_sequence(arch, **kw):
    from tfinterp.models.sequence import SequenceClassifier

    own = {"input_shape", "num_classes", "arch_kwargs", "class_names", "alphabet", "name"}
    kw.pop("weights", None)
    extra = {k: kw.pop(k) for k in list(kw) if k not in own}
    kw["arch_kwargs"] = {**(kw.get("arch_kwargs") or {}), **extra}
    return SequenceClassifier(arch=arch, **kw)


def _make_protonet(**kw):
    from tfinterp.models.protonet import ProtoNet

    kw.pop("weights", None)
    kw.update(kw.pop("arch_kwargs", None) or {})
    return ProtoNet(**kw)


def _make_encoder_decoder(**kw):
    from tfinterp.models.encoder_decoder import EncoderDecoder

    kw.pop("weights", None)
    kw.update(kw.pop("arch_kwargs", None) or {})
    return EncoderDecoder(**kw)


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


def shipped_dataset(spec) -> str | None:
    """The data set a shipped model was trained on, for a stem or a path to its ``.keras`` file
    (matched by file stem); None for anything else."""
    if not isinstance(spec, (str, Path)):
        return None
    shipped = shipped_models()
    meta = shipped.get(str(spec)) or shipped.get(Path(spec).stem) or {}
    return meta.get("dataset")


def load_model(spec: str, unsafe_deserialization: bool = False, **kwargs):
    """Load a model from a shipped stem, a ``.keras`` path, or build a zoo model by name.

    ``.keras`` files load with Keras' safe mode on (no arbitrary code is deserialised): a file
    with a Python ``Lambda`` layer is refused unless `unsafe_deserialization` is True, for a
    file whose source the user trusts. A damaged archive, an unsafe layer and a missing file
    each get their own whole one-line `UserError`. A zoo name builds the architecture; with
    random weights (every zoo model but keras.applications' at their native ImageNet shape)
    one line on stderr says so, and the model carries ``untrained = True`` for runners to
    record (``getattr(model, "untrained", False)``: a file's weights are taken as they are).
    Keyword arguments go to the zoo constructor.
    """
    import keras

    import tfinterp.models.archs  # noqa: F401  (registers custom layers for deserialisation)
    import tfinterp.models.classifier  # noqa: F401
    import tfinterp.models.encoder_decoder  # noqa: F401
    import tfinterp.models.protonet  # noqa: F401
    import tfinterp.models.sequence  # noqa: F401

    spec = str(spec)
    path = Path(spec)
    shipped = shipped_models()
    if spec in shipped:
        path = Path(shipped[spec]["path"])
    elif not path.exists():
        _register_classifiers()
        if spec in _REGISTRY:
            model = get(spec, **kwargs)
            _mark_zoo_weights(spec, model, kwargs, shipped)
            return model
        hint = ", ".join(list(shipped)[:5]) or "none"
        if path.suffix in (".keras", ".h5") or os.sep in spec:
            raise UserError(f"model file not found: {spec}")
        raise UserError(f"unknown model '{spec}': not a file, a shipped model ({hint}) or a zoo name "
                        f"({', '.join(sorted(_REGISTRY))})")
    if path.is_dir():
        raise UserError(f"{path} is a folder; pass a .keras file (SavedModels are for serving)")
    if path.suffix != ".keras":
        raise UserError(f"{path} is not a .keras model file")
    _check_archive(path)
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=not unsafe_deserialization)
    except Exception as e:
        raise UserError(_load_failure(path, e)) from None
    return model


_APPLICATIONS = ("vgg16", "vgg19", "resnet50")


def _mark_zoo_weights(name, model, kwargs, shipped):
    """Say in one line (stderr) that a zoo model has random weights, and mark it."""
    import sys

    trained = False
    if name in _APPLICATIONS:  # ImageNet weights: asked for, or "auto" at the native shape
        from tfinterp.models.archs import ARCHS

        _, _, shape, classes = ARCHS[name]
        weights = kwargs.get("weights", "auto")
        native = tuple(model.image_shape) == tuple(shape) and model.num_classes == classes
        trained = weights == "imagenet" or (weights == "auto" and native)
    if not trained:
        _set_untrained(model)
        rank = len(getattr(model, "input_shape", ()) or ()) - 1  # images 3, one-hot sequences 2
        alike = [stem for stem, meta in shipped.items()
                 if len((meta.get("data") or {}).get("input_shape") or [0] * rank) == rank]
        stems = ", ".join(alike[:3])
        print(f"tfinterp: '{name}' is a zoo architecture with random weights (untrained); pass a trained "
              f".keras file or a shipped stem{f' ({stems})' if stems else ''}", file=sys.stderr, flush=True)


def _set_untrained(model):
    try:
        model.untrained = True
    except Exception:  # a model class that refuses new attributes: nothing to record then
        pass


def _check_archive(path: Path):
    """A ``.keras`` file is a zip archive holding config.json: say so before Keras, whose own
    message for a truncated or random file is "File not found"."""
    import zipfile

    if not os.access(path, os.R_OK):
        raise UserError(f"could not load model {path}: the file is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise UserError(f"could not load model {path}: the file is empty; re-save or re-download it")
    if not zipfile.is_zipfile(path):
        raise UserError(f"could not load model {path}: not a .keras archive (not a complete zip file: "
                        "truncated, or not a model at all); re-save or re-download it")
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise UserError(f"could not load model {path}: the archive is damaged ({_one_line(e)}); "
                        "re-save or re-download it")
    if "config.json" not in names:
        raise UserError(f"could not load model {path}: a zip archive without config.json, not a Keras "
                        "model; re-save it with model.save('name.keras')")


def _load_failure(path: Path, e: Exception) -> str:
    """One whole line for a failed ``keras.models.load_model``."""
    import json
    import re
    import zipfile
    import zlib

    text = str(e)
    if "arbitrary code execution" in text or "safe_mode=False" in text:
        return (f"{path} holds a Lambda layer with Python code, which safe mode refuses to load (it could "
                "run arbitrary code); if you trust the file's source, load it with unsafe_deserialization=True "
                "(CLI: --unsafe-deserialization)")
    missing = re.search(r"Could not locate (class|function) '([^']+)'", text)
    if missing:
        return (f"could not load model {path}: it uses the custom {missing.group(1)} '{missing.group(2)}', "
                "which is not registered; import the code that defines it (decorated with "
                "@keras.saving.register_keras_serializable()) before loading")
    if isinstance(e, (zipfile.BadZipFile, EOFError, zlib.error, json.JSONDecodeError, KeyError, OSError)):
        return (f"could not load model {path}: the archive is damaged ({_one_line(e)}); "
                "re-save or re-download it")
    return f"could not load model {path}: {_one_line(e)}"


def _one_line(e, limit: int = 300) -> str:
    """An exception's message on one line; a long one ends at a sentence, never mid-sentence.
    Keras nests the cause after "Exception encountered:"; that innermost part is the one kept."""
    import re

    text = str(e).split("Exception encountered:")[-1]
    text = re.sub(r"\s+", " ", text).strip().strip("'\"") or type(e).__name__
    if len(text) <= limit:
        return text.rstrip(".")
    cut = text[:limit].rfind(". ")
    return text[:cut] if cut > 40 else text[:limit].rsplit(" ", 1)[0] + " (...)"


def feature_model(model, names, include_output=False):
    """See `tfinterp.models.layers.feature_model`."""
    from tfinterp.models.layers import feature_model as _fm

    return _fm(model, names, include_output=include_output)


def __getattr__(name):  # lazy heavy imports
    if name == "Classifier":
        from tfinterp.models.classifier import Classifier
        return Classifier
    if name == "EncoderDecoder":
        from tfinterp.models.encoder_decoder import EncoderDecoder
        return EncoderDecoder
    if name == "SequenceClassifier":
        from tfinterp.models.sequence import SequenceClassifier
        return SequenceClassifier
    if name == "ProtoNet":
        from tfinterp.models.protonet import ProtoNet
        return ProtoNet
    if name in ("resolve_layer", "list_layer_paths", "run_with_taps"):
        from tfinterp.models import layers
        return getattr(layers, name)
    raise AttributeError(name)
