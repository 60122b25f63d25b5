import math
from types import SimpleNamespace

import pytest
import torch

from simba_music_lab.evaluation.caption_swaps import caption_swap_gains, swapped_caption

from .conftest import build_tiny
from .test_perplexity import hand_cross_entropy

CAPTION = "Fast 3/4 baroque chorale in F# major at 132 BPM, performed on Clarinet; composer: J. S. Bach."
ROW = {"key": "F# major", "instrument": "clarinet", "tempo_bpm": 132}


@pytest.mark.parametrize(("attribute", "caption", "row", "expected"), [
    ("key", CAPTION, ROW, CAPTION.replace("F# major", "C major")),
    ("key", "in E flat minor", {"key": "E flat minor"}, "in A minor"),
    ("key", "in B flat major", {"key": "B flat major"}, "in E major"),
    ("instrument", CAPTION, ROW, CAPTION.replace("Clarinet", "flute")),  # the next in alphabetical order
    ("tempo", CAPTION, ROW, CAPTION.replace("132 BPM", "82 BPM")),
    ("tempo", "at 60 BPM", {"tempo_bpm": 60}, "at 110 BPM"),
])
def test_one_attribute_is_swapped(attribute, caption, row, expected):
    assert swapped_caption(caption, row, attribute) == expected


@pytest.mark.parametrize(("attribute", "row"), [
    ("key", {"key": "D major"}),  # the caption states another key
    ("key", {}),  # no such column
    ("instrument", {"instrument": "violin"}),
    ("tempo", {"tempo_bpm": 96}),
])
def test_an_attribute_the_caption_does_not_state_is_not_swapped(attribute, row):
    assert swapped_caption(CAPTION, row, attribute) is None


def test_an_unknown_attribute_is_refused():
    with pytest.raises(ValueError, match="attribute: must be one of"):
        swapped_caption(CAPTION, ROW, "mood")


def save_rows(directory, rows):
    from datasets import Dataset, DatasetDict

    DatasetDict({"validation": Dataset.from_list(rows)}).save_to_disk(str(directory))
    return str(directory)


def test_rises_are_the_hand_computed_differences(tmp_path):
    model, processor = build_tiny()
    generator = torch.Generator().manual_seed(0)
    # short captions: the tiny model keeps 8 tokens of each
    rows = [dict(ROW, caption="F# major clarinet 132 BPM",
                 codes=torch.randint(0, 64, (20,), generator=generator).tolist()),
            dict(key="E flat minor", instrument="violin", tempo_bpm=70, caption="violin E flat minor 70 BPM",
                 codes=torch.randint(0, 64, (15,), generator=generator).tolist())]
    result = caption_swap_gains(model, processor, save_rows(tmp_path / "tokens", rows), batch_size=2,
                                progress=False)
    first = round(model.config.frame_rate)  # one second of codes: fewer than either clip has
    assert first < 15

    def rise(row, attribute, codes):
        swapped = swapped_caption(row["caption"], row, attribute)
        return (hand_cross_entropy(model, processor, [codes], [swapped])
                - hand_cross_entropy(model, processor, [codes], [row["caption"]]))

    for attribute in ("key", "instrument", "tempo"):
        rises = [rise(row, attribute, row["codes"]) for row in rows]
        assert result[attribute]["clips"] == 2
        assert result[attribute]["rise_nats_per_code"] == pytest.approx(sum(rises) / 2, abs=1e-6)
        assert result[attribute]["share_rising"] == sum(rise > 0 for rise in rises) / 2
        first_rises = [rise(row, attribute, row["codes"][:first]) for row in rows]  # a causal decoder: a prefix
        assert result[attribute]["rise_nats_per_code_first_second"] == pytest.approx(sum(first_rises) / 2, abs=1e-6)


class KeyListener:
    """A stand-in decoder that hears only whether its caption says "D major": then it expects code 3 with
    probability 0.9; else every code is equally likely."""

    config = SimpleNamespace(decoder=SimpleNamespace(special_token_id=8, num_codebooks=1), frame_rate=2.0)
    device = torch.device("cpu")

    @staticmethod
    def processor(captions):
        ids = torch.tensor([[int("D major" in caption)] for caption in captions])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def _pad_captions(self, input_ids, attention_mask):
        return input_ids, attention_mask

    def eval(self):
        return self

    def __call__(self, input_ids, attention_mask, decoder_input_ids):
        batch, length = decoder_input_ids.shape
        listening = torch.full((9,), math.log(0.1 / 8))
        listening[3] = math.log(0.9)
        logits = torch.where(input_ids[:, :, None].bool(), listening, torch.zeros(9)).expand(batch, length, 9)
        return SimpleNamespace(logits=logits)


def test_a_decoder_that_hears_only_the_key_rises_only_under_a_key_swap(tmp_path):
    rows = [dict(key="D major", instrument="violin", tempo_bpm=bpm, codes=[3] * 6,
                 caption=f"Violin plays a folk song in D major; 4/4, {bpm} BPM.") for bpm in (60, 90, 120)]
    result = caption_swap_gains(KeyListener(), KeyListener.processor, save_rows(tmp_path / "tokens", rows),
                                progress=False)
    assert result["key"]["rise_nats_per_code"] == pytest.approx(math.log(9) - math.log(1 / 0.9), rel=1e-6)
    assert result["key"]["share_rising"] == 1.0
    assert result["key"]["rise_nats_per_code_first_second"] == pytest.approx(result["key"]["rise_nats_per_code"])
    for attribute in ("instrument", "tempo"):
        assert result[attribute] == {"clips": 3, "rise_nats_per_code": 0.0, "share_rising": 0.0,
                                     "rise_nats_per_code_first_second": 0.0}


def test_cross_entropy_and_swaps_share_one_pass_under_the_true_captions(tmp_path):
    from simba_music_lab.evaluation.caption_swaps import CaptionSwaps
    from simba_music_lab.evaluation.perplexity import CrossEntropy, decoder_cross_entropy, score_split

    class CountingListener(KeyListener):
        config = SimpleNamespace(**vars(KeyListener.config), audio_encoder=SimpleNamespace(codebook_size=8))
        calls = 0

        def __call__(self, *args, **kwargs):
            CountingListener.calls += 1
            return super().__call__(*args, **kwargs)

    rows = [dict(key="D major", instrument="violin", tempo_bpm=bpm, codes=[3, 1, 3, 3],
                 caption=f"Violin plays a folk song in D major; 4/4, {bpm} BPM.") for bpm in (60, 90, 120)]
    dataset, model = save_rows(tmp_path / "tokens", rows), CountingListener()
    cross_entropy, swaps = CrossEntropy(model), CaptionSwaps(model, KeyListener.processor)
    assert score_split(model, KeyListener.processor, dataset, [cross_entropy, swaps], progress=False) == (
        "validation", 3)
    assert CountingListener.calls == 1 + 3  # the true captions once, then one pass per swapped attribute
    alone = decoder_cross_entropy(model, KeyListener.processor, dataset, progress=False)
    assert cross_entropy.result("validation") == {key: alone[key] for key in alone if key not in ("split", "examples")}
    # Under "D major" the listener gives 0.9 to code 3 and 0.1 / 8 to the others: 3 of 4 targets are code 3.
    assert alone["cross_entropy"] == pytest.approx((3 * -math.log(0.9) - math.log(0.1 / 8)) / 4)
    assert swaps.result()["key"]["clips"] == 3 and swaps.result()["key"]["share_rising"] == 1.0
