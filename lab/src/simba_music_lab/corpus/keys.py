"""How peaked a corpus' key distribution is: a decoder trained on a corpus where most clips are in a few keys can
score on key prompts by playing those keys, and cannot learn the others from the caption."""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable

ALL_KEYS = 24


def key_distribution(keys: Iterable[str]) -> dict:
    """Counts of `keys` (names as "F# minor", "B flat major"; spellings merged by pitch class) with the summary
    figures: distinct keys of 24, the most common key's share, and the entropy in bits against the 4.585 bits of 24
    equally common keys (2 ** entropy: the number of equally common keys with the same spread)."""
    from simba_music_lab.evaluation.key import key_name, parse_key

    counts = collections.Counter(key_name(*parse_key(key)) for key in keys)
    total = sum(counts.values())
    if total == 0:
        raise ValueError("keys: none given")
    shares = [count / total for count in counts.values()]
    entropy = -sum(share * math.log2(share) for share in shares)
    top = counts.most_common(3)
    return {"clips": total, "distinct_keys": len(counts), "most_common": [[key, count] for key, count in top],
            "most_common_share": round(top[0][1] / total, 4), "entropy_bits": round(entropy, 3),
            "uniform_entropy_bits": round(math.log2(ALL_KEYS), 3), "effective_keys": round(2 ** entropy, 2),
            "major_share": round(sum(c for k, c in counts.items() if k.endswith("major")) / total, 4),
            "counts": dict(counts.most_common())}


__all__ = ["key_distribution"]
