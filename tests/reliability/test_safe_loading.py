"""Every weight load in the project goes through safetensors or `torch.load(weights_only=True)`."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("src", "conversion_scripts", "benchmarks") for p in (ROOT / folder).rglob("*.py")]


def _calls(text: str, name: str):
    """Yield the full argument text of each call to `name(` (parentheses balanced)."""
    for match in re.finditer(re.escape(name) + r"\(", text):
        depth, index = 1, match.end()
        while depth and index < len(text):
            depth += {"(": 1, ")": -1}.get(text[index], 0)
            index += 1
        yield text[match.end():index - 1]


def test_there_are_sources_to_check():
    """The scan really reads the code that loads weights, and its call parser keeps nested parentheses."""
    texts = [path.read_text() for path in SOURCES]
    assert ROOT / "src" / "simba_music" / "__init__.py" in SOURCES
    assert [arguments for text in texts for arguments in _calls(text, "torch.load")]  # the converter reads .bin/.pt
    assert any(re.search(r"\b(load_file|safe_open)\(", text) for text in texts)  # safetensors readers
    assert list(_calls("x = torch.load(open(path), weights_only=True) + 1", "torch.load")) == [
        "open(path), weights_only=True"]


def test_every_torch_load_is_weights_only():
    offenders = []
    for path in SOURCES:
        for arguments in _calls(path.read_text(), "torch.load"):
            if "weights_only=True" not in arguments:
                offenders.append(f"{path.relative_to(ROOT)}: torch.load({arguments})")
    assert not offenders, offenders


def test_no_unsafe_deserialisation():
    patterns = [r"\bpickle\.loads?\(", r"weights_only\s*=\s*False", r"\bdill\.", r"\byaml\.load\(",
                r"(?<![.\w])eval\(", r"(?<![.\w])exec\("]
    offenders = [f"{p.relative_to(ROOT)}: {pattern}" for p in SOURCES for pattern in patterns
                 if re.search(pattern, p.read_text())]
    assert not offenders, offenders
