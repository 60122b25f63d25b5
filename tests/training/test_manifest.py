import pytest

from simba_music.training.manifest import read_manifest


def test_one_reader_for_jsonl_and_csv_with_split_names_normalised_and_filtered(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"audio": "a.wav", "caption": "x", "split": "valid"}\n\n'
                                      '{"audio": "sub/b.wav", "caption": "y", "split": "train", "key": "C"}\n')
    (tmp_path / "m.csv").write_text("audio,caption,split\na.wav,x,dev\nsub/b.wav,y,train\n")
    for name in ("m.jsonl", "m.csv"):
        rows = read_manifest(tmp_path / name)
        assert [row["split"] for row in rows] == ["validation", "train"]
        assert rows[1]["audio"] == str(tmp_path / "sub" / "b.wav")
        assert [row["caption"] for row in read_manifest(tmp_path / name, "validation")] == ["x"]
    assert read_manifest(tmp_path / "m.jsonl", "train")[0]["key"] == "C"
    with pytest.raises(ValueError, match="split must be one of"):
        read_manifest(tmp_path / "m.jsonl", "valid")
    with pytest.raises(FileNotFoundError, match="manifest"):
        read_manifest(tmp_path / "absent.jsonl")
