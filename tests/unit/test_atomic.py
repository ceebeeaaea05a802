from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.atomic import atomic_path, atomic_write_text


def test_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.txt"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]


def test_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    atomic_write_text(target, "kept")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_temporary_keeps_the_suffix(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "plot.png") as temporary:
        assert temporary.suffix == ".png"
        temporary.write_bytes(b"x")


def test_files_get_the_permissions_the_umask_gives(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        target = atomic_write_text(tmp_path / "config.json", "{}")
        plain = tmp_path / "plain.json"
        plain.write_text("{}")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o644


def _disk_full_for(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes of whole files under ``folder`` fail as on a full disk (ENOSPC)."""
    import errno

    real = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:
        if folder in self.parents:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def test_a_full_disk_is_reported_for_the_users_file_not_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    target = tmp_path / "run" / "status.json"
    atomic_write_text(target, "kept")
    _disk_full_for(tmp_path / "run", monkeypatch)
    with pytest.raises(OSError) as caught:
        atomic_write_text(target, "new")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert target.read_text() == "kept"
    assert [p.name for p in target.parent.iterdir()] == ["status.json"]


def test_a_checkpoint_on_a_full_disk_fails_as_an_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.save writing a file itself reports a full disk as RuntimeError("iostream
    error"); the checkpoint is serialised in memory and written by Python instead."""
    import errno

    import torch

    from workbench.engine.checkpoint import load_checkpoint, save_checkpoint

    target = tmp_path / "run" / "checkpoints" / "last.pt"
    save_checkpoint(target, {"weights": torch.arange(4.0)})
    assert torch.equal(load_checkpoint(target)["weights"], torch.arange(4.0))
    _disk_full_for(tmp_path / "run", monkeypatch)
    with pytest.raises(OSError) as caught:
        save_checkpoint(target, {"weights": torch.zeros(4)})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert torch.equal(load_checkpoint(target)["weights"], torch.arange(4.0))


def test_only_the_machines_storage_problems_get_a_one_line_message() -> None:
    import errno

    from workbench.errors import storage_message

    read_only = storage_message(OSError(errno.EROFS, "Read-only file system", "/mnt/runs/x"))
    assert read_only is not None and read_only.startswith("/mnt/runs/x: the file system is read")
    assert "--run-dir" in read_only
    assert storage_message(OSError(errno.ENOENT, "No such file or directory", "x")) is None
    assert storage_message(OSError("no errno")) is None
