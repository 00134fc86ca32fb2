"""The ``tvm-gnn-cost`` command line."""

from __future__ import annotations

import json
import logging
import platform
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="A graph-neural-network cost model for TVM MetaSchedule.", no_args_is_help=True)
console = Console()


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )


@app.command()
def demo(
    trials: Annotated[int, typer.Option(help="Measured trials per task and cost model.")] = 128,
    workloads: Annotated[str, typer.Option(help="Comma-separated workload names.")] = "",
    models: Annotated[str, typer.Option(help="Comma-separated cost models to compare.")] = "gnn,xgb",
    seed: Annotated[int, typer.Option(help="Seed shared by every cost model's run.")] = 1,
    out: Annotated[Path, typer.Option(help="Directory for work dirs, JSON and PNG.")] = Path("demo_out"),
) -> None:
    """Tune a GEMM and a conv2d with the GNN and with XGBoost under one budget, and compare."""
    from tvm.target.codegen import llvm_get_system_cpu

    from .plots import plot_best_curves
    from .tuning import COST_MODELS, tune_workloads
    from .workloads import DEMO_WORKLOADS, WORKLOADS, workload_task

    names = _known([w for w in workloads.split(",") if w] or list(DEMO_WORKLOADS), WORKLOADS, "--workloads")
    chosen = _known([m for m in models.split(",") if m], COST_MODELS, "--models")
    if trials < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--trials")

    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        for model in chosen:
            bar = progress.add_task(f"tuning with {model}", total=trials * len(names))
            work_dir = out / f"work_{model}"
            shutil.rmtree(work_dir, ignore_errors=True)  # a fresh database: no record reused across runs
            tasks = [workload_task(name) for name in names]
            results.append(
                tune_workloads(tasks, model, trials_per_task=trials, work_dir=work_dir, seed=seed,
                               on_trials=lambda n, bar=bar: progress.advance(bar, n))
            )

    table = Table(title=f"Best latency after {trials} trials per task (seed {seed}, {llvm_get_system_cpu()})")
    table.add_column("task")
    for r in results:
        table.add_column(f"{r.cost_model} best (us)", justify="right")
        table.add_column(f"{r.cost_model} trials", justify="right")
    for task in names:
        row = [task]
        for r in results:
            best = r.best(task)
            row += [f"{best * 1e6:.1f}" if best else "failed", str(len(r.curve(task)))]
        table.add_row(*row)
    table.add_row("tuning time (s)", *[x for r in results for x in (f"{r.wall_seconds:.0f}", "")])
    console.print(table)

    summary = {
        "cpu": llvm_get_system_cpu(),
        "machine": platform.machine(),
        "trials_per_task": trials,
        "seed": seed,
        "results": [r.to_json() for r in results],
    }
    (out / "demo.json").write_text(json.dumps(summary, indent=2))
    plot_best_curves(results, out / "demo.png", title=f"best latency vs trials ({llvm_get_system_cpu()})")
    console.print(f"wrote {out / 'demo.json'} and {out / 'demo.png'}")


@app.command()
def collect(
    out: Annotated[Path, typer.Argument(help="Dataset directory: one MetaSchedule JSON database per task.")],
    suites: Annotated[str, typer.Option(help="Comma-separated suites: ops and/or ONNX zoo models.")] = (
        "ops,resnet50,squeezenet"),
    tasks: Annotated[str, typer.Option(help="Comma-separated shell patterns; only tasks matching one.")] = "",
    random: Annotated[int, typer.Option(help="Random design-space samples per task.")] = 16,
    search: Annotated[int, typer.Option(help="Evolutionary-search candidates per task, after the random ones.")] = 16,
    op_configs: Annotated[str, typer.Option(help="Shape indices of each te_workload operator (0-3).")] = "1,2",
    seed: Annotated[int, typer.Option(help="Seed of sampling and search.")] = 1,
) -> None:
    """Measure schedules of a workload suite into TVM JSON databases; run again to resume."""
    import fnmatch
    import time

    from .dataset import collect_task, machine, versions, write_json
    from .measure import host_target, make_builder, make_runner
    from .workloads import SUITES, suite_tasks

    chosen = _known([s for s in suites.split(",") if s], SUITES, "--suites")
    if random < 0 or search < 0 or random + search == 0:
        raise typer.BadParameter("need a positive number of random and/or search records", param_hint="--random")
    target = host_target()
    with console.status("importing models and extracting tasks"):
        found = suite_tasks(chosen, target, op_configs=[int(i) for i in op_configs.split(",") if i])
    patterns = [p for p in tasks.split(",") if p]
    found = [t for t in found if not patterns or any(fnmatch.fnmatch(t.name, p) for p in patterns)]
    if not found:
        raise typer.BadParameter(f"no task matches {tasks!r}", param_hint="--tasks")

    start = time.perf_counter()
    builder, runner = make_builder(), make_runner()
    done, failed_tasks = [], {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        bar = progress.add_task("collecting", total=len(found) * (random + search))
        for i, task in enumerate(found):
            progress.update(bar, description=f"[{i + 1}/{len(found)}] {task.name}")
            try:
                done.append(collect_task(task, out / task.name, target, builder, runner, num_random=random,
                                         num_search=search, seed=seed,
                                         on_records=lambda n: progress.advance(bar, n)))
            except Exception as err:  # noqa: BLE001 - one broken task must not end a long collection
                logging.getLogger(__name__).error("task %s failed: %s", task.name, err)
                failed_tasks[task.name] = str(err)
            progress.update(bar, completed=(i + 1) * (random + search))
    manifest = {
        "command": f"tvm-gnn-cost collect {out} --suites {suites} --tasks '{tasks}' --random {random} "
                   f"--search {search} --op-configs {op_configs} --seed {seed}",
        "machine": machine(target),
        "versions": versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds_this_run": round(time.perf_counter() - start, 1),
        "tasks": {p.task: {"records": p.total, "failed": p.failed} for p in done},
        "failed_tasks": failed_tasks,
    }
    write_json(out / "manifest.json", manifest)
    measured = sum(p.measured for p in done)
    console.print(f"measured {measured} records in {manifest['seconds_this_run']:.0f} s; "
                  f"{sum(p.total for p in done)} in {out} over {len(done)} tasks"
                  + (f"; {len(failed_tasks)} tasks failed (see {out / 'manifest.json'})" if failed_tasks else ""))


@app.command()
def graph(
    workload: Annotated[str, typer.Argument(help="Workload name, e.g. conv2d-bias-relu-14x14x64.")],
    seed: Annotated[int, typer.Option(help="Seed of the random schedule drawn from the design space.")] = 1,
    out: Annotated[Path, typer.Option(help="PNG to draw the stage graph into.")] = Path("stage_graph.png"),
    show_tir: Annotated[bool, typer.Option(help="Print the scheduled TIR.")] = False,
) -> None:
    """Draw the stage graph of one random schedule of a workload, and list its nodes and edges."""
    from .graph import EdgeType, extract_stage_graphs
    from .measure import host_target, sample_candidates, tune_context
    from .plots import draw_stage_graph
    from .workloads import WORKLOADS, get_workload

    _known([workload], WORKLOADS, "WORKLOAD")
    context = tune_context(get_workload(workload), host_target(), workload)
    (candidate,) = sample_candidates(context, 1, seed=seed)
    (stage_graph,) = extract_stage_graphs(context, [candidate])
    if show_tir:
        typer.echo(candidate.sch.mod.script())
    table = Table(title=f"{workload}: {stage_graph.num_nodes} stages, {stage_graph.num_edges} edges")
    table.add_column("edge type")
    table.add_column("edges (source -> target)")
    for kind in EdgeType:
        table.add_row(kind.name, ", ".join(f"{s} -> {t}" for s, t in stage_graph.edges_of(kind)) or "-")
    console.print(table)
    draw_stage_graph(stage_graph, out, title=f"{workload}, random schedule (seed {seed})")
    console.print(f"wrote {out}")


def _known(values: list[str], known: Iterable[str], hint: str) -> list[str]:
    """``values`` if each is one of ``known``; else a usage error naming the argument and the choices."""
    known = list(known)
    for value in values:
        if value not in known:
            raise typer.BadParameter(f"unknown name {value!r}; known: {', '.join(known)}", param_hint=hint)
    return values


def main() -> None:
    """Console-script entry point."""
    app()
