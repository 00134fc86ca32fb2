"""The ``tvm-gnn-cost`` command line."""

from __future__ import annotations

import json
import logging
import platform
import shutil
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from tvm.target import Target

T = TypeVar("T")
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
    population: Annotated[int, typer.Option(help="Schedules per generation of the evolutionary search (at least "
                                            "32, the candidates a round measures).")] = 512,
) -> None:
    """Tune a GEMM and a conv2d with the GNN and with XGBoost under one budget, and compare."""
    from tvm.target.codegen import llvm_get_system_cpu

    from .files import write_json
    from .plots import plot_best_curves
    from .cost_model import COST_MODELS
    from .datasets.workloads import DEMO_WORKLOADS, WORKLOADS, workload_task
    from .search.tuning import tune_workloads

    names = _known([w for w in workloads.split(",") if w] or list(DEMO_WORKLOADS), WORKLOADS, "--workloads")
    chosen = _known([m for m in models.split(",") if m], COST_MODELS, "--models")
    if trials < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--trials")
    if population < 32:
        raise typer.BadParameter("must be at least 32, the candidates a round measures", param_hint="--population")

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
                               population=population, on_trials=lambda n, bar=bar: progress.advance(bar, n))
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
    write_json(out / "demo.json", summary)
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
    population: Annotated[int | None, typer.Option(help="Schedules per generation of that search (default: "
                                                   "dataset.SEARCH_POPULATION).")] = None,
    op_configs: Annotated[str, typer.Option(help="Shape indices of each te_workload operator (0-3).")] = "1,2",
    seed: Annotated[int, typer.Option(help="Seed of sampling and search.")] = 1,
    exclude_unseen: Annotated[bool, typer.Option(help="Leave out tasks equal to a task of the models the transfer "
                                                 "benchmark calls unseen (for training data).")] = False,
) -> None:
    """Measure schedules of a workload suite into TVM JSON databases; run again to resume."""
    from .datasets.campaign import unseen_hashes
    from .datasets.workloads import SUITES, suite_tasks
    from .search.measure import host_target, make_runner

    chosen = _known([s for s in suites.split(",") if s], SUITES, "--suites")
    population = _check_recipe(random, search, population)
    target = host_target()
    with console.status("importing models and extracting tasks"):
        excluded = unseen_hashes(target) if exclude_unseen else set()
        found = suite_tasks(chosen, target, op_configs=[int(i) for i in op_configs.split(",") if i], exclude=excluded)
    found = _matching(found, tasks)

    command = (f"tvm-gnn-cost collect {out} --suites {suites} --tasks '{tasks}' --random {random} "
               f"--search {search} --population {population} --op-configs {op_configs} --seed {seed}"
               + (" --exclude-unseen" if exclude_unseen else ""))
    _collect(found, out, target, make_runner(), random=random, search=search, population=population, seed=seed,
             manifest={"command": command})


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Dataset directory: generated models in models/, one MetaSchedule "
                                        "JSON database per task.")],
    models: Annotated[int, typer.Option(help="Random models to generate (numbered; more extends the set).")] = 20,
    seed: Annotated[int, typer.Option(help="Generator seed: the same seed gives the same models.")] = 0,
    generator_version: Annotated[int | None, typer.Option(help="Generator version of new models (default: the "
                                                          "newest); models OUT already has keep theirs.")] = None,
    random: Annotated[int, typer.Option(help="Random design-space samples per task.")] = 32,
    search: Annotated[int, typer.Option(help="Evolutionary-search candidates per task, after the random ones.")] = 8,
    population: Annotated[int | None, typer.Option(help="Schedules per generation of that search (default: "
                                                   "dataset.SEARCH_POPULATION).")] = None,
    tasks: Annotated[str, typer.Option(help="Comma-separated shell patterns; only tasks matching one.")] = "",
    chunks: Annotated[Path | None, typer.Option(help="Chunk store (e.g. data/generated): skip the tasks its chunks "
                                                "hold, and pack finished tasks into new chunks.")] = None,
    chunk_minutes: Annotated[float, typer.Option(help="Pack a chunk at least this often (and at the end).")] = 60,
    rpc_tracker: Annotated[str, typer.Option(help="HOST:PORT of a TVM RPC tracker: measure on all its servers.")
                           ] = "",
    rpc_key: Annotated[str, typer.Option(help="Device key registered with the RPC tracker.")] = "",
    target: Annotated[str, typer.Option(help="TVM target as JSON (default: this machine's CPU), e.g. the RPC "
                                        "devices' CPU.")] = "",
) -> None:
    """Generate random realistic models, check each against onnxruntime, and measure their distinct tasks.

    Run again to resume: models, verdicts and measured records are kept in OUT. Tasks of the
    models the transfer benchmark calls unseen are never measured. With --chunks, a stopped run
    packs every task it finished: SIGTERM lets the task under way finish first, Ctrl-C does not.
    """
    import tvm_ffi

    from .datasets.campaign import ChunkPacker, ChunkStore, unseen_hashes
    from .datasets.generator import FAMILIES, GENERATOR_VERSION, generated_tasks
    from .provenance import machine, versions
    from .search.measure import host_target, make_runner, rpc_config

    if models < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--models")
    version = GENERATOR_VERSION if generator_version is None else generator_version
    if version not in FAMILIES:
        raise typer.BadParameter(f"known versions: {', '.join(map(str, FAMILIES))}", param_hint="--generator-version")
    population = _check_recipe(random, search, population)
    if bool(rpc_tracker) != bool(rpc_key):
        raise typer.BadParameter("give both --rpc-tracker and --rpc-key, or neither", param_hint="--rpc-key")
    rpc = _checked(lambda: rpc_config(rpc_tracker, rpc_key), "--rpc-tracker") if rpc_tracker else None
    tvm_target = _checked(lambda: _target(target), "--target") if target else host_target()
    out.mkdir(parents=True, exist_ok=True)
    with console.status("extracting the unseen models' tasks, which are never measured"):
        excluded = unseen_hashes(tvm_target)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        bar = progress.add_task("generating and checking models", total=models)
        found, index = generated_tasks(out, models, seed, tvm_target, exclude=excluded, version=version,
                                       on_model=lambda name, entry: progress.advance(bar))
    ok = [name for name, entry in index.items() if entry["status"] == "ok"]
    console.print(f"{len(ok)} of {len(index)} models pass the check; {len(found)} distinct tasks")
    distinct = len(found)
    found = _matching(found, tasks)
    packer = None
    if chunks is not None:
        store = ChunkStore(chunks)
        packed = store.packed()
        hashes = set(packed.values())
        found = [t for t in found if t.name not in packed and f"{tvm_ffi.structural_hash(t.mod):016x}" not in hashes]
        console.print(f"{len(found)} tasks not yet in {chunks}'s {len(store.cards())} chunks")
    command = (f"tvm-gnn-cost generate {out} --models {models} --seed {seed} --generator-version {version} "
               f"--random {random} --search {search}"
               f" --population {population} --tasks '{tasks}'" + (f" --chunks {chunks}" if chunks else "")
               + (f" --rpc-tracker {rpc_tracker} --rpc-key {rpc_key}" if rpc else "")
               + (f" --target '{target}'" if target else ""))
    generator = {"seed": seed, "version": version, "models": models, "passed": len(ok),
                 "distinct_tasks": distinct}
    if chunks is not None:
        meta = {"machine": machine(tvm_target), "versions": versions(), "generator": generator,
                "recipe": {"random": random, "search": search, "population": population, "seed": seed}}
        packer = ChunkPacker(store, out, str(meta["machine"]["cpu"]), seed, meta, chunk_minutes * 60)
    stop: list[int] = []  # SIGTERM: finish the task under way, pack, and exit
    on_term = signal.signal(signal.SIGTERM, lambda signum, _frame: stop.append(signum))
    try:
        _collect(found, out, tvm_target, make_runner(rpc=rpc), random=random, search=search, population=population,
                 seed=seed, after_task=packer, should_stop=lambda: bool(stop),
                 manifest={"command": command, "generator": generator})
    finally:  # Ctrl-C too packs the tasks finished so far
        signal.signal(signal.SIGTERM, on_term)
        if packer is not None:
            archive = packer.flush()
            console.print(f"packed {archive}" if archive else "nothing new to pack")
    if stop:
        console.print("stopped by SIGTERM; run the same command again to resume")


def _check_recipe(random: int, search: int, population: int | None) -> int:
    """The search population (``None``: the collector's default); a usage error for a recipe that cannot run."""
    from .datasets.collection import SEARCH_POPULATION

    population = SEARCH_POPULATION if population is None else population
    if random < 0 or search < 0 or random + search == 0:
        raise typer.BadParameter("need a positive number of random and/or search records", param_hint="--random")
    if search and population < min(search, 32):
        raise typer.BadParameter(f"must be at least the search's round ({min(search, 32)} candidates)",
                                 param_hint="--population")
    return population


def _collect(tasks: list, out: Path, target: Target, runner: object, *, random: int, search: int,
             population: int, seed: int, after_task: Callable | None = None,
             should_stop: Callable[[], bool] | None = None, manifest: dict) -> None:
    """:func:`~tvm_gnn_cost.dataset.collect_tasks` with a progress bar, then a one-line summary."""
    from .datasets.collection import collect_tasks
    from .search.measure import make_builder

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        bar = progress.add_task("collecting", total=len(tasks) * (random + search))

        def on_task(i: int, task: object) -> None:
            progress.update(bar, completed=i * (random + search), description=f"[{i + 1}/{len(tasks)}] {task.name}")

        result = collect_tasks(tasks, out, target, make_builder(), runner, num_random=random, num_search=search,
                               seed=seed, population=population, manifest=manifest, on_task=on_task,
                               on_records=lambda n: progress.advance(bar, n), after_task=after_task,
                               should_stop=should_stop)
    failed = result["failed_tasks"]
    console.print(f"measured {result['records_this_run']} records in {result['seconds_this_run']:.0f} s "
                  f"({result['records_per_hour']} per hour) over {len(result['tasks'])} tasks in {out}"
                  + (f"; {len(failed)} tasks failed (see {out / 'manifest.json'})" if failed else ""))


@app.command()
def train(
    data: Annotated[list[Path], typer.Argument(help="Datasets (directories or .tar.xz) from collect or generate.")],
    out: Annotated[Path, typer.Option(help="Checkpoint to write (weights-only); history JSON and curves PNG "
                                      "are written beside it.")],
    tasks: Annotated[str, typer.Option(help="Comma-separated shell patterns; only tasks matching one.")] = "",
    epochs: Annotated[int, typer.Option(help="Passes over the training records at most.")] = 200,
    patience: Annotated[int, typer.Option(help="Stop after this many epochs without a better validation "
                                          "pairwise accuracy.")] = 25,
    val_fraction: Annotated[float, typer.Option(help="Share of models (task sources) held out for validation.")
                            ] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the split, the weights and the batch order.")] = 0,
) -> None:
    """Pretrain the GNN offline on measured datasets; runs data-parallel under torchrun (gloo)."""
    from .datasets.loading import load_dataset
    from .features import stage_graphs
    from .pretraining import (
        PretrainConfig,
        finish_distributed,
        init_distributed,
        pretrain,
        save_pretrained,
        split_by_model,
    )

    if epochs < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--epochs")
    if not 0 < val_fraction < 1:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--val-fraction")
    rank = init_distributed()
    found = []
    for path in data:
        names = _checked(lambda p=path: _task_names(p, tasks), "DATA")
        if names == []:
            raise typer.BadParameter(f"no task of {path} matches {tasks!r}", param_hint="--tasks")
        found += _checked(lambda p=path, n=names: load_dataset(p, n), "DATA")
    _checked(lambda: split_by_model(found, val_fraction, seed), "DATA", only=ValueError)  # before the slow part
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=rank != 0) as progress:
        bar = progress.add_task("stage graphs", total=len(found))
        graphs = stage_graphs(found, on_task=lambda: progress.advance(bar))
        bar = progress.add_task("training", total=epochs)

        def on_epoch(row: dict) -> None:
            progress.update(bar, advance=1, description=f"training: loss {row['train_loss']:.3f}, "
                                                        f"val pairwise {row['val_pairwise_accuracy']:.3f}")

        config = PretrainConfig(epochs=epochs, patience=patience, val_fraction=val_fraction, seed=seed)
        learner, result = pretrain(found, graphs, config, on_epoch=on_epoch)
    if rank == 0:
        save_pretrained(learner, result, out, config=config, data=data, tasks=found)
        console.print(f"best epoch {result.best_epoch} of {len(result.history)}: validation pairwise accuracy "
                      f"{result.best['val_pairwise_accuracy']:.3f} on {', '.join(result.val_models)}; "
                      f"wrote {out} ({result.seconds:.0f} s, {result.processes} process(es))")
    finish_distributed()


@app.command()
def tune(
    model: Annotated[Path, typer.Argument(help="ONNX model file, or the name of an ONNX zoo model shipped in "
                                          "the onnx package (resnet50, squeezenet, ...).")],
    trials: Annotated[int, typer.Option(help="Measured candidates in all (over all tasks and runs of the work dir).")
                      ] = 1000,
    cost_model: Annotated[str, typer.Option(help="gnn (pretrained), gnn-scratch, gnn-nomp, xgb or random.")] = "gnn",
    work_dir: Annotated[Path | None, typer.Option(help="Tuning database, logs, cost model and summary; "
                                                  "run again to resume. Default: MODEL-tuning/")] = None,
    input_shape: Annotated[list[str] | None, typer.Option(help="NAME:D1,D2,... for an input whose shape in the "
                                                          "file is dynamic; repeat per input.")] = None,
    rpc_tracker: Annotated[str, typer.Option(help="HOST:PORT of a TVM RPC tracker: measure on its devices.")] = "",
    rpc_key: Annotated[str, typer.Option(help="Device key registered with the RPC tracker.")] = "",
    target: Annotated[str, typer.Option(help="TVM target as JSON (default: this machine's CPU), e.g. for RPC "
                                        "devices: '{\"kind\": \"llvm\", \"mcpu\": \"znver3\", \"num-cores\": 4}'")] = "",
    seed: Annotated[int, typer.Option(help="Seed of the cost model, the search and the random inputs.")] = 1,
    trials_per_iter: Annotated[int, typer.Option(help="Candidates a task measures per scheduler round.")] = 32,
    population: Annotated[int, typer.Option(help="Schedules per generation of the evolutionary search: smaller "
                                            "rounds are faster and search less widely.")] = 512,
) -> None:
    """Tune an ONNX model's tasks, compile it with the best schedules, check it and time it end to end."""
    from .cost_model import COST_MODELS
    from .datasets.frontends import TOLERANCE, InputShapeError, ModelImportError, load_onnx, parse_input_shapes
    from .datasets.workloads import ONNX_ZOO, onnx_zoo_path
    from .search.measure import rpc_config
    from .whole_model import WorkDirError, tune_model

    _known([cost_model], COST_MODELS, "--cost-model")
    if trials < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--trials")
    if population < trials_per_iter:
        raise typer.BadParameter(f"must be at least --trials-per-iter ({trials_per_iter})", param_hint="--population")
    if bool(rpc_tracker) != bool(rpc_key):
        raise typer.BadParameter("give both --rpc-tracker and --rpc-key, or neither", param_hint="--rpc-key")
    rpc = _checked(lambda: rpc_config(rpc_tracker, rpc_key), "--rpc-tracker") if rpc_tracker else None
    tvm_target = _checked(lambda: _target(target), "--target") if target else None
    shapes = _checked(lambda: parse_input_shapes(input_shape or []), "--input-shape")
    if not model.exists():
        if str(model) not in ONNX_ZOO:
            raise typer.BadParameter(f"{model}: no such file, nor a zoo model ({', '.join(ONNX_ZOO)})",
                                     param_hint="MODEL")
        name, model = str(model), onnx_zoo_path(str(model))
    else:
        name = model.stem
    with console.status(f"importing {model}"):
        try:
            imported = load_onnx(model, shapes)
        except ModelImportError as err:
            hint = "--input-shape" if isinstance(err, InputShapeError) else "MODEL"
            raise typer.BadParameter(str(err), param_hint=hint) from None
    imported.name = name
    work_dir = work_dir or Path(f"{name}-tuning")
    result = _checked(lambda: tune_model(imported, work_dir, trials=trials, cost_model=cost_model,
                                         target=tvm_target, rpc=rpc, seed=seed, trials_per_iter=trials_per_iter,
                                         population=population),
                      "--work-dir", only=WorkDirError)

    table = Table(title=f"{result.model}: {sum(t.trials for t in result.tasks)} trials "
                        f"({sum(t.new_trials for t in result.tasks)} this run, {result.tuning_seconds:.0f} s) "
                        f"with {cost_model}")
    for column in ("task", "weight", "trials", "best (us)"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for t in result.tasks:
        best = f"{t.best_seconds * 1e6:.1f}" if t.best_seconds else "-"
        table.add_row(t.name, f"{t.weight:g}", str(t.trials), best)
    console.print(table)
    e2e = Table(title="end-to-end latency (median)")
    for column in ("", "ms", "vs tuned"):
        e2e.add_column(column, justify="right")
    e2e.add_row("TVM untuned", f"{result.untuned_seconds * 1e3:.3f}", f"{result.speedup:.2f}x slower")
    e2e.add_row("TVM tuned", f"{result.tuned_seconds * 1e3:.3f}", "")
    if result.onnxruntime_seconds:
        ratio = result.onnxruntime_seconds / result.tuned_seconds
        e2e.add_row("onnxruntime", f"{result.onnxruntime_seconds * 1e3:.3f}",
                    f"{ratio:.2f}x slower" if ratio >= 1 else f"{1 / ratio:.2f}x faster")
    console.print(e2e)
    faults = {k: v for k, v in result.stats.items() if k.endswith("_faults")}
    if faults:
        console.print(f"[yellow]the cost model failed and fell back (see the log above): {faults}")
    check = f"{result.reference} (rtol {TOLERANCE['rtol']:g}, atol {TOLERANCE['atol']:g}; " \
            f"max abs error {result.max_abs_error:.2e})"
    console.print(f"wrote {work_dir / 'summary.json'}")
    if not result.outputs_match:
        console.print(f"[red]the tuned model's outputs do not match {check}")
        raise typer.Exit(1)
    console.print(f"outputs match {check}")
    if result.reference_constant:
        console.print("[yellow]but every element of the reference's outputs is the same value, so this check cannot "
                      "catch a wrong result: the model's weights look like placeholders (the ONNX zoo's light models "
                      "build theirs with ConstantOfShape)")


@app.command()
def graph(
    workload: Annotated[str, typer.Argument(help="Workload name, e.g. conv2d-bias-relu-14x14x64.")],
    seed: Annotated[int, typer.Option(help="Seed of the random schedule drawn from the design space.")] = 1,
    out: Annotated[Path, typer.Option(help="PNG to draw the stage graph into.")] = Path("stage_graph.png"),
    show_tir: Annotated[bool, typer.Option(help="Print the scheduled TIR.")] = False,
) -> None:
    """Draw the stage graph of one random schedule of a workload, and list its nodes and edges."""
    from .datasets.workloads import WORKLOADS, get_workload
    from .features import extract_stage_graphs
    from .nn import EdgeType
    from .plots import draw_stage_graph
    from .search.measure import host_target, sample_candidates, tune_context

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


def _task_names(dataset: Path, patterns: str) -> list[str] | None:
    """Names of a dataset's tasks matching comma-separated shell ``patterns`` (None: all), read without loading."""
    import fnmatch

    from .datasets.database import TASK_FILE
    from .datasets.loading import dataset_roots

    chosen = [p for p in patterns.split(",") if p]
    if not chosen:
        return None
    names = [d.parent.name for root in dataset_roots(dataset) for d in root.glob(f"*/{TASK_FILE}")]
    return [n for n in names if any(fnmatch.fnmatch(n, p) for p in chosen)]


def _matching(tasks: list, patterns: str) -> list:
    """The tasks whose name matches one of comma-separated shell ``patterns`` (all if none given)."""
    import fnmatch

    chosen = [p for p in patterns.split(",") if p]
    found = [t for t in tasks if not chosen or any(fnmatch.fnmatch(t.name, p) for p in chosen)]
    if not found:
        raise typer.BadParameter(f"no task matches {patterns!r}", param_hint="--tasks")
    return found


def _known(values: list[str], known: Iterable[str], hint: str) -> list[str]:
    """``values`` if each is one of ``known``; else a usage error naming the argument and the choices."""
    known = list(known)
    for value in values:
        if value not in known:
            raise typer.BadParameter(f"unknown name {value!r}; known: {', '.join(known)}", param_hint=hint)
    return values


def _checked(make: Callable[[], T], hint: str, only: type[Exception] = Exception) -> T:
    """``make()``, with an error of type ``only`` turned into a usage error on argument ``hint``."""
    try:
        return make()
    except only as err:  # noqa: BLE001 - re-raised as a usage error naming the argument
        raise typer.BadParameter(str(err), param_hint=hint) from None


def _target(text: str) -> Target:
    """A TVM target from its JSON form."""
    import tvm

    return tvm.target.Target(json.loads(text))


def main() -> None:
    """Console-script entry point."""
    app()
