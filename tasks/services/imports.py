"""Task import: a file of rows checked against the project's schema and applied all-or-nothing (rule 10).

``import_create`` stores the upload and records a pending ``ImportJob``; ``import_run`` (the
Celery job, or the ``import_tasks`` command) streams the file once. Every row is checked with
``check_task_data``; rows are inserted in chunks inside ONE transaction while the file is read,
and the first problem stops the inserts (reading goes on to collect up to 100 problems) and
rolls everything back. So a rejected file changes nothing, and an accepted one appears at once.

Progress (``rows_done``, ``bytes_done``) has to be visible to the portal while that transaction
is still open, so it is written through a second, autocommitting database connection. The
import transaction itself never touches the job row until its very end: if it held the row's
lock, the progress connection would wait on it for ever.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

import ijson
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import OperationalError, connection, transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.models import Batch, GoldAnswer, ImportJob, ImportStatus, Project, Task, TaskTemplate
from tasks.schemas import SchemaError, check_task_data
from workforce.audit import audit_record
from workforce.models import User

logger = logging.getLogger(__name__)

FORMATS = {".jsonl": "jsonl", ".json": "json", ".csv": "csv"}
MAX_PROBLEMS = 100
PROGRESS_EVERY_ROWS = 1000
INSERT_CHUNK = 2000
# Gold tasks are shown to every worker once; their overlap is effectively unlimited (as in work.py).
GOLD_OVERLAP = 2_000_000_000
CSV_COLUMNS = ("id", "text", "image_url", "gold_answer", "meta")
_EXTERNAL_ID_MAX = 200  # Task.external_id's max_length
_READ_BUFFER = 1 << 16


@dataclass(frozen=True)
class ImportProgress:
    rows_done: int
    bytes_done: int
    size_bytes: int
    is_final: bool = False

    @property
    def percent(self) -> int:
        if self.is_final:
            return 100
        return min(100, int(100 * self.bytes_done / self.size_bytes)) if self.size_bytes else 0


ProgressCallback = Callable[[ImportProgress], None]


def _problem(row: int | None, field: str, message: str) -> dict[str, Any]:
    """One problem as stored on the job: row counted from 1 as a person counts (None: the whole file)."""
    return {"row": row, "field": field, "message": message}


class _Rejected(Exception):
    """Raised inside the import transaction to roll it back; carries what was wrong."""

    def __init__(self, problems: list[dict[str, Any]], rows_done: int) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems
        self.rows_done = rows_done


class _FinishedElsewhere(Exception):
    """Another run of the same job committed first (a Celery redelivery): roll this one back."""


# Access ------------------------------------------------------------------------------------


def project_for_import(*, user: User, pk: int, write: bool) -> Project:
    """Operations managers import and export; auditors only read. Contractors get 403."""
    if not (user.is_operations or (user.is_auditor and not write)):
        raise PermissionDenied(
            _("Only an operations manager can import tasks.") if write else _("This page is for operations staff.")
        )
    return get_object_or_404(Project, pk=pk)


def import_job_for_user(*, user: User, pk: int) -> ImportJob:
    if not (user.is_operations or user.is_auditor):
        raise PermissionDenied(_("This page is for operations staff."))
    try:
        return ImportJob.objects.select_related("project", "batch", "created_by").get(pk=pk)
    except ImportJob.DoesNotExist as exc:
        raise Http404 from exc


def import_job_status(*, job: ImportJob) -> dict[str, Any]:
    """The status the portal's progress bar and the API both show, so their numbers agree."""
    return {
        "id": job.pk,
        "project": job.project_id,
        "file_name": job.file_name,
        "file_format": job.file_format,
        "size_bytes": job.size_bytes,
        "status": job.status,
        "status_display": job.get_status_display(),
        "is_finished": job.status in (ImportStatus.DONE, ImportStatus.FAILED),
        "rows_done": job.rows_done,
        "rows_imported": job.rows_imported,
        "bytes_done": job.bytes_done,
        "percent": job.percent,
        "batch": job.batch_id,
        "problems": job.errors,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


# Upload ------------------------------------------------------------------------------------


def _too_big(size: int, limit: int) -> ValidationError:
    return ValidationError(
        {
            "file": _("The file is %(size)s; the limit is %(limit)s. Split it into smaller files and import each one.")
            % {"size": filesizeformat(size), "limit": filesizeformat(limit)}
        }
    )


def _clean_file_name(file_name: str) -> tuple[str, str]:
    name = Path((file_name or "").replace("\\", "/")).name.strip()
    ext = Path(name).suffix.lower()
    if ext not in FORMATS:
        raise ValidationError(
            {
                "file": _("Choose a .jsonl, .json or .csv file; “%(name)s” is none of these.")
                % {"name": name or _("(no name)")}
            }
        )
    if len(name) > 200:  # ImportJob.file_name and Batch.name hold 200 characters
        name = name[: 200 - len(ext)] + ext
    return name, FORMATS[ext]


def _store(source: Iterator[bytes], dest: Path, limit: int) -> int:
    """Copy chunk by chunk; a source that turns out larger than the limit leaves no file behind."""
    written = 0
    try:
        with dest.open("xb") as out:
            for chunk in source:
                written += len(chunk)
                if written > limit:
                    raise _too_big(written, limit)
                out.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return written


def _path_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


@transaction.atomic
def import_create(
    *,
    project: Project,
    file_name: str,
    actor: User,
    uploaded_file: UploadedFile | None = None,
    path: str | Path | None = None,
) -> ImportJob:
    """Store an uploaded file (or a file on disk) and record a pending import of it.

    The format comes from the extension; a file over ``FAIRTASK_IMPORT_MAX_BYTES`` is refused
    naming ``file`` before anything is written, so a refused upload leaves no row and no file.
    """
    if not actor.is_operations:
        raise PermissionDenied(_("Only an operations manager can import tasks."))
    if (uploaded_file is None) == (path is None):
        raise ValueError("Give exactly one of uploaded_file and path.")
    name, file_format = _clean_file_name(file_name)
    limit = settings.FAIRTASK_IMPORT_MAX_BYTES
    if uploaded_file is not None:
        size = uploaded_file.size or 0
        chunks: Iterator[bytes] = iter(uploaded_file.chunks())
    else:
        source = Path(path)  # type: ignore[arg-type]
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise ValidationError({"file": _("The file %(path)s cannot be read.") % {"path": source}}) from exc
        chunks = _path_chunks(source)
    if size > limit:
        raise _too_big(size, limit)
    if size == 0:
        raise ValidationError({"file": _("The file is empty; it needs at least one task.")})
    upload_dir = Path(settings.FAIRTASK_UPLOAD_DIR)
    upload_dir.mkdir(parents=True, exist_ok=True)
    dest = upload_dir / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    size = _store(chunks, dest, limit)
    try:
        return ImportJob.objects.create(
            project=project,
            file_path=str(dest),
            file_name=name,
            file_format=file_format,
            size_bytes=size,
            created_by=actor,
        )
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


# Reading -----------------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Counts (for the progress bar) and hashes (for the audit event) every byte read."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.bytes_read = 0
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        # Lets the BufferedReader above report how far its reader has really got (read minus buffered).
        return self.bytes_read

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.bytes_read += n
            self.sha256.update(memoryview(buffer)[:n])
        return n or 0


Row = tuple[int | None, Any]  # (row number, raw row), or (row number, problem dict)


class _ProblemItem(dict[str, Any]):
    """A problem found while reading, as opposed to a row to check."""


def _read_problem(row: int | None, field: str, message: str) -> Row:
    return row, _ProblemItem(_problem(row, field, message))


def _jsonl_rows(binary: io.BufferedReader[Any]) -> Iterator[Row]:
    # Lines are split as bytes and decoded one by one, so a bad byte is reported on its own line.
    for line_no, raw in enumerate(binary, start=1):
        if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield _read_problem(line_no, "line", _("This line is not UTF-8 text; save the file as UTF-8."))
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            error = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            yield _read_problem(
                line_no,
                "line",
                _("This line is not valid JSON (%(error)s); each line must hold one JSON object.") % {"error": error},
            )
            continue
        yield line_no, row


def _json_rows(binary: io.BufferedReader[Any]) -> Iterator[Row]:
    head = binary.peek(1024)[:1024]
    if head.startswith(codecs.BOM_UTF8):
        binary.read(len(codecs.BOM_UTF8))
        head = head[len(codecs.BOM_UTF8) :]
    start = head.lstrip()
    if start and not start.startswith(b"["):
        yield _read_problem(
            None,
            "file",
            _("A .json file must hold one array of task objects, [{…}, {…}]; use .jsonl for one per line."),
        )
        return
    n = 0
    try:
        for item in ijson.items(binary, "item", use_float=True):
            n += 1
            yield n, item
    except ijson.JSONError as exc:
        yield _read_problem(
            n + 1, "json", _("The JSON is malformed here (%(error)s); nothing after it can be read.") % {"error": exc}
        )
    except UnicodeDecodeError:
        yield _read_problem(n + 1, "file", _("The file is not UTF-8 text; save it as UTF-8."))


def _csv_rows(binary: io.BufferedReader[Any], template: str) -> Iterator[Row]:
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    n = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        columns = [h.strip().lower() for h in header]
        header_problems = []
        for col in columns:
            if col not in CSV_COLUMNS:
                header_problems.append(
                    _problem(
                        None,
                        col or _("(empty)"),
                        _("Unknown column in the header; the columns are: %(cols)s.")
                        % {"cols": ", ".join(CSV_COLUMNS)},
                    )
                )
        for col in sorted({c for c in columns if columns.count(c) > 1}):
            header_problems.append(_problem(None, col, _("This column appears twice in the header.")))
        if "text" not in columns and "image_url" not in columns:
            header_problems.append(
                _problem(
                    None,
                    "text",
                    _(
                        "The header has no “text” column (and no “image_url” column); a task needs text, "
                        "an image_url, or both. The header reads: %(header)s."
                    )
                    % {"header": ", ".join(header)},
                )
            )
        if header_problems:
            for p in header_problems:
                yield None, _ProblemItem(p)
            return
        for cells in reader:
            n += 1
            if not any(c.strip() for c in cells):
                continue  # a blank line still counts as a row, as in a spreadsheet
            if len(cells) < len(columns):
                missing = columns[len(cells)]
                yield _read_problem(
                    n,
                    missing,
                    _("This row has no value for the “%(column)s” column: %(got)d values for %(want)d columns.")
                    % {"column": missing, "got": len(cells), "want": len(columns)},
                )
                continue
            if len(cells) > len(columns):
                yield _read_problem(
                    n,
                    "row",
                    _("This row has %(got)d values for %(want)d columns; put values that hold commas in quotes.")
                    % {"got": len(cells), "want": len(columns)},
                )
                continue
            yield _csv_row(n, dict(zip(columns, cells, strict=True)), template)
    except csv.Error as exc:
        yield _read_problem(n + 1, "row", _("This row cannot be read as CSV (%(error)s).") % {"error": exc})
    except UnicodeDecodeError:
        yield _read_problem(n + 1, "file", _("The file is not UTF-8 text; save it as UTF-8."))


def _csv_row(n: int, cells: dict[str, str], template: str) -> Row:
    """CSV cells are text: meta is JSON, and so is a multi-label gold answer; an empty cell is no value."""
    row: dict[str, Any] = {}
    for col, cell in cells.items():
        if cell == "":
            continue
        if col == "meta":
            try:
                row[col] = json.loads(cell)
            except ValueError:
                return _read_problem(n, "meta", _('meta must be a JSON object, such as {"source": "web"}.'))
        elif col == "gold_answer" and template == TaskTemplate.MULTI_LABEL:
            try:
                row[col] = json.loads(cell)
            except ValueError:
                return _read_problem(
                    n, "gold_answer", _('A multi-label gold answer must be a JSON list, such as ["cat", "dog"].')
                )
        else:
            row[col] = cell
    return n, row


def _rows(job: ImportJob, binary: io.BufferedReader[Any]) -> Iterator[Row]:
    if job.file_format == "jsonl":
        return _jsonl_rows(binary)
    if job.file_format == "json":
        return _json_rows(binary)
    return _csv_rows(binary, job.project.template)


# Progress ----------------------------------------------------------------------------------


class _ProgressWriter:
    """Writes progress through its own autocommitting connection, visible while the import runs.

    Only on PostgreSQL, and only when ``import_run`` is not itself inside a transaction: an
    outer transaction could hold the job row's lock, and this connection would wait on it.
    """

    def __init__(self, job: ImportJob, callback: ProgressCallback | None) -> None:
        self.job_id = job.pk
        self.size_bytes = job.size_bytes
        self.callback = callback
        self._side: Any = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            try:
                self._side = connection.get_new_connection(connection.get_connection_params())
                self._side.autocommit = True
                with self._side.cursor() as cursor:
                    # Never queue behind a lock: a late progress bar is better than a stuck import.
                    cursor.execute("SET lock_timeout = '2s'")
            except Exception:  # any failure here only costs the live progress bar
                logger.warning("Import %s: no progress connection; progress shows at the end.", job.pk)
                self._side = None

    def report(self, rows_done: int, bytes_done: int) -> None:
        if self._side is not None:
            try:
                with self._side.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {ImportJob._meta.db_table} SET rows_done = %s, bytes_done = %s WHERE id = %s",  # noqa: S608
                        [rows_done, bytes_done, self.job_id],
                    )
            except Exception:
                logger.warning("Import %s: progress write failed; progress shows at the end.", self.job_id)
                self.close()
        if self.callback is not None:
            self.callback(ImportProgress(rows_done, bytes_done, self.size_bytes))

    def close(self) -> None:
        if self._side is not None:
            with contextlib.suppress(Exception):
                self._side.close()
            self._side = None


# Running -----------------------------------------------------------------------------------


@dataclass
class _Outcome:
    rows: int
    gold: int
    batch: Batch


class _TaskWriter:
    """Inserts checked rows in chunks: COPY on PostgreSQL, ``bulk_create`` elsewhere (SQLite).

    COPY skips Django's per-object model and SQL building, which is most of the cost of
    ``bulk_create`` at 100k rows. Every column still comes from the model: a template Task
    gives each field's prepared default, and only the per-row fields change. Ids come from
    the table's own sequence, so gold answers can point at their tasks without a read back.
    """

    _PER_ROW = ("id", "external_id", "data", "is_gold", "overlap")

    def __init__(self, project: Project, batch: Batch, *, use_copy: bool | None = None) -> None:
        self.project = project
        self.batch = batch
        self.use_copy = connection.vendor == "postgresql" if use_copy is None else use_copy
        template = Task(project=project, batch=batch, priority=batch.priority, overlap=project.overlap)
        self.fields = list(Task._meta.concrete_fields)
        self.fixed = [
            None if f.name in self._PER_ROW else f.get_db_prep_save(f.pre_save(template, add=True), connection)
            for f in self.fields
        ]
        self.data_field = Task._meta.get_field("data")
        self.gold_count = 0

    def write(self, rows: list[tuple[str, dict[str, Any], Any]]) -> None:
        if not rows:
            return
        if self.use_copy:
            ids = self._copy(rows)
        else:
            created = Task.objects.bulk_create(
                [
                    Task(
                        project=self.project,
                        batch=self.batch,
                        external_id=external_id,
                        data=data,
                        is_gold=gold is not None,
                        priority=self.batch.priority,
                        overlap=GOLD_OVERLAP if gold is not None else self.project.overlap,
                    )
                    for external_id, data, gold in rows
                ],
                batch_size=INSERT_CHUNK,
            )
            ids = [t.pk for t in created]
        golds = [GoldAnswer(task_id=i, answer=g) for i, (_e, _d, g) in zip(ids, rows, strict=True) if g is not None]
        if golds:
            GoldAnswer.objects.bulk_create(golds, batch_size=INSERT_CHUNK)
            self.gold_count += len(golds)

    def _copy(self, rows: list[tuple[str, dict[str, Any], Any]]) -> list[int]:
        table = connection.ops.quote_name(Task._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        positions = {f.name: i for i, f in enumerate(self.fields)}
        i_id, i_ext, i_data, i_gold, i_overlap = (positions[name] for name in self._PER_ROW)
        prep_data = self.data_field.get_db_prep_save
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [Task._meta.db_table, Task._meta.pk.column, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                values = list(self.fixed)
                for task_id, (external_id, data, gold) in zip(ids, rows, strict=True):
                    values[i_id] = task_id
                    values[i_ext] = external_id
                    values[i_data] = prep_data(data, connection)
                    values[i_gold] = gold is not None
                    values[i_overlap] = GOLD_OVERLAP if gold is not None else self.project.overlap
                    copy.write_row(values)
        return ids


def _apply(
    job: ImportJob, reader: _CountingReader, binary: io.BufferedReader[Any], progress: _ProgressWriter
) -> _Outcome:
    """Read, check and insert; runs inside the import transaction and raises _Rejected on any problem."""
    project = job.project
    template, schema = project.template, project.answer_schema
    batch = Batch.objects.create(project=project, name=job.file_name)
    writer = _TaskWriter(project, batch)
    problems: list[dict[str, Any]] = []
    pending: list[tuple[str, dict[str, Any], Any]] = []
    rows = 0
    # Row number of each id seen so far: an id names one task, in the file and in the project.
    seen_ids: dict[str, int] = {}

    def clashes(chunk: list[tuple[str, dict[str, Any], Any]]) -> list[dict[str, Any]]:
        ids = [external_id for external_id, _data, _gold in chunk if external_id]
        if not ids:
            return []
        taken = Task.objects.filter(project=project, external_id__in=ids).values_list("external_id", flat=True)
        return [
            _problem(seen_ids[t], "id", _("id “%(id)s” is already used by a task in this project.") % {"id": t})
            for t in sorted(set(taken), key=seen_ids.__getitem__)
        ]

    for number, item in _rows(job, binary):
        if number is not None:
            rows += 1
        if isinstance(item, _ProblemItem):
            problems.append(dict(item))
        else:
            try:
                data, gold = check_task_data(template=template, answer_schema=schema, row=item)
                external_id = data.pop("id", "")
                if len(external_id) > _EXTERNAL_ID_MAX:
                    raise SchemaError("id", _("id must be at most %(n)d characters.") % {"n": _EXTERNAL_ID_MAX})
            except SchemaError as exc:
                problems.append(_problem(number, exc.field, exc.message))
            else:
                first_row = seen_ids.setdefault(external_id, number or 0) if external_id else None
                if first_row is not None and first_row != (number or 0):
                    problems.append(
                        _problem(
                            number,
                            "id",
                            _("id “%(id)s” repeats row %(row)d; each task needs its own id.")
                            % {"id": external_id, "row": first_row},
                        )
                    )
                elif not problems:  # after the first problem only checking goes on; nothing will be kept
                    pending.append((external_id, data, gold))
                    if len(pending) >= INSERT_CHUNK:
                        problems.extend(clashes(pending))
                        if not problems:
                            writer.write(pending)
                        pending = []
        if len(problems) >= MAX_PROBLEMS:
            break
        if number is not None and rows % PROGRESS_EVERY_ROWS == 0:
            progress.report(rows, binary.tell())
    if not rows and not problems:
        problems.append(_problem(None, "file", _("The file has no tasks in it.")))
    if not problems:
        problems.extend(clashes(pending))
    if problems:
        raise _Rejected(problems[:MAX_PROBLEMS], rows)
    writer.write(pending)
    audit_record(
        actor=job.created_by,
        action="tasks.import",
        obj=batch,
        summary={
            "import": job.pk,
            "project": project.pk,
            "file_name": job.file_name,
            "rows": rows,
            "gold": writer.gold_count,
            "sha256": reader.sha256.hexdigest(),
        },
    )
    finished = ImportJob.objects.filter(pk=job.pk).exclude(status=ImportStatus.DONE)
    updated = finished.update(
        status=ImportStatus.DONE,
        batch=batch,
        rows_done=rows,
        rows_imported=rows,
        bytes_done=job.size_bytes,
        errors=[],
        finished_at=timezone.now(),
    )
    if updated != 1:
        raise _FinishedElsewhere
    return _Outcome(rows=rows, gold=writer.gold_count, batch=batch)


def _fail(job: ImportJob, problems: list[dict[str, Any]], rows_done: int) -> None:
    ImportJob.objects.filter(pk=job.pk).exclude(status=ImportStatus.DONE).update(
        status=ImportStatus.FAILED, errors=problems, rows_done=rows_done, rows_imported=0, finished_at=timezone.now()
    )


def import_run(*, job_id: int, progress: ProgressCallback | None = None) -> ImportJob:
    """Apply one uploaded file all-or-nothing: any problem in any row and nothing is written.

    Safe to run twice (Celery delivers at least once): a finished job is returned as it is,
    and of two concurrent runs only the first to commit keeps its tasks. ``progress`` is
    called about every 1,000 rows and once at the end.
    """
    job = ImportJob.objects.select_related("project", "created_by").get(pk=job_id)
    if job.status in (ImportStatus.DONE, ImportStatus.FAILED):
        return job
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, rows_done=0, bytes_done=0, errors=[])
    writer = _ProgressWriter(job, progress)
    try:
        try:
            raw: IO[bytes] = Path(job.file_path).open("rb")  # noqa: SIM115 (closed below)
        except OSError:
            _fail(job, [_problem(None, "file", _("The uploaded file is missing; upload it again."))], 0)
            job.refresh_from_db()
            return job
        with raw:
            reader = _CountingReader(raw)  # type: ignore[arg-type]
            binary = io.BufferedReader(reader, buffer_size=_READ_BUFFER)
            with transaction.atomic():
                outcome = _apply(job, reader, binary, writer)
    except _Rejected as rejected:
        _fail(job, rejected.problems, rejected.rows_done)
    except _FinishedElsewhere:
        pass
    except OperationalError:
        raise  # transient (a lost connection, a lock timeout): the job retries and starts over
    except Exception:
        logger.exception("Import %s stopped on an internal error.", job.pk)
        _fail(
            job,
            [_problem(None, "file", _("The import stopped on an internal error; nothing was imported. Try again."))],
            0,
        )
        raise
    else:
        if progress is not None:
            progress(ImportProgress(outcome.rows, job.size_bytes, job.size_bytes, is_final=True))
    finally:
        writer.close()
    job.refresh_from_db()
    return job


def import_uploads_purge(*, now: datetime | None = None) -> int:
    """Beat job: delete uploaded files of finished imports after FAIRTASK_UPLOAD_RETENTION_DAYS.

    The job row stays (with its problems and the file's SHA-256 in the audit log); only the
    stored file goes. Safe to run twice: a purged job has no file path left.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.FAIRTASK_UPLOAD_RETENTION_DAYS)
    purged = 0
    finished = ImportJob.objects.filter(
        status__in=(ImportStatus.DONE, ImportStatus.FAILED), finished_at__lt=cutoff
    ).exclude(file_path="")
    for job in finished.iterator(chunk_size=500):
        Path(job.file_path).unlink(missing_ok=True)
        ImportJob.objects.filter(pk=job.pk).update(file_path="")
        purged += 1
    if purged:
        with transaction.atomic():
            audit_record(actor=None, action="imports.purge_uploads", summary={"files": purged, "cutoff": cutoff})
    return purged
