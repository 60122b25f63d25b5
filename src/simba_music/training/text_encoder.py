"""The frozen text encoder a training command loads from its `--text-encoder`: a folder, a Hub id, or an installed
package's folder written `python:<package>/<subfolder>` (as the shipped demo names MiniLM: the same source the
model's config holds is accepted on the command line)."""

from __future__ import annotations


def load_text_encoder(source: str):
    """(tokenizer, encoder) for `source`, the encoder in eval mode without gradients; of an encoder-decoder model
    (T5) only its encoder. Errors name `--text-encoder`."""
    from transformers import AutoModel, AutoTokenizer

    from ..modeling.conditional_generation import resolve_sub_model_source

    path = resolve_sub_model_source(source, "--text-encoder")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        encoder = AutoModel.from_pretrained(path).eval().requires_grad_(False)
    except (OSError, ValueError) as error:
        raise ValueError(f"--text-encoder: cannot load a tokenizer and text encoder from {source!r}: "
                         f"{error}") from error
    if hasattr(encoder, "decoder") and hasattr(encoder, "get_encoder"):
        encoder = encoder.get_encoder()
    return tokenizer, encoder


__all__ = ["load_text_encoder"]
