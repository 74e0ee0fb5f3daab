"""AdaIN stylizer (Huang & Belongie, ICCV 2017): encoder features re-normalised to the style
image's per-channel mean and standard deviation, then decoded.

The encoder and the decoder come from a decoder trained by `tfinterp train style-decoder`
(`tfinterp.training.style_decoder`): its config names its encoder (VGG-19 relu4_1 with
ImageNet weights where they can be had; offline a seeded random multi-scale conv encoder,
Ustyuzhaninov et al. 2017), and `describe()` carries that label into every output.
"""

from __future__ import annotations

from tfinterp.errors import UserError
from tfinterp.params import Param
from tfinterp.training.stylizers.base import Stylizer, register


@register("adain")
class AdaINStylizer(Stylizer):
    """out = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s))), f the decoder's encoder, g the decoder.

    ``decoder``: the path of a decoder `.keras` file (`tfinterp train style-decoder`); a
    decoder object may be passed as ``model=`` instead (tests, notebooks).
    """

    params = {
        "decoder": Param(None, str, none_ok=True, doc="the .keras decoder from `tfinterp train style-decoder`"),
        "alpha": Param(1.0, float, min=0.0, max=1.0, doc="content-style trade-off (Huang & Belongie, Eq. 11)"),
    }

    def __init__(self, styles=None, style_dir=None, model=None, **params):
        super().__init__(styles=styles, style_dir=style_dir, **params)
        from tfinterp.training.style_decoder import StyleDecoder, make_encoder

        if model is None:
            if self.decoder is None:
                raise UserError("adain needs a trained decoder: run `tfinterp train style-decoder --out DIR` and "
                                "pass --style-param decoder=DIR/style_decoder.keras")
            model = _load_decoder(self.decoder)
        if not isinstance(model, StyleDecoder):
            raise UserError(f"adain: {self.decoder or 'the model'} is a {type(model).__name__}, not a StyleDecoder "
                            "(train one with `tfinterp train style-decoder`)")
        self.model = model
        self.encoder = make_encoder(model.encoder)

    def transfer(self, images, styles, masks=None):
        from tfinterp.training.style_decoder import adain, decode_to

        fc = self.encoder(images)
        t = adain(fc, self.encoder(styles))
        if self.alpha < 1.0:
            t = self.alpha * t + (1.0 - self.alpha) * fc
        return decode_to(self.model, t, int(images.shape[1]))

    def describe(self) -> dict:
        return {**self.config, "method": "adain", "encoder": self.encoder.label,
                "encoder_spec": dict(self.model.encoder)}


def _load_decoder(path):
    from pathlib import Path

    import keras

    p = Path(path)
    if not p.exists():
        raise UserError(f"AdaIN decoder not found: {p} (train one with `tfinterp train style-decoder`)")
    try:
        return keras.models.load_model(p, compile=False)
    except Exception as e:
        raise UserError(f"{p} could not be loaded as an AdaIN decoder ({type(e).__name__})") from None
