"""Tuning commands: ``demo`` compares cost models on workloads, ``tune`` a whole model, ``graph`` draws a stage graph."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ._common import RpcKey, RpcTracker, TargetJson, app, checked, console, known, progress_bar, rpc_and_target


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

    from ..cost_model import COST_MODELS
    from ..datasets.workloads import DEMO_WORKLOADS, WORKLOADS, workload_task
    from ..files import write_json
    from ..plots import plot_best_curves
    from ..search.tuning import compare_cost_models

    names = known([w for w in workloads.split(",") if w] or list(DEMO_WORKLOADS), WORKLOADS, "--workloads")
    chosen = known([m for m in models.split(",") if m], COST_MODELS, "--models")
    if trials < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--trials")
    if population < 32:
        raise typer.BadParameter("must be at least 32, the candidates a round measures", param_hint="--population")

    with progress_bar() as progress:
        bars = {m: progress.add_task(f"tuning with {m}", total=trials * len(names)) for m in chosen}
        results = compare_cost_models([workload_task(name) for name in names], chosen, trials_per_task=trials,
                                      out=out, seed=seed, population=population,
                                      on_trials=lambda m, n: progress.advance(bars[m], n))

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

    write_json(out / "demo.json", {"cpu": llvm_get_system_cpu(), "machine": platform.machine(),
                                   "trials_per_task": trials, "seed": seed, "results": [r.to_json() for r in results]})
    plot_best_curves(results, out / "demo.png", title=f"best latency vs trials ({llvm_get_system_cpu()})")
    console.print(f"wrote {out / 'demo.json'} and {out / 'demo.png'}")


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
    rpc_tracker: RpcTracker = "",
    rpc_key: RpcKey = "",
    target: TargetJson = "",
    seed: Annotated[int, typer.Option(help="Seed of the cost model, the search and the random inputs.")] = 1,
    trials_per_iter: Annotated[int, typer.Option(help="Candidates a task measures per scheduler round.")] = 32,
    population: Annotated[int, typer.Option(help="Schedules per generation of the evolutionary search: smaller "
                                            "rounds are faster and search less widely.")] = 512,
    strategy: Annotated[str, typer.Option(help="evolutionary (MetaSchedule's EvolutionarySearch) or guided "
                                          "(GuidedSearch: model-picked batches with a neighbourhood share).")
                        ] = "evolutionary",
) -> None:
    """Tune an ONNX model's tasks, compile it with the best schedules, check it and time it end to end."""
    from ..cost_model import COST_MODELS
    from ..datasets.frontends import TOLERANCE, InputShapeError, ModelImportError, load_onnx, parse_input_shapes
    from ..datasets.workloads import onnx_model_path
    from ..search.tuning import STRATEGIES
    from ..whole_model import WorkDirError, tune_model

    known([cost_model], COST_MODELS, "--cost-model")
    known([strategy], STRATEGIES, "--strategy")
    if trials < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--trials")
    if population < trials_per_iter:
        raise typer.BadParameter(f"must be at least --trials-per-iter ({trials_per_iter})", param_hint="--population")
    rpc, tvm_target = rpc_and_target(rpc_tracker, rpc_key, target)
    shapes = checked(lambda: parse_input_shapes(input_shape or []), "--input-shape")
    name, model = checked(lambda: onnx_model_path(str(model)), "MODEL", only=FileNotFoundError)
    with console.status(f"importing {model}"):
        try:
            imported = load_onnx(model, shapes)
        except ModelImportError as err:
            hint = "--input-shape" if isinstance(err, InputShapeError) else "MODEL"
            raise typer.BadParameter(str(err), param_hint=hint) from None
    imported.name = name
    work_dir = work_dir or Path(f"{name}-tuning")
    result = checked(lambda: tune_model(imported, work_dir, trials=trials, cost_model=cost_model,
                                         target=tvm_target, rpc=rpc, seed=seed, trials_per_iter=trials_per_iter,
                                         population=population, strategy=strategy),
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
    from ..datasets.workloads import WORKLOADS, get_workload
    from ..features import extract_stage_graphs
    from ..nn import EdgeType
    from ..plots import draw_stage_graph
    from ..search.measure import host_target, sample_candidates, tune_context

    known([workload], WORKLOADS, "WORKLOAD")
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
