"""Which scores of the music21 corpus we use, how they group into works, and under what terms.

The music21 wheel ships its corpus, so everything here works offline. Per-folder license notes were read from the
installed corpus (``corpus/license.txt``, ``essenFolksong/license.txt``) and from the score files themselves; they are
recorded on every manifest row so that downstream users can filter by terms.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

COLLECTION_LICENSES = {
    "bach-chorales": (
        "Compositions public domain (J. S. Bach, d. 1750). MusicXML encodings (Margaret Greentree, jsbchorales.net) "
        "distributed in the music21 corpus with the encoder's permission; see music21/corpus/license.txt."
    ),
    "essen": (
        "Essen Folksong Collection (EsAC), ABC encodings by Seymour Shlien: permission for non-commercial "
        "distribution and use in music21 (music21/corpus/essenFolksong/license.txt). Non-commercial use only."
    ),
    "oneills": (
        "O'Neill's Music of Ireland (1903), tunes public domain; ABC transcriptions by Norbert Paap distributed in "
        "the music21 corpus; see music21/corpus/license.txt."
    ),
}

COLLECTION_GENRES = {"bach-chorales": "baroque chorale", "essen": "folk song", "oneills": "Irish folk tune"}
COLLECTION_COMPOSERS = {"bach-chorales": "J. S. Bach", "essen": "traditional", "oneills": "traditional"}

# Alternative versions of one chorale (e.g. bwv248.9-1 and bwv248.9-s) must land in the same split, so the work id
# drops the variant suffix.
_BACH_FILE = re.compile(r"^(bwv[0-9]+(?:\.[0-9]+)?)(-[A-Za-z0-9]+)?\.(mxl|xml)$")
# The bach folder also holds a Well-Tempered Clavier prelude; it is not a chorale.
_BACH_NOT_CHORALES = {"bwv846"}
_ABC_TUNE_NUMBER = re.compile(r"^X:\s*([0-9]+)", re.MULTILINE)


@dataclass(frozen=True)
class ScoreRef:
    """One renderable score: a file, optionally a tune number inside an ABC opus file."""

    work_id: str
    score_id: str
    path: str
    number: int | None
    collection: str

    @property
    def genre(self) -> str:
        return COLLECTION_GENRES[self.collection]

    @property
    def composer(self) -> str:
        return COLLECTION_COMPOSERS[self.collection]

    @property
    def license(self) -> str:
        return COLLECTION_LICENSES[self.collection]


def music21_corpus_dir() -> Path:
    import music21.corpus

    return Path(os.path.dirname(music21.corpus.__file__))


def _bach_chorales(root: Path) -> list[ScoreRef]:
    refs = []
    for name in sorted(os.listdir(root / "bach")):
        match = _BACH_FILE.match(name)
        if match is None or match.group(1) in _BACH_NOT_CHORALES:
            continue
        base, variant = match.group(1), match.group(2) or ""
        refs.append(
            ScoreRef(
                work_id=f"bach/{base}",
                score_id=f"bach/{base}{variant}",
                path=str(root / "bach" / name),
                number=None,
                collection="bach-chorales",
            )
        )
    return refs


def _abc_tunes(folder: Path, collection: str, prefix: str, skip_prefixes: tuple[str, ...] = ()) -> list[ScoreRef]:
    refs = []
    seen = set()
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".abc") or name.startswith(skip_prefixes):
            continue
        path = folder / name
        text = path.read_text(encoding="latin-1")
        for number in (int(n) for n in _ABC_TUNE_NUMBER.findall(text)):
            # O'Neill's tune numbers are global across files (overlapping files repeat tunes), Essen's are per file.
            work_id = f"{prefix}/{number}" if collection == "oneills" else f"{prefix}/{name[:-4]}-{number}"
            if work_id in seen:
                continue
            seen.add(work_id)
            refs.append(ScoreRef(work_id, work_id, str(path), number, collection))
    return refs


def list_scores(collections: list[str] | tuple[str, ...] = ("bach-chorales",),
                max_works: int | None = None) -> list[ScoreRef]:
    """Scores of the chosen collections, in a fixed order; ``max_works`` keeps the first works of each collection."""
    unknown = [c for c in collections if c not in COLLECTION_LICENSES]
    if unknown:
        raise ValueError(f"collections: unknown {unknown}; choose from {sorted(COLLECTION_LICENSES)}")
    if max_works is not None and max_works < 1:
        raise ValueError(f"max_works must be >= 1 or None, got {max_works}")
    root = music21_corpus_dir()
    refs: list[ScoreRef] = []
    for collection in collections:
        if collection == "bach-chorales":
            found = _bach_chorales(root)
        elif collection == "essen":
            found = _abc_tunes(root / "essenFolksong", "essen", "essen", skip_prefixes=("test",))
        else:
            found = _abc_tunes(root / "oneills1850", "oneills", "oneills")
        if max_works is not None:
            kept_works: list[str] = []
            for ref in found:
                if ref.work_id not in kept_works:
                    kept_works.append(ref.work_id)
            kept = set(kept_works[:max_works])
            found = [ref for ref in found if ref.work_id in kept]
        refs.extend(found)
    return refs
