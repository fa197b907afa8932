"""The README's usage example runs as written (in a temporary model cache)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _usage_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Usage", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the README's usage section has no python block"
    return blocks[0]


def test_readme_usage_example_runs(tmp_path, monkeypatch, capsys):
    from wgf import zoo

    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path))
    zoo.clear_memory()
    namespace: dict = {}
    exec(compile(_usage_block(), str(README), "exec"), namespace)
    zoo.clear_memory()
    out = capsys.readouterr().out
    assert "ot_cfm: W2" in out and "ddpm: W2" in out
    w2 = namespace["w2"]
    # at 4 steps the straight OT-CFM paths beat the 4-step (strided) DDPM chain
    assert 0 < w2["ot_cfm"] < w2["ddpm"]
    assert namespace["models"]["ddpm"].sample(None, 4, x0=namespace["x0"]).nfe == 4
