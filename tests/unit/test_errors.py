"""user_message: what the TUI says about a failure, from the error the system really raised."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from workbench.errors import UsageError, user_message


def _raised(action) -> OSError:  # type: ignore[no-untyped-def]
    with pytest.raises(OSError) as caught:
        action()
    return caught.value


def test_a_path_below_a_file_is_named_with_its_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    error = _raised(lambda: (blocker / "out").mkdir(parents=True))
    assert error.errno == errno.ENOTDIR
    text = user_message(error)
    assert str(blocker / "out") in text and "not a folder" in text and "Errno" not in text


def test_a_missing_file_is_said_to_be_missing(tmp_path: Path) -> None:
    error = _raised(lambda: (tmp_path / "gone.json").read_text())
    assert user_message(error) == f"{tmp_path / 'gone.json'} does not exist"


def test_a_folder_where_a_file_is_needed(tmp_path: Path) -> None:
    error = _raised(lambda: tmp_path.read_text())
    assert user_message(error) == f"{tmp_path} is a folder, where a file is needed"


def test_storage_problems_say_what_to_do() -> None:
    error = OSError(errno.ENOSPC, "No space left on device", "/runs/x/last.pt")
    text = user_message(error)
    assert text.startswith("/runs/x/last.pt: no space left") and "write elsewhere" in text


def test_usage_errors_keep_their_message_and_others_their_type() -> None:
    assert user_message(UsageError("size: must be at least 32")) == "size: must be at least 32"
    assert user_message(ValueError("bad")) == "ValueError: bad"
    assert user_message(OSError("plain")) == "plain"
