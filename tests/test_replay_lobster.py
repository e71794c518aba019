"""LOBSTER replay: files read and checked, the book rebuilt row for row, bad input named, runs written.

The synthetic pairs here come from an independent model: a plain dict of
every order (including orders resting before the file and levels deeper
than the file shows), whose top N levels are recomputed by sorting after
each event. As LOBSTER does, only events that change those top N levels are
written to the message file, so the rebuild has to seed, undo message 1,
cope with unknown ids and take levels coming into view from the rows.
The shipped samples in ../shared/data are checked too when present.
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import lob
from lob.eventlog.rundir import RunDirExistsError
from lob.replay.errors import ReplayError
from lob.replay.lobster import (
    EMPTY_ASK,
    EMPTY_BID,
    pair,
    read_messages,
    read_orderbook,
    rebuild,
    replay_lobster,
)
from lob.replay.lobster_check import check

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lobster"
SAMPLES = {
    "AAPL": ("AAPL_2012-06-21_L10_excerpt", 10, 999),
    "AMZN": ("AMZN_2012-06-21_L1", 1, 57_515),
}
TICK = 100  # one cent in LOBSTER's dollars x 10000


# -- an independent model of a LOBSTER day ----------------------------------------------------------------


def top_row(orders: dict[int, list[int]], depth: int) -> list[int]:
    """The top ``depth`` levels of ``orders`` (id -> [side, price, size]) in LOBSTER's row layout."""
    sizes: dict[int, dict[int, int]] = {1: defaultdict(int), -1: defaultdict(int)}
    for side, price, size in orders.values():
        sizes[side][price] += size
    bids = sorted(sizes[1].items(), reverse=True)[:depth]
    asks = sorted(sizes[-1].items())[:depth]
    row: list[int] = []
    for k in range(depth):
        row += asks[k] if k < len(asks) else (EMPTY_ASK, 0)
        row += bids[k] if k < len(bids) else (EMPTY_BID, 0)
    return row


def synthetic_day(seed: int, depth: int, events: int = 400) -> tuple[list[list[int | str]], list[list[int]]]:
    """Messages (time as text, type, id, size, price, direction) and rows of a random day, LOBSTER-filtered.

    The flow keeps about 40 orders near the touch, so best levels empty often
    and orders move in and out of view: some change while out of view (and
    so unseen), as they do in LOBSTER files of few levels.
    """
    rng = random.Random(seed)
    orders: dict[int, list[int]] = {}
    next_id = 1
    mid = 1_000_000
    for side in (1, -1):  # the book before the file: 8 levels a side, 1-2 orders each
        for k in range(8):
            for _ in range(rng.randint(1, 2)):
                orders[next_id] = [side, mid - side * TICK * (k + 1), rng.randint(1, 300)]
                next_id += 1
    file_start = next_id
    ns = 34_200 * 10**9
    messages: list[list[int | str]] = []
    rows: list[list[int]] = []

    def best(side: int) -> int | None:
        prices = [o[1] for o in orders.values() if o[0] == side]
        return (max if side == 1 else min)(prices) if prices else None

    def near_touch(side: int) -> list[int]:
        """Ids of the orders within 2 ticks of the side's best price."""
        top = best(side)
        return [
            i for i, o in orders.items() if o[0] == side and top is not None and abs(o[1] - top) <= 2 * TICK
        ]

    def emit(message: list[int], before: list[int]) -> None:
        """Write ``message`` (just applied to ``orders``) if the top levels saw it, as LOBSTER does."""
        after = top_row(orders, depth)
        if message[0] in (5, 7) or after != before:
            messages.append([f"{ns // 10**9}.{ns % 10**9:09d}", *message])
            rows.append(after)

    while len(messages) < events:
        ns += rng.choice((0, 0, 1_000, 250_000, 3_000_000))
        side = rng.choice((1, -1))
        on_side = [i for i, o in orders.items() if o[0] == side]
        anywhere = on_side if rng.random() < 0.3 else near_touch(side)
        before = top_row(orders, depth)
        roll = rng.random()
        if len(on_side) < 3 or (roll < 0.42 and len(on_side) < 25):
            own, other = best(side), best(-side)
            anchor = own if own is not None else (other - side * TICK if other is not None else mid)
            price = anchor + side * TICK * rng.choice((1, 0, 0, -1, -1, -2, -3, -6))
            if other is not None and (price - other) * side >= 0:
                price = other - side * TICK  # never cross: LOBSTER shows executions as their own messages
            orders[next_id] = [side, price, rng.randint(1, 300)]
            emit([1, next_id, orders[next_id][2], price, side], before)
            next_id += 1
        elif roll < 0.55:
            oid = rng.choice(anywhere)
            if orders[oid][2] > 1:
                cut = rng.randint(1, orders[oid][2] - 1)
                orders[oid][2] -= cut
                emit([2, oid, cut, orders[oid][1], side], before)
        elif roll < 0.78:
            oid = rng.choice(anywhere)
            _, price, size = orders.pop(oid)
            emit([3, oid, size, price, side], before)
        elif roll < 0.95:
            want = rng.randint(1, 500)  # a marketable order: one execution per resting order it meets
            while want > 0 and sum(1 for o in orders.values() if o[0] == side) > 1:
                top = best(side)
                assert top is not None
                oid = min(i for i, o in orders.items() if o[0] == side and o[1] == top)  # oldest first
                size = min(want, orders[oid][2])
                before = top_row(orders, depth)
                orders[oid][2] -= size
                want -= size
                if orders[oid][2] == 0:
                    del orders[oid]
                emit([4, oid, size, top, side], before)
        elif roll < 0.99:
            emit([5, 0, rng.randint(1, 200), best(side) or mid, side], before)
        else:
            emit([7, 0, 0, rng.choice((-1, 0, 1)), -1], before)
    assert any(m[1] in (2, 3, 4) and int(m[2]) < file_start for m in messages), (
        "no order from before the file"
    )
    return messages[:events], rows[:events]


def write_day(
    tmp: Path,
    messages: list[list[int | str]],
    rows: list[list[int]],
    *,
    header: bool = False,
    newline: str = "\n",
    name: str = "XYZ_2020-01-02_34200000_57600000",
) -> tuple[Path, Path]:
    depth = len(rows[0]) // 4
    mf = tmp / f"{name}_message_{depth}.csv"
    of = tmp / f"{name}_orderbook_{depth}.csv"
    m_lines = [",".join(map(str, m)) for m in messages]
    o_lines = [",".join(map(str, r)) for r in rows]
    if header:
        m_lines.insert(0, "Time,Type,OrderId,Size,Price,Direction")
        o_lines.insert(0, ",".join(f"Ask{k},AskSize{k},Bid{k},BidSize{k}" for k in range(1, depth + 1)))
    mf.write_text(newline.join(m_lines) + newline)
    of.write_text(newline.join(o_lines))  # no final newline, like the AMZN sample
    return mf, of


def replay(mf: Path, of: Path | None, **kw: object) -> tuple[int, str]:
    out = io.StringIO()
    args: dict[str, object] = {"check": of is not None, "out": None, "skip_bad": False, "force": False}
    args.update(kw)
    status = replay_lobster(mf, of, stdout=out, **args)  # type: ignore[arg-type]
    return status, out.getvalue()


# -- the rebuild ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 5])
@pytest.mark.parametrize("seed", range(6))
def test_synthetic_days_match_every_row(tmp_path: Path, depth: int, seed: int) -> None:
    messages, rows = synthetic_day(seed, depth)
    mf, of = write_day(tmp_path, messages, rows, header=seed % 2 == 1, newline="\r\n" if seed == 3 else "\n")
    m, o = pair(read_messages(mf), read_orderbook(of))
    result = rebuild(m, o, snapshots=True)
    found = check(o, result)
    assert found.first_mismatch is None, f"first mismatch at orderbook line {o.line[found.first_mismatch]}"
    assert found.matched == found.rows == len(rows)
    assert not result.inconsistencies
    assert result.unknown_ids > 0
    result.book._check()
    assert np.array_equal(result.book.row(), rows[-1])


def test_levels_come_into_view_from_the_rows(tmp_path: Path) -> None:
    """At depth 1 every emptied best level brings the next one in from beyond: read from its row."""
    messages, rows = synthetic_day(11, 1, events=600)
    mf, of = write_day(tmp_path, messages, rows)
    m, o = pair(read_messages(mf), read_orderbook(of))
    result = rebuild(m, o, snapshots=True)
    assert result.levels_from_file > 0
    assert check(o, result).matched == len(rows)


def test_invariants_hold_after_every_prefix(tmp_path: Path) -> None:
    messages, rows = synthetic_day(5, 3, events=300)
    mf, of = write_day(tmp_path, messages, rows)
    m, o = pair(read_messages(mf), read_orderbook(of))
    for stop in range(1, len(m) + 1, 7):
        keep = np.arange(len(m)) < stop
        part = rebuild(m.take(keep), o.take(keep))
        part.book._check()
        assert part.book.row() == rows[stop - 1]


def test_times_become_exact_nanoseconds_and_prices_stay_integers(tmp_path: Path) -> None:
    mf, of = write_day(
        tmp_path,
        [["34200.004241176", 1, 5, 18, 5853300, 1], ["34200.1", 5, 0, 7, 5853400, -1]],
        [[5859400, 200, 5853300, 18]] * 2,
    )
    m = read_messages(mf)
    assert m.time_ns.tolist() == [34_200_004_241_176, 34_200_100_000_000]
    assert m.price.tolist() == [5853300, 5853400] and m.price.dtype == np.int64
    result = rebuild(m, read_orderbook(of), snapshots=True)
    assert result.book.top(1) == [(5853300, 18)] and result.book.top(-1) == [(5859400, 200)]


def test_the_seed_undoes_the_first_message(tmp_path: Path) -> None:
    """Row 1 already holds message 1's effect: a new level it made, or a level it emptied."""
    ask, bid = 1_000_100, 1_000_000
    # Message 1 deletes the whole best ask; row 1 shows the next two asks (the third came into view).
    messages = [["1.0", 3, 70, 10, ask, -1], ["1.5", 1, 80, 5, bid + TICK, 1]]
    rows = [
        [ask + TICK, 20, bid, 30, ask + 2 * TICK, 40, bid - TICK, 50],
        [ask + TICK, 20, bid + TICK, 5, ask + 2 * TICK, 40, bid, 30],
    ]
    status, text = replay(*write_day(tmp_path, messages, rows))
    assert status == 0, text
    assert text.endswith("matched 2/2 rows (100%)\n")
    # Message 1 makes a new best bid; the seed takes it off again, then message 1 puts it back.
    messages = [["1.0", 1, 90, 7, bid + TICK, 1], ["1.0", 3, 90, 7, bid + TICK, 1]]
    rows = [
        [ask, 10, bid + TICK, 7, ask + TICK, 20, bid, 30],
        [ask, 10, bid, 30, ask + TICK, 20, EMPTY_BID, 0],
    ]
    (tmp_path / "second").mkdir()
    status, text = replay(*write_day(tmp_path / "second", messages, rows))
    assert status == 0, text


def test_unknown_ids_never_take_a_known_orders_lots(tmp_path: Path) -> None:
    ask, bid = 1_000_100, 1_000_000
    messages = [
        ["1.0", 1, 7, 50, bid, 1],  # a known order joins 100 lots from before the file
        ["1.1", 3, 99, 30, bid, 1],  # an order from before the file leaves: 70 unattributed remain
        ["1.2", 3, 98, 100, bid, 1],  # removes 100, but only 70 lots are not the known order's
    ]
    rows = [[ask, 10, bid, 150], [ask, 10, bid, 120], [ask, 10, bid, 20]]
    mf, of = write_day(tmp_path, messages, rows)
    m, o = pair(read_messages(mf), read_orderbook(of))
    result = rebuild(m, o, snapshots=True)
    assert result.book.orders[7][:2] == (bid, 50)  # the known order is untouched
    assert result.book.top(1) == [(bid, 50)]
    assert result.inconsistencies == {"unattributed_short": 1}
    result.book._check()
    status, text = replay(mf, of)
    assert status == 1
    assert "unattributed_short: line 3" in text
    assert "first mismatch: orderbook line 3, the book after message line 3" in text
    assert "  1" in text and "<- differs" in text
    assert text.endswith("matched 2/3 rows (66.66%)\n")


def test_hidden_executions_and_halts_leave_the_book(tmp_path: Path) -> None:
    row = [1_000_100, 10, 1_000_000, 30]
    messages = [
        ["1.0", 5, 0, 4, 1_000_000, 1],
        ["2.0", 7, 0, 0, -1, -1],
        ["3.0", 7, 0, 0, 0, -1],
        ["4.0", 7, 0, 0, 1, -1],
    ]
    mf, of = write_day(tmp_path, messages, [row] * 4)
    status, text = replay(mf, of, out=tmp_path / "run")
    assert status == 0, text
    run = lob.read_run(tmp_path / "run")
    assert run.events["kind"].astype(str).tolist() == ["fill", "halt", "resume", "resume"]
    assert run.events["value"].tolist()[2:] == [0.0, 1.0]
    assert run.trades["maker"].astype(str).tolist() == ["hidden"]
    assert run.trades["aggressor_side"].tolist() == [-1]


def test_without_an_orderbook_the_book_starts_empty(tmp_path: Path) -> None:
    messages, rows = synthetic_day(2, 3)
    mf, _ = write_day(tmp_path, messages, rows)
    m = read_messages(mf)
    result = rebuild(m, None, depth=3, snapshots=True)
    assert result.inconsistencies["missing_level"] > 0
    assert result.levels_from_file == 0
    result.book._check()
    status, text = replay(mf, None, check=False)
    assert status == 0 and "the book starts empty" in text and "missing_level" in text
    with pytest.raises(ReplayError, match="--check needs the ORDERBOOK_FILE"):
        replay(mf, None, check=True)


# -- bad input --------------------------------------------------------------------------------------------


@pytest.fixture
def good_day(tmp_path: Path) -> tuple[Path, Path, list[str], list[str]]:
    messages, rows = synthetic_day(1, 2, events=40)
    mf, of = write_day(tmp_path, messages, rows)
    return mf, of, mf.read_text().splitlines(), of.read_text().splitlines()


def spoil(path: Path, lines: list[str], index: int, text: str | None) -> None:
    """Line ``index`` (0-based) replaced by ``text``, or removed when None."""
    lines = list(lines)
    if text is None:
        del lines[index]
    else:
        lines[index] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (
            5,
            "34200.5,1,77",
            "expected 6 comma-separated fields (time, type, order id, size, price, direction), found 3",
        ),
        (5, "", "found an empty line"),
        (7, "34200.5,1,77,abc,1000000,1", "field 4 (size) is 'abc': expected an integer"),
        (7, "34200.5,1,77,10.5,1000000,1", "field 4 (size) is '10.5': expected an integer"),
        (7, "34200.x,1,77,10,1000000,1", "field 1 (time) is '34200.x': expected a number"),
        (9, "99999.0,6,77,10,1000000,1", "unknown message type 6: expected 1 (submit)"),
        (9, "99999.0,1,77,10,1000000,0", "direction 0: expected 1 (buy) or -1 (sell)"),
        (9, "99999.0,1,77,0,1000000,1", "size 0: expected a positive number of shares"),
        (9, "99999.0,7,0,0,5,-1", "a trading halt indicator (type 7) has price -1 (halt)"),
        (9, "1.0,1,77,10,1000000,1", "s is before an earlier line's 34200."),
    ],
)
def test_bad_message_lines_name_file_line_and_what_was_expected(
    good_day: tuple[Path, Path, list[str], list[str]], line: int, text: str, expected: str
) -> None:
    mf, of, m_lines, _ = good_day
    spoil(mf, m_lines, line, text)
    with pytest.raises(ReplayError) as err:
        replay(mf, of)
    assert err.value.path == mf and err.value.line == line + 1
    assert expected in str(err.value)
    assert str(err.value).startswith(f"{mf}:{line + 1}: ")


def test_times_going_backwards_can_be_skipped(good_day: tuple[Path, Path, list[str], list[str]]) -> None:
    mf, _, m_lines, _ = good_day
    spoil(mf, m_lines, 9, "1.0" + m_lines[9][m_lines[9].index(",") :])
    m = read_messages(mf, skip_bad=True)
    assert [line for line, _ in m.skipped] == [10] and len(m) == len(m_lines) - 1


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (3, "1,2,3", "expected 8 comma-separated fields (4 a level, 2 levels, like the first row), found 3"),
        (
            3,
            "1000100,10,1000000,5,1000050,10,999900,5",
            "level 2 ask: price 1000050, size 10: expected ask prices rising",
        ),
        (
            3,
            "1000100,10,1000000,5,9999999999,0,999900,0",
            "level 2 bid: price 999900, size 0: expected a positive",
        ),
        (
            3,
            "9999999999,0,1000000,5,1000200,10,999900,5",
            "level 2 ask: price 1000200, size 10: expected no occupied level",
        ),
        (3, "1000100,10,1000000,x,1000200,10,999900,5", "field 4 (bid size 1) is 'x': expected an integer"),
    ],
)
def test_bad_orderbook_rows_are_named(
    good_day: tuple[Path, Path, list[str], list[str]], line: int, text: str, expected: str
) -> None:
    mf, of, _, o_lines = good_day
    spoil(of, o_lines, line, text)
    with pytest.raises(ReplayError) as err:
        replay(mf, of)
    assert err.value.path == of and err.value.line == line + 1
    assert expected in str(err.value)


def test_a_level_count_that_is_not_a_multiple_of_4(good_day: tuple[Path, Path, list[str], list[str]]) -> None:
    mf, of, _, o_lines = good_day
    of.write_text("\n".join(",".join(r.split(",")[:6]) for r in o_lines) + "\n")
    with pytest.raises(ReplayError, match=r":1: 6 columns: expected 4 a level"):
        replay(mf, of)


def test_a_message_file_paired_with_the_wrong_orderbook(
    tmp_path: Path, good_day: tuple[Path, Path, list[str], list[str]]
) -> None:
    mf, of, m_lines, o_lines = good_day
    # Another length: one row per message is the pairing.
    spoil(of, o_lines, len(o_lines) - 1, None)
    with pytest.raises(
        ReplayError, match=r"rows, but the message file .* messages: expected one row per message"
    ):
        replay(mf, of)
    # Another day's file of the same length: its first row cannot follow message 1.
    other_messages, other_rows = synthetic_day(8, 2, events=len(m_lines))
    other = tmp_path / "other"
    other.mkdir()
    _, other_of = write_day(
        other,
        other_messages,
        [[r + 5 * TICK if r > 0 and k % 2 == 0 else r for k, r in enumerate(row)] for row in other_rows],
    )
    with pytest.raises(ReplayError, match="cannot have led to row 1; is this the orderbook file of"):
        replay(mf, other_of)
    # LOBSTER names of another ticker or day.
    renamed = other / "ABC_2020-01-03_34200000_57600000_orderbook_2.csv"
    renamed.write_text("\n".join(o_lines) + "\n")
    with pytest.raises(ReplayError, match="named for ABC 2020-01-03"):
        replay(mf, renamed)


def test_a_wrong_orderbook_of_the_right_shape_is_not_reported_right(tmp_path: Path) -> None:
    messages, rows = synthetic_day(4, 2)
    mf, of = write_day(tmp_path, messages, rows)
    rows[len(rows) // 2][1] += 1  # one ask size off by one share
    write_day(tmp_path, messages, rows)
    status, text = replay(mf, of)
    assert status == 1
    assert f"first mismatch: orderbook line {len(rows) // 2 + 1}," in text
    assert text.splitlines()[-1].startswith(f"matched {len(rows) - 1}/{len(rows)} rows (99.")


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    mf = tmp_path / "m.csv"
    mf.write_text("\n\n")
    with pytest.raises(ReplayError, match="empty: expected a LOBSTER message file"):
        read_messages(mf)
    mf.write_text("Time,Type,OrderId,Size,Price,Direction\n")
    with pytest.raises(ReplayError, match="a header and no data lines"):
        read_messages(mf)
    with pytest.raises(ReplayError, match="cannot read this message file"):
        read_messages(tmp_path / "missing.csv")


def test_skip_bad_counts_and_reports_and_never_claims_a_full_match(
    good_day: tuple[Path, Path, list[str], list[str]],
) -> None:
    mf, of, m_lines, o_lines = good_day
    spoil(mf, m_lines, 6, "34200.5,1,77,abc,1000000,1")
    spoil(of, o_lines, 12, "1,2,3")
    with pytest.raises(ReplayError):
        replay(mf, of)
    m, o = pair(read_messages(mf, skip_bad=True), read_orderbook(of, skip_bad=True))
    assert len(m) == len(o) == len(m_lines) - 2 and m.dropped == o.dropped == 2
    assert (m.line == o.line).all()
    status, text = replay(mf, of, skip_bad=True)
    assert status == 1
    assert "skipped 2 bad lines; 2 messages not replayed" in text
    assert f"{mf.name}:7: field 4 (size) is 'abc'" in text and f"{of.name}:13: expected 8" in text
    assert text.splitlines()[-1].startswith("matched ") and f"/{len(m_lines)} rows" in text.splitlines()[-1]


def test_cli_prints_the_error_without_a_traceback(good_day: tuple[Path, Path, list[str], list[str]]) -> None:
    mf, of, m_lines, _ = good_day
    spoil(mf, m_lines, 4, "34200.5,9,77,10,1000000,1")
    done = subprocess.run(
        [sys.executable, "-m", "lob", "replay", "lobster", str(mf), str(of), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert f"{mf}:5: unknown message type 9" in done.stderr
    assert "Traceback" not in done.stderr


# -- the run directory ------------------------------------------------------------------------------------


def test_the_run_directory_reads_back(tmp_path: Path) -> None:
    messages, rows = synthetic_day(3, 2)
    mf, of = write_day(tmp_path, messages, rows)
    out = tmp_path / "runs" / "xyz"
    status, text = replay(mf, of, out=out)
    assert status == 0 and f"wrote {out}" in text
    run = lob.read_run(out)
    run.verify()
    assert run.manifest["instruments"] == [{"symbol": "XYZ", "tick_size": 0.0001, "lot_size": 1.0}]
    assert run.manifest["calendar_start"] == "2020-01-02T00:00:00"
    ev, tr, book = run.events, run.trades, run.book
    types = np.array([int(m[1]) for m in messages])
    assert len(ev) == len(messages) and ev["seq"].tolist() == list(range(len(messages)))
    kinds = ev["kind"].astype(str).to_numpy()
    expected = {1: "limit", 2: "reduce", 3: "cancel", 4: "fill", 5: "fill"}
    for t, kind in expected.items():
        assert (kinds[types == t] == kind).all()
    assert set(kinds[types == 7]) <= {"halt", "resume"}
    assert len(tr) == int(np.count_nonzero((types == 4) | (types == 5)))
    assert (tr["maker"].astype(str).to_numpy() == np.where(types[tr["seq"]] == 5, "hidden", "lobster")).all()
    assert ev["time"].iloc[0] == np.datetime64("2020-01-02T09:30:00") + np.timedelta64(
        ev["time_ns"].iloc[0] - 34_200 * 10**9, "ns"
    )
    fills = ev[kinds == "fill"]
    assert (fills["side"].to_numpy() == -np.array([int(messages[i][5]) for i in fills["seq"]])).all()
    # The book table is the rebuilt top 2 after every message that changed it.
    changed = np.flatnonzero(types <= 4)
    assert len(book) == 2 * len(changed)
    last = book.iloc[-2:]
    assert last["ask_ticks"].tolist() == [rows[-1][0], rows[-1][4] if rows[-1][5] else 0]
    assert run.summary["check"]["matched"] == len(rows)
    # An existing run is kept unless asked to replace it.
    with pytest.raises(RunDirExistsError):
        replay(mf, of, out=out)
    assert replay(mf, of, out=out, force=True)[0] == 0


def test_a_book_interval_thins_the_book_table(tmp_path: Path) -> None:
    messages, rows = synthetic_day(3, 2)
    mf, of = write_day(tmp_path, messages, rows)
    out = tmp_path / "run"
    status, _ = replay(mf, of, out=out, check=False, book_interval_ns=10_000_000)
    assert status == 0
    book = lob.read_run(out).book
    seconds = np.array([int(m[0].split(".")[0]) * 10**9 + int(m[0].split(".")[1]) for m in messages])  # type: ignore[union-attr]
    assert len(book) == 2 * len(np.unique(seconds // 10_000_000))


# -- the shipped samples ----------------------------------------------------------------------------------


def sample(name: str) -> tuple[Path, Path, int, int]:
    folder, levels, count = SAMPLES[name]
    where = DATA / folder
    if not where.is_dir():
        pytest.skip(
            f"LOBSTER sample {folder} not found under {DATA} (../shared/data is absent on this machine)"
        )
    return next(where.glob("*_message_*.csv")), next(where.glob("*_orderbook_*.csv")), levels, count


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_shipped_samples_match_every_row(name: str, tmp_path: Path) -> None:
    mf, of, levels, count = sample(name)
    status, text = replay(mf, of, out=tmp_path / "run")
    assert status == 0, text
    assert text.endswith(f"matched {count}/{count} rows (100%)\n")
    assert "inconsistencies: none" in text
    run = lob.read_run(tmp_path / "run")
    run.verify()
    assert len(run.events) == count
    assert run.book["level"].max() == levels - 1
