"""What every command shares: the app, its console, option types and argument checks."""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from tvm.target import Target

T = TypeVar("T")
Tasks = Annotated[str, typer.Option(help="Comma-separated shell patterns; only tasks matching one.")]
Random = Annotated[int, typer.Option(help="Random design-space samples per task.")]
Search = Annotated[int, typer.Option(help="Evolutionary-search candidates per task, after the random ones.")]
SearchPopulation = Annotated[int | None, typer.Option(
    "--population", help="Schedules per generation of that search (default: datasets.collection.SEARCH_POPULATION).")]
RpcTracker = Annotated[str, typer.Option(help="HOST:PORT of a TVM RPC tracker: measure on all its servers.")]
RpcKey = Annotated[str, typer.Option(help="Device key registered with the RPC tracker.")]
TargetJson = Annotated[str, typer.Option(help="TVM target as JSON (default: this machine's CPU), e.g. for RPC "
                                         "devices: '{\"kind\": \"llvm\", \"mcpu\": \"znver3\", \"num-cores\": 4}'")]
app = typer.Typer(help="A graph-neural-network cost model for TVM MetaSchedule.", no_args_is_help=True)
console = Console()


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )


def matching_tasks(tasks: list, patterns: str) -> list:
    """The tasks whose name matches one of comma-separated shell ``patterns``; a usage error if none does."""
    from ..datasets.loading import matching

    chosen = set(matching([t.name for t in tasks], patterns))
    if not chosen:
        raise typer.BadParameter(f"no task matches {patterns!r}", param_hint="--tasks")
    return [t for t in tasks if t.name in chosen]


def invocation(context: typer.Context) -> str:
    """The running command with every option it was given or defaulted to, as a shell line for manifests."""
    words = ["tvm-gnn-cost", str(context.info_name)]
    for param in context.command.params:
        value = context.params[param.name]
        if param.param_type_name == "argument":
            words += map(str, value if isinstance(value, (list, tuple)) else [value])
        elif param.is_flag:
            words += param.opts[:1] if value else []
        else:
            words += [w for v in (value or [] if param.multiple else [value]) if v not in (None, "")
                      for w in (param.opts[0], str(v))]
    return shlex.join(words)


def progress_bar(**options: object) -> Progress:
    """A rich progress display with description, bar, count and elapsed time."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, **options)


def known(values: list[str], choices: Iterable[str], hint: str) -> list[str]:
    """``values`` if each is one of ``choices``; else a usage error naming the argument and the choices."""
    choices = list(choices)
    for value in values:
        if value not in choices:
            raise typer.BadParameter(f"unknown name {value!r}; known: {', '.join(choices)}", param_hint=hint)
    return values


def checked(make: Callable[[], T], hint: str, only: type[Exception] = Exception) -> T:
    """``make()``, with an error of type ``only`` turned into a usage error on argument ``hint``."""
    try:
        return make()
    except only as err:  # noqa: BLE001 - re-raised as a usage error naming the argument
        raise typer.BadParameter(str(err), param_hint=hint) from None


def rpc_and_target(tracker: str, key: str, target: str) -> tuple[object | None, Target | None]:
    """The RPC config (None: measure locally) and the TVM target from its JSON (None: not given)."""
    import tvm

    from ..search.measure import rpc_config

    if bool(tracker) != bool(key):
        raise typer.BadParameter("give both --rpc-tracker and --rpc-key, or neither", param_hint="--rpc-key")
    rpc = checked(lambda: rpc_config(tracker, key), "--rpc-tracker") if tracker else None
    return rpc, checked(lambda: tvm.target.Target(json.loads(target)), "--target") if target else None
