"""Checkpoint conversion: original SSM-TTM `.ckpt` + `config.json` -> a simba-music model directory."""

from __future__ import annotations

import json

import torch

from ..hub_check import check_hub_push
from ..io_utils import atomic_directory, check_output_directory, output_errors
from ..modeling import SimbaMusicForCausalLM
from ..validation import read_json_file
from .reference import original_forward
from .ssm_ttm import (
    config_from_original,
    convert_decoder_state,
    decoder_state_dict,
    infer_layers,
    load_lightning_checkpoint,
    text_encoder_state_dict,
)

# The released inference pads captions to at least 60 tokens with id 1, and the prefix path never masks them.
MIN_TEXT_TOKENS = 60
TEXT_PAD_ID = 1
VERIFY_TOLERANCE = 1e-4
WRITER = "simba-music convert"


def _model_section(config_path: str | None, checkpoint: dict) -> dict:
    if config_path is not None:
        data = read_json_file(config_path, "--config")
    else:
        data = dict((checkpoint.get("hyper_parameters") or {}).get("config") or {})
    if "model" not in data:
        raise ValueError("config: expected the original config.json with a 'model' section (layers, d_model, ...)")
    return data["model"]


@torch.no_grad()
def verify_against_original(model: SimbaMusicForCausalLM, state: dict, model_config: dict, seed: int = 0) -> float:
    """Max |logit difference| between the converted model and the reference forward on the original tensors."""
    generator = torch.Generator().manual_seed(seed)
    config = model.config
    codes = torch.randint(0, config.special_token_id, (2, 9), generator=generator)
    condition = torch.randn(2, 7, config.text_hidden_size, generator=generator)
    reference = original_forward(state, model_config, codes, condition)
    if config.conditioning == "prefix":
        reference = reference[:, 1:]  # ours covers the audio positions only
    ours = model.eval().double()(codes, encoder_hidden_states=condition.double()).logits
    model.float()
    return float((ours - reference).abs().max())


def convert_checkpoint(checkpoint_path: str, config_path: str | None, output_dir: str, decoder_only: bool = False,
                       text_encoder: str = "google/flan-t5-base", codec: str = "descript/dac_44khz",
                       push_to_hub: str | None = None, verify: bool = True, overwrite: bool = False) -> dict:
    """Convert, check against the original forward, then write `output_dir` (a new or empty folder, or an earlier
    conversion's, unless `overwrite`; never one holding the checkpoint or its config)."""
    check_output_directory(output_dir, "--output", overwrite, inputs=(checkpoint_path, config_path), writer=WRITER)
    if push_to_hub:
        check_hub_push(push_to_hub)
    with output_errors(output_dir, "--output"):
        return _convert(checkpoint_path, config_path, output_dir, decoder_only, text_encoder, codec, push_to_hub,
                        verify, overwrite)


def _convert(checkpoint_path, config_path, output_dir, decoder_only, text_encoder, codec, push_to_hub, verify,
             overwrite) -> dict:
    checkpoint = load_lightning_checkpoint(checkpoint_path)
    state = decoder_state_dict(checkpoint["state_dict"])
    if not state:
        raise ValueError(f"checkpoint {checkpoint_path!r}: no 'music_model.' tensors; not an SSM-TTM checkpoint")
    model_config = _model_section(config_path, checkpoint)
    if infer_layers(state) != int(model_config.get("layers", 24)):
        raise ValueError(f"config: layers={model_config.get('layers')} but the checkpoint holds "
                         f"{infer_layers(state)} backbone layers")
    if not decoder_only:  # the inputs the full model needs, before the conversion
        _check_loadable(text_encoder, "--text-encoder")
        _check_loadable(codec, "--codec")
    config = config_from_original(model_config, state)
    with torch.device("meta"):
        expected = {k: v.shape for k, v in SimbaMusicForCausalLM(config).state_dict().items()}
    converted = convert_decoder_state(state, config, expected)
    decoder = SimbaMusicForCausalLM(config)
    decoder.load_state_dict(converted, strict=True)
    decoder.generation_config.update(do_sample=True, top_k=250, temperature=1.2)
    report = {"variant": config.block_pattern, "conditioning": config.conditioning,
              "hybrid_attention_layers": config.hybrid_attention_layers,
              "parameters_m": round(sum(p.numel() for p in decoder.parameters()) / 1e6, 2)}
    if verify:
        report["max_logit_difference"] = difference = verify_against_original(decoder, state, model_config)
        if not difference <= VERIFY_TOLERANCE:
            raise ValueError(f"verification failed: converted logits differ from the original forward by "
                             f"{difference:.3g} (> {VERIFY_TOLERANCE}); nothing was written")

    with atomic_directory(output_dir, WRITER, overwrite) as temporary:
        if decoder_only:
            model = decoder
            decoder.config.ssm_ttm = {"min_text_tokens": MIN_TEXT_TOKENS, "text_pad_id": TEXT_PAD_ID,
                                      "text_mask_ignored": True}
            decoder.save_pretrained(temporary)
        else:
            model, processor = _full_model(decoder, checkpoint["state_dict"], text_encoder, codec)
            model.save_pretrained(temporary)
            processor.save_pretrained(temporary)
        (temporary / "conversion_report.json").write_text(json.dumps(report, indent=1))
    if push_to_hub:
        model.push_to_hub(push_to_hub)
    return report


def _check_loadable(name: str, option: str) -> None:
    """The text encoder's or codec's config, fetched before the conversion: offline, an uncached Hub id used to be
    an OSError traceback after the work."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as error:
        raise ValueError(f"{option}: cannot load {name!r} ({str(error).splitlines()[0]}); give a local folder, or "
                         "convert with --decoder-only") from None


def _full_model(decoder, checkpoint_state: dict, text_encoder: str, codec: str):
    """The text-to-music model: T5 weights from the checkpoint (config/tokenizer from `text_encoder`), the codec."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer, T5EncoderModel

    from ..modeling.conditional_generation import SimbaMusicForConditionalGeneration
    from ..modeling.processing import SimbaMusicProcessor

    text_state = text_encoder_state_dict(checkpoint_state)
    text_config = AutoConfig.from_pretrained(text_encoder)
    if text_state:
        encoder = T5EncoderModel(text_config) if text_config.model_type == "t5" else AutoModel.from_config(text_config)
        missing, unexpected = encoder.load_state_dict(text_state, strict=False)
        missing = [k for k in missing if not k.endswith("embed_tokens.weight")]  # tied to shared.weight in T5
        if missing or unexpected:
            raise ValueError(f"text_encoder.* tensors do not fit {text_encoder!r}: missing {missing[:10]}, "
                             f"unexpected {unexpected[:10]}")
    else:
        encoder = T5EncoderModel.from_pretrained(text_encoder) if text_config.model_type == "t5" \
            else AutoModel.from_pretrained(text_encoder)
    model = SimbaMusicForConditionalGeneration(text_encoder=encoder, audio_encoder=AutoModel.from_pretrained(codec),
                                               decoder=decoder)
    model.config.ssm_ttm = {"min_text_tokens": MIN_TEXT_TOKENS, "text_pad_id": TEXT_PAD_ID, "text_mask_ignored": True}
    # The prefix is a fixed 60 tokens, padded with id 1 (T5's </s>) as the released inference does; the decoder
    # was trained with those padding embeddings in its prefix and `use_text_mask=False` keeps them there.
    model.config.text_max_length = MIN_TEXT_TOKENS
    tokenizer = AutoTokenizer.from_pretrained(text_encoder)
    if tokenizer.convert_ids_to_tokens(TEXT_PAD_ID) is not None:
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(TEXT_PAD_ID)
    return model, SimbaMusicProcessor.for_model(model, tokenizer)
