"""The adversarial validation set (Dong, Su, Zhu, Bao 2017, "Towards Interpretable Deep Neural
Networks by Leveraging Adversarial Examples", section 4.1): for each real image, k targeted
adversarial images aimed at its k least-likely classes, by the ensemble-optimization attack
over one or several models (`tfinterp.attacks.ensemble.EnsembleAttack`, the paper's choice)
or targeted PGD (the cheap alternative).

The file is one ``.npz`` with arrays ``images`` [M, H, W, C] float32 in [0, 1] (adversarial),
``index`` [M] int64 (the real image's index into the source set), ``labels`` [M] int64 (its
class), ``targets`` [M] int64 (the target class), ``success`` [M] bool (the first model
predicts the target), and ``meta``, a JSON string (model, input shape, num_classes, dataset,
split, attack and its config, k).

`build_adversarial_set` writes it in chunks, resumably: each chunk of real images is attacked
and written atomically to ``<file>.parts/chunk_NNNNN.npz`` beside a manifest; a rerun (after
a kill) skips the chunks already written, and the set is assembled at the end (the parts
folder is then removed). Stochastic attacks are seeded per chunk, so an interrupted and
resumed build gives the same set as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

ARRAYS = ("images", "index", "labels", "targets", "success")
FORMAT = 1


@dataclass
class AdversarialSet:
    """An adversarial validation set in memory (the arrays of the file, and its meta dict)."""
    images: np.ndarray
    index: np.ndarray
    labels: np.ndarray
    targets: np.ndarray
    success: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.images))

    def subset(self, mask) -> "AdversarialSet":
        """The examples selected by a boolean mask or an index array."""
        return AdversarialSet(*(getattr(self, a)[mask] for a in ARRAYS), meta=dict(self.meta))

    def successful(self) -> "AdversarialSet":
        """The examples whose target the model reaches."""
        return self.subset(self.success)

    @property
    def success_rate(self) -> float:
        return float(self.success.mean()) if len(self) else 0.0


def save_adversarial_set(path, aset: AdversarialSet) -> Path:
    """Write `aset` to `path` (.npz) atomically."""
    from tfinterp.utils import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, images=aset.images.astype(np.float32), index=aset.index.astype(np.int64),
                     labels=aset.labels.astype(np.int64), targets=aset.targets.astype(np.int64),
                     success=aset.success.astype(bool), meta=np.array(json.dumps(aset.meta)))
    return path


def load_adversarial_set(path, model=None) -> AdversarialSet:
    """Read and validate an adversarial set (Dong et al. 2017); with `model`, check that it was
    made for a model of that input shape and class count (`UserError` otherwise)."""
    path = Path(path)
    if path.is_dir() and (path / "adversarial_set.npz").is_file():
        path = path / "adversarial_set.npz"
    if not path.is_file():
        parts = path.with_name(path.name + ".parts")
        hint = f" (an unfinished build is in {parts}; rerun the command to finish it)" if parts.is_dir() else ""
        raise UserError(f"adversarial set not found: {path}{hint}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:
        raise UserError(f"could not read adversarial set {path}: not a valid .npz file ({type(e).__name__})") from None
    missing = [a for a in (*ARRAYS, "meta") if a not in data]
    if missing:
        raise UserError(f"{path} is not an adversarial set: it lacks {', '.join(missing)} "
                        "(make one with `tfinterp analyze adversarial-set`)")
    try:
        meta = json.loads(str(data["meta"]))
    except json.JSONDecodeError:
        raise UserError(f"{path}: its meta is not valid JSON") from None
    images = data["images"].astype(np.float32, copy=False)
    n = len(images)
    if images.ndim != 4:
        raise UserError(f"{path}: images must be [M, H, W, C], got shape {images.shape}")
    if any(len(data[a]) != n or data[a].ndim != 1 for a in ARRAYS[1:]):
        raise UserError(f"{path}: index, labels, targets and success must be [M] arrays for the {n} images")
    if n and (not np.all(np.isfinite(images)) or images.min() < -1e-6 or images.max() > 1 + 1e-6):
        raise UserError(f"{path}: images must be finite and in [0, 1]")
    k = meta.get("num_classes")
    labels, targets = data["labels"].astype(np.int64), data["targets"].astype(np.int64)
    if n and k is not None and (min(labels.min(), targets.min()) < 0 or max(labels.max(), targets.max()) >= k):
        raise UserError(f"{path}: labels and targets must be classes 0..{k - 1}")
    aset = AdversarialSet(images, data["index"].astype(np.int64), labels, targets, data["success"].astype(bool),
                          meta)
    if model is not None:
        check_set_fits(aset, model, str(path))
    return aset


def check_set_fits(aset: AdversarialSet, model, what: str = "the adversarial set"):
    """`UserError` unless `aset` was made for a model with `model`'s input shape and classes."""
    from tfinterp.checks import model_image_shape, model_num_classes

    shape, k = model_image_shape(model), model_num_classes(model)
    made_for = aset.meta.get("model", "another model")
    if tuple(aset.images.shape[1:]) != tuple(shape):
        raise UserError(f"{what} was made for {made_for}, which takes {tuple(aset.images.shape[1:])} images, "
                        f"but model '{model.name}' takes {tuple(shape)}; make a set for this model with "
                        "`tfinterp analyze adversarial-set`")
    set_k = aset.meta.get("num_classes")
    top = int(max(aset.labels.max(initial=0), aset.targets.max(initial=0))) + 1
    if (set_k is not None and int(set_k) != k) or top > k:
        raise UserError(f"{what} was made for {made_for} with {set_k if set_k is not None else top} classes, "
                        f"but model '{model.name}' has {k}; make a set for this model with "
                        "`tfinterp analyze adversarial-set`")


def set_attack(models, attack: str = "ensemble", params=None, batch_size: int = 256, seed: int = 0):
    """The attack of an adversarial set: the ensemble attack over `models`, or targeted PGD on the
    first one. `params` are the attack's own parameters (see its table)."""
    from tfinterp.attacks.base import get_attack

    models = list(models) if isinstance(models, (list, tuple)) else [models]
    params = {k: v for k, v in dict(params or {}).items() if v is not None}
    if attack == "ensemble":
        return get_attack("ensemble", models, batch_size=batch_size, seed=seed, **params)
    if attack == "pgd":
        if len(models) > 1:
            raise UserError("several models are for --attack ensemble; PGD attacks the first model only")
        params.setdefault("targeted", True)
        if not params["targeted"]:
            raise UserError("the adversarial set is targeted: PGD must run with targeted=True")
        return get_attack("pgd", models[0], batch_size=batch_size, seed=seed, **params)
    raise UserError(f"unknown attack '{attack}' for an adversarial set; use ensemble or pgd")


def craft_chunk(attack, models, images, labels, k: int, batch_size: int = 256) -> dict:
    """k targeted adversarial images per real image (its k least-likely classes over `models`);
    arrays in image-major order (image 0's k targets first). ``index`` is local to `images`."""
    import tensorflow as tf

    from tfinterp.attacks.targets import least_likely_targets

    models = list(models) if isinstance(models, (list, tuple)) else [models]
    x = np.asarray(images, np.float32)
    y = np.asarray(labels, np.int64)
    t = np.asarray(least_likely_targets(models, x, k, batch_size)).reshape(len(x), k)
    rep = np.repeat(np.arange(len(x)), k)
    adv = attack.attack(x[rep], y[rep], t.reshape(-1))
    pred = np.concatenate([np.asarray(tf.argmax(models[0](adv[i:i + batch_size], training=False), -1))
                           for i in range(0, len(adv), batch_size)]) if len(adv) else np.zeros(0, np.int64)
    return {"images": adv.astype(np.float32), "index": rep.astype(np.int64), "labels": y[rep],
            "targets": t.reshape(-1).astype(np.int64), "success": pred == t.reshape(-1)}


def _fingerprint(images, labels, meta) -> str:
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(images, np.float32).tobytes())
    h.update(np.ascontiguousarray(labels, np.int64).tobytes())
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return h.hexdigest()


def build_adversarial_set(path, models, images, labels, k: int = 10, attack: str = "ensemble", params=None,
                          index=None, chunk_size: int = 100, batch_size: int = 256, seed: int = 0,
                          meta: dict | None = None, fresh: bool = False, progress=None) -> AdversarialSet:
    """Build (or resume, or reuse) the adversarial set of `images` at `path` (see the module docstring).

    `models` is one model or a list (the first one decides ``success``); `index` the images'
    indices in their source set (default 0..N-1); `meta` extra fields (model, dataset, split).
    `progress(done, total)` is called after every chunk (done / total real images). A folder
    or file made with other images or settings is refused unless `fresh` (then rebuilt).
    """
    from tfinterp.checks import check_classes, check_images, model_image_shape, model_num_classes
    from tfinterp.utils import write_json

    models = list(models) if isinstance(models, (list, tuple)) else [models]
    x = check_images(images, model_image_shape(models[0]))
    num_classes = model_num_classes(models[0])
    y = check_classes(labels, len(x), num_classes, "labels").astype(np.int64)
    if not 1 <= int(k) < num_classes:
        raise UserError(f"k must be between 1 and {num_classes - 1} (the other classes), got {k}")
    if int(chunk_size) < 1:
        raise UserError(f"chunk_size must be at least 1, got {chunk_size}")
    idx = np.arange(len(x), dtype=np.int64) if index is None else np.asarray(index, np.int64).reshape(-1)
    if len(idx) != len(x):
        raise UserError(f"got {len(idx)} indices for {len(x)} images")
    att = set_attack(models, attack, params, batch_size, seed)
    meta = {**(meta or {}), "format": FORMAT, "input_shape": list(x.shape[1:]), "num_classes": num_classes,
            "attack": attack, "attack_config": att.config, "k": int(k), "seed": int(seed),
            "models": (meta or {}).get("models", [m.name for m in models]), "real_images": int(len(x)),
            "chunk_size": int(chunk_size)}
    meta["fingerprint"] = _fingerprint(x, y, {**meta, "index": idx.tolist()})
    path = Path(path)
    parts = path.with_name(path.name + ".parts")
    if path.exists():
        if not fresh:
            old = load_adversarial_set(path)
            if old.meta.get("fingerprint") == meta["fingerprint"]:
                if progress:
                    progress(len(x), len(x))
                return old
            raise UserError(f"{path} holds an adversarial set made with other images or settings; "
                            "pass --fresh to replace it, or choose another --out")
        path.unlink()
    manifest_path = parts / "manifest.json"
    if parts.is_dir():
        try:
            old = json.loads(manifest_path.read_text()).get("fingerprint")
        except (OSError, json.JSONDecodeError):
            old = None
        if fresh or old != meta["fingerprint"]:
            if not fresh and old is not None:
                raise UserError(f"{parts} holds an unfinished set made with other images or settings; "
                                "pass --fresh to start over, or choose another --out")
            shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    starts = list(range(0, len(x), int(chunk_size)))
    write_json(manifest_path, {"fingerprint": meta["fingerprint"], "chunks": len(starts), "meta": meta})
    stochastic = getattr(att, "stochastic", False)
    for c, s in enumerate(starts):
        chunk = parts / f"chunk_{c:05d}.npz"
        e = min(s + int(chunk_size), len(x))
        if not chunk.is_file():
            if stochastic and hasattr(att, "_rng"):
                att._rng.reset_from_seed(int(seed) * 1_000_003 + c)  # each chunk its own stream: resumable
            arrays = craft_chunk(att, models, x[s:e], y[s:e], int(k), batch_size)
            arrays["index"] = idx[s:e][arrays["index"]]
            _save_chunk(chunk, arrays)
        if progress:
            progress(e, len(x))
    chunks = [np.load(parts / f"chunk_{c:05d}.npz") for c in range(len(starts))]
    aset = AdversarialSet(*(np.concatenate([z[a] for z in chunks]) for a in ARRAYS), meta=meta)
    for z in chunks:
        z.close()
    save_adversarial_set(path, aset)
    shutil.rmtree(parts, ignore_errors=True)
    return aset


def _save_chunk(path, arrays):
    from tfinterp.utils import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
