"""Round trips of the eval set through a PitchCodecModel folder: python eval_model.py MODEL_DIR NAME K {decoder|gl}
decoder: model.decode (candidate b); gl: Griffin-Lim (32 it.) on the same codes' dequantized log-STFT (candidate a)."""

import json
import os
import sys
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch
from transformers import AutoModel

import simba_music  # noqa: F401  (registers pitch_codec)

torch.set_num_threads(1)
model_dir, name, k, how = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if os.path.exists(f"{model_dir}/config.json"):
    model = AutoModel.from_pretrained(model_dir).float().eval()
else:  # an accelerate checkpoint folder RUN/checkpoints/step-N: config from RUN/codec_config.json
    from safetensors.torch import load_file

    from simba_music import PitchCodecConfig, PitchCodecModel

    model = PitchCodecModel(PitchCodecConfig(**json.loads(Path(f"{model_dir}/../../codec_config.json").read_text())))
    model.load_state_dict(load_file(f"{model_dir}/model.safetensors"))
    model.eval()
cfg = model.config
os.makedirs(f"rt/{name}", exist_ok=True)
for item in json.loads(Path("data/eval/meta.json").read_text()):
    audio = sf.read(f"data/eval/{item['file']}", dtype="float32")[0]
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(audio)[None, None], num_codebooks=k)
        if how == "decoder":
            out = model.decode(codes)[0, 0].numpy()
        else:
            mag = np.maximum(np.exp(model.dequantize(codes)[0].numpy().T.astype(np.float64)) - cfg.log_floor, 0)
            mag = np.concatenate([mag, mag[:, -1:]], axis=1)  # librosa's centred STFT has one frame more
            out = librosa.griffinlim(
                mag,
                n_iter=32,
                hop_length=cfg.hop_length,
                n_fft=cfg.analysis_n_fft,
                window="hann",
                random_state=0,
                length=len(audio),
            )
    sf.write(f"rt/{name}/{item['file']}", out[: len(audio)].astype(np.float32), 16000, subtype="FLOAT")
print(name, "written")
