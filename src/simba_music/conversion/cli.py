"""`simba-music convert`: an SSM-TTM (Lee et al., 2025) Lightning checkpoint -> a simba-music model folder.

Safety: the checkpoint is read with torch.load(weights_only=True); only Lightning's AttributeDict container is
allow-listed, and no other pickled object is ever constructed, so a checkpoint carrying code is refused, not run.
Every variant of the original code is recognised (Prefix SiMBA, Prefix Mamba, Cross SiMBA, Cross Transformer and the
self-attention hybrids). Before writing, the converted model is checked against a plain re-implementation of the
original forward on the original tensors, and the max logit difference is reported. Nothing partial is written.
"""

from __future__ import annotations

import argparse
import json
import sys

from simba_music_cli.conversion import ConvertArguments
from simba_music_cli.parsing import add_dataclass_arguments, dataclass_from_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, ConvertArguments, aliases={"output_dir": ("--output",)})


def run(args: argparse.Namespace) -> int:
    from .convert import convert_checkpoint

    arguments = dataclass_from_arguments(ConvertArguments, args)
    report = convert_checkpoint(arguments.checkpoint, arguments.config, arguments.output_dir,
                                decoder_only=arguments.decoder_only, text_encoder=arguments.text_encoder,
                                codec=arguments.codec, push_to_hub=arguments.push_to_hub, verify=arguments.verify,
                                overwrite=arguments.overwrite)
    print(json.dumps(report, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    """The converter on its own (conversion_scripts/convert_ssm_ttm_checkpoint.py): exit status 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


__all__ = ["ConvertArguments", "add_arguments", "main", "run"]
