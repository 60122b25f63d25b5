"""Mapping the authors' SSM-TTM Lightning checkpoints onto SimbaMusicForCausalLM.

The original decoder (`Text_Mmamba` in their `simba.py`) stores its weights under `music_model.` and the frozen
FLAN-T5 encoder under `text_encoder.`. Five layouts exist (`shared/formats/ssm_ttm_*_layout.json`):

| variant | original flags | our block |
|---|---|---|
| Prefix SiMBA (released) | is_incontext | ["mamba2", "mlp"] |
| Prefix Mamba | is_incontext, is_pure_mamba | ["mamba2"] (one Mamba2 per original layer) |
| Cross SiMBA | not is_incontext | ["mamba2", "cross_attention", "mlp"] |
| Cross Transformer | not is_incontext, self_atten_layers = all | ["attention", "cross_attention", "mlp"] |
| prefix hybrids | is_incontext, self_atten_layers = [...] | ["mamba2", "mlp"] + hybrid_attention_layers |

Loading never unpickles arbitrary objects: `torch.load(weights_only=True)` with only Lightning's `AttributeDict`
allow-listed (as an inert dict stand-in, without importing Lightning).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..modeling.configuration_simba_music import SimbaMusicConfig

DECODER_PREFIX = "music_model."
TEXT_ENCODER_PREFIX = "text_encoder."
# Fixed in the original code (mamba_ssm.Mamba2 defaults as called there).
ORIGINAL_FIXED = dict(head_dim=64, n_groups=1, conv_kernel=4, expand=2, chunk_size=256, rms_norm_eps=1e-5,
                      use_bias=False, use_conv_bias=True, positional="sinusoidal", final_norm=False,
                      hidden_act="gelu", use_text_mask=False)
MAMBA2_PARAMETERS = ("dt_bias", "A_log", "D", "in_proj.weight", "conv1d.weight", "conv1d.bias", "norm.weight",
                     "out_proj.weight")
ATTENTION_PARAMETERS = {"to_q.weight": "q_proj.weight", "to_kv.weight": "kv_proj.weight",
                        "attention.to_out.weight": "out_proj.weight", "attention.to_out.bias": "out_proj.bias"}


def _attribute_dict_stand_ins():
    """Classes named like Lightning's AttributeDict, so `weights_only` loading accepts exactly those globals."""
    stand_ins = []
    for module in ("lightning.fabric.utilities.data", "pytorch_lightning.utilities.parsing",
                   "lightning.pytorch.utilities.parsing"):
        stand_ins.append(type("AttributeDict", (dict,), {"__module__": module}))
    return stand_ins


def load_lightning_checkpoint(path: str) -> dict:
    """Read a Lightning `.ckpt` safely. Raises ValueError naming the offending global for anything else."""
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"--checkpoint: {path!r} is a folder; give the Lightning .ckpt file inside it")
    if not file.is_file():
        raise FileNotFoundError(f"--checkpoint: no such file {path!r}")
    with open(file, "rb") as handle:
        head = handle.read(4)
    if head[:2] != b"PK" and head[:1] != b"\x80":  # torch.save writes a zip archive (or, before 1.6, a pickle)
        raise ValueError(f"--checkpoint: {path!r} is not a PyTorch checkpoint (neither a zip archive nor a pickle; "
                         f"it starts with {head!r})")
    try:
        with torch.serialization.safe_globals(_attribute_dict_stand_ins()):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # pickle.UnpicklingError, RuntimeError from torch's weights-only unpickler
        raise ValueError(f"checkpoint {path!r}: refused by the weights-only loader (no arbitrary objects are "
                         f"unpickled): {error}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"checkpoint {path!r}: not a Lightning checkpoint (no 'state_dict')")
    return checkpoint


def decoder_state_dict(checkpoint_state: dict) -> dict[str, torch.Tensor]:
    return {k[len(DECODER_PREFIX):]: v for k, v in checkpoint_state.items() if k.startswith(DECODER_PREFIX)}


def text_encoder_state_dict(checkpoint_state: dict) -> dict[str, torch.Tensor]:
    return {k[len(TEXT_ENCODER_PREFIX):]: v for k, v in checkpoint_state.items() if k.startswith(TEXT_ENCODER_PREFIX)}


def _layer_keys(state: dict, layer: int) -> set[str]:
    prefix = f"backbone.{layer}."
    return {k[len(prefix):] for k in state if k.startswith(prefix)}


def config_from_original(model_config: dict, state: dict) -> SimbaMusicConfig:
    """Our config from the original `config.json` "model" section, checked against the tensors."""
    layers = int(model_config.get("layers", 24))
    d_model = int(model_config.get("d_model", 1024))
    vocab = int(model_config.get("vocab_size", 1025))
    prefix = bool(model_config.get("is_incontext", True))
    pure = bool(model_config.get("is_pure_mamba", False))
    attention_layers = sorted(int(i) for i in model_config.get("self_atten_layers", []) or [])
    if "condition_linear.weight" not in state:
        raise ValueError("checkpoint: missing music_model.condition_linear.weight; not an SSM-TTM decoder")
    text_hidden = int(state["condition_linear.weight"].shape[1])
    common = dict(vocab_size=vocab, special_token_id=vocab - 1, hidden_size=d_model, num_hidden_layers=layers,
                  state_size=int(model_config.get("d_state", 128)),
                  num_codebooks=int(model_config.get("codec_layer", 1)),
                  dropout=float(model_config.get("drop_p", 0.0)), text_hidden_size=text_hidden,
                  num_attention_heads=int(model_config.get("num_heads", 16)), intermediate_size=2 * d_model,
                  **ORIGINAL_FIXED)
    if prefix and pure:
        return SimbaMusicConfig(**common, block_pattern=["mamba2"], conditioning="prefix")
    if prefix:
        return SimbaMusicConfig(**common, block_pattern=["mamba2", "mlp"], conditioning="prefix",
                                hybrid_attention_layers=attention_layers)
    if attention_layers and attention_layers != list(range(layers)):
        raise ValueError(f"self_atten_layers={attention_layers}: the cross-attention variants are known only with no "
                         "self-attention (Cross SiMBA) or self-attention in every layer (Cross Transformer)")
    first = "attention" if attention_layers else "mamba2"
    return SimbaMusicConfig(**common, block_pattern=[first, "cross_attention", "mlp"], conditioning="cross_attention")


def _mapping_for_layer(config: SimbaMusicConfig, layer: int) -> dict[str, str]:
    """original key (inside backbone.{layer}.) -> our key (inside model.layers.{layer}.)"""
    mapping = {}
    pure = config.block_pattern == ["mamba2"]
    for index, kind in enumerate(config.block_pattern):
        ours = f"sublayers.{index}."
        if kind == "mamba2":
            original = "" if pure else "mamba."
            mapping[f"{original}norm.weight"] = f"{ours}norm.weight"
            for name in MAMBA2_PARAMETERS:
                mapping[f"{original}mamba.{name}"] = f"{ours}op.{name}"
        elif kind == "mlp":
            mapping["ff.norm.weight"] = f"{ours}norm.weight"
            for original_index, name in (("0", "up_proj"), ("3", "down_proj")):
                mapping[f"ff.feed_forward.{original_index}.weight"] = f"{ours}op.{name}.weight"
                mapping[f"ff.feed_forward.{original_index}.bias"] = f"{ours}op.{name}.bias"
        elif kind in ("attention", "cross_attention"):
            original = "self_atten" if kind == "attention" else "cross_atten"
            mapping[f"{original}.norm.weight"] = f"{ours}norm.weight"
            for source, target in ATTENTION_PARAMETERS.items():
                mapping[f"{original}.{original}.{source}"] = f"{ours}op.{target}"
    if layer in config.hybrid_attention_layers:
        mapping["self_atten.norm.weight"] = "hybrid_attention.norm.weight"
        for source, target in ATTENTION_PARAMETERS.items():
            mapping[f"self_atten.self_atten.{source}"] = f"hybrid_attention.op.{target}"
        mapping["fusion_gate.weight"] = "fusion_gate.weight"
        mapping["fusion_gate.bias"] = "fusion_gate.bias"
    return mapping


def convert_decoder_state(state: dict, config: SimbaMusicConfig, expected_shapes: dict[str, torch.Size]) -> dict:
    """Rename the original decoder tensors to ours. Raises ValueError listing missing, unexpected and mis-shaped keys
    when the checkpoint matches no known variant."""
    mapping = {"condition_norm.weight": "model.text_norm.weight", "condition_norm.bias": "model.text_norm.bias",
               "condition_linear.weight": "model.text_projection.weight",
               "condition_linear.bias": "model.text_projection.bias"}
    for k in range(config.num_codebooks):
        mapping[f"embedding.{k}.weight"] = f"model.embed_tokens.{k}.weight"
        mapping[f"lm_head.{k}.weight"] = f"lm_head.{k}.weight"
    for layer in range(config.num_hidden_layers):
        for original, ours in _mapping_for_layer(config, layer).items():
            mapping[f"backbone.{layer}.{original}"] = f"model.layers.{layer}.{ours}"
    missing = sorted(set(mapping) - set(state))
    unexpected = sorted(set(state) - set(mapping))
    converted, wrong_shapes = {}, []
    for original, ours in mapping.items():
        if original in state:
            tensor = state[original]
            if ours not in expected_shapes or tuple(tensor.shape) != tuple(expected_shapes[ours]):
                wrong_shapes.append(f"{original}: {list(tensor.shape)} (expected "
                                    f"{list(expected_shapes.get(ours, ['?']))})")
            converted[ours] = tensor
    if missing or unexpected or wrong_shapes:
        lines = ["checkpoint does not match the SSM-TTM variant implied by its config "
                 f"(block_pattern={config.block_pattern}, conditioning={config.conditioning!r}, "
                 f"hybrid_attention_layers={config.hybrid_attention_layers}); nothing was written."]
        for title, items in (("missing keys", missing), ("unexpected keys", unexpected),
                             ("wrong shapes", wrong_shapes)):
            if items:
                lines.append(f"{title} ({len(items)}): " + ", ".join(DECODER_PREFIX + i if ":" not in i else i
                                                                     for i in items[:20])
                             + (" ..." if len(items) > 20 else ""))
        raise ValueError("\n".join(lines))
    return converted


def infer_layers(state: dict) -> int:
    indices = {int(m.group(1)) for k in state for m in [re.match(r"backbone\.(\d+)\.", k)] if m}
    return max(indices) + 1 if indices else 0
