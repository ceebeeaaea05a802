"""`workbench autograd` end to end, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "autograd", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "160"},
    )


def test_json_grads_equal_autograd() -> None:
    result = _run("--json", "--x", "0.1,0,0.2,1", "--z", "-1,1,-1,0")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    x = torch.tensor([0.1, 0, 0.2, 1], dtype=torch.float32, requires_grad=True)
    z = torch.tensor([-1, 1, -1, 0], dtype=torch.float32, requires_grad=True)
    ((((x + 10 % 4 + z) ** (4 * x)) + 3) * 5).mean().backward()
    assert document["x_grad"] == x.grad.tolist()  # type: ignore[union-attr]
    assert document["z_grad"] == z.grad.tolist()  # type: ignore[union-attr]
    assert document["check"]["ok"] is True
    assert document["check"]["max_rel_diff"] < 1e-5
    assert {"nodes", "edges", "forward", "backward", "hand_x_grad", "notes"} <= set(document)


def test_rich_display() -> None:
    result = _run()
    assert result.returncode == 0, result.stderr
    for text in ("PowBackward1", "Forward pass", "Backward pass", "4x·a^(4x−1)", "agree"):
        assert text in result.stdout
    assert "Element 2 (index 1) is special" in result.stdout  # the zero exponent, in words


def test_bad_expression_is_one_line_exit_2() -> None:
    result = _run("--expr", "x.__class__")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "attribute access" in lines[0]
    assert "--expr: " in lines[0]  # the CLI spells the field's flag


def test_bad_input_exit_2() -> None:
    result = _run("--x", "1,2", "--z", "1,2,3")
    assert result.returncode == 2
    assert "same number" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "--z: " in result.stderr
    result = _run("--x", "1,a")
    assert result.returncode == 2 and "--x: element 1 ('a') is not a number" in result.stderr


def test_the_assignment_code_pasted_as_is() -> None:
    code = "a = x + 10%4 + z\nb = a ** (4*x)\nc = (b + 3)*5\ny = c.mean()\ny.backward()"
    result = _run("--json", "--expr", code)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    x = torch.tensor([0.1, 0, 0.2, 1], dtype=torch.float32, requires_grad=True)
    z = torch.tensor([-1, 1, -1, 0], dtype=torch.float32, requires_grad=True)
    a = x + 10 % 4 + z
    b = a ** (4 * x)
    c = (b + 3) * 5
    c.mean().backward()
    assert document["x_grad"] == x.grad.tolist()  # type: ignore[union-attr]
    assert document["z_grad"] == z.grad.tolist()  # type: ignore[union-attr]
    assert {"a", "b", "c", "y"} <= {node["name"] for node in document["nodes"]}
    assert document["reduced"] is False
