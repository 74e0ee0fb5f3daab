"""What a training run's output folder holds, and what a new run started on it does.

A training run writes ``run.json`` in its folder when it starts (its job, model, data set and
whole config, status ``running``) and marks it ``finished`` once the model and its JSON are
written. A run started again on the same folder then

- **resumes** when the folder holds the backup of an interrupted run of the same job, model
  and config (only `RESUMABLE` keys may differ: more epochs, another strategy);
- **is refused** (a `UserError` naming both runs) when that backup belongs to another model
  or config: Keras would otherwise try to load the other model's weights;
- **does nothing** when the folder holds a finished run of the same config (its model and
  JSON still there): the stored result is returned (``already_finished``), like `make` with
  nothing to do; a finished run of another config (other epochs, another model) is refused;
- **starts afresh** when there is nothing to resume: the history of an earlier attempt that
  never reached a backup is discarded, so ``history.csv`` only ever holds one run.

``fresh=True`` (``--fresh``) discards the backup, the history, the TensorBoard logs and the
record first, and trains from scratch in that folder. Files are only removed when they
are what a run writes (a Keras backup folder, TensorBoard's train / validation logs).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tfinterp.errors import UserError

RECORD = "run.json"
# keys a resumed run may change: how it runs, and how far
RESUMABLE = ("epochs", "strategy", "cpu_devices", "jit", "mixed_precision")
# keys a finished run may differ in and still be "this configuration"
EXECUTION = ("strategy", "cpu_devices", "jit", "mixed_precision")
_BACKUP_FILES = ("latest.weights.h5", "training_metadata.json")


def has_backup(out) -> bool:
    """True when `out` holds a Keras `BackupAndRestore` checkpoint to resume from."""
    return any((Path(out) / "backup" / f).exists() for f in _BACKUP_FILES)


def read_record(out) -> dict | None:
    path = Path(out) / RECORD
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("config"), dict) else None


def _label(rec: dict) -> str:
    return f"{rec.get('model', '?')} on {rec.get('dataset', '?')}"


def _differences(old: dict, new: dict, ignore) -> list[str]:
    return [k for k in dict.fromkeys([*old, *new]) if k not in ignore and old.get(k) != new.get(k)]


def _fmt(cfg: dict, keys) -> str:
    return ", ".join(f"{k}={json.dumps(cfg.get(k))}" for k in keys)


def _conflict(rec: dict, record: dict, keys) -> tuple[str, str]:
    """(what the folder holds, what this run does), in words naming both runs."""
    jobs = rec.get("job") != record["job"]
    if jobs or _label(rec) != _label(record):
        return (f"run of {_label(rec)}" + (f" ({rec.get('job', '?')})" if jobs else ""),
                f"trains {_label(record)}" + (f" ({record['job']})" if jobs else ""))
    keys = keys[:4]
    return f"run of {_label(rec)} with {_fmt(rec['config'], keys)}", f"has {_fmt(record['config'], keys)}"


def _remove_run_files(out: Path):
    """Delete what a training run wrote for resuming and logging (never anything else)."""
    backup = out / "backup"
    if backup.is_dir():
        extra = [p.name for p in backup.iterdir()
                 if p.name not in (*_BACKUP_FILES, *(f + ".bkp" for f in _BACKUP_FILES))]
        if extra:
            raise UserError(f"{backup} holds files a training backup does not ({', '.join(sorted(extra)[:3])}); "
                            "move them away or choose another --out")
        shutil.rmtree(backup)
    logs = out / "logs"
    if logs.is_dir() and {p.name for p in logs.iterdir()} <= {"train", "validation"}:
        shutil.rmtree(logs)
    for name in ("history.csv", RECORD):
        (out / name).unlink(missing_ok=True)


def prepare(out, record: dict, fresh: bool = False, result_file: str | None = None) -> dict | None:
    """Get folder `out` ready for the run described by `record` (job, stem, model, dataset, config).

    Returns None when the run should train (from scratch or resuming), or the stored result
    (the JSON dict of `result_file`, default ``<stem>.json``, with ``already_finished = True``)
    of a finished run of the same configuration whose ``<stem>.keras`` is still there.
    Raises `UserError` when the folder holds another run.
    """
    out = Path(out)
    if fresh:
        _remove_run_files(out)
    rec = read_record(out)
    backup = has_backup(out)
    where = f"--out {out}"
    hint = "pass --fresh to train again from scratch in that folder, or choose another --out"
    if rec is not None and rec.get("status") == "finished" and not backup:
        diff = _differences(rec["config"], record["config"], EXECUTION)
        same = rec.get("job") == record["job"] and _label(rec) == _label(record) and not diff
        result = out / (result_file or f"{record['stem']}.json")
        if same and result.is_file() and (out / f"{record['stem']}.keras").is_file():
            try:
                stored = json.loads(result.read_text())
            except ValueError:
                stored = None
            if isinstance(stored, dict):
                return {**stored, "already_finished": True}
        if not same:
            held, this = _conflict(rec, record, diff)
            raise UserError(f"{where} holds a finished {held}; this run {this}: {hint}")
    if backup:
        if rec is not None:
            diff = _differences(rec["config"], record["config"], RESUMABLE)
            if rec.get("job") != record["job"] or _label(rec) != _label(record) or diff:
                held, this = _conflict(rec, record, diff)
                raise UserError(f"{where} holds the backup of an interrupted {held}; this run {this}: "
                                "pass --fresh to discard that backup and start over, or choose another --out")
        # no record: a backup from an older tfinterp; `GuardedBackup` checks it fits when it loads
    else:
        history = out / "history.csv"
        if rec is not None:  # an earlier attempt that never reached a backup: its history goes
            _remove_run_files(out)
        elif history.is_file() and history.read_text()[:5] == "epoch":
            raise UserError(f"{where} holds the history of an earlier training run (history.csv) but no run "
                            f"record; {hint}")
    _write(out, {**record, "status": "running"})
    return None


def finish(out, record: dict):
    """Mark the run in `out` finished (after its model and JSON are written)."""
    _write(Path(out), {**record, "status": "finished"})


def _write(out: Path, rec: dict):
    from tfinterp.utils import write_json

    write_json(out / RECORD, rec)
