"""The key distribution of a corpus built from music21 scores, per work, without rendering anything: how peaked are the
keys a decoder trained on it hears? (Issue 30 asks for this figure for the demo's corpus.)

    python lab/recipes/corpus_keys.py --collections bach-chorales oneills essen --max-works 400 --workers 2

Prints JSON: per collection and overall, `simba_music_lab.corpus.keys.key_distribution` over the works' keys
(music21's analysis, as `corpus build` writes it into every clip's caption). For a built manifest, use
`simba-music-lab corpus keys MANIFEST` instead (per clip).
"""

import argparse
import json
from concurrent.futures import ProcessPoolExecutor

from simba_music_lab.corpus.keys import key_distribution
from simba_music_lab.corpus.score import read_score
from simba_music_lab.corpus.sources import COLLECTION_LICENSES, list_scores


def work_key(ref):
    try:
        return ref.collection, read_score(ref).key
    except Exception as error:  # noqa: BLE001 - a broken score is skipped, as corpus build skips it
        return ref.collection, f"error: {type(error).__name__}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", nargs="+", default=["bach-chorales"], choices=sorted(COLLECTION_LICENSES))
    parser.add_argument("--max-works", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    refs = list_scores(args.collections, args.max_works)
    with ProcessPoolExecutor(args.workers) as pool:
        found = list(pool.map(work_key, refs, chunksize=8))
    keys = [(collection, key) for collection, key in found if not key.startswith("error")]
    report = {"works": len(refs), "skipped": len(refs) - len(keys),
              "all": key_distribution(key for _, key in keys)}
    for collection in args.collections:
        report[collection] = key_distribution(key for c, key in keys if c == collection)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
