"""`simba-music convert`: an SSM-TTM (Lee et al., 2025) Lightning checkpoint -> a simba-music model folder.

Safety: the checkpoint is read with torch.load(weights_only=True); only Lightning's AttributeDict container is
allow-listed, and no other pickled object is ever constructed, so a checkpoint carrying code is refused, not run.
Every variant of the original code is recognised (Prefix SiMBA, Prefix Mamba, Cross SiMBA, Cross Transformer and the
self-attention hybrids). Before writing, the converted model is checked against a plain re-implementation of the
original forward on the original tensors, and the max logit difference is reported. Nothing partial is written.

The options, in plain Python: `--help` answers before torch is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ConvertArguments:
    checkpoint: str = field(metadata={"help": "the original Lightning .ckpt"})
    output_dir: str = field(metadata={"help": "written atomically: a new or empty folder, or an earlier conversion's"})
    config: str | None = field(default=None, metadata={
        "help": "the original config.json (default: the checkpoint's hyper_parameters)"})
    decoder_only: bool = field(default=False, metadata={"help": "write a SimbaMusicForCausalLM only"})
    text_encoder: str = field(default="google/flan-t5-base", metadata={
        "help": "T5 config and tokenizer (weights: the checkpoint's text_encoder.*)"})
    codec: str = field(default="descript/dac_44khz", metadata={"help": "the audio codec (DAC 44.1 kHz)"})
    push_to_hub: str | None = field(default=None, metadata={"help": "also upload the folder to this Hub repo id"})
    verify: bool = field(default=True, metadata={
        "help": "check the converted model against a re-implementation of the original forward"})
    overwrite: bool = field(default=False, metadata={
        "help": "replace output_dir even if it holds files the converter did not write"})


__all__ = ["ConvertArguments"]
