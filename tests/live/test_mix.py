import pytest

from simba_music.live.mix import check_mix, format_mix, normalized_weights, parse_mix


def test_a_typed_line_becomes_a_weighted_mix():
    mix = parse_mix("0.7 calm harp; 0.3 church organ")
    assert mix == (("calm harp", 0.7), ("church organ", 0.3))
    assert parse_mix(format_mix(mix)) == mix
    assert parse_mix("solo flute") == (("solo flute", 1.0),)
    assert normalized_weights(parse_mix("1 harp; 3 organ")) == [0.25, 0.75]


def test_a_prompt_that_begins_with_a_number_is_quoted_or_weighted():
    assert parse_mix('"80 BPM organ"') == parse_mix("1 80 BPM organ") == (("80 BPM organ", 1.0),)
    assert parse_mix("0.5 '4 cellos'; 1970s funk") == (("4 cellos", 0.5), ("1970s funk", 1.0))
    assert parse_mix("80 BPM organ") == (("BPM organ", 80.0),)  # unquoted, a leading number is a weight
    mix = (("80 BPM organ", 2.0), ("harp", 1.0))
    assert parse_mix(format_mix(mix)) == mix


@pytest.mark.parametrize(("line", "message"), [
    ("", "prompt line: empty"),
    ("0.5 ;", "has a weight but no prompt"),
    ("-1 harp", "weights: each must be a finite number >= 0"),
    ("0 harp; 0 organ", "weights: at least one must be > 0"),
    ("nan harp", "weights: each must be a finite number >= 0"),
    ("harp; harp", "prompts: each prompt at most once"),
    ('"80 BPM organ', "opens a quote it does not close"),
    ("0.5 '4 cellos", "opens a quote it does not close"),
    ("a; b; c; d; e", "prompts: give 1 to 4"),
])
def test_bad_lines_say_what_is_wrong(line, message):
    with pytest.raises(ValueError, match=message):
        parse_mix(line)


def test_bad_mixes_name_the_parameter():
    with pytest.raises(ValueError, match=r"prompts: give 1 to 4 \(prompt, weight\) pairs, got 0"):
        check_mix([])
    with pytest.raises(ValueError, match=r"prompts\[0\]: must be a \(prompt, weight\) pair"):
        check_mix([("harp",)])
    with pytest.raises(ValueError, match="text"):
        check_mix([("   ", 1.0)])
    with pytest.raises(ValueError, match="prompts: give 1 to 2"):
        check_mix([("a", 1), ("b", 1), ("c", 1)], max_prompts=2)
    assert check_mix([("a", 0), ("b", 2)]) == (("a", 0.0), ("b", 2.0))  # one slider pulled down is fine
