"""Every installed console script names itself in its usage line; the thin scripts name their path."""

import configparser
import importlib
import os
import shutil
import sys

import pytest

from tests import checks


def console_scripts():
    config = configparser.ConfigParser()
    config.read(os.path.join(checks.REPO, "setup.cfg"))
    lines = [line.strip() for line in config["options.entry_points"]["console_scripts"].splitlines() if line.strip()]
    return [tuple(part.strip() for part in line.split("=")) for line in lines]


SCRIPTS = {"sphereface-mnist-demo": "mnist_demo/run.py", "sphereface-prepare": "face/prepare.py", "sphereface-train": "face/train.py",
           "sphereface-evaluate": "face/evaluate.py", "sphereface-export": "face/export.py", "sphereface-project": "face/project.py",
           "sphereface-benchmark": "face/benchmark.py", "sphereface-hypersphere": "face/hypersphere.py",
           "sphereface-landmarks": "face/landmarks.py", "sphereface-align": "face/align.py"}


def test_every_console_script_is_listed_and_installed():
    assert {name for name, _ in console_scripts()} == set(SCRIPTS)
    bin_dir = os.path.dirname(sys.executable)
    for name, _ in console_scripts():
        assert shutil.which(name, path=bin_dir) or shutil.which(name), f"{name} is not installed (pip install -e .)"


@pytest.mark.parametrize("name, target", console_scripts())
@pytest.mark.parametrize("as_console", [True, False])
def test_usage_names_the_program(name, target, as_console, monkeypatch, capsys):
    module, function = target.split(":")
    assert function == "entry"
    main = importlib.import_module(module).main
    monkeypatch.setattr(sys, "argv", [f"/somewhere/bin/{name}" if as_console else SCRIPTS[name], "--help"])
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {name if as_console else SCRIPTS[name]} ")
