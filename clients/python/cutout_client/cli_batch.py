"""`cutout batch`: a folder of any size as server-side batches; `batch-status`, `batch-cancel`.

Exit codes as `cutout remove`: 0 all done (or skipped), 1 some failed, 2 usage
error, 3 authentication.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cutout_client import errors
from cutout_client.cli import (
    AUTH_ERRORS,
    AUTH_FAILED,
    cli,
    client_from,
    connection_options,
    removal_options,
)
from cutout_client.many import MAX_BATCH_BYTES, MAX_FILES, ManyProgress, ManyReport


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "--out",
    "--output",
    "outdir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the cut-outs (and errors.csv).",
)
@removal_options
@click.option(
    "--skip-existing/--overwrite",
    default=True,
    show_default=True,
    help="Leave inputs whose output exists (a second run resumes the first).",
)
@click.option(
    "--max-files",
    type=click.IntRange(1),
    default=MAX_FILES,
    show_default=True,
    help="Files per batch (a server with a lower limit is followed).",
)
@click.option(
    "--max-mb",
    type=click.IntRange(1),
    default=MAX_BATCH_BYTES // 2**20,
    show_default=True,
    help="Megabytes per batch.",
)
@click.option("--poll", type=click.FloatRange(0.1), default=2.0, show_default=True)
@click.option("--callback-url", help="Called (signed) as each batch ends.")
@connection_options
def batch(
    inputs: tuple[str, ...],
    outdir: Path,
    options: dict[str, Any],
    skip_existing: bool,
    max_files: int,
    max_mb: int,
    poll: float,
    callback_url: str | None,
    **connection: Any,
) -> None:
    """Send files, folders (recursively), globs and ZIP archives as batches; unpack the cut-outs.

    Any number of files: they go in batches of at most --max-files files and --max-mb
    megabytes, all processed on the server at once. An archive's images go to a
    folder named after it. What failed is listed, and written to OUT/errors.csv.
    """
    console = Console(stderr=True)
    started = time.perf_counter()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with client_from(**connection) as client, Progress(*columns, console=console) as progress:
        bar = progress.add_task("planning", total=None)
        announced: list[str] = []

        def show(state: ManyProgress) -> None:
            for batch_id in state.batch_ids[len(announced) :]:
                progress.console.print(f"[dim]sent batch[/] {batch_id}", highlight=False)
                announced.append(batch_id)
            sending = f"sending ({state.unsent} files to go)" if state.unsent else "processing"
            progress.update(bar, description=sending, total=state.total, completed=state.finished)

        try:
            report = client.remove_many(
                inputs,
                outdir,
                max_files=max_files,
                max_batch_bytes=max_mb * 2**20,
                skip_existing=skip_existing,
                poll=poll,
                on_progress=show,
                callback_url=callback_url,
                **options,
            )
        except FileNotFoundError as exc:
            raise click.UsageError(str(exc)) from None
        except AUTH_ERRORS as exc:
            progress.stop()
            console.print(f"[red]authentication failed:[/] {exc}")
            sys.exit(AUTH_FAILED)
        except errors.CutoutError as exc:
            progress.stop()
            console.print(f"[red]failed:[/] {exc}")
            sys.exit(1)
        progress.update(bar, description="done", completed=progress.tasks[0].total)
    sys.exit(summarize(console, report, time.perf_counter() - started))


def summarize(console: Console, report: ManyReport, elapsed: float) -> int:
    for failure in report.failed:
        console.print(f"[red]failed[/]  {failure.source}: {failure.error}", highlight=False)
    console.print(
        f"done {len(report.done)}, skipped {len(report.skipped)}, failed {len(report.failed)}; "
        f"{report.credits_charged} credits charged; {len(report.batch_ids)} batches; "
        f"{elapsed:.1f}s",
        highlight=False,
    )
    if report.errors_csv is not None:
        console.print(f"failures listed in {report.errors_csv}", highlight=False)
    return 1 if report.failed else 0


@cli.command("batch-status")
@click.argument("batch_id")
@click.option("--files", "list_files", is_flag=True, help="List every file too.")
@connection_options
def batch_status(batch_id: str, list_files: bool, **connection: Any) -> None:
    """A batch's status and counts (and files)."""
    with client_from(**connection) as client:
        found = _call(lambda: client.batch(batch_id))
    Console().print(_table(found))
    if list_files:
        files = Table("#", "Name", "Status", "Output / error", title="Files")
        for file in found.files:
            files.add_row(str(file.index), file.name, file.status, file.output or file.error or "")
        Console().print(files)


@cli.command("batch-cancel")
@click.argument("batch_id")
@connection_options
def batch_cancel(batch_id: str, **connection: Any) -> None:
    """Cancel the files of a batch not started yet (they cost nothing)."""
    with client_from(**connection) as client:
        found = _call(lambda: client.batch(batch_id).cancel())
    Console().print(_table(found))


def _call(function: Any) -> Any:
    try:
        return function()
    except AUTH_ERRORS as exc:
        Console(stderr=True).print(f"[red]authentication failed:[/] {exc}")
        sys.exit(AUTH_FAILED)
    except errors.CutoutError as exc:
        Console(stderr=True).print(f"[red]failed:[/] {exc}")
        sys.exit(1)


def _table(found: Any) -> Table:
    table = Table("", "", title=f"Batch {found.id}", show_header=False)
    table.add_row("Status", found.status)
    counts = found.counts
    table.add_row("Files", str(counts.total))
    for name in ("queued", "running", "done", "failed", "cancelled"):
        table.add_row(f"  {name}", str(getattr(counts, name)))
    table.add_row("Credits charged", str(found.credits_charged))
    table.add_row("Created", found.created_at.isoformat(timespec="seconds"))
    if found.finished_at is not None:
        table.add_row("Ended", found.finished_at.isoformat(timespec="seconds"))
    table.add_row("Result", found.result_url)
    return table
