"""README.md tells the truth: its Python blocks run, and its two commands are the ones CI uses."""

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_python_blocks_run_each_on_its_own(capsys):
    """Each block runs in a fresh namespace, as a reader pasting one of them would."""
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 4
    namespaces = []
    for block in blocks:
        namespaces.append({})
        exec(compile(block, "README.md", "exec"), namespaces[-1])
    first, second = namespaces[0], namespaces[1]
    pred = first["fc"](first["lstm"](np.array([[[10.0], [11.0]]]))[0][:, -1, :])
    assert abs(float(pred[0, 0]) - 12) <= 0.3
    assert second["report"].ok
    assert "object at 0x" not in capsys.readouterr().out


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[0].splitlines()
    test_command = commands[1].split("#")[0].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()
