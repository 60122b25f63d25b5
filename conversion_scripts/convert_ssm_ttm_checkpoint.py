#!/usr/bin/env python
"""Convert an SSM-TTM (Lee et al., 2025) Lightning checkpoint into a simba-music model directory.

    python conversion_scripts/convert_ssm_ttm_checkpoint.py --checkpoint PATH.ckpt --config PATH/config.json \\
        --output DIR [--decoder-only] [--text-encoder NAME_OR_DIR] [--codec NAME_OR_DIR] [--push-to-hub REPO_ID]

Safety: the checkpoint is read with torch.load(weights_only=True); only Lightning's AttributeDict container is
allow-listed, and no other pickled object is ever constructed, so a checkpoint carrying code is refused, not run.
Every variant of the original code is recognised (Prefix SiMBA, Prefix Mamba, Cross SiMBA, Cross Transformer and the
self-attention hybrids). Before writing, the converted model is checked against a plain re-implementation of the
original forward on the original tensors, and the max logit difference is reported. Nothing partial is written.
"""

import argparse
import json
import sys

from simba_music.conversion.convert import convert_checkpoint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="the original Lightning .ckpt")
    parser.add_argument("--config", default=None, help="the original config.json (default: the checkpoint's "
                                                        "hyper_parameters)")
    parser.add_argument("--output", required=True, help="output directory (written atomically; a new or empty folder, "
                                                        "or an earlier conversion's)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --output even if it holds files the converter did not write")
    parser.add_argument("--decoder-only", action="store_true", help="write a SimbaMusicForCausalLM only")
    parser.add_argument("--text-encoder", default="google/flan-t5-base",
                        help="T5 config and tokenizer (weights come from the checkpoint's text_encoder.* tensors)")
    parser.add_argument("--codec", default="descript/dac_44khz", help="the audio codec (DAC 44.1 kHz)")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO_ID")
    parser.add_argument("--no-verify", action="store_true", help="skip the check against the original forward")
    args = parser.parse_args(argv)
    try:
        report = convert_checkpoint(args.checkpoint, args.config, args.output, decoder_only=args.decoder_only,
                                    text_encoder=args.text_encoder, codec=args.codec, push_to_hub=args.push_to_hub,
                                    verify=not args.no_verify, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
