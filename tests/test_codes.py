"""The compiled core's C enums and record structs must match lob.core.codes exactly."""

from __future__ import annotations

import numpy as np
import pytest

import lob.core.book as book
from lob.core.codes import (
    COMMAND_DTYPE,
    FILL_DTYPE,
    RESULT_DTYPE,
    SNAPSHOT_DTYPE,
    STP,
    STP_CANCEL_DTYPE,
    Kind,
    Reason,
    Side,
    Status,
)


def test_enums_match_the_c_codes() -> None:
    c = book.codes()
    for side in Side:
        assert c[side.name] == side.value
    for kind in Kind:
        assert c[kind.name] == kind.value
    for mode in STP:
        assert c[f"STP_{mode.name}"] == mode.value
    for status in Status:
        assert c[status.name] == status.value
    for reason in Reason:
        assert c[f"R_{reason.name}"] == reason.value
    # Nothing in C that Python does not know about.
    assert len(c) == len(Side) + len(Kind) + len(STP) + len(Status) + len(Reason)


@pytest.mark.parametrize(
    ("name", "dtype"),
    [
        ("command", COMMAND_DTYPE),
        ("result", RESULT_DTYPE),
        ("fill", FILL_DTYPE),
        ("stp_cancel", STP_CANCEL_DTYPE),
        ("snapshot", SNAPSHOT_DTYPE),
    ],
)
def test_record_layouts_match_the_dtypes(name: str, dtype: np.dtype) -> None:
    offsets = book.record_layouts()[name]
    assert dtype.names is not None and dtype.fields is not None
    assert set(offsets) == set(dtype.names)
    for field, offset in offsets.items():
        assert dtype.fields[field][1] == offset, field
