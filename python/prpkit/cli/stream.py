"""Streaming, resumable output of explain and evaluate: each finished image's files are
written atomically (a temporary name, then os.replace) and its records appended and flushed
to the records file, in the input order whatever order the images finish in; a journal beside
the records (``.<records>.journal``) says, per image, which bytes of the records file and
which files (size, CRC-32) belong to it. ``--resume`` keeps the longest prefix of images
whose records and files the journal vouches for and redoes the rest, so a run killed at any
instant (SIGKILL included) never leaves a half record or picture that a resume trusts."""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from typing import Sequence

from .errors import CLIError

JOURNAL_FORMAT = 1
_TMP_MARK = ".prpkit-tmp-"


class ItemResult:
    """One finished input: its position in the run's input list, its records (JSON
    objects, in order) and its files ((name in the output folder, content))."""

    __slots__ = ("index", "records", "files")

    def __init__(self, index: int, records: list[dict], files: list[tuple[str, bytes]]) -> None:
        self.index, self.records, self.files = index, records, files


def atomic_write(path: str, data: bytes) -> None:
    """Writes ``path`` so that it is either absent/old or complete: never half written."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, f".{base}{_TMP_MARK}{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def journal_path(records_path: str) -> str:
    d, base = os.path.split(os.path.abspath(records_path))
    return os.path.join(d, f".{base}.journal")


def inputs_digest(keys: Sequence[str]) -> str:
    h = hashlib.sha256()
    for k in keys:
        h.update(k.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class RecordStream:
    """The records file (JSON lines) and the files of one run, written as images finish.

    ``run`` describes what decides the numbers (model digest, options): a resume with
    other values is refused. ``keys`` names the inputs in order (`Item.label`)."""

    def __init__(self, records_path: str, files_dir: str | None, run: dict, keys: Sequence[str]) -> None:
        self.records_path = records_path
        self.files_dir = files_dir
        self.journal = journal_path(records_path)
        self.keys = list(keys)
        self.header = {"prpkit_journal": JOURNAL_FORMAT, "run": run, "inputs": len(self.keys),
                       "inputs_sha256": inputs_digest(self.keys)}
        self.next = 0            # the first image not yet written
        self.resumed = 0         # images kept from an earlier run
        self.duplicates = 0      # results received again for an image already in hand (retries)
        self.n_records = 0
        self._pending: dict[int, ItemResult] = {}
        self._rec = self._jour = None
        self._offset = 0

    # ------------------------------------------------------------------ opening
    def open(self, resume: bool) -> int:
        """Starts the run (fresh, or after the images an earlier run completed); returns
        how many images are already complete."""
        self._remove_temporaries()
        entries = self._valid_prefix() if resume else []
        self.resumed = self.next = len(entries)
        self._offset = entries[-1]["end"] if entries else 0
        lines = [json.dumps(self.header)] + [json.dumps(e) for e in entries]
        atomic_write(self.journal, ("\n".join(lines) + "\n").encode())
        mode = "r+b" if os.path.exists(self.records_path) and entries else "wb"
        self._rec = open(self.records_path, mode)
        if os.fstat(self._rec.fileno()).st_size != self._offset:  # a complete run stays untouched
            self._rec.truncate(self._offset)
        self._rec.seek(self._offset)
        self._jour = open(self.journal, "ab")
        self.n_records = sum(e["records"] for e in entries)
        return self.resumed

    def _remove_temporaries(self) -> None:
        """Files a killed run left under a temporary name: in the output folder (the run's
        own) any; beside the records file only those of the records and the journal."""
        own = tuple(f".{os.path.basename(p)}{_TMP_MARK}" for p in (self.records_path, self.journal))
        folders = [(os.path.dirname(os.path.abspath(self.records_path)), own)]
        if self.files_dir:
            folders.append((self.files_dir, None))
        for d, prefixes in folders:
            if not os.path.isdir(d):
                continue
            for f in os.listdir(d):
                if _TMP_MARK in f and (prefixes is None or f.startswith(prefixes)):
                    try:
                        os.unlink(os.path.join(d, f))
                    except OSError:
                        pass

    def _valid_prefix(self) -> list[dict]:
        """The journal entries of the images an earlier run completed, as far as the
        records file and the files still match them."""
        try:
            with open(self.journal, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return []
        lines = raw.split(b"\n")
        if not raw.endswith(b"\n"):
            lines = lines[:-1]  # a line cut by the kill
        try:
            header = json.loads(lines[0])
        except (ValueError, IndexError):
            return []
        if header.get("prpkit_journal") != JOURNAL_FORMAT:
            return []
        self._check_same_run(header)
        try:
            with open(self.records_path, "rb") as f:
                records = f.read()
        except FileNotFoundError:
            return []
        kept: list[dict] = []
        end = 0
        for line in lines[1:]:
            if not line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                break
            if not self._entry_ok(e, len(kept), end, records):
                break
            kept.append(e)
            end = e["end"]
        return kept

    def _entry_ok(self, e, i: int, start: int, records: bytes) -> bool:
        """Image i's journal entry: the next input, its records where the previous ended
        and with their CRC, each of its files present with its size and CRC."""
        try:
            return (e["i"] == i < len(self.keys) and e["key"] == self.keys[i] and e["start"] == start
                    and start <= e["end"] <= len(records) and zlib.crc32(records[start:e["end"]]) == e["crc"]
                    and all(self._file_ok(name, size, crc) for name, size, crc in e["files"]))
        except (KeyError, TypeError, ValueError):
            return False

    def _check_same_run(self, header: dict) -> None:
        if header.get("inputs") != len(self.keys) or header.get("inputs_sha256") != self.header["inputs_sha256"]:
            raise CLIError(f"--resume: the inputs are not those of the run being resumed "
                           f"({header.get('inputs')} then, {len(self.keys)} now, or another list); "
                           f"run without --resume to start again")
        old, new = header.get("run", {}), self.header["run"]
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if diff:
            raise CLIError(f"--resume: {', '.join(diff)} differ from the run being resumed; "
                           f"run without --resume to start again")

    def _file_ok(self, name: str, size: int, crc: int) -> bool:
        path = os.path.join(self.files_dir or "", name)
        try:
            if os.path.getsize(path) != size:
                return False
            with open(path, "rb") as f:
                return zlib.crc32(f.read()) == crc
        except OSError:
            return False

    # ------------------------------------------------------------------ writing
    def add(self, result: ItemResult) -> int:
        """Takes a finished image (in any order); writes every image that is next in the
        input order. Returns how many images are written in all."""
        i = result.index
        if i < self.next or i in self._pending:
            self.duplicates += 1
        else:
            self._pending[i] = result
        while self.next in self._pending:
            self._write(self._pending.pop(self.next))
            self.next += 1
        return self.next

    def _write(self, r: ItemResult) -> None:
        files = []
        for name, data in r.files:
            atomic_write(os.path.join(self.files_dir or "", name), data)
            files.append([name, len(data), zlib.crc32(data)])
        data = "".join(json.dumps(rec) + "\n" for rec in r.records).encode()
        self._rec.write(data)
        self._rec.flush()
        entry = {"i": r.index, "key": self.keys[r.index], "start": self._offset, "end": self._offset + len(data),
                 "crc": zlib.crc32(data), "records": len(r.records), "files": files}
        # the journal line goes last: until it is complete the image counts as not done
        self._jour.write((json.dumps(entry) + "\n").encode())
        self._jour.flush()
        self._offset += len(data)
        self.n_records += len(r.records)

    def close(self) -> None:
        for f in (self._rec, self._jour):
            if f is not None:
                f.close()
        self._rec = self._jour = None

    @property
    def complete(self) -> bool:
        return self.next == len(self.keys)
