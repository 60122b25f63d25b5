"""The codec weights shipped inside the package, and the half-precision export that produced them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from simba_music.shipped import PRETRAINED_ROOT, shipped_path

from ..shipped import LAB_PRETRAINED_ROOT

PITCH_CODEC = "pitch-codec-16khz"  # PitchCodecModel, 2 x 1024: the demo's codec, shipped in the library
CHORALE_CODEC = "chorale-codec-16khz"  # EncodecModel, 4 codebooks, trained end to end (it erases pitch)
WAVTOKENIZER_CODEC = "chorale-wavtokenizer-16khz"  # WavTokenizerModel, one codebook


def pretrained_codec_path(name: str = CHORALE_CODEC) -> Path:
    """Folder of a shipped codec, loadable with ``AutoModel.from_pretrained`` (``PitchCodecModel`` for
    ``PITCH_CODEC``, ``EncodecModel`` for ``CHORALE_CODEC``, ``WavTokenizerModel`` for ``WAVTOKENIZER_CODEC``; float32
    parameters). The demo's codec ships in the library, the others in the lab."""
    return shipped_path(name, PRETRAINED_ROOT if name == PITCH_CODEC else LAB_PRETRAINED_ROOT)


def export_half_precision(model_dir: str | os.PathLike, destination: str | os.PathLike, model_card: str) -> Path:
    """Re-save an ``EncodecModel`` or ``WavTokenizerModel`` folder with float16 tensors, a float32 ``dtype`` in its
    config, and a README.

    The config's ``dtype`` is what transformers 5 loads to by default, so the stored float16 tensors come back as
    float32 parameters. Written to a temp folder and swapped in (``export_model_atomically``).
    """
    from transformers import AutoModel

    from simba_music.training.checkpoints import export_model_atomically
    from simba_music_lab.codec.train import EXPORT_WRITER

    model = AutoModel.from_pretrained(str(model_dir), dtype="float32").eval()
    # save_pretrained records the tensors' dtype (float16) in config.json; this copy, written over it, says float32.
    config = json.loads(model.config.to_json_string(use_diff=True))
    config["dtype"] = "float32"
    export_model_atomically(
        model.half(),
        destination,
        EXPORT_WRITER,
        extra_files={"config.json": json.dumps(config, indent=2, sort_keys=True) + "\n", "README.md": model_card},
    )
    return Path(destination)
