"""Vocabulary transfer: pairing codes across codecs in time, the mixed rows, and the command that writes the new
decoder."""

import json

import numpy as np
import pytest
import soundfile
import torch

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM
from simba_music.testing_utils import tiny_text_to_music, tiny_wavtokenizer
from simba_music.training.vocabulary_transfer import (
    VocabularyTransferArguments,
    audio_files,
    code_mixing_weights,
    count_code_pairs,
    run,
    transfer_vocabulary,
)

CODES = 16


def _decoder(codes: int = CODES, num_codebooks: int = 1, seed: int = 0) -> SimbaMusicForCausalLM:
    torch.manual_seed(seed)
    config = SimbaMusicConfig(hidden_size=32, num_hidden_layers=2, state_size=8, head_dim=16, chunk_size=8,
                              text_hidden_size=8, vocab_size=codes + 1, special_token_id=codes,
                              num_codebooks=num_codebooks)
    return SimbaMusicForCausalLM(config).eval()


def _pairs_by_time_ref(new_codes, old_codes, new_rate, old_rate):
    """Each new frame's centre time, and the old frame whose [start, end) interval holds it, by a search over the
    old frames' start times."""
    starts = np.arange(len(old_codes)) / old_rate
    pairs = []
    for t, code in enumerate(new_codes):
        centre = (t + 0.5) / new_rate
        index = int(np.searchsorted(starts, centre, side="right")) - 1
        if centre < (len(old_codes)) / old_rate:
            pairs.append((int(code), int(old_codes[index])))
    return pairs


@pytest.mark.parametrize("new_rate,old_rate", [(50, 50), (50, 25), (50, 75), (40, 50)])
def test_code_pairs_follow_time_across_frame_rates(new_rate, old_rate):
    generator = torch.Generator().manual_seed(new_rate + old_rate)
    new_codes = torch.randint(0, 6, (23,), generator=generator)
    old_codes = torch.randint(0, 5, (int(23 * old_rate / new_rate) - 1,), generator=generator)
    counts = count_code_pairs(new_codes, old_codes, new_rate, old_rate, torch.zeros(6, 5, dtype=torch.float64))
    expected = torch.zeros(6, 5, dtype=torch.float64)
    for new, old in _pairs_by_time_ref(new_codes.tolist(), old_codes.tolist(), new_rate, old_rate):
        expected[new, old] += 1
    assert torch.equal(counts, expected)
    assert counts.sum() >= 0.85 * len(new_codes)  # only frames past the old sequence's end (one frame shorter) go


def test_bad_codes_and_shapes_are_named():
    counts = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="old_codes: codes must be in \\[0, 3\\)"):
        count_code_pairs(torch.tensor([0, 1]), torch.tensor([0, 3]), 50, 50, counts)
    with pytest.raises(ValueError, match="new_codes, old_codes: must be 1-d"):
        count_code_pairs(torch.zeros(1, 2, dtype=torch.long), torch.tensor([0, 1]), 50, 50, counts)
    with pytest.raises(ValueError, match="frame rates"):
        count_code_pairs(torch.tensor([0]), torch.tensor([0]), 0, 50, counts)
    assert counts.sum() == 0  # nothing was counted by a refused call
    with pytest.raises(ValueError, match=f"counts: must be \\[new codebook size, {CODES}\\]"):
        transfer_vocabulary(_decoder(), torch.ones(8, CODES + 1))
    with pytest.raises(ValueError, match="num_codebooks"):
        transfer_vocabulary(_decoder(num_codebooks=2), torch.ones(8, CODES))
    with pytest.raises(ValueError, match="no code pairs"):
        transfer_vocabulary(_decoder(), torch.zeros(8, CODES))


def test_a_relabelled_codec_gives_the_same_model_under_the_new_labels():
    # Parity against the old decoder itself: if the new codec is the old one with its codes renumbered (new code j is
    # old code perm[j]), the transferred decoder reading the renumbered codes must give the old decoder's logits,
    # renumbered. Leaving either the embedding or the head unmapped breaks this.
    old = _decoder()
    perm = torch.randperm(CODES, generator=torch.Generator().manual_seed(1))
    counts = torch.zeros(CODES, CODES)
    counts[torch.arange(CODES), perm] = 7.0
    new = transfer_vocabulary(old, counts).eval()
    inverse = torch.argsort(perm)
    old_ids = torch.cat([torch.full((2, 1), CODES), torch.randint(0, CODES, (2, 30))], dim=1)
    new_ids = torch.where(old_ids == CODES, CODES, inverse[old_ids.clamp(max=CODES - 1)])
    text = torch.randn(2, 5, 8)
    with torch.no_grad():
        old_logits = old(input_ids=old_ids, encoder_hidden_states=text).logits
        new_logits = new(input_ids=new_ids, encoder_hidden_states=text).logits
    torch.testing.assert_close(new_logits[..., :CODES], old_logits[..., perm], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(new_logits[..., CODES], old_logits[..., CODES], rtol=1e-5, atol=1e-5)


def test_a_larger_codebook_gets_mixed_rows_and_every_other_tensor_is_copied():
    old = _decoder()
    counts = torch.zeros(24, CODES)
    counts[0, 3], counts[0, 5] = 3.0, 1.0  # new code 0: three quarters old 3, one quarter old 5
    counts[1:20, 2] = 2.0
    counts[20, 7] = 4.0  # codes 21..23 never seen
    new = transfer_vocabulary(old, counts)
    assert (new.config.vocab_size, new.config.special_token_id, new.config.bos_token_id) == (25, 24, 24)
    for name in ("model.embed_tokens.0.weight", "lm_head.0.weight"):
        old_rows, new_rows = old.state_dict()[name], new.state_dict()[name]
        torch.testing.assert_close(new_rows[0], 0.75 * old_rows[3] + 0.25 * old_rows[5])
        torch.testing.assert_close(new_rows[20], old_rows[7])
        overall = counts.sum(dim=0) / counts.sum()  # unseen codes: the old codes' overall frequencies
        torch.testing.assert_close(new_rows[22], overall @ old_rows[:CODES])
        assert torch.equal(new_rows[24], old_rows[CODES])  # the special id's row
    mixed = {"model.embed_tokens.0.weight", "lm_head.0.weight"}
    for name, tensor in old.state_dict().items():
        if name not in mixed:
            assert torch.equal(new.state_dict()[name], tensor), name
    assert code_mixing_weights(counts).sum(dim=1).allclose(torch.ones(24, dtype=torch.float64))


def _tone_files(folder, rate: int = 8000) -> list:
    folder.mkdir()
    paths = []
    for index, frequency in enumerate((220.0, 330.0, 495.0)):
        time = np.arange(int(2.5 * rate)) / rate
        path = folder / f"tone{index}.wav"
        soundfile.write(str(path), 0.4 * np.sin(2 * np.pi * frequency * time), rate)
        paths.append(path)
    (folder / "notes.txt").write_text("not audio")
    return paths


def test_the_command_writes_a_decoder_for_the_new_codec_and_keeps_a_users_folder(tmp_path):
    model_dir, codec_dir = tmp_path / "model", tmp_path / "codec"
    tiny_text_to_music().save_pretrained(model_dir)
    tiny_wavtokenizer(codebook_size=48).save_pretrained(codec_dir)
    _tone_files(tmp_path / "audio")
    output = tmp_path / "warm"
    summary = run(VocabularyTransferArguments(model=str(model_dir), codec=str(codec_dir),
                                              audio=(str(tmp_path / "audio"),), output_dir=str(output),
                                              max_files=2, progress=False))
    # 2 of the 3 files, 2.5 s each at 12.5 frames/s: 32 frames each (the last may lack an old partner).
    assert summary["files"] == 2 and 60 <= summary["frames"] <= 64 and summary["skipped"] == []
    assert (summary["new_codebook_size"], summary["old_codebook_size"]) == (48, 64)
    decoder = SimbaMusicForCausalLM.from_pretrained(output)
    assert decoder.config.vocab_size == 49
    assert json.loads((output / "vocabulary_transfer.json").read_text())["frames"] == summary["frames"]

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="--output-dir"):
        run(VocabularyTransferArguments(model=str(model_dir), codec=str(codec_dir), audio=(str(tmp_path / "audio"),),
                                        output_dir=str(mine), progress=False))
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]
    with pytest.raises(ValueError, match="--audio: .*neither a file nor a folder"):
        run(VocabularyTransferArguments(model=str(model_dir), codec=str(codec_dir), audio=(str(tmp_path / "none"),),
                                        output_dir=str(tmp_path / "new"), progress=False))
    with pytest.raises(ValueError, match="max_files: must be >= 1"):
        run(VocabularyTransferArguments(model=str(model_dir), codec=str(codec_dir), audio=(str(tmp_path / "audio"),),
                                        output_dir=str(tmp_path / "new"), max_files=0, progress=False))
    assert not (tmp_path / "new").exists()


def test_a_manifest_gives_its_train_clips_only(tmp_path):
    paths = _tone_files(tmp_path / "audio")
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"audio": f"audio/{path.name}", "caption": "a tone", "split": split}) + "\n"
                                for path, split in zip(paths, ("train", "test", "train"), strict=True)))
    assert audio_files([manifest]) == [paths[0], paths[2]]
    assert audio_files([tmp_path / "audio"]) == paths  # a folder: every sound file in it
