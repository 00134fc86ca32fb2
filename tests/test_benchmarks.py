"""The benchmark scripts run end to end on tiny budgets (``run_all.py --quick``), so they never rot."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from tvm_gnn_cost.nn import TrainConfig

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

pytestmark = pytest.mark.slow


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_runs_quick_and_the_report_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("TVM_GNN_COST_CACHE", str(tmp_path / "cache"))  # the dataset archive unpacks here
    page = load("run_all").main(["--quick", "--results", str(tmp_path)])

    overhead = json.loads((tmp_path / "overhead.json").read_text())
    assert overhead["predict_candidates"] == 256 and overhead["update_candidates"] == 32
    for key in ("predict_ratio_gnn_over_xgb", "update_ratio_gnn_over_xgb", "build_ratio_pooled_over_local"):
        assert overhead[key] > 0

    offline = json.loads((tmp_path / "offline.json").read_text())
    assert offline["num_tasks"] == 16 and len(offline["runs"]) == 2
    for run in offline["runs"]:
        assert set(run["models"]) == {"gnn", "gnn-nomp", "xgb", "xgb-latency"}
        unseen = set(run["unseen_tasks"])
        assert len(unseen) == 4  # a quarter of the tasks, never trained on
        for metrics in run["models"].values():
            assert 0 <= metrics["unseen"]["pairwise_accuracy"] <= 1 and 0 < metrics["unseen"]["top5"] <= 1
    assert offline["summary"]["xgb"]["unseen"]["mape"] is None  # XGBModel predicts no latency
    assert offline["summary"]["gnn"]["unseen"]["mape"]["mean"] > 0

    search = json.loads((tmp_path / "search.json").read_text())
    assert len(search["tasks"]) == 2 and "gemm-512" in search["tasks"]
    for by_model in search["runs"].values():
        assert set(by_model) == {"gnn-scratch", "xgb", "random"}
        for runs in by_model.values():
            assert len(runs) == 1 and len(runs[0]["curve"]) == 8
    gemm = search["summary"]["gemm-512"]
    assert gemm["xgb"]["best_over_xgb_mean"] == 1.0 and gemm["xgb"]["trials_to_xgb_best"][0] <= 8
    assert search["numpy_gemm_512"]["seconds"] > 0 and search["numpy_gemm_512"]["blas"]

    transfer = json.loads((tmp_path / "transfer.json").read_text())
    assert transfer["shots"] == [0, 8] and len(transfer["unseen_tasks"]) == 2
    gnns = {"gnn-plain", "gnn-anchor", "gnn-replay", "gnn-head", "gnn-residual", "gnn-hybrid"}
    assert set(transfer["summary"]) == gnns | {"gnn-scratch", "xgb-pretrained", "xgb"}
    zero_shot = {m: transfer["summary"][m]["0"]["pairwise_accuracy"]["mean"] for m in transfer["summary"]}
    assert len({zero_shot[m] for m in gnns}) == 1  # the same weights
    eight = {m: transfer["summary"][m]["8"]["pairwise_accuracy"]["mean"] for m in transfer["summary"]}
    assert eight["gnn-residual"] != zero_shot["gnn-residual"]  # the booster changed the ranking
    assert set(transfer["forgetting"]["gnn-anchor"]) == {"8"}

    collection = json.loads((tmp_path / "collection.json").read_text())
    assert collection["recipes"]["after"] == {"random": 2, "search": 2, "population": 64}
    assert collection["summary"]["records_per_hour_ratio"]["mean"] > 0

    scaling = json.loads((tmp_path / "data_scaling.json").read_text())
    assert scaling["fractions"] == [0.5, 1.0] and set(scaling["cpus"]) == {"all-cpus", "all-cpus-blind", "target-cpu"}
    half, whole = (scaling["curve"][f"gnn@{f:g}"]["records"]["mean"] for f in (0.5, 1.0))
    assert 0 < half < whole == scaling["corpus_records"]
    assert 0 <= scaling["curve"]["xgb@1"]["pairwise_accuracy"]["mean"] <= 1
    check_scaling_resume(tmp_path / "data_scaling.json", scaling)

    recipe = json.loads((tmp_path / "recipe.json").read_text())
    assert set(recipe["summary"]) == {*recipe["variants"], "xgb"} and recipe["chosen"] in recipe["variants"]
    assert recipe["summary"]["grouped-8x16"]["pairs_per_step"]["mean"] > recipe["summary"]["ranknet"]["pairs_per_step"]["mean"]
    added = load("recipe").main(["--quick", "--variants", "nomp", "--add", "--out", str(tmp_path / "recipe.json")])
    assert set(added["summary"]) == set(recipe["summary"]) and added["summary"]["xgb"] == recipe["summary"]["xgb"]
    assert added["seconds"] > recipe["seconds"]

    unseen = json.loads((tmp_path / "search_unseen.json").read_text())
    assert [t.split(".")[0] for t in unseen["tasks"]] == ["inception_v1"]  # --quick: one unseen model
    for by_model in unseen["runs"].values():
        assert set(by_model) == {"gnn", "gnn-scratch", "xgb"}
    assert unseen["runs_done"] == unseen["runs_planned"] == 3
    assert "Partial" not in page.read_text()
    check_resume(tmp_path / "search_unseen.json", unseen)

    text = page.read_text()
    for heading in ("## Dataset", "## Offline prediction quality", "## Search", "## Overhead", "## Transfer",
                    "## Search on unseen models", "## Metric definitions"):
        assert heading in text
    for png in ("offline.png", "search.png", "transfer.png", "search_unseen.png"):
        assert (tmp_path / png).stat().st_size > 10_000 and png in text


def check_resume(path: Path, before: dict) -> None:
    """``search.py --resume`` measures nothing more for a finished run, and refuses another CPU's runs."""
    search = load("search")
    again = search.main(["--unseen", "--quick", "--resume", "--out", str(path)])
    assert again["runs"] == before["runs"] and again["summary"] == before["summary"]

    other = {**before, "machine": {**before["machine"], "cpu": "another-cpu"}}
    path.write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="another-cpu"):
        search.main(["--unseen", "--quick", "--resume", "--out", str(path)])


def check_scaling_resume(path: Path, before: dict) -> None:
    """``data_scaling.py --resume`` measures only the points its partial file lacks, and refuses another corpus's."""
    scaling = load("data_scaling")
    partial = scaling.partial_path(path)
    assert not partial.exists()  # removed once the result was written
    (run,) = before["runs"]
    stopped = {**run, "curve": {k: v for k, v in run["curve"].items() if k != "xgb@1"}}
    partial.write_text(json.dumps({"setting": before["setting"], "runs": [stopped], "seconds": 1.0}))
    again = scaling.main(["--quick", "--resume", "--out", str(path)])
    assert {k: v for k, v in again["runs"][0]["curve"].items() if k != "xgb@1"} == stopped["curve"]
    assert again["runs"][0]["curve"]["xgb@1"] == run["curve"]["xgb@1"]  # XGBModel is deterministic per seed
    assert not partial.exists() and again["seconds"] < before["seconds"]

    partial.write_text(json.dumps({"setting": {**before["setting"], "corpus_records": 1}, "runs": [], "seconds": 0}))
    with pytest.raises(SystemExit, match="corpus_records"):
        scaling.main(["--quick", "--resume", "--out", str(path)])
    partial.unlink()


def test_a_stopped_search_is_summarised_by_seed_and_reported_as_partial():
    search, report = load("search"), load("report")
    curve = lambda *best: list(best)  # noqa: E731
    runs = {"task": {
        "xgb": [{"seed": 1, "best_seconds": 2.0, "curve": curve(4.0, 2.0), "wall_seconds": 10, "cost_model_seconds": 1}],
        "gnn": [{"seed": 2, "best_seconds": 9.0, "curve": curve(9.0, 9.0), "wall_seconds": 10, "cost_model_seconds": 2},
                {"seed": 1, "best_seconds": 1.0, "curve": curve(3.0, 1.0), "wall_seconds": 10, "cost_model_seconds": 2}],
    }}
    summary = search.summarize(runs)["task"]["gnn"]
    assert summary["best_over_xgb_mean"] == 0.5  # seed 1 against seed 1; seed 2 has no XGBModel run yet
    assert summary["trials_to_xgb_best"] == [2]
    assert report.partial_line({"runs_done": 3, "runs_planned": 4})[0].startswith("**Partial: 3 of 4 runs")
    assert report.partial_line({"runs_done": 4, "runs_planned": 4}) == []


def test_the_unseen_search_is_checked_against_each_target_of_issue_19():
    gnn = lambda final, early: {"best_over_xgb_mean": final, "best_at_64_over_xgb_at_64": early}  # noqa: E731
    lines = load("report").unseen_search_targets({"a": {"gnn": gnn(0.9, [0.8, 0.8])}, "b": {"gnn": gnn(1.25, [1.0])}})
    assert lines[2] == "- a: final best / XGBModel's <= 1.00: 0.900, met"
    assert lines[3] == "- b: final best / XGBModel's <= 1.00: 1.250, **missed by 0.250**"
    assert lines[4].endswith("(geometric mean over 3 runs): 0.862, met")


def test_the_unseen_search_judges_the_arm_that_tunes_as_todays_default():
    report = load("report")
    default = f"gnn:residual_from={TrainConfig().residual_from}"
    assert report.unseen_default_arm(["gnn", "xgb"]) == "gnn"
    assert report.unseen_default_arm(["gnn", default, "xgb"]) == default
    run = {"best_over_xgb_mean": 1.2, "best_at_64_over_xgb_at_64": [1.0]}
    lines = report.unseen_search_targets({"a": {"gnn": run, default: {**run, "best_over_xgb_mean": 0.95}}}, default)
    assert lines[0].endswith(f"(the default, `{default}`):") and lines[2].endswith("0.950, met")


def test_the_offline_benchmark_is_checked_against_issue_19s_margins_over_xgb_and_nomp():
    row = lambda mean, std: {"unseen": {"pairwise_accuracy": {"mean": mean, "std": std}}}  # noqa: E731
    lines = load("report").offline_target_lines({"gnn": row(0.70, 0.01), "xgb": row(0.66, 0.03),
                                                 "gnn-nomp": row(0.67, 0.02)})
    assert lines[2] == "- the GNN >= XGBModel's + 0.05: 0.700 against 0.710, **missed by 0.010** (seed spread 0.030)"
    assert lines[3] == "- the GNN >= `gnn-nomp`'s + 0.02: 0.700 against 0.690, met (seed spread 0.020)"


def test_an_ensemble_of_seeds_is_compared_with_its_single_seeds_unseen_pairwise():
    recipe = {"seeds": [1, 2, 3], "ensemble": {"grouped-8x16": {"pairwise_accuracy": 0.74, "top1": 0.3}},
              "summary": {"grouped-8x16": {"unseen": {"pairwise_accuracy": {"mean": 0.725, "std": 0.003}}}}}
    assert load("report").ensemble_lines(recipe)[0] == (
        "- `grouped-8x16`: the ensemble of its 3 seeds against one seed, unseen pairwise 0.740 vs 0.725 (+0.015, "
        "better; seed spread 0.003)")


def test_recipe_variants_join_only_a_result_of_the_same_base_variant():
    recipe = load("recipe")
    config = recipe.PretrainConfig(recipe=recipe.TrainConfig(**recipe.BASE_RECIPE))
    earlier = {"corpus_records": 10, "seeds": [1], "top1_failed_pick": recipe.TOP1_FAILED_PICK,
               "pretrain_config": json.loads(json.dumps(asdict(config)))}  # written before --base: ranknet
    recipe.check_addable(earlier, 10, [1], config, "ranknet")
    with pytest.raises(SystemExit, match="base"):
        recipe.check_addable(earlier, 10, [1], config, "nomp")


def test_transfer_adds_arms_only_to_a_result_of_the_same_setup_and_machine():
    check = load("transfer").check_addable
    earlier = {"machine": {"cpu": "znver3"}, "seeds": [1, 2, 3], "shots": [0, 8]}
    check(earlier, {"seeds": [1, 2, 3], "shots": [0, 8], "cpu": "znver3"})
    with pytest.raises(SystemExit, match="seeds"):
        check(earlier, {"seeds": [1], "shots": [0, 8], "cpu": "znver3"})
    with pytest.raises(SystemExit, match="cpu"):
        check(earlier, {"seeds": [1, 2, 3], "shots": [0, 8], "cpu": "znver4"})


def test_message_passing_counts_a_gap_within_the_seed_spread_as_a_tie():
    row = lambda val, unseen: {"validation": {"pairwise_accuracy": val},  # noqa: E731
                               "unseen": {"pairwise_accuracy": unseen}}
    summary = {"nomp": row({"mean": 0.70, "std": 0.01}, {"mean": 0.66, "std": 0.01}),
               "layers-4": row({"mean": 0.73, "std": 0.01}, {"mean": 0.665, "std": 0.02})}
    lines = load("report").message_passing_lines(summary)
    assert lines[0] == ("- `layers-4` against `nomp`, pairwise: validation +0.030 (better; seed spread 0.010), "
                        "unseen +0.005 (a tie; seed spread 0.020)")


def test_guided_benchmark_runs_an_arm_per_model_and_strategy_and_remeasures_the_bests(tmp_path):
    search = load("search")
    out = tmp_path / "guided.json"
    result = search.main(["--guided", "--quick", "--models", "xgb", "gnn@guided", "--out", str(out)])
    inception, attention = result["tasks"]
    assert inception.startswith("inception_v1.") and attention == search.ATTENTION
    assert result["tasks"][inception]["in_pretraining_data"] is False  # the campaign leaves unseen models out
    for task, by_arm in result["runs"].items():
        assert set(by_arm) == {"xgb", "gnn@guided"}
        assert all(len(runs) == 1 and len(runs[0]["curve"]) == 8 and runs[0]["best_record"]
                   for runs in by_arm.values())
        again = result["remeasured"]["runs"][task]
        assert all(len(r[0]["seconds"]) == 2 and r[0]["median_seconds"] > 0 for r in again.values())
        summary = result["summary"][task]
        assert summary["xgb"]["remeasured_over_xgb_mean"] == 1.0
        assert summary["gnn@guided"]["remeasured_over_xgb_mean"] > 0
        assert 0 < summary["gnn@guided"]["search_time_share"] < 1
    page = "\n".join(load("report").guided_section(result, "search_guided.png"))
    assert page.count("- Target for `gnn@guided`") == 4 and "2 interleaved rounds" in page
    for arm in ("xgb@annealing", "xgb:population", "xgb:genetic_num_iters=two"):
        with pytest.raises(SystemExit):
            search.main(["--unseen", "--quick", "--models", "xgb", arm, "--out", str(out)])


def test_a_stopped_guided_benchmark_is_reported_with_what_it_has():
    search, report = load("search"), load("report")
    run = lambda best, wall: {"seed": 1, "best_seconds": best, "curve": [best], "wall_seconds": wall,  # noqa: E731
                              "cost_model_seconds": 1.0, "stats": {"search_strategy_seconds": 2.0}}
    runs = {"conv.a": {"xgb": [run(2.0, 10.0)], "gnn@guided": [run(1.0, 5.0)]}, "conv.b": {"xgb": [run(3.0, 10.0)]}}
    result = {"machine": {"cores": 2, "cpu": "znver4"}, "date": "2026-12-03", "trials_per_run": 1, "seeds": [1],
              "versions": {"apache-tvm": "0.27", "torch": "2", "xgboost-cpu": "3"}, "runs_done": 3,
              "runs_planned": 4, "remeasured": None, "summary": search.summarize(runs),
              "tasks": {"conv.a": {"in_pretraining_data": True}, "conv.b": {}}}
    page = "\n".join(report.guided_section(result, "g.png"))
    assert "**Partial: 3 of 4 runs" in page and "conv (in the pretraining data), conv," in page
    assert "| `gnn@guided` | n/a | n/a | n/a | 1 | 40.0% | 0.50 |" in page  # conv.a only; no re-measurement yet
    assert "final best / XGBModel's, geometric mean <= 0.95: n/a, not measured yet" in page
    assert "loses to XGBModel" not in page
    rerun = "\n".join(report.guided_section(result, "t.png", name="search_guided_threads", title="Again", note="Why."))
    assert rerun.startswith("## Again\n\nWhy.\n\n`python benchmarks/search.py --guided --models xgb gnn@guided "
                            "--out benchmarks/results/search_guided_threads.json` -> ")


def test_the_guided_section_names_the_tasks_where_guided_search_loses_to_the_stock_search_with_the_same_gnn():
    report = load("report")
    arm = lambda final, reach: {"remeasured_over_xgb_mean": final, "trials_to_xgb_best_median": reach}  # noqa: E731
    summary = {"a.conv": {"gnn": arm(0.7, 61.0), "gnn@guided": arm(0.8, None)},
               "b.conv": {"gnn": arm(0.9, 10.0), "gnn@guided": arm(0.85, 5.0)}, "c.conv": {"gnn": arm(0.9, 10.0)}}
    (line,) = report.stock_gnn_line(summary)
    assert line.endswith("best: a 0.800 vs 0.700 (reach never vs 61); b 0.850 vs 0.900 (reach 5 vs 10). "
                         "Guided loses on: a.")
    assert report.stock_gnn_line({"a.conv": {"gnn@guided": arm(0.8, 1.0)}}) == []


def test_the_sweep_section_compares_each_knob_with_its_own_models_stock_setting():
    report = load("report")
    run = lambda seed, best, wall=10.0: {"seed": seed, "best_seconds": best, "wall_seconds": wall}  # noqa: E731
    sweep = {"machine": {"cores": 2, "cpu": "znver4"}, "date": "2026-12-03",
             "versions": {"apache-tvm": "0.27", "torch": "2", "xgboost-cpu": "3"}, "trials_per_run": 128,
             "seeds": [1, 2], "runs": {"conv.a": {
                 "xgb": [run(1, 2.0), run(2, 4.0)], "xgb:population=128": [run(1, 1.0), run(2, 2.0, 5.0)],
                 "gnn": [run(1, 1.0), run(2, 1.0)], "gnn:eps_greedy=0.0": [run(1, 2.0), run(2, 1.0)],
                 "gnn:population=128": [run(1, 2.0)]}}}
    lines = report.sweep_section(sweep, "sweep.png")
    assert "| `xgb:population=128` | 0.500 ± 0.000 | 0.500 | 0.500 | 0.75 |" in lines
    assert "| `gnn:eps_greedy=0.0` | 1.500 ± 0.707 | 1.500 | 1.500 | 1.00 |" in lines
    assert "| `gnn:population=128` | 2.000 (1 seed) | 2.000 | 2.000 | 1.00 |" in lines  # no spread from one run
    assert any(line.startswith("- Best setting with `xgb`: `xgb:population=128`") for line in lines)
    assert any("`gnn`: `gnn` " in line and "no knob beats the default" in line for line in lines)
    # once re-measured, the re-measured medians judge; the bests as tuned stay beside them
    again = lambda seed, median: {"seed": seed, "median_seconds": median}  # noqa: E731
    sweep["remeasured"] = {"rounds": 5, "runs": {"conv.a": {
        "xgb": [again(1, 2.0), again(2, 4.0)], "xgb:population=128": [again(1, 3.0), again(2, 4.0)],
        "gnn": [again(1, 2.0), again(2, 2.0)], "gnn:eps_greedy=0.0": [again(1, 1.0), again(2, 1.0)],
        "gnn:population=128": [again(1, 2.0)]}}}
    lines = report.sweep_section(sweep, "sweep.png")
    assert "| `xgb:population=128` | 1.250 ± 0.354 | 1.250 | 0.500 | 0.75 |" in lines
    assert any("re-measured together in 5 interleaved rounds" in line for line in lines)
    assert any(line.startswith("- Best setting with `xgb`: `xgb` ") for line in lines)
    assert any(line.startswith("- Best setting with `gnn`: `gnn:eps_greedy=0.0` (geometric mean 0.500") for line in lines)


def test_search_arms_name_a_model_a_strategy_and_its_knobs():
    search = load("search")
    assert search.parse_arm("xgb") == ("xgb", "evolutionary", {})
    assert search.parse_arm("gnn@guided:beta=2,diversity=0.25") == ("gnn", "guided", {"beta": 2, "diversity": 0.25})
    assert search.parse_arm("xgb:population=128")[2] == {"population": 128}
    arms = search.sweep_arms()
    assert "xgb" in arms and "gnn" in arms and "gnn:eps_greedy=0.2" in arms
    assert len(arms) == len(set(arms)) == len(search.SWEEP_MODELS) * (1 + len(search.SWEEP_KNOBS))


def test_an_arm_knob_named_like_a_train_config_field_sets_the_gnns_recipe_not_the_search():
    search = load("search")
    knobs = search.parse_arm("gnn@guided:residual_from=64,beta=2")[2]
    options = search.model_options("gnn", knobs)
    assert options["train_config"].residual_from == 64 and knobs == {"beta": 2}  # beta stays the strategy's
    assert search.model_options("gnn", {"beta": 2}) == {}
    with pytest.raises(ValueError, match="not a GNN"):
        search.model_options("xgb", {"residual_from": 64})
    with pytest.raises(SystemExit):
        search.main(["--models", "xgb", "xgb:residual_from=64", "--quick"])  # refused before any task is built
