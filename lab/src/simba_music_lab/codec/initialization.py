"""A fresh codec for training: the model built from a `CodecTrainConfig`, and its data-dependent initialization
(LSUV-style scales, then k-means codebooks, see `quantizer.py`), which a codec needs before its first useful step."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from simba_music_lab.codec.config import small_encodec_config, small_wavtokenizer_config
from simba_music_lab.codec.formats import codec_encoder, codec_quantizer, decode_latents

if TYPE_CHECKING:
    from simba_music_lab.codec.train import CodecTrainConfig


def build_model(config: CodecTrainConfig):
    from transformers import EncodecModel, WavTokenizerModel

    shared = dict(sample_rate=config.sample_rate, upsampling_ratios=tuple(config.upsampling_ratios),
                  codebook_size=config.codebook_size, num_filters=config.num_filters, hidden_size=config.hidden_size,
                  num_lstm_layers=config.num_lstm_layers)
    torch.manual_seed(config.seed)
    if config.codec_format == "wavtokenizer":
        model = WavTokenizerModel(small_wavtokenizer_config(
            **shared, decoder_hidden_size=config.decoder_hidden_size,
            decoder_intermediate_size=config.decoder_intermediate_size, decoder_num_layers=config.decoder_num_layers))
    else:
        model = EncodecModel(small_encodec_config(**shared, num_codebooks=config.num_codebooks))
    with torch.no_grad():
        # transformers' init gives biases that swamp the (quiet) input: every encoder frame came out nearly the
        # same vector, so k-means found one cluster. Zero biases make frames follow the music from step 0.
        for name, parameter in codec_encoder(model).named_parameters():
            if name.endswith("bias") or ".bias_" in name:
                parameter.zero_()
    for layer in codec_quantizer(model).layers:
        layer.codebook.inited.fill_(0.0)  # set by k-means after the warm-up; saved, so resume knows
    return model


def _scale_conv(wrapper, factor: float) -> None:
    conv = wrapper.conv
    parametrized = getattr(conv, "parametrizations", None)
    if parametrized is not None and hasattr(parametrized, "weight"):
        parametrized.weight.original0.mul_(factor)  # weight norm: scaling the magnitude g scales the output
    else:
        conv.weight.mul_(factor)
    if conv.bias is not None:
        conv.bias.mul_(factor)


@torch.no_grad()
def data_dependent_init(model, audio: torch.Tensor) -> dict:
    """Rescale each main-path conv of encoder and decoder so activations keep a sensible scale (LSUV-style).

    With transformers' init, what varies over time shrinks about 2x per encoder layer: latent frames of
    0.1-RMS music differ by ~5e-4 while Adam moves weights by ~1e-4..1e-3 per step, so every step shifts all
    frames further than they differ and no codebook can follow. Encoder convs are scaled to unit variation over
    time, decoder convs to unit variance, and the decoder's last conv to the input's RMS. WavTokenizer's Vocos
    decoder (layer norms throughout) only gets its output level: a shift of the log-magnitude bias of its head.
    """
    from transformers.models.encodec.modeling_encodec import EncodecConv1d, EncodecConvTranspose1d
    from transformers.models.wavtokenizer.modeling_wavtokenizer import WavTokenizerConv1d

    factors = {}
    hidden = audio
    for index, layer in enumerate(codec_encoder(model).layers):
        hidden = layer(hidden)
        if isinstance(layer, (EncodecConv1d, WavTokenizerConv1d)):  # a copy, not a subclass, in modeling_wavtokenizer
            variation = hidden.std(dim=2).mean().clamp(min=1e-12)
            _scale_conv(layer, float(1.0 / variation))
            hidden = hidden / variation
            factors[f"encoder.{index}"] = round(float(1.0 / variation), 3)
    target_rms = float(audio.square().mean().sqrt())
    if model.config.model_type == "wavtokenizer":
        output_rms = float(decode_latents(model, hidden).square().mean().sqrt().clamp(min=1e-12))
        magnitude_bins = model.head.n_fft // 2 + 1  # the head's linear gives [log magnitude | phase]
        model.head.linear.bias[:magnitude_bins] += math.log(target_rms / output_rms)
        factors["head.magnitude"] = round(target_rms / output_rms, 3)
        return factors
    conv_indices = [i for i, layer in enumerate(model.decoder.layers)
                    if isinstance(layer, (EncodecConv1d, EncodecConvTranspose1d))]
    for index, layer in enumerate(model.decoder.layers):
        hidden = layer(hidden)
        if index in conv_indices:
            target = target_rms if index == conv_indices[-1] else 1.0
            spread = hidden.std().clamp(min=1e-12)
            _scale_conv(layer, float(target / spread))
            hidden = hidden * (target / spread)
            factors[f"decoder.{index}"] = round(float(target / spread), 3)
    return factors


def codebooks_ready(model) -> bool:
    return bool(codec_quantizer(model).layers[0].codebook.inited.item())
