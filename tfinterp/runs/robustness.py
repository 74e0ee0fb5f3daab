"""`tfinterp eval --attack`: robustness curves of a model on a data set (clean and adversarial
accuracy per eps, optionally through input thresholding), written as robustness.json and
robustness.png (and pixel_stats.json / .png)."""

from __future__ import annotations

from pathlib import Path


def threshold_train_images(defense, dataset: str):
    """The training images the threshold's grid search needs (None when mu is given or no defence)."""
    if defense is None or defense[1] is not None:
        return None
    from tfinterp.data import load_arrays

    return load_arrays(dataset, "train", materialize=True)[0]


def evaluate_robustness(model_spec, dataset: str, split="test", limit=None, method="pgd", eps_list=(0.1,),
                        defense=None, batch_size=256, pixel_stats=False, out=None, seed=0,
                        unsafe_deserialization=False, **attack_params) -> dict:
    """Load `model_spec` (or take a model) and `dataset`, run `tfinterp.attacks.evaluate.robustness`,
    write robustness.json and robustness.png (and pixel_stats.json / .png) under `out`.

    `eps_list` is a list of radii or their text ("0.1,0.2,0.3"). `unsafe_deserialization` loads
    a `.keras` file with Keras' safe mode off (`tfinterp.models.load_model`)."""
    from tfinterp.attacks.evaluate import parse_eps_list, robustness
    from tfinterp.data import load_arrays
    from tfinterp.defenses.thresholding import parse_defense
    from tfinterp.models import load_model
    from tfinterp.utils import set_seed, write_json

    if isinstance(eps_list, str):
        eps_list = parse_eps_list(eps_list)
    set_seed(seed)
    parsed = parse_defense(defense) if isinstance(defense, (str, type(None))) else defense
    model = (load_model(model_spec, unsafe_deserialization=unsafe_deserialization)
             if isinstance(model_spec, str) else model_spec)
    x, y = load_arrays(dataset, split, limit, materialize=True)
    result = robustness(model, x, y, method=method, eps_list=eps_list, defense=parsed,
                        train_images=threshold_train_images(parsed, dataset), batch_size=batch_size,
                        pixel_stats=pixel_stats, seed=seed, **attack_params)
    result.update(model=model_spec if isinstance(model_spec, str) else model.name, dataset=dataset, split=split)
    if out is not None:
        from tfinterp.viz.attacks import save_pixel_stats, save_robustness_curve

        out = Path(out)
        stats = result.pop("pixel_statistics", None)
        write_json(out / "robustness.json", result)
        label = method + ("" if parsed is None else " + threshold")
        curve = {label: ([0.0] + [r["eps"] for r in result["results"]],
                         [result["clean_accuracy"]] + [r["accuracy"] for r in result["results"]])}
        save_robustness_curve(out / "robustness.png", curve,
                              title=f"{result['model']} on {dataset}/{split} ({len(x)} images)")
        if stats is not None:
            write_json(out / "pixel_stats.json", stats)
            save_pixel_stats(out / "pixel_stats.png", stats, title=f"{result['model']} on {dataset}/{split}")
            result["pixel_statistics"] = stats
    return result
