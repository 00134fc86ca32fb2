"""Dataset commands: ``collect`` and ``generate`` measure schedules, ``train`` pretrains the GNN on them."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import (
    Random,
    RpcKey,
    RpcTracker,
    Search,
    SearchPopulation,
    TargetJson,
    Tasks,
    app,
    checked,
    console,
    invocation,
    known,
    matching_tasks,
    progress_bar,
    rpc_and_target,
)

if TYPE_CHECKING:
    from rich.progress import Progress
    from tvm.target import Target

    from ..datasets.collection import Recipe
    from ..datasets.workloads import Task


@app.command()
def collect(
    context: typer.Context,
    out: Annotated[Path, typer.Argument(help="Dataset directory: one MetaSchedule JSON database per task.")],
    suites: Annotated[str, typer.Option(help="Comma-separated suites: ops and/or ONNX zoo models.")] = (
        "ops,resnet50,squeezenet"),
    tasks: Tasks = "",
    random: Random = 16,
    search: Search = 16,
    population: SearchPopulation = None,
    op_configs: Annotated[str, typer.Option(help="Shape indices of each te_workload operator (0-3).")] = "1,2",
    seed: Annotated[int, typer.Option(help="Seed of sampling and search.")] = 1,
    exclude_unseen: Annotated[bool, typer.Option(help="Leave out tasks equal to a task of the models the transfer "
                                                 "benchmark calls unseen (for training data).")] = False,
) -> None:
    """Measure schedules of a workload suite into TVM JSON databases; run again to resume."""
    from ..datasets.campaign import unseen_hashes
    from ..datasets.workloads import SUITES, suite_tasks
    from ..search.measure import host_target, make_runner

    chosen = known([s for s in suites.split(",") if s], SUITES, "--suites")
    recipe = _recipe(random, search, population, seed)
    target = host_target()
    with console.status("importing models and extracting tasks"):
        excluded = unseen_hashes(target) if exclude_unseen else set()
        found = suite_tasks(chosen, target, op_configs=[int(i) for i in op_configs.split(",") if i], exclude=excluded)
    found = matching_tasks(found, tasks)
    with progress_bar() as progress:
        _collect(found, out, target, make_runner(), recipe, progress=progress, count=len(found),
                 manifest={"command": invocation(context)})


@app.command()
def generate(
    context: typer.Context,
    out: Annotated[Path, typer.Argument(help="Dataset directory: generated models in models/, one MetaSchedule "
                                        "JSON database per task.")],
    models: Annotated[int, typer.Option(help="Random models to generate (numbered; more extends the set).")] = 20,
    seed: Annotated[int, typer.Option(help="Generator seed: the same seed gives the same models.")] = 0,
    generator_version: Annotated[int | None, typer.Option(help="Generator version of new models (default: the "
                                                          "newest); models OUT already has keep theirs.")] = None,
    random: Random = 32,
    search: Search = 8,
    population: SearchPopulation = None,
    tasks: Tasks = "",
    chunks: Annotated[Path | None, typer.Option(help="Chunk store (e.g. data/generated): skip the tasks its chunks "
                                                "hold, and pack finished tasks into new chunks.")] = None,
    chunk_minutes: Annotated[float, typer.Option(help="Pack a chunk at least this often (and at the end).")] = 60,
    rpc_tracker: RpcTracker = "",
    rpc_key: RpcKey = "",
    target: TargetJson = "",
) -> None:
    """Generate random realistic models, check each against onnxruntime, and measure their distinct tasks.

    Run again to resume: models, verdicts and measured records are kept in OUT. Tasks of the
    models the transfer benchmark calls unseen are never measured. With --chunks, a stopped run
    packs every task it finished: SIGTERM lets the task under way finish first, Ctrl-C does not.
    """
    from ..datasets.campaign import ChunkPacker, ChunkStore, unseen_hashes
    from ..datasets.generator import FAMILIES, GENERATOR_VERSION, iter_generated_tasks
    from ..datasets.loading import matching
    from ..search.measure import host_target, make_runner

    if models < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--models")
    version = GENERATOR_VERSION if generator_version is None else generator_version
    if version not in FAMILIES:
        raise typer.BadParameter(f"known versions: {', '.join(map(str, FAMILIES))}", param_hint="--generator-version")
    recipe = _recipe(random, search, population, seed)
    rpc, tvm_target = rpc_and_target(rpc_tracker, rpc_key, target)
    tvm_target = tvm_target or host_target()
    out.mkdir(parents=True, exist_ok=True)
    with console.status("extracting the unseen models' tasks, which are never measured"):
        excluded = unseen_hashes(tvm_target)
    # cards and the manifest share this dict: they record the counts as models are checked
    generator = {"seed": seed, "version": version, "models": models, "passed": 0, "distinct_tasks": 0}
    packer, packed = None, {}
    if chunks is not None:  # skip what the store holds: its tasks, and its models whose tasks are all packed
        store = ChunkStore(chunks)
        packed, restored = store.packed(), store.restore_models(out, seed)
        console.print(f"{len(store.cards())} chunks in {chunks} hold {len(packed)} tasks; "
                      f"{restored} model verdicts restored from {store.models_file(seed).name}")
        packer = ChunkPacker.for_collection(store, out, tvm_target, generator=generator, recipe=recipe,
                                            every_seconds=chunk_minutes * 60)
    stop: list[int] = []  # SIGTERM: finish the task under way, pack, and exit
    on_term = signal.signal(signal.SIGTERM, lambda signum, _frame: stop.append(signum))
    try:
        with progress_bar() as progress:
            bar = progress.add_task("generating and checking models", total=models)

            def on_model(name: str, entry: dict) -> None:
                generator["passed"] += entry["status"] == "ok"
                generator["distinct_tasks"] += len(entry.get("tasks", ()))
                progress.advance(bar)

            found = (t for t in iter_generated_tasks(out, models, seed, tvm_target, version=version, on_model=on_model,
                                                     exclude=excluded | set(packed.values()), done=packed)
                     if matching([t.name], tasks))
            _collect(found, out, tvm_target, make_runner(rpc=rpc), recipe, progress=progress, after_task=packer,
                     should_stop=lambda: bool(stop), manifest={"command": invocation(context), "generator": generator})
    finally:  # Ctrl-C too packs the tasks finished so far
        signal.signal(signal.SIGTERM, on_term)
        if packer is not None:
            archive = packer.flush()
            console.print(f"packed {archive}" if archive else "nothing new to pack")
    console.print(f"{generator['passed']} of {models} models pass the check; {generator['distinct_tasks']} distinct "
                  "tasks" + ("; stopped by SIGTERM: run the same command again to resume" if stop else ""))


def _recipe(random: int, search: int, population: int | None, seed: int) -> Recipe:
    """The collection recipe (``population`` None: the collector's default); a usage error if it cannot run."""
    from ..datasets.collection import SEARCH_POPULATION, Recipe

    try:
        return Recipe(random, search, SEARCH_POPULATION if population is None else population, seed)
    except ValueError as err:  # the message names what is wrong: the counts or the population
        hint = "--population" if "population" in str(err) else "--random"
        raise typer.BadParameter(str(err), param_hint=hint) from None


def _collect(tasks: Iterable[Task], out: Path, target: Target, runner: object, recipe: Recipe, *, progress: Progress,
             count: int | None = None, after_task: Callable | None = None,
             should_stop: Callable[[], bool] | None = None, manifest: dict) -> None:
    """:func:`~tvm_gnn_cost.datasets.collection.collect_tasks` with a bar on ``progress``, then a one-line summary.

    ``count`` is how many tasks there are, where known before they come.
    """
    from ..datasets.collection import collect_tasks
    from ..search.measure import make_builder

    per_task = recipe.random + recipe.search
    bar = progress.add_task("collecting", total=count * per_task if count is not None else None)

    def on_task(i: int, task: Task) -> None:
        progress.update(bar, completed=i * per_task, description=f"[{i + 1}/{count or '?'}] {task.name}")

    result = collect_tasks(tasks, out, target, make_builder(), runner, recipe, manifest=manifest, on_task=on_task,
                           on_records=lambda n: progress.advance(bar, n), after_task=after_task,
                           should_stop=should_stop)
    progress.stop()
    failed = result["failed_tasks"]
    console.print(f"measured {result['records_this_run']} records in {result['seconds_this_run']:.0f} s "
                  f"({result['records_per_hour']} per hour) over {len(result['tasks'])} tasks in {out}"
                  + (f"; {len(failed)} tasks failed (see {out / 'manifest.json'})" if failed else ""))


@app.command()
def train(
    data: Annotated[list[Path], typer.Argument(help="Datasets (directories or .tar.xz) from collect or generate.")],
    out: Annotated[Path, typer.Option(help="Checkpoint to write (weights-only); history JSON and curves PNG "
                                      "are written beside it.")],
    tasks: Tasks = "",
    epochs: Annotated[int, typer.Option(help="Passes over the training records at most.")] = 200,
    patience: Annotated[int, typer.Option(help="Stop after this many epochs without a better validation "
                                          "pairwise accuracy.")] = 10,
    val_fraction: Annotated[float, typer.Option(help="Share of models (task sources) held out for validation.")
                            ] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the split, the weights and the batch order.")] = 0,
) -> None:
    """Pretrain the GNN offline on measured datasets; runs data-parallel under torchrun (gloo)."""
    from ..datasets.loading import load_datasets
    from ..features import stage_graphs
    from ..pretraining import (
        PretrainConfig,
        finish_distributed,
        init_distributed,
        pretrain,
        save_pretrained,
        split_tasks,
    )

    if epochs < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--epochs")
    if not 0 < val_fraction < 1:
        raise typer.BadParameter("must be between 0 and 1", param_hint="--val-fraction")
    rank = init_distributed()
    try:
        found = load_datasets(data, tasks)
    except LookupError as err:
        raise typer.BadParameter(str(err), param_hint="--tasks") from None
    except Exception as err:  # noqa: BLE001 - an unreadable dataset, whatever the cause, is a usage error
        raise typer.BadParameter(str(err), param_hint="DATA") from None
    config = PretrainConfig(epochs=epochs, patience=patience, val_fraction=val_fraction, seed=seed)
    checked(lambda: split_tasks(found, config), "DATA", only=ValueError)  # before the slow part
    with progress_bar(disable=rank != 0) as progress:
        bar = progress.add_task("stage graphs", total=len(found))
        graphs = stage_graphs(found, on_task=lambda: progress.advance(bar))
        bar = progress.add_task("training", total=epochs)

        def on_epoch(row: dict) -> None:
            progress.update(bar, advance=1, description=f"training: loss {row['train_loss']:.3f}, "
                                                        f"val pairwise {row['val_pairwise_accuracy']:.3f}")

        learner, result = pretrain(found, graphs, config, on_epoch=on_epoch)
    if rank == 0:
        save_pretrained(learner, result, out, config=config, data=data, tasks=found)
        console.print(f"best epoch {result.best_epoch} of {len(result.history)}: validation pairwise accuracy "
                      f"{result.best['val_pairwise_accuracy']:.3f} on {', '.join(result.val_models)}; "
                      f"wrote {out} ({result.seconds:.0f} s, {result.processes} process(es))")
    finish_distributed()
