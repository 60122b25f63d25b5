"""Weights that ship inside the package (`src/simba_music/pretrained/`), found without any network."""

from __future__ import annotations

from pathlib import Path

PRETRAINED_ROOT = Path(__file__).resolve().parent / "pretrained"
DEMO_MODEL = "simba-music-demo"  # the default of `simba-music generate` and of the text-to-music pipeline


def shipped_path(name: str, root: Path = PRETRAINED_ROOT) -> Path:
    """Folder of the shipped model `name` under `root` (it holds a config.json and a model.safetensors)."""
    path = root / name
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        shipped = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise FileNotFoundError(f"no shipped model {name!r} in {root}; shipped: {shipped}")
    return path


def demo_model_path() -> Path | None:
    """The shipped demo text-to-music model, or None in a checkout that does not have it."""
    try:
        return shipped_path(DEMO_MODEL)
    except FileNotFoundError:
        return None


def resolve_model(name):
    """None or the shipped demo's name (where no local folder has that name) -> the shipped demo's folder;
    anything else unchanged (a folder or a Hub id)."""
    if name is None or (str(name) == DEMO_MODEL and not Path(str(name)).is_dir()):
        return demo_model_path()
    return name


__all__ = ["DEMO_MODEL", "PRETRAINED_ROOT", "demo_model_path", "resolve_model", "shipped_path"]
