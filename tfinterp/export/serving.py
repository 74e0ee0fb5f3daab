"""Export a Keras image classifier as a TensorFlow Serving SavedModel.

``export_serving(model, base)`` writes ``base/<version>/`` (TF Serving's layout) with a
``serving_default`` signature: ``images`` float32 [N, H, W, C] in, ``probabilities``,
``logits`` and ``class_id`` out, plus whatever the model's optional
``serving_outputs(images) -> dict`` returns (ProtoNet: ``nearest_prototype``,
``prototype_distances``). The folder appears atomically (written beside, then renamed).

With ``explanation=METHOD`` a second signature ``explain`` returns, with the prediction, the
saliency map ``saliency`` [N, H, W] in [0, 1] of any tfinterp explainer (gradient,
Grad-CAM, integrated gradients, guided inversion, ...) for the predicted class, so a
TensorFlow Serving deployment can answer "why" along with "what".
"""

from __future__ import annotations

from pathlib import Path

from tfinterp.errors import UserError


def next_version(base) -> int:
    """1 + the largest numeric version folder under `base` (1 when there is none)."""
    base = Path(base)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


class _ServingModule:
    """Builds the tf.Module holding the model and its signature functions."""

    @staticmethod
    def build(model, explanation=None, explanation_params=None):
        import tensorflow as tf

        from tfinterp.data.imageio import model_input_shape

        shape = model_input_shape(model)
        module = tf.Module()
        module.model = model

        @tf.function(input_signature=[tf.TensorSpec((None,) + shape, tf.float32, name="images")])
        def serve(images):
            logits = tf.cast(model(images, training=False), tf.float32)
            outputs = {"probabilities": tf.nn.softmax(logits, axis=-1), "logits": logits,
                       "class_id": tf.argmax(logits, axis=-1, output_type=tf.int64)}
            # generic hook: a model may add its own outputs (ProtoNet: prototype distances)
            extra = getattr(model, "serving_outputs", None)
            if callable(extra):
                outputs.update(extra(images))
            return outputs

        module.serve = serve
        signatures = {"serving_default": serve}
        if explanation:
            from tfinterp.explain import get_explainer

            explainer = get_explainer(explanation, model, **(explanation_params or {}))
            module.explainer_features = getattr(explainer, "_features", None)  # tracked: weights are saved

            @tf.function(input_signature=[tf.TensorSpec((None,) + shape, tf.float32, name="images")])
            def explain(images):
                logits = tf.cast(model(images, training=False), tf.float32)
                class_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
                return {"saliency": explainer._explain_batch(images, class_id),
                        "probabilities": tf.nn.softmax(logits, axis=-1), "class_id": tf.cast(class_id, tf.int64)}

            module.explain = explain
            signatures["explain"] = explain
        return module, signatures


def export_serving(model, base, version: int | None = None, explanation: str | None = None,
                   explanation_params: dict | None = None) -> Path:
    """Write `model` as SavedModel ``base/<version>/``; returns that path.

    `explanation` names an explainer for the extra ``explain`` signature.
    """
    import tensorflow as tf

    from tfinterp.utils import atomic_path

    base = Path(base)
    if base.exists() and not base.is_dir():
        raise UserError(f"--out {base} exists and is not a folder")
    version = int(version) if version is not None else next_version(base)
    target = base / str(version)
    if target.exists():
        raise UserError(f"{target} already exists; choose another --version or remove it")
    module, signatures = _ServingModule.build(model, explanation, explanation_params)
    with atomic_path(target, suffix="") as tmp:
        tf.saved_model.save(module, str(tmp), signatures=signatures)
    return target
