"""`tfinterp train style-decoder`: train the AdaIN decoder (Huang & Belongie 2017) on a data
set's training images with the style bank, and write the decoder, its JSON and a figure."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError


def train_style_decoder_run(dataset: str, out, limit: int | None = 2000, epochs: int = 2, batch_size: int = 32,
                            learning_rate: float = 1e-3, style_weight: float = 1.0, encoder: str = "random",
                            weights="imagenet", style_dir=None, seed: int = 0, verbose: int = 1,
                            command: str | None = None) -> dict:
    """Train and save ``out/style_decoder.keras`` (+ ``.json``, ``.png``); returns the summary.

    Content: the first `limit` training images of `dataset`; styles: the images of
    `style_dir`, or the built-in bank (scikit-image textures + seeded textures).
    """
    from tfinterp.data import load_arrays
    from tfinterp.training.style_decoder import encoder_spec, train_style_decoder
    from tfinterp.training.stylizers.adain import AdaINStylizer
    from tfinterp.training.stylizers.styles import style_bank
    from tfinterp.utils import atomic_path, write_json
    from tfinterp.viz.stylize import save_image_rows

    for name, v, lo in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if int(v) < lo:
            raise UserError(f"{name} must be >= {lo}, got {v}")
    if not 0 < learning_rate < 10:
        raise UserError(f"learning rate must be in (0, 10), got {learning_rate}")
    x, _ = load_arrays(dataset, "train", limit, materialize=True)
    x = x[:limit] if limit else x
    if x.shape[1] != x.shape[2]:
        raise UserError(f"the style decoder trains on square images; {dataset} has {x.shape[1]}x{x.shape[2]}")
    bank = style_bank(style_dir, size=x.shape[1], channels=x.shape[-1], seed=seed)
    spec = encoder_spec(encoder, x.shape[-1], seed, weights=weights)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    dec, history = train_style_decoder(x, bank.images, spec, epochs, batch_size, learning_rate, style_weight,
                                       seed=seed, verbose=verbose)
    seconds = time.perf_counter() - t0
    with atomic_path(out / "style_decoder.keras") as tmp:
        dec.save(tmp)
    st = AdaINStylizer(styles=bank.images, model=dec, seed=seed)
    show = x[:8]
    pick = np.linspace(0, len(bank) - 1, len(show)).round().astype(int)  # styles from the whole bank
    rows = {"content": show, "style": bank.images[pick]}
    rows["adain"] = _paired(st, show, rows["style"])
    save_image_rows(out / "style_decoder.png", rows, title=f"AdaIN decoder on {dataset}; encoder: {st.encoder.label}")
    summary = {"job": "train style-decoder", "command": command or " ".join(sys.argv), "dataset": dataset,
               "content_images": int(len(x)), "styles": bank.describe(), "encoder": st.encoder.label,
               "encoder_spec": spec, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
               "style_weight": style_weight, "seed": seed, "history": history, "train_seconds": round(seconds, 2),
               "decoder": str(out / "style_decoder.keras"), "figure": str(out / "style_decoder.png")}
    write_json(out / "style_decoder.json", summary)
    return summary


def _paired(stylizer, contents, styles):
    """Each content image stylized with the style beside it (for the figure)."""
    import tensorflow as tf

    return stylizer.transfer(tf.constant(contents), tf.constant(styles)).numpy()
