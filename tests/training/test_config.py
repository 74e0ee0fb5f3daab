"""Run configs through the one validation mechanism: every key typed and ranged, the message
names the key and what was expected; ProtoNet's options declared once."""

import json

import pytest

from tfinterp.errors import UserError
from tfinterp.training import TrainConfig
from tfinterp.training.protonet import ProtoNetConfig


@pytest.mark.parametrize("cls,table,match", [
    (TrainConfig, {"epochs": "three"}, "train: epochs must be an integer >= 1, got 'three'"),
    (TrainConfig, {"epochs": 0}, "train: epochs must be an integer >= 1, got 0"),
    (TrainConfig, {"batch_size": 2.5}, "train: batch_size must be an integer >= 1, got 2.5"),
    (TrainConfig, {"learning_rate": "fast"}, "train: learning_rate must be a number > 0 and < 10, got 'fast'"),
    (TrainConfig, {"limit": -3}, "train: limit must be an integer >= 1 or None, got -3"),
    (TrainConfig, {"val_fraction": 1.0}, "train: val_fraction must be a number >= 0 and < 1, got 1.0"),
    (TrainConfig, {"mixed_precision": "maybe"}, "train: mixed_precision must be true or false, got 'maybe'"),
    (TrainConfig, {"strategy": "tpu"}, "train: strategy must be one of 'default' or 'mirrored' or 'multiworker'"),
    (TrainConfig, {"arch_kwargs": 3}, "train: arch_kwargs must be a table of key = value, got 3"),
    (TrainConfig, {"step": "madri"}, "unknown training step 'madri'; available: consistent, madry, natural, protonet, trades"),
    (TrainConfig, {"step_params": {"eps": 0.3}}, "natural: unknown parameter eps"),
    (TrainConfig, {"model": "protonet"}, "train protonet"),
    (TrainConfig, {"epochz": 3}, "train: unknown config key epochz; known: arch_kwargs, batch_size"),
    (ProtoNetConfig, {"decoder": "pixelshuffle"},
     "protonet: decoder must be one of 'deconv' or 'upconv' or 'dense-deconv', got 'pixelshuffle'"),
    (ProtoNetConfig, {"classifier_init": "zeros"}, "protonet: classifier_init must be one of 'random' or 'class'"),
    (ProtoNetConfig, {"lr_schedule": "step"}, "protonet: lr_schedule must be one of 'constant' or 'cosine'"),
    (ProtoNetConfig, {"prototypes": "many"}, "protonet: prototypes must be an integer >= 1, got 'many'"),
    (ProtoNetConfig, {"filters": [32, 0]}, "protonet: filters must be a list of positive channel counts"),
    (ProtoNetConfig, {"lambda_ae": -1}, "protonet: lambda_ae must be a number >= 0, got -1"),
    (ProtoNetConfig, {"elastic_sigma": 0}, "protonet: elastic_sigma must be a number > 0, got 0"),
    (ProtoNetConfig, {"epochs": "three"}, "protonet: epochs must be an integer >= 1, got 'three'"),
])
def test_a_wrong_value_names_its_key(cls, table, match):
    with pytest.raises(UserError) as e:
        cls.from_dict(table)
    assert match in str(e.value)


def test_values_are_parsed_defaulted_and_rechecked():
    cfg = TrainConfig.from_dict({"epochs": "3", "learning_rate": 1, "limit": "none", "arch_kwargs": {"filters": [4]}})
    assert cfg.epochs == 3 and cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)
    assert cfg.limit is None and cfg.model == "vggsmall" and cfg.step == "natural"
    a, b = TrainConfig(), TrainConfig()
    a.arch_kwargs["x"] = 1
    assert b.arch_kwargs == {}                            # no shared mutable default
    d = cfg.asdict()
    assert list(d)[:4] == ["model", "dataset", "step", "step_params"] and json.loads(json.dumps(d)) == d
    assert TrainConfig(**d) == cfg
    cfg.epochs = "x"                                      # changed after construction: caught by validate
    with pytest.raises(UserError, match="epochs must be an integer"):
        cfg.validate()
    p = ProtoNetConfig(filters="16, 8", decoder_filters=None)
    assert p.filters == [16, 8] and p.epochs == 40 and p.batch_size == 250 and p.dataset == "fashion_mnist"
    assert ProtoNetConfig(filters=[16, 8]).decoder_filters is None  # a given encoder gets a mirrored decoder
    assert ProtoNetConfig().decoder_filters == [16, 8, 8]           # the default one goes with the default filters


def test_protonet_options_are_declared_once():
    """The config's architecture keys and loss weights are the model's own Param objects (with
    the shipped configuration's defaults, issue 14: the rule -- type, range, check -- is the model's)."""
    import dataclasses

    from tfinterp.models.protonet import ARCH_PARAMS, LOSS_PARAMS, ProtoNet

    spec = ProtoNetConfig.param_spec()
    for key, name in (("prototypes", "num_prototypes"), ("latent_dim", "latent_dim"), ("filters", "filters"),
                      ("decoder", "decoder"), ("decoder_filters", "decoder_filters"),
                      ("classifier_init", "classifier_init")):
        assert spec[key] is ARCH_PARAMS[name] or (
            dataclasses.replace(spec[key], default=ARCH_PARAMS[name].default) == ARCH_PARAMS[name]), key
    for key, p in LOSS_PARAMS.items():
        assert spec[key] is p
    with pytest.raises(UserError, match="ProtoNet: decoder must be one of 'deconv'"):
        ProtoNet(decoder="pixelshuffle")
    with pytest.raises(UserError, match="ProtoNet: lambda_r1 must be a number >= 0, got -1"):
        ProtoNet(lambdas=(20, 1, -1, 1))


def test_toml_type_error_through_the_cli(tmp_path, capsys):
    from tfinterp.cli.main import main

    (tmp_path / "t.toml").write_text('[train]\nepochs = "three"\n')
    (tmp_path / "p.toml").write_text('[protonet]\nlambda_ae = "big"\n')
    for argv in (["train", "classifier", "--config", str(tmp_path / "t.toml")],
                 ["train", "protonet", "--config", str(tmp_path / "p.toml")]):
        code = main([*argv, "--out", str(tmp_path / "o")])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert code == 2 and len(err) == 1, (argv, err)
    assert "lambda_ae must be a number >= 0, got 'big'" in err[0]
