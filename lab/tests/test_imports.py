"""Every lab module imports when it is the first one imported: a circular import between the codec and evaluation
packages fails only in that order, which the other tests (importing the evaluation first) never take."""

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import simba_music_lab
names = sorted(info.name for info in pkgutil.walk_packages(simba_music_lab.__path__, "simba_music_lab."))
failed = []
for name in names:
    for loaded in [module for module in sys.modules if module.startswith("simba_music_lab")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {type(error).__name__}: {error}")
print(len(names))
print("\\n".join(failed))
"""


def test_each_lab_module_imports_first():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    count, *failed = result.stdout.strip().splitlines()
    assert int(count) > 30 and failed == [], failed
