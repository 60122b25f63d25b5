"""Optional diffusers front end (`pip install simba-music[diffusers]`): a `DiffusionPipeline` holding the text-to-music
model and its processor, returning `AudioPipelineOutput`. Autoregressive, not diffusion: diffusers is used for its
pipeline packaging (save/load as one folder, `AudioPipelineOutput`), the sampling is `generate()`'s."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.pipelines.pipeline_utils import AudioPipelineOutput

from ..modeling.processing import check_prompts


class SimbaMusicDiffusionPipeline(DiffusionPipeline):
    """`pipe(prompt, duration=10.0, guidance_scale=3.0, seed=0)` ->
    `AudioPipelineOutput(audios=[B, channels, samples])`.

    Components: `model` (SimbaMusicForConditionalGeneration) and `processor` (SimbaMusicProcessor)."""

    model_cpu_offload_seq = "model"

    def __init__(self, model, processor):
        super().__init__()
        self.register_modules(model=model, processor=processor)

    @property
    def sampling_rate(self) -> int:
        return self.model.config.sampling_rate

    @torch.no_grad()
    def __call__(self, prompt: str | list[str], duration: float | None = None, guidance_scale: float | None = None,
                 seed: int | list[int] | None = None, generator: torch.Generator | None = None, output_type: str = "np",
                 return_dict: bool = True, **generate_kwargs):
        if output_type not in ("np", "pt"):
            raise ValueError(f"output_type: must be 'np' or 'pt', got {output_type!r}")
        prompts = check_prompts(prompt)
        inputs = self.processor(prompts)
        stated = self.model.caption_steering(list(prompts), generate_kwargs.get("generation_config"))
        for name, values in stated.items():  # what the prompts state, unless given
            generate_kwargs.setdefault(name, values)
        output = self.model.generate(**inputs.to(self.model.device), duration=duration, guidance_scale=guidance_scale,
                                     seed=seed, generator=generator, progress_bar=self._progress_bar_enabled(),
                                     **generate_kwargs)
        audio = output.audio.float().cpu()
        audios = audio.numpy().astype(np.float32) if output_type == "np" else audio
        return AudioPipelineOutput(audios=audios) if return_dict else (audios,)

    def _progress_bar_enabled(self) -> bool:
        # diffusers' set_progress_bar_config(disable=True) turns our tqdm bar off too.
        return not getattr(self, "_progress_bar_config", {}).get("disable", False)


__all__ = ["SimbaMusicDiffusionPipeline"]
