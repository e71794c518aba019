"""``lob replay binance``: the L2 book of a Binance USD-M capture, its synchronisation, check and bad input.

Small captures are generated here from a known true book (gzip and plain),
so every rule runs without ../shared/data; the real capture, where present,
must synchronise and match every comparable bookTicker.
"""

from __future__ import annotations

import doctest
import gzip
import io
import json
import random
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import lob.replay.binance
import lob.replay.binance_files
from lob.replay.binance import (
    BinanceReader,
    BookTicker,
    DepthDiff,
    DepthSnapshot,
    Trade,
    format_units,
    replay,
    replay_binance,
)
from lob.replay.errors import ReplayError

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CAPTURE = DATA / "binance_usdm" / "btcusdt_20240808.gz"


# -- a generated capture --------------------------------------------------------


@dataclass
class Capture:
    """A generated capture: its lines, the true book at the end and where each diff and snapshot went."""

    lines: list[str]
    final_bids: dict[int, int]
    final_asks: dict[int, int]
    diff_lines: list[int] = field(default_factory=list)  # line (1-based) of each diff emitted
    snapshot_lines: list[int] = field(default_factory=list)
    boundary_tickers: int = 0  # tickers whose id is the last id of a diff

    def write(self, path: Path, *, gz: bool = False) -> Path:
        text = "".join(line + "\n" for line in self.lines)
        if gz:
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
        return path


def _px(units: int) -> str:
    return format_units(units, 2)


def _qty(lots: int) -> str:
    return format_units(lots, 3)


def make_capture(
    seed: int = 1,
    *,
    updates: int = 300,
    snapshot_diffs: tuple[int, ...] = (3,),
    drop_diffs: tuple[int, ...] = (),
    wrapped: bool = True,
) -> Capture:
    """A capture of one symbol from a true book moved by ``updates`` single-level updates.

    Updates are grouped into diffs of 1-6 (ids ``U..u``, ``pu`` the previous
    ``u``); a ticker follows about a third of the updates with the true top at
    that id; a snapshot of the true book is taken at an id inside each diff of
    ``snapshot_diffs`` and arrives two diffs later; ``drop_diffs`` are left
    out (a gap). Depth, tickers and trades arrive as three streams shuffled
    together, each in its own order, so tickers come both before and after
    the diffs that reach them.
    """
    rng = random.Random(seed)
    bids = {p: rng.randrange(1, 5000) for p in range(990_000, 999_900, 100)}
    asks = {p: rng.randrange(1, 5000) for p in range(1_000_100, 1_010_000, 100)}
    uid = 10_000
    depth: list[tuple[str, dict[str, object]]] = []  # (kind, payload) in depth-stream order
    tickers: list[dict[str, object]] = []
    trades: list[dict[str, object]] = []
    diff_ids: list[tuple[int, int]] = []
    boundary = 0
    prev_u = uid - 7
    pending_snaps: dict[int, dict[str, object]] = {}
    done = 0
    k = 0
    while done < updates:
        size = rng.randrange(1, 7)
        first = uid
        changed: dict[tuple[str, int], int] = {}
        snap_at = rng.randrange(first, first + size) if k in snapshot_diffs else None
        ticker_ids = []
        for _ in range(size):
            side, book = ("b", bids) if rng.random() < 0.5 else ("a", asks)
            best = max(book) if side == "b" else min(book)
            price = best + rng.choice((-1, 1)) * rng.randrange(0, 4) * 100
            if (side == "b" and price >= 1_000_000) or (side == "a" and price <= 999_900):
                price = best
            qty = 0 if rng.random() < 0.25 and len(book) > 20 else rng.randrange(1, 5000)
            if qty:
                book[price] = qty
            else:
                book.pop(price, None)
            changed[(side, price)] = qty
            if uid == snap_at:
                pending_snaps[k + 2] = {
                    "lastUpdateId": uid,
                    "E": 1,
                    "T": 1,
                    "bids": [[_px(p), _qty(q)] for p, q in sorted(bids.items(), reverse=True)],
                    "asks": [[_px(p), _qty(q)] for p, q in sorted(asks.items())],
                }
            if rng.random() < 0.35:
                ticker_ids.append(uid)
                bb, ba = max(bids), min(asks)
                tickers.append(
                    {"e": "bookTicker", "u": uid, "s": "TESTUSDT", "b": _px(bb), "B": _qty(bids[bb]),
                     "a": _px(ba), "A": _qty(asks[ba]), "T": 1, "E": 1}
                )  # fmt: skip
            uid += 1
            done += 1
        last = uid - 1
        boundary += ticker_ids.count(last)
        diff = {
            "e": "depthUpdate", "E": 1, "T": 1, "s": "TESTUSDT", "U": first, "u": last, "pu": prev_u,
            "b": [[_px(p), _qty(q)] for (s, p), q in changed.items() if s == "b"],
            "a": [[_px(p), _qty(q)] for (s, p), q in changed.items() if s == "a"],
        }  # fmt: skip
        if k not in drop_diffs:
            depth.append(("diff", diff))
        diff_ids.append((first, last))
        if k in pending_snaps:
            depth.append(("snapshot", pending_snaps.pop(k)))
        if rng.random() < 0.5:
            trades.append({"e": "trade", "E": 1, "T": 1, "s": "TESTUSDT", "t": k, "p": _px(min(asks)),
                           "q": "0.010", "X": "MARKET", "m": False})  # fmt: skip
        prev_u = last
        uid += rng.randrange(1, 4)  # ids of other symbols in between
        k += 1

    streams: list[list[tuple[str, dict[str, object]]]] = [
        depth,
        [("ticker", t) for t in tickers],
        [("trade", t) for t in trades],
    ]
    capture = Capture([], dict(bids), dict(asks))
    names = {"diff": "testusdt@depth@0ms", "ticker": "testusdt@bookTicker", "trade": "testusdt@trade"}
    positions = [0, 0, 0]
    while any(positions[i] < len(streams[i]) for i in range(3)):
        i = rng.choice([i for i in range(3) if positions[i] < len(streams[i])])
        kind, payload = streams[i][positions[i]]
        positions[i] += 1
        if kind == "snapshot" or not wrapped:
            obj: dict[str, object] = payload
        else:
            obj = {"stream": names[kind], "data": payload}
        capture.lines.append(f"{1_700_000_000_000_000_000 + 1000 * len(capture.lines)} {json.dumps(obj)}")
        if kind == "diff":
            capture.diff_lines.append(len(capture.lines))
        elif kind == "snapshot":
            capture.snapshot_lines.append(len(capture.lines))
    capture.boundary_tickers = boundary
    return capture


def run(path: Path, *, check: bool = True, skip_bad: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    status = replay_binance(path, check=check, skip_bad=skip_bad, stdout=out)
    return status, out.getvalue()


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return make_capture(2, updates=120).write(tmp_path / "small.txt")


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def rewrite(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def line_of(lines: list[str], needle: str, start: int = 0) -> int:
    """1-based number of the first line at or after ``start`` containing ``needle``."""
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


# -- units and the book -----------------------------------------------------------


@pytest.mark.parametrize("module", [lob.replay.binance, lob.replay.binance_files], ids=lambda m: m.__name__)
def test_doctests(module: types.ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_prices_and_quantities_convert_exactly_to_integers(tmp_path: Path) -> None:
    line = (
        '5 {"e":"trade","E":1,"T":7,"s":"BTCUSDT","t":3,"p":"61496.50","q":"0.014","m":true}\n'
        '6 {"e":"trade","E":1,"T":8,"s":"BTCUSDT","t":4,"p":"61496.5","q":"2","m":false}\n'
    )
    path = tmp_path / "t.txt"
    path.write_text(line)
    reader = BinanceReader(path)
    assert list(reader) == [
        Trade(1, 5, 3, 7, 6149650, 14, True),
        Trade(2, 6, 4, 8, 6149650, 2000, False),
    ]
    assert (reader.price_decimals, reader.qty_decimals, reader.symbol) == (2, 3, "BTCUSDT")
    coarse = BinanceReader(path, price_decimals=1, qty_decimals=3)
    with pytest.raises(ReplayError, match=r"t.txt:1: trade field 'p': price '61496.50': 2 decimals, but"):
        list(coarse)


def test_message_types_are_parsed(tmp_path: Path) -> None:
    capture = make_capture(4, updates=30)
    messages = list(BinanceReader(capture.write(tmp_path / "c.txt")))
    kinds = {type(m) for m in messages}
    assert kinds == {DepthDiff, DepthSnapshot, BookTicker, Trade}
    assert [m.line for m in messages] == list(range(1, len(capture.lines) + 1))


# -- synchronisation and the check --------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_generated_capture_rebuilds_the_true_book_and_matches_every_ticker(
    tmp_path: Path, seed: int, gz: bool
) -> None:
    capture = make_capture(seed)
    path = capture.write(tmp_path / ("c.gz" if gz else "c.txt"), gz=gz)
    result, _, _, _ = replay(path, check=True)
    assert result.failure is None and result.synced
    assert dict(result.book.bids) == capture.final_bids and dict(result.book.asks) == capture.final_asks
    result.book._check()
    assert result.matched == result.compared > 0
    assert result.crossed == 0 and not result.gaps
    accounted = result.compared + result.inside + result.unsynced + result.not_reached + result.late
    assert accounted == result.tickers
    # Comparable tickers are exactly those at a diff boundary from the synchronising diff on.
    assert result.compared <= capture.boundary_tickers
    status, out = run(path)
    assert status == 0
    assert f"matched {result.compared:,}/{result.compared:,} best bid/ask updates (100.00%)" in out
    assert out.rstrip().endswith("(100.00%)")


def test_the_sync_point_follows_binance_rules(tmp_path: Path) -> None:
    capture = make_capture(5, snapshot_diffs=(4,))
    path = capture.write(tmp_path / "c.txt")
    lines = capture.lines
    snap_line = capture.snapshot_lines[0]
    last_id = json.loads(lines[snap_line - 1].split(" ", 1)[1])["lastUpdateId"]
    # The first diff applied is the one spanning lastUpdateId: U <= lastUpdateId <= u.
    spans = [
        n
        for n in capture.diff_lines
        if (d := json.loads(lines[n - 1].split(" ", 1)[1])["data"])["U"] <= last_id <= d["u"]
    ]
    assert len(spans) == 1
    status, out = run(path)
    assert status == 0
    assert (
        f"synchronised: snapshot at line {snap_line} (lastUpdateId {last_id}), first diff at line {spans[0]}"
        in out
    )
    result, _, _, _ = replay(path)
    assert result.applied == result.diffs - 4  # the four diffs with u < lastUpdateId were dropped


def test_a_gap_is_reported_and_the_next_snapshot_resynchronises(tmp_path: Path) -> None:
    capture = make_capture(6, updates=400, snapshot_diffs=(2, 40), drop_diffs=(20,))
    path = capture.write(tmp_path / "c.txt")
    gap_line = capture.diff_lines[20]  # the diff after the missing one (diff_lines skips dropped diffs)
    status, out = run(path)
    assert status == 0, out
    assert f"gap at line {gap_line}: depthUpdate pu=" in out
    assert "book discarded, waiting for a snapshot to resynchronise" in out
    assert out.count("synchronised: snapshot at line") == 2
    assert f"synchronised: snapshot at line {capture.snapshot_lines[1]}" in out
    assert "1 gap, 1 resynchronisation" in out
    result, _, _, _ = replay(path, check=True)
    assert dict(result.book.bids) == capture.final_bids and dict(result.book.asks) == capture.final_asks
    assert result.matched == result.compared > 0 and result.unsynced > 0


def test_a_gap_without_a_later_snapshot_stops_with_a_clear_error(tmp_path: Path) -> None:
    capture = make_capture(6, updates=300, drop_diffs=(20,))
    path = capture.write(tmp_path / "c.txt")
    status, out = run(path)
    assert status == 1
    gap_line = capture.diff_lines[20]
    assert f"error: {path}: the book is out of sync since the gap at line {gap_line}" in out
    assert "no later snapshot could resynchronise it" in out
    assert f"it was last right after the diff at line {capture.diff_lines[19]} (update id" in out
    assert "book at update id" not in out  # no book is reported as the state at the end


def test_a_capture_without_a_snapshot_cannot_synchronise(tmp_path: Path) -> None:
    capture = make_capture(7, snapshot_diffs=())
    status, out = run(capture.write(tmp_path / "c.txt"))
    assert status == 1
    assert 'no depth snapshot ({"lastUpdateId": ...}) in the file' in out
    assert "matched 0/0 best bid/ask updates (nothing to compare)" in out


def test_a_snapshot_older_than_the_diffs_is_not_used(tmp_path: Path) -> None:
    capture = make_capture(8, snapshot_diffs=(3,), drop_diffs=(0, 1, 2, 3, 4))
    status, out = run(capture.write(tmp_path / "c.txt"))
    assert status == 1
    assert f"snapshot at line {capture.snapshot_lines[0]} (lastUpdateId" in out
    assert "cannot be used: the first diff after it" in out
    assert "is older than the diffs after it" in out


def test_a_wrong_ticker_is_a_mismatch(tmp_path: Path) -> None:
    capture = make_capture(9)
    path = capture.write(tmp_path / "c.txt")
    result, _, _, _ = replay(path, check=True)
    assert result.compared > 0
    # Spoil the bid size of the last ticker at a diff boundary.
    lines = capture.lines
    diff_last_ids = {json.loads(lines[n - 1].split(" ", 1)[1])["data"]["u"] for n in capture.diff_lines}
    target = max(
        i
        for i, line in enumerate(lines)
        if "bookTicker" in line and json.loads(line.split(" ", 1)[1])["data"]["u"] in diff_last_ids
    )
    ns, payload = lines[target].split(" ", 1)
    obj = json.loads(payload)
    obj["data"]["B"] = "999.999"
    lines[target] = f"{ns} {json.dumps(obj)}"
    status, out = run(rewrite(path, lines))
    assert status == 1
    assert f"mismatch: line {target + 1}: bookTicker u=" in out
    assert f"matched {result.compared - 1:,}/{result.compared:,} best bid/ask updates" in out


def test_without_check_nothing_is_compared(small: Path) -> None:
    status, out = run(small, check=False)
    assert status == 0 and "matched" not in out
    assert "parse:" in out and "rebuild:" in out and "synchronised" in out


def test_a_crossed_book_is_an_error(tmp_path: Path) -> None:
    capture = make_capture(10, updates=60)
    lines = capture.lines
    n = capture.diff_lines[-1]
    ns, payload = lines[n - 1].split(" ", 1)
    obj = json.loads(payload)
    obj["data"]["b"].append(["20000.00", "1.000"])  # a bid far above every ask
    lines[n - 1] = f"{ns} {json.dumps(obj)}"
    status, out = run(rewrite(tmp_path / "c.txt", lines))
    assert status == 1
    assert f"crossed book after the diff at line {n}" in out
    assert "error: the rebuilt book was crossed after 1 diff" in out


def test_bare_events_without_the_stream_wrapper(tmp_path: Path) -> None:
    capture = make_capture(11, wrapped=False)
    status, out = run(capture.write(tmp_path / "c.txt"))
    assert status == 0 and "(100.00%)" in out


# -- bad input ------------------------------------------------------------------------


def spoil(path: Path, needle: str, change: object) -> tuple[Path, int, bool]:
    """Apply ``change(line) -> line`` to a line containing ``needle`` in the middle of the file, one
    followed by another depth diff; returns (path, its number, whether it was a depth diff)."""
    lines = lines_of(path)
    n = line_of(lines, needle, len(lines) // 3)
    assert any("depthUpdate" in line for line in lines[n:])
    was_diff = "depthUpdate" in lines[n - 1]
    lines[n - 1] = change(lines[n - 1])  # type: ignore[operator]
    return rewrite(path, lines), n, was_diff


BAD_LINES = {
    "truncated": (
        "bookTicker",
        lambda s: s[: len(s) // 2],
        "the line ends before its JSON object does (truncated line?)",
    ),
    "invalid json": (
        "bookTicker",
        lambda s: s.replace('"u":', '"u"'),
        "invalid JSON: Expecting ':' delimiter",
    ),
    "receive ns not numeric": ("trade", lambda s: "17x" + s[3:], "receive time '17x"),
    "price not numeric": (
        "bookTicker",
        lambda s: s.replace('"b": "', '"b": "x'),
        "bookTicker field 'b': price 'x",
    ),
    "price a number": (
        "bookTicker",
        lambda s: s.replace('"a": "', '"a": 1').replace('", "A"', ', "A"'),
        "field 'a': price 1",
    ),
    "level not a pair": (
        '"b": [[',
        lambda s: s.replace('"b": [[', '"b": [["1.00"], ['),
        "field 'b' entry 0: expected [price, quantity]",
    ),
    "quantity not numeric": (
        '"a": [["',
        lambda s: s.replace('"a": [["', '"a": [["1.00", "-1"], ["'),
        "field 'a': quantity '-1': expected a non-negative decimal number",
    ),
    "id not an integer": (
        "depthUpdate",
        lambda s: s.replace('"pu": ', '"pu": "x", "pu0": '),
        "depthUpdate field 'pu': expected an integer, got 'x'",
    ),
    "missing field": (
        "bookTicker",
        lambda s: s.replace('"A": ', '"Z": '),
        "bookTicker: field 'A' is missing",
    ),
    "unknown type": (
        "trade",
        lambda s: s.replace('"e": "trade"', '"e": "aggTrade"'),
        "unknown message type 'aggTrade': expected a depthUpdate, bookTicker or trade event",
    ),
    "other symbol": ("trade", lambda s: s.replace("TESTUSDT", "ETHUSDT"), "symbol 'ETHUSDT' differs"),
    "not an object": ("trade", lambda s: s.split(" ", 1)[0] + " [1, 2]", "expected a JSON object, got list"),
    "no json": ("trade", lambda s: s.split(" ", 1)[0], "no JSON after the receive time"),
    "empty": ("trade", lambda s: "", "empty line"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_lines_name_the_file_line_and_what_was_expected(small: Path, case: str) -> None:
    needle, change, message = BAD_LINES[case]
    path, n, _ = spoil(small, needle, change)
    with pytest.raises(ReplayError) as info:
        run(path)
    assert info.value.path == path and info.value.line == n
    assert str(info.value).startswith(f"{path}:{n}: ")
    assert message in info.value.message, info.value.message


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_skip_bad_counts_and_reports_the_skipped_line(small: Path, case: str) -> None:
    needle, change, _ = BAD_LINES[case]
    path, n, was_diff = spoil(small, needle, change)
    status, out = run(path, skip_bad=True)
    assert "skipped 1 bad line (--skip-bad); the first:" in out
    assert f"  {path}:{n}: " in out
    if was_diff:  # a skipped diff is a gap, never a silently wrong book
        assert status == 1 and "gap at line" in out
    else:
        assert status == 0, out


def test_receive_time_going_backwards(small: Path) -> None:
    lines = lines_of(small)
    rest = lines[40].split(" ", 1)[1]
    lines[40] = f"{int(lines[39].split(' ', 1)[0]) - 1} {rest}"
    path = rewrite(small, lines)
    with pytest.raises(ReplayError, match=r":41: receive time goes backwards: \d+ ns after \d+ ns"):
        run(path)


def test_ticker_ids_going_backwards(small: Path) -> None:
    lines = lines_of(small)
    first = line_of(lines, "bookTicker")
    second = line_of(lines, "bookTicker", first)
    lines[first - 1], lines[second - 1] = (
        lines[first - 1].split(" ", 1)[0] + " " + lines[second - 1].split(" ", 1)[1],
        lines[second - 1].split(" ", 1)[0] + " " + lines[first - 1].split(" ", 1)[1],
    )
    with pytest.raises(
        ReplayError, match=rf":{second}: bookTicker update id \d+ is below \d+ \(line {first}\)"
    ):
        run(rewrite(small, lines))


def test_a_truncated_gzip_file(tmp_path: Path) -> None:
    data = gzip.compress(("".join(line + "\n" for line in make_capture(3).lines)).encode())
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ReplayError, match="cannot read the file: Compressed file ended"):
        run(path)
    with pytest.raises(ReplayError, match="cannot read the file"):
        run(path, skip_bad=True)  # nothing after it can be read: not skippable


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match=r"nope.gz: cannot open: No such file"):
        run(tmp_path / "nope.gz")


def test_the_cli_runs_the_replay(tmp_path: Path) -> None:
    path = make_capture(12, updates=80).write(tmp_path / "c.gz", gz=True)
    done = subprocess.run(
        [sys.executable, "-m", "lob", "replay", "binance", str(path), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("(100.00%)")
    path.write_text("1 {}\n")
    done = subprocess.run(
        [sys.executable, "-m", "lob", "replay", "binance", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 1 and f"{path}:1: a message with no type ('e')" in done.stderr


# -- the real capture -----------------------------------------------------------------


@pytest.mark.skipif(not CAPTURE.exists(), reason=f"real Binance capture absent: {CAPTURE} (../shared/data)")
def test_the_real_capture_matches_every_comparable_ticker() -> None:
    status, out = run(CAPTURE)
    assert status == 0, out
    assert "synchronised: snapshot at line 55 (lastUpdateId 5123107852948), first diff at line 42" in out
    assert "1 snapshot, 6,551 depth diffs (6,547 applied), 21,313 trades, 66,089 bookTickers" in out
    assert "gap at line" not in out
    assert out.rstrip().endswith("matched 629/629 best bid/ask updates (100.00%)")


def test_tickers_the_book_has_not_reached_or_has_forgotten_are_counted_not_compared(tmp_path: Path) -> None:
    capture = make_capture(3)
    capture.lines.append(
        f"{2_000_000_000_000_000_000} "
        + json.dumps({"e": "bookTicker", "u": 10**12, "s": "TESTUSDT", "b": "1.00", "B": "1.000",
                      "a": "2.00", "A": "1.000", "T": 1, "E": 1})
    )  # fmt: skip
    path = capture.write(tmp_path / "c.txt")
    full, _, _, _ = replay(path, check=True)
    assert full.not_reached == 1 and full.late == 0

    class ShortMemory(lob.replay.binance.BinanceReplay):
        HISTORY = 1  # tickers more than two diffs late are no longer comparable

    short = ShortMemory(check=True)
    for message in BinanceReader(path):
        short.feed(message)
    short.finish()
    assert short.late > 0 and short.matched == short.compared > 0
    assert short.compared + short.late <= full.compared + full.inside + full.unsynced
    for result in (full, short):
        accounted = result.compared + result.inside + result.unsynced + result.not_reached + result.late
        assert accounted == result.tickers
