"""`simba_music.modeling.values` (the one home of the checked and default values), loaded from its file alone.

Importing it the usual way would run `simba_music/__init__.py`, which imports torch and transformers to register the
models (seconds). That file is plain Python with no imports from the package, so the command line executes it on its
own and checks values and shows defaults at once; the library imports the same file as a normal module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _load_values_module():
    name = "simba_music_cli._values"
    if name in sys.modules:
        return sys.modules[name]
    package = importlib.util.find_spec("simba_music")  # locates the package without running its __init__
    path = Path(next(iter(package.submodule_search_locations))) / "modeling" / "values.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look the module up by name while it executes
    spec.loader.exec_module(module)
    return module


_values = _load_values_module()
globals().update({name: getattr(_values, name) for name in _values.__all__})
__all__ = list(_values.__all__)
