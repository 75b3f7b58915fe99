"""The SQLite write gate: one holder at a time, a bounded wait, dropped on close."""

from __future__ import annotations

from pathlib import Path

from polyfhir_primary.adapters.sql.sqlite_write_gate import WriteGate


def test_a_second_writer_waits_a_bounded_time_then_goes_ahead_without_the_gate(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "db.sqlite.write-lock"
    first, second = WriteGate(lock, timeout_s=5.0), WriteGate(lock, timeout_s=0.05)
    try:
        first.acquire()
        assert first.held
        second.acquire()  # returns after its timeout: SQLite's own locking decides
        assert not second.held
        first.release()
        second.acquire()
        assert second.held
    finally:
        first.close()
        second.close()


def test_closing_a_holder_frees_the_gate(tmp_path: Path) -> None:
    lock = tmp_path / "db.sqlite.write-lock"
    holder, next_writer = WriteGate(lock, timeout_s=5.0), WriteGate(lock, timeout_s=0.05)
    try:
        holder.acquire()
        holder.close()  # a connection closed in the middle of its write
        next_writer.acquire()
        assert next_writer.held
    finally:
        next_writer.close()
