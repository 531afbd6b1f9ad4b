"""The `cutout` command line: whole folders against any server that speaks this API.

Exit codes: 0 all done (or skipped), 1 some failed, 2 usage error, 3 authentication.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cutout_client import errors
from cutout_client.client import Client
from cutout_client.inputs import Task, plan

AUTH_FAILED = 3
F = TypeVar("F", bound=Callable[..., Any])
AUTH_ERRORS = (errors.InvalidApiKey, errors.EmailNotVerified)


def connection_options(command: F) -> F:
    options = [
        click.option(
            "--api-key", envvar="CUTOUT_API_KEY", help="API key (default: $CUTOUT_API_KEY)."
        ),
        click.option(
            "--base-url",
            envvar="CUTOUT_BASE_URL",
            help="Server URL (default: $CUTOUT_BASE_URL, else http://127.0.0.1:8000).",
        ),
        click.option(
            "--retries",
            type=click.IntRange(0, 20),
            default=3,
            show_default=True,
            help="Retries of a short-term 429, a 503 or a connection error.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(1),
            default=120.0,
            show_default=True,
            help="Seconds to wait for one answer.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def client_from(api_key: str | None, base_url: str | None, retries: int, timeout: float) -> Client:
    return Client(api_key=api_key, base_url=base_url, max_retries=retries, timeout=timeout)


def parse_size(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int]:
    """WxH, W (height follows) or xH (width follows); 0 keeps the size."""
    if value is None:
        return 0, 0
    width, _, height = value.lower().partition("x")
    try:
        size = int(width or 0), int(height or 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WxH, W or xH") from None
    if min(size) < 0:
        raise click.BadParameter("sizes cannot be negative")
    return size


def removal_options(command: F) -> F:
    """`remove`'s options, handed to the command as one ``options`` dict for the client."""

    @functools.wraps(command)
    def with_options(
        fmt: str | None,
        mask: bool,
        bg_color: str | None,
        size: tuple[int, int],
        exact: bool,
        angle: float | None,
        no_expand: bool,
        model: str | None,
        **rest: Any,
    ) -> Any:
        options = dict(
            format=fmt,
            mask=mask,
            w=size[0],
            h=size[1],
            exact_resize=exact,
            angle=angle,
            expand=not no_expand,
            bg_color=bg_color,
            model=model,
        )
        return command(options=options, **rest)

    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["png", "webp", "jpeg", "bmp"], case_sensitive=False),
            help="Output format (the server's default: webp).",
        ),
        click.option("--mask", is_flag=True, help="Return the alpha mask only."),
        click.option("--bg-color", help="Solid background: #RRGGBB[AA] or a colour name."),
        click.option("--size", callback=parse_size, metavar="WxH", help="Resize (keeps aspect)."),
        click.option("--exact", is_flag=True, help="Resize to exactly WxH (may distort)."),
        click.option("--angle", type=float, help="Rotate by this many degrees."),
        click.option("--no-expand", is_flag=True, help="Do not pad a rotated image."),
        click.option("--model", help="Model name (see `cutout models`)."),
    ]
    decorated: Any = with_options
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cutout-client")
def cli() -> None:
    """Remove image backgrounds with a Cutout server (or any rembg.com-compatible one)."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "outdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the cut-outs (not needed for '-').",
)
@removal_options
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--skip-existing", is_flag=True, help="Leave inputs whose output exists.")
@connection_options
def remove(
    inputs: tuple[str, ...],
    outdir: Path | None,
    options: dict[str, Any],
    jobs: int,
    skip_existing: bool,
    **connection: Any,
) -> None:
    """Remove the background of files, folders (recursively) and globs; '-' is stdin/stdout."""
    if "-" in inputs:
        if len(inputs) > 1:
            raise click.UsageError("'-' (stdin) cannot be combined with other inputs")
        with client_from(**connection) as client:
            sys.exit(remove_stdin(client, options))
    if outdir is None:
        raise click.UsageError("Missing option '-o' / '--output' (needed for files)")
    fmt = (options["format"] or "webp").lower()
    extension = {"jpeg": "jpg"}.get(fmt, fmt)
    try:
        tasks = plan(inputs, outdir, extension)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from None
    with client_from(**connection) as client:
        sys.exit(Batch(client, options, skip_existing).run(tasks, jobs))


def remove_stdin(client: Client, options: dict[str, Any]) -> int:
    err = Console(stderr=True)
    try:
        result = client.remove(sys.stdin.buffer.read(), **options)
    except AUTH_ERRORS as exc:
        err.print(f"[red]authentication failed:[/] {exc}")
        return AUTH_FAILED
    except errors.CutoutError as exc:
        err.print(f"[red]failed:[/] {exc}")
        return 1
    sys.stdout.buffer.write(result.content)
    sys.stdout.buffer.flush()
    return 0


@dataclass
class Batch:
    client: Client
    options: dict[str, Any]
    skip_existing: bool
    done: int = 0
    skipped: int = 0
    failed: int = 0
    credits: int = 0
    auth_error: Exception | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self, tasks: list[Task], jobs: int) -> int:
        console = Console(stderr=True)
        started = time.perf_counter()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("removing", total=len(tasks))

            def work(task: Task) -> None:
                line = self.one(task)
                if line:
                    progress.console.print(line, highlight=False)
                progress.advance(bar)

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                list(pool.map(work, tasks))
        elapsed = time.perf_counter() - started
        console.print(
            f"done {self.done}, skipped {self.skipped}, failed {self.failed}; "
            f"{self.credits} credits charged; {elapsed:.1f}s",
            highlight=False,
        )
        if self.auth_error is not None:
            console.print(f"[red]authentication failed:[/] {self.auth_error}")
            return AUTH_FAILED
        return 1 if self.failed else 0

    def one(self, task: Task) -> str | None:
        if self._stop.is_set():
            return None  # the key was refused: no point sending the rest
        if self.skip_existing and task.target.exists():
            with self._lock:
                self.skipped += 1
            return f"[dim]skipped[/] {task.source} ({task.target} exists)"
        try:
            result = self.client.remove(task.source, **self.options)
        except AUTH_ERRORS as exc:
            self._stop.set()
            with self._lock:
                self.auth_error = self.auth_error or exc
            return None
        except (errors.CutoutError, OSError) as exc:
            with self._lock:
                self.failed += 1
            return f"[red]failed[/]  {task.source}: {exc}"
        task.target.parent.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name first: a half-written file never counts
        # as done for --skip-existing.
        partial = task.target.with_name(f".{task.target.name}.part")
        partial.write_bytes(result.content)
        partial.replace(task.target)
        with self._lock:
            self.done += 1
            self.credits += result.credits_charged
        return f"[green]done[/]    {task.source} -> {task.target}"


@cli.command()
@click.option("--cycles", is_flag=True, help="List the billing cycles instead.")
@click.option("--year", type=int)
@click.option("--month", type=click.IntRange(1, 12))
@connection_options
def usage(cycles: bool, year: int | None, month: int | None, **connection: Any) -> None:
    """Plan, credits and usage of the account (this month unless told)."""
    console = Console()
    with client_from(**connection) as client:
        try:
            table = cycles_table(client) if cycles else usage_table(client, year, month)
        except AUTH_ERRORS as exc:
            Console(stderr=True).print(f"[red]authentication failed:[/] {exc}")
            sys.exit(AUTH_FAILED)
        except errors.CutoutError as exc:
            Console(stderr=True).print(f"[red]failed:[/] {exc}")
            sys.exit(1)
    console.print(table)


def usage_table(client: Client, year: int | None, month: int | None) -> Table:
    report = client.membership_usage(year=year, month=month, billing_cycle=True)
    table = Table("", "", title="Membership usage", show_header=False)
    table.add_row("Membership", report.membership)
    table.add_row("Credits per period", str(report.credits))
    table.add_row("Prepaid credits", str(report.prepaidCredits))
    table.add_row("App usage", str(report.app_usage))
    table.add_row("API usage", str(report.api_usage))
    cycle = report.billingCycle
    if cycle is not None:
        table.add_row("Period", f"{_day(cycle.periodStartUnix)} to {_day(cycle.periodEndUnix)}")
        table.add_row("Included credits left", str(cycle.remainingIncludedCredits))
    return table


def cycles_table(client: Client) -> Table:
    table = Table("Start (UTC)", "End (UTC)", "App", "API", "Total", title="Billing cycles")
    for cycle in client.billing_cycles():
        table.add_row(
            _day(cycle.periodStartUnix),
            _day(cycle.periodEndUnix),
            str(cycle.appUsage),
            str(cycle.apiUsage),
            str(cycle.appUsage + cycle.apiUsage),
        )
    return table


def _day(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%d %H:%M")


@cli.command()
@connection_options
def models(**connection: Any) -> None:
    """The models the server can run."""
    with client_from(**connection) as client:
        try:
            listed = client.models()
        except errors.CutoutError as exc:
            Console(stderr=True).print(f"[red]failed:[/] {exc}")
            sys.exit(1)
    table = Table("Name", "Default", "Credits", "Licence", title="Models")
    for model in listed.models:
        table.add_row(model.name, "yes" if model.default else "", str(model.credits), model.licence)
    Console().print(table)


def main() -> None:
    cli()


# `cutout batch`, `batch-status`, `batch-cancel`: registered on the group above.
from cutout_client import cli_batch  # noqa: E402, F401
