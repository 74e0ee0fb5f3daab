"""Foundation commands: models, train classifier, eval, export, explain. Each parses its options
and calls `tfinterp.runs`; the jobs live there."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from tfinterp.cli.app import Strategy, app, train_app
from tfinterp.cli.common import out_help, unsafe_help


@app.command("models")
def models_cmd(shipped: bool = typer.Option(False, "--shipped", help="List the trained models shipped in saved_models/.")):
    """List the model zoo (or the shipped trained models)."""
    from tfinterp import models

    if shipped:
        for stem, meta in models.shipped_models().items():
            acc = meta.get("metrics", {}).get("test_accuracy")
            acc_s = f"test accuracy {acc:.4f}" if acc is not None else ""
            typer.echo(f"{stem:28s} {meta.get('data', {}).get('input_shape', '')!s:16s} {acc_s}")
        return
    for name, desc in models.list_models().items():
        typer.echo(f"{name:12s} {desc}")


@app.command("methods")
def methods_cmd(name: Optional[str] = typer.Argument(None, help="One method (default: all of the family)."),
                attacks: bool = typer.Option(False, "--attacks", help="List the attacks instead of the explainers.")):
    """List the explainers (or attacks) with every parameter: name, default, what is accepted."""
    from tfinterp.runs.catalog import describe_methods

    typer.echo(describe_methods("attacks" if attacks else "explainers", name))


@train_app.command("classifier")
def train_classifier_cmd(
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("train-classifier", "model, metrics JSON, "
                                       "history, logs, backup; run again to resume an interrupted run")),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML config file with a train table."),
    model: Optional[str] = typer.Option(None, "--model", help="Zoo model name (see `tfinterp models`)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="mnist, fashion_mnist, clutter64, or a tfds name."),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only N training examples (a seeded random "
                                        "subset; the first N canvases of a cluttered set)."),
    strategy: Optional[Strategy] = typer.Option(None, "--strategy", help="tf.distribute strategy."),
    cpu_devices: Optional[int] = typer.Option(None, "--cpu-devices",
                                              help="Logical CPU devices for --strategy mirrored without GPU."),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision",
                                                   help="mixed_float16 policy (for GPUs)."),
    jit: Optional[bool] = typer.Option(None, "--jit/--no-jit", help="XLA-compile the train step."),
    step: Optional[str] = typer.Option(None, "--step", help="Training step: natural (cross-entropy, the default) or another registered step."),
    step_param: Optional[List[str]] = typer.Option(None, "--step-param", help="Step parameter KEY=VALUE (repeatable; "
                                                   "also a [step] table in --config)."),
    attack_eps: Optional[float] = typer.Option(None, "--attack-eps", help="eps of the adversarial steps (madry, "
                                               "consistent, trades): the step parameter eps, in (0, 1]."),
    attack_steps: Optional[int] = typer.Option(None, "--attack-steps", help="Attack iterations per batch of the "
                                               "adversarial steps: the step parameter steps."),
    init_from: Optional[str] = typer.Option(None, "--init-from", help="Start from this model's weights (shipped "
                                            "stem or .keras path of the same architecture): fine-tuning."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard the backup, history and logs in --out and train "
                               "from scratch (a finished run of the same config is otherwise left as it is)."),
    verbose: int = typer.Option(1, "--verbose", min=0, max=2, help="Keras progress: 0 silent, 1 bar, 2 line per epoch."),
    stylize: Optional[str] = typer.Option(None, "--stylize", help="Stylized augmentation: fourier, adain, texture-fill."),
    style_ratio: Optional[str] = typer.Option(None, "--style-ratio", help="Original:stylized images, e.g. 1:2."),
    style_dir: Optional[Path] = typer.Option(None, "--style-dir", help="Folder of style images (default: built-in)."),
    style_param: Optional[List[str]] = typer.Option(None, "--style-param", help="Stylizer parameter KEY=VALUE."),
):
    """Train a zoo classifier on a data set (resumes after an interruption)."""
    from tfinterp.cli.common import merge, read_config, resolve_out
    from tfinterp.params import parse_assignments

    table = read_config(config, "train")
    step_table = read_config(config, "step", required=False)
    if "name" in step_table:  # [step] name = "madry" names the step beside its parameters
        table.setdefault("step", step_table.pop("name"))
    step_params = {**(table.get("step_params") or {}), **step_table}
    if step_param:
        step_params.update(parse_assignments(step_param, "--step-param"))
    step_params.update({k: v for k, v in (("eps", attack_eps), ("steps", attack_steps)) if v is not None})
    if step_params:
        table["step_params"] = step_params
    if style_param:
        table["style_params"] = {**(table.get("style_params") or {}), **parse_assignments(style_param, "--style-param")}
    table.update({k: v for k, v in (("stylize", stylize), ("style_ratio", style_ratio),
                                    ("style_dir", str(style_dir) if style_dir else None)) if v is not None})
    cfg_values = merge(
        table, model=model, dataset=dataset, epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, seed=seed, limit=limit, strategy=strategy.value if strategy else None,
        cpu_devices=cpu_devices, mixed_precision=mixed_precision, jit=jit, step=step, init_from=init_from)
    from tfinterp.training import TrainConfig, train_classifier

    cfg = TrainConfig.from_dict(cfg_values)
    folder = resolve_out(out, "train-classifier", cfg.model, cfg.dataset,
                         *(() if cfg.step == "natural" else (cfg.step,)))
    metrics = train_classifier(cfg, folder, verbose=verbose, command="tfinterp " + " ".join(sys.argv[1:]),
                               fresh=fresh)
    from tfinterp.training.trainer import worker_folder

    typer.echo(training_summary(metrics, worker_folder(folder, cfg.strategy)))  # multiworker: this task's folder


def training_summary(result: dict, folder: Path) -> str:
    """The last line of a training command: test accuracy and where the files went (or, for a
    folder that already held a finished run of this configuration, that nothing was done)."""
    acc = (result.get("metrics") or {}).get("test_accuracy")
    acc_s = f"test accuracy {acc:.4f}" if isinstance(acc, (int, float)) else "no test accuracy"
    if result.get("already_finished"):
        return (f"{folder}/ holds a finished run of this configuration ({acc_s}); nothing to do "
                "(pass --fresh to train again from scratch)")
    return (f"{acc_s} ({result['data']['test_examples']} test examples); "
            f"model: {folder / (result['stem'] + '.keras')}; written to {folder}/")


@app.command("eval")
def eval_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path."),
    dataset: str = typer.Option(..., "--dataset", help="Data set to evaluate on."),
    split: str = typer.Option("test", "--split"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Evaluate on the first N examples "
                                        "(a fixed random N of the digit-sorted offline MNIST subset)."),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("eval", "metrics JSON, confusion matrix PNG; "
                                       "robustness JSON and PNG with --attack")),
    attack: Optional[str] = typer.Option(None, "--attack", help="Also attack: pgd, fgsm, ifgs, ensemble "
                                         "(robustness.json and robustness.png per --eps)."),
    eps: Optional[str] = typer.Option(None, "--eps", help="Comma-separated eps values, e.g. 0.1,0.2,0.3."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Attack iterations (pgd default 40)."),
    step_size: Optional[float] = typer.Option(None, "--step-size", help="Attack step (pgd default 2.5*eps/steps)."),
    restarts: Optional[int] = typer.Option(None, "--restarts", min=1, help="pgd random restarts."),
    defense: Optional[str] = typer.Option(None, "--defense", help="threshold or threshold:MU (mu by grid search "
                                          "on training images when omitted)."),
    pixel_stats: bool = typer.Option(False, "--pixel-stats", help="With --attack: pixel_stats.png of natural vs "
                                     "adversarial grey levels."),
    seed: int = typer.Option(0, "--seed", min=0),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Accuracy, per-class accuracy and a confusion-matrix figure of a model on a data set;
    with --attack, clean and robust accuracy per eps (optionally through --defense)."""
    from tfinterp.cli.common import model_stem, resolve_out
    from tfinterp.errors import UserError

    if attack is None and (eps or steps or step_size or restarts or pixel_stats):
        raise UserError("--eps, --steps, --step-size, --restarts and --pixel-stats need --attack")
    if attack is None and defense is not None:
        raise UserError("--defense needs --attack (e.g. --attack pgd --eps 0.1)")
    folder = resolve_out(out, "eval", model_stem(model), dataset)
    if attack is not None:
        from tfinterp.runs.robustness import evaluate_robustness

        r = evaluate_robustness(model, dataset, split=split, limit=limit, method=attack,
                                eps_list=eps if eps is not None else "0.1", defense=defense,
                                batch_size=batch_size, pixel_stats=pixel_stats, out=folder, seed=seed,
                                steps=steps, step_size=step_size, restarts=restarts,
                                unsafe_deserialization=unsafe_deserialization)
        curve = ", ".join(f"eps {row['eps']:g}: {row['accuracy']:.4f}" for row in r["results"])
        typer.echo(f"clean accuracy {r['clean_accuracy']:.4f}; {attack} {curve} on {r['examples']} examples "
                   f"of {dataset}/{split}; robustness.json and robustness.png written to {folder}/")
        return
    from tfinterp.runs.evaluate import evaluate_classifier

    result = evaluate_classifier(model, dataset, split=split, limit=limit, batch_size=batch_size, out=folder,
                                 unsafe_deserialization=unsafe_deserialization)
    typer.echo(f"accuracy {result['accuracy']:.4f} on {result['examples']} examples of {dataset}/{split}; "
               f"metrics.json and confusion.png written to {folder}/")


@app.command("export")
def export_cmd(
    model: str = typer.Argument(..., help="Shipped model stem, zoo name or .keras path."),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("export", "the SavedModel goes to "
                                       "OUT/<version>/")),
    version: Optional[int] = typer.Option(None, "--version", min=1, help="Version number (default: next free)."),
    with_explanation: Optional[str] = typer.Option(None, "--with-explanation",
                                                   help="Add an 'explain' signature returning this method's "
                                                        "saliency map with the prediction (e.g. gradcam)."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization", help=unsafe_help()),
):
    """Export a model as a TensorFlow Serving SavedModel (signature serving_default)."""
    from tfinterp.cli.common import model_stem, resolve_out
    from tfinterp.runs.export import export_model

    folder = resolve_out(out, "export", model_stem(model))
    path = export_model(model, folder, version=version, explanation=with_explanation,
                        unsafe_deserialization=unsafe_deserialization)
    extra = f"; explain: images -> saliency ({with_explanation}), probabilities, class_id" if with_explanation else ""
    typer.echo(f"SavedModel written to {path} (signature serving_default: images -> probabilities, logits, "
               f"class_id{extra})")


@app.command("explain")
def explain_cmd(
    images: List[str] = typer.Argument(..., help="Image files (PNG/JPEG/BMP/GIF or .npy), folders or globs; or "
                                        "sequence files (FASTA .fa/.fasta, sequence,label .tsv/.csv) for a "
                                        "sequence model."),
    method: Optional[str] = typer.Option(None, "--method",
                                         help="guided-inversion (the default for images), gradient, gradient-x-input "
                                              "(the default for sequences), integrated-gradients, smoothgrad, "
                                              "gradcam, occlusion, meaningful-perturbation, gridcam, deeplift, ism "
                                              "(sequences), ..., prototypes (ProtoNet models) or all."),
    model: Optional[str] = typer.Option(None, "--model", help="Shipped model stem, zoo name or .keras path "
                                        "(default: vggsmall_clutter64 for images, seqcnn_planted for sequences)."),
    unsafe_deserialization: bool = typer.Option(False, "--unsafe-deserialization",
                                                help="Load a .keras file with Python (Lambda) layers: only for a "
                                                     "file whose source you trust (it can run arbitrary code)."),
    target: Optional[int] = typer.Option(None, "--target", help="Class to explain (default: the predicted class)."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Layer for layer-based methods (alias or path)."),
    figures: str = typer.Option("all", "--figures", help="Overlay PNGs for all images, none, or first:N "
                                "(maps and JSON are written for every image)."),
    param: Optional[List[str]] = typer.Option(None, "--param", help="Method parameter key=value (repeatable), "
                                              "e.g. --param steps2=70 --param stage=inversion. A model that "
                                              "carries a tuned setting (the shipped vggsmall_clutter64) uses it "
                                              "for the keys not given; --param preset=paper for the method's "
                                              "paper defaults."),
    alpha: Optional[float] = typer.Option(None, "--alpha", min=0.0,
                                          help="Box threshold: alpha x mean of the map (default: the model's "
                                               "tuned alpha, else 1.0)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    out: Optional[Path] = typer.Option(None, "--out", help=out_help("explain", "overlay PNG, raw .npy map, JSON "
                                       "per image")),
    motif_width: Optional[int] = typer.Option(None, "--motif-width", min=1,
                                              help="Sequences: width of the top window (default: the widest "
                                                   "motif=START-END the FASTA headers give, else 10)."),
    alphabet: Optional[str] = typer.Option(None, "--alphabet", help="Sequences: the files' alphabet (dna, protein "
                                           "or the letters); must be the model's (default: the model's)."),
):
    """Explain a model's prediction on images (heatmap overlay PNG, raw map and JSON summary) or on
    sequences (an importance-logo PNG per sequence with the given motif and the top window, the
    per-letter map and JSON)."""
    from tfinterp.cli.common import images_stem, resolve_out
    from tfinterp.params import parse_assignments

    params = parse_assignments(param)
    from tfinterp.runs.explain_sequence import is_sequence_file

    if any(is_sequence_file(i) for i in images):
        from tfinterp.errors import UserError
        from tfinterp.runs.explain_sequence import explain_sequence_files, print_lines

        if layer is not None or alpha is not None:
            raise UserError("--layer and --alpha are for images; drop them for sequence files")
        folder = resolve_out(out, "explain", images_stem(images))
        written = explain_sequence_files(images, method=method, model=model or "seqcnn_planted", target=target,
                                         batch_size=batch_size,
                                         out=folder, params=params, motif_width=motif_width, figures=figures,
                                         alphabet=alphabet, unsafe_deserialization=unsafe_deserialization)
        for line in print_lines(written, folder):
            typer.echo(line)
        return
    if motif_width is not None or alphabet is not None:
        from tfinterp.errors import UserError

        raise UserError("--motif-width and --alphabet are for sequence files (FASTA, .tsv, .csv)")
    method, model = method or "guided-inversion", model or "vggsmall_clutter64"
    from tfinterp.runs.explain import explain_files

    folder = resolve_out(out, "explain", images_stem(images))
    written = explain_files(images, method=method, model=model, target=target, layer=layer,
                            batch_size=batch_size, out=folder, alpha=alpha, params=params,
                            unsafe_deserialization=unsafe_deserialization, figures=figures)
    for item in written:
        typer.echo(f"{item['image']}: class {item['target']} (p={item['probability']:.3f})"
                   + (f" -> {item['overlay']}" if item.get("overlay") else ""))
    typer.echo(f"explanations written to {folder}/")


