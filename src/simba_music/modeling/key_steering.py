"""Key steering: sample toward the codes whose pitches fit a key.

A codec whose codes are spectra (the pitch codec) says which pitch classes each code carries (`code_chroma`). Each
code's fit to each of the 24 keys is the correlation of its chroma with the key's template (`keys.py`), and
steering adds `strength * fit` to the first codebook's logits before sampling, after classifier-free guidance. The
decoder still chooses the music; the bias only tilts each choice toward codes in the key, so a decoder that does not
hold a key from its caption still ends up in it (measured in the CHANGELOG, "Key steering").
"""

from __future__ import annotations

import torch

from .keys import key_index, key_name, key_scores, parse_key, stated_key
from .values import DEFAULT_KEY_STRENGTH, check_key_strength, per_row


def code_key_fit(code_chroma: torch.Tensor) -> torch.Tensor:
    """[codes, 12] pitch-class power -> [codes, 24] correlation of each code's chroma with each key's template
    (majors 0..11 by tonic, then minors). A silent code's chroma is flat and fits no key (0)."""
    chroma = code_chroma.double()
    chroma = chroma / chroma.sum(-1, keepdim=True).clamp(min=1e-30)
    return torch.from_numpy(key_scores(chroma.cpu().numpy())).float()


def steering_keys(key, batch: int) -> list[int | None]:
    """`key` ("F# minor", one per row, or None) -> the key's index per row (None: not steered)."""
    keys = per_row(key, batch, "key", "key")
    for value in keys:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"key: expected a key name such as 'F# minor' or None, got {value!r}")
    return [None if value is None else key_index(*parse_key(value)) for value in keys]


def steering_bias(codec, key, strength, batch: int, device=None) -> torch.Tensor | None:
    """The logit bias [batch, codebook_size] for the first codebook's codes, on `device` (built once, so that the
    sampling loop adds it without a copy), or None when no row is steered. `strength` None means
    `DEFAULT_KEY_STRENGTH`; checked, with `key`, before any work."""
    strength = DEFAULT_KEY_STRENGTH if strength is None else check_key_strength(strength)
    keys = steering_keys(key, batch) if key is not None else [None] * batch
    if all(index is None for index in keys) or strength == 0:
        return None
    fit = code_key_fit(codec.code_chroma())  # raises, naming `key`, for a codec whose codes carry no pitch
    bias = torch.zeros(batch, fit.shape[0])
    for row, index in enumerate(keys):
        if index is not None:
            bias[row] = strength * fit[:, index]
    return bias.to(device) if device is not None else bias


def caption_keys(captions: list[str]) -> list[str | None]:
    """The key each caption states ("F# minor"), None where it states none or several."""
    return [None if found is None else key_name(*found) for found in map(stated_key, captions)]


__all__ = ["caption_keys", "code_key_fit", "steering_bias", "steering_keys"]
