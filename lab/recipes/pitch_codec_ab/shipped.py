"""Round trips through the shipped codecs -> rt/shipped_codec_k1, rt/shipped_codec_k4, rt/shipped_wavtok."""

import json
import os
from pathlib import Path

import soundfile as sf
import torch
from transformers import AutoModel

from simba_music.modeling.audio_codec import AudioCodec
from simba_music_lab.codec.pretrained import pretrained_codec_path

torch.set_num_threads(1)

meta = json.loads(Path("data/eval/meta.json").read_text())
for name, folder, k in [
    ("shipped_codec_k1", "chorale-codec-16khz", 1),
    ("shipped_codec_k4", "chorale-codec-16khz", 4),
    ("shipped_wavtok", "chorale-wavtokenizer-16khz", 1),
]:
    codec = AudioCodec(AutoModel.from_pretrained(pretrained_codec_path(folder)).eval(), num_codebooks=k)
    os.makedirs(f"rt/{name}", exist_ok=True)
    for item in meta:
        audio, sr = sf.read(f"data/eval/{item['file']}", dtype="float32")
        out = codec.decode(codec.encode(torch.from_numpy(audio)[None, None]))[0, 0, : len(audio)].numpy()
        sf.write(f"rt/{name}/{item['file']}", out, 16000, subtype="FLOAT")
    print(name, "done", flush=True)
