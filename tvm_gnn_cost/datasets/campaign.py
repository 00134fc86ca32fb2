"""The data campaign: measured tasks packed into committed chunks, so a stopped machine loses at most one chunk.

A collection (``tvm-gnn-cost generate OUT --chunks data/generated``) measures tasks into its
work directory as usual. Every ``chunk_minutes`` of collection, and when it ends, the tasks it
has finished that no chunk holds yet are packed into the next chunk of the store:
``<cpu>-s<seed>-<index>.tar.xz`` (the task directories, in the layout :func:`load_dataset`
reads, plus the chunk's ``manifest.json``), its card ``<chunk>.json`` beside it, and the
store's ``README.md`` (one row per chunk) rewritten from the cards.

The store is the campaign's memory: a collection on a fresh machine skips every task a card
lists, measured on any CPU, and every task structurally equal to one (so chunks never repeat
a task), and it never measures a task of the models the transfer benchmark calls unseen.
"""

from __future__ import annotations

import json
import logging
import re
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import atomic_open, cache_dir, write_json
from ..provenance import machine, versions
from .clock import active_seconds
from .database import RECORD_FILE, TASK_FILE, WORKLOAD_FILE

if TYPE_CHECKING:
    from tvm.target import Target

    from .collection import Recipe
    from .workloads import Task

logger = logging.getLogger(__name__)

#: The zoo models whose tasks no training data may hold: the transfer benchmark's and the unseen search's.
UNSEEN_MODELS: tuple[str, ...] = ("inception_v1", "vgg19", "zfnet512")
_CHUNK = re.compile(r"^(?P<cpu>[\w.-]+)-s(?P<seed>\d+)-(?P<index>\d{3})$")


def workload_hash(task_dir: Path) -> str:
    """The structural hash (hex) of a task directory's workload: from ``task.json``, else from its database."""
    import tvm_ffi
    from tvm.s_tir import meta_schedule as ms

    info = json.loads((task_dir / TASK_FILE).read_text())
    if "hash" in info:
        return info["hash"]
    line = next(line for line in (task_dir / WORKLOAD_FILE).read_text().splitlines() if line.strip())
    return f"{tvm_ffi.structural_hash(ms.database.Workload.from_json(json.loads(line)).mod):016x}"


def unseen_hashes(target: Target) -> set[str]:
    """Structural hashes of every task of :data:`UNSEEN_MODELS`.

    Extracting them takes about 40 s, so they are kept in the cache directory
    (``$TVM_GNN_COST_CACHE``), one file per TVM version.
    """
    from importlib.metadata import version

    import tvm_ffi

    from .workloads import model_tasks

    cache = cache_dir() / f"unseen-hashes-{version('apache-tvm')}-{target.kind.name}.json"
    if cache.exists():
        return set(json.loads(cache.read_text())["hashes"])
    hashes = {f"{tvm_ffi.structural_hash(t.mod):016x}" for m in UNSEEN_MODELS for t in model_tasks(m, target)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    write_json(cache, {"models": list(UNSEEN_MODELS), "hashes": sorted(hashes)})
    return hashes


@dataclass
class ChunkStore:
    """A directory of packed chunks and their cards (``data/generated``)."""

    root: Path

    def cards(self) -> list[dict]:
        """Every chunk's card, in chunk-name order."""
        return [json.loads(p.read_text()) for p in sorted(self.root.glob("*.json")) if _CHUNK.match(p.stem)]

    def archives(self) -> list[Path]:
        """Every chunk archive, in name order."""
        return sorted(p for p in self.root.glob("*.tar.xz") if _CHUNK.match(p.name.removesuffix(".tar.xz")))

    def packed(self) -> dict[str, str]:
        """Task name -> the structural hash of its workload, over all chunks (any CPU)."""
        return {name: task["hash"] for card in self.cards() for name, task in card["tasks"].items()}

    def unmeasured(self, tasks: Sequence[Task]) -> list[Task]:
        """The ``tasks`` that no chunk holds, by name or by structural hash (measured on any CPU)."""
        import tvm_ffi

        packed = self.packed()
        hashes = set(packed.values())
        return [t for t in tasks if t.name not in packed and f"{tvm_ffi.structural_hash(t.mod):016x}" not in hashes]

    def models_file(self, seed: int) -> Path:
        """``models-s<seed>.json``: the verdict and tasks of every generated model of ``seed`` checked so far."""
        return self.root / f"models-s{seed}.json"

    def restore_models(self, work_dir: Path, seed: int) -> int:
        """Give ``work_dir``'s ``models.json`` the store's verdicts it lacks, so a fresh machine checks no model again.

        Returns how many it added. (The check runs on the CPU that first met the model; a model
        that matches onnxruntime there is taken to match it everywhere.)
        """
        stored = self.models_file(seed)
        if not stored.exists():
            return 0
        local = work_dir / "models.json"
        index = json.loads(local.read_text()) if local.exists() else {}
        missing = {k: v for k, v in json.loads(stored.read_text()).items() if k not in index}
        if missing:
            write_json(local, {**index, **missing})
        return len(missing)

    def keep_models(self, work_dir: Path, seed: int) -> None:
        """Merge ``work_dir``'s ``models.json`` into the store's verdicts of ``seed``."""
        local, stored = work_dir / "models.json", self.models_file(seed)
        if local.exists():
            before = json.loads(stored.read_text()) if stored.exists() else {}
            write_json(stored, dict(sorted({**before, **json.loads(local.read_text())}.items())))

    def next_name(self, cpu: str, seed: int) -> str:
        """The name of the next chunk of ``cpu`` and generator ``seed``."""
        taken = [int(m["index"]) for c in self.cards() if (m := _CHUNK.match(c["chunk"]))
                 and m["cpu"] == cpu and int(m["seed"]) == seed]
        return f"{cpu}-s{seed}-{max(taken, default=-1) + 1:03d}"

    def pack(self, work_dir: Path, names: Sequence[str], *, cpu: str, seed: int, meta: dict) -> Path:
        """Pack the task directories ``names`` of ``work_dir`` into the next chunk; write its card and the README.

        The card holds ``meta`` (machine, versions, generator, recipe), per-task records, failures,
        hash and source, the collection seconds behind them and the records per hour they give.
        """
        name = self.next_name(cpu, seed)
        tasks = {n: _task_card(work_dir / n) for n in names}
        seconds = [t.pop("seconds") for t in tasks.values()]
        clocks = {t.pop("clock") for t in tasks.values()}
        records = sum(t["records"] for t in tasks.values())
        card = {
            "chunk": name,
            "archive": f"{name}.tar.xz",
            "cpu": cpu,
            **meta,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "records": records,
            "failed": sum(t["failed"] for t in tasks.values()),
            "models": sorted({t["source"] for t in tasks.values()}),
            # tasks of older collections did not time their phases: no rate for those chunks
            "collection_seconds": round(sum(seconds), 1) if None not in seconds else None,
            "records_per_hour": round(records / sum(seconds) * 3600) if None not in seconds and sum(seconds) else None,
            # "active": the seconds leave out pauses (kill -STOP); "wall": some task's seconds may include them
            "clock": "active" if clocks == {"active"} else "wall",
            "tasks": tasks,
        }
        self.root.mkdir(parents=True, exist_ok=True)
        archive = self.root / card["archive"]
        with tempfile.TemporaryDirectory() as tmp:
            write_json(Path(tmp) / "manifest.json", card)
            with atomic_open(archive) as f, tarfile.open(fileobj=f, mode="w:xz") as tar:
                tar.add(Path(tmp) / "manifest.json", arcname="./manifest.json")
                for n in sorted(names):
                    for path in sorted((work_dir / n).iterdir()):  # the database files and task.json only
                        if path.name in (TASK_FILE, WORKLOAD_FILE, RECORD_FILE):
                            tar.add(path, arcname=f"./{n}/{path.name}")
        write_json(self.root / f"{name}.json", card)
        write_readme(self)
        logger.info("packed %d tasks (%d records) into %s", len(names), records, archive)
        return archive


@dataclass
class ChunkPacker:
    """Packs a collection's finished tasks into the store every ``every_seconds`` (an ``after_task`` hook)."""

    store: ChunkStore
    work_dir: Path
    cpu: str
    seed: int
    meta: dict
    every_seconds: float = 3600.0
    last: float = field(default_factory=active_seconds)

    @classmethod
    def for_collection(cls, store: ChunkStore, work_dir: Path, target: Target, *, generator: dict, recipe: Recipe,
                       every_seconds: float) -> ChunkPacker:
        """A packer whose cards carry the machine (``target``'s CPU), versions, ``generator`` and ``recipe``."""
        meta = {"machine": machine(target), "versions": versions(), "generator": generator, "recipe": recipe.to_json()}
        return cls(store, work_dir, str(meta["machine"]["cpu"]), recipe.seed, meta, every_seconds)

    def __call__(self, _progress: object = None) -> Path | None:
        """Pack if ``every_seconds`` of collection (pauses left out) have passed since the last pack."""
        return self.flush() if active_seconds() - self.last >= self.every_seconds else None

    def flush(self) -> Path | None:
        """Pack every finished task no chunk holds yet (nothing if there is none), and keep the models' verdicts."""
        self.last = active_seconds()
        names = unpacked_complete(self.work_dir, self.store.packed())
        self.store.keep_models(self.work_dir, self.seed)
        return self.store.pack(self.work_dir, names, cpu=self.cpu, seed=self.seed, meta=self.meta) if names else None


def _task_card(task_dir: Path) -> dict:
    info = json.loads((task_dir / TASK_FILE).read_text())
    records = [line for line in (task_dir / RECORD_FILE).read_text().splitlines() if line.strip()]
    failed = info.get("failed")
    if failed is None:  # collected before task.json counted failures
        failed = sum(1 for line in records if "1e+10" in line or "10000000000" in line)
    phases = info.get("seconds")
    return {"records": len(records), "failed": failed, "hash": workload_hash(task_dir), "source": info["source"],
            "seconds": sum(phases.values()) if phases else None, "clock": info.get("clock", "wall")}


def unpacked_complete(work_dir: Path, packed: Iterable[str]) -> list[str]:
    """Tasks of ``work_dir`` whose collection is complete and that no chunk holds yet."""
    packed = set(packed)
    names = []
    for path in sorted(work_dir.glob(f"*/{TASK_FILE}")):
        info = json.loads(path.read_text())
        if info.get("complete") and info["name"] not in packed:
            names.append(info["name"])
    return names


def write_readme(store: ChunkStore) -> Path:
    """Rewrite the store's ``README.md``: what a chunk is and one row (its card) per chunk."""
    cards = store.cards()
    rows = [
        f"| `{c['chunk']}` | {c['cpu']} | v{c['generator']['version']} | {c['created'][:10]} | {len(c['models'])} | {len(c['tasks'])} | "
        f"{c['records']} | {c['failed']} | {_rate(c)} | "
        f"{_recipe(c.get('recipe'))} |"
        for c in cards
    ]
    total = (f"| **all** | {', '.join(sorted({c['cpu'] for c in cards}))} | | | "
             f"{len({m for c in cards for m in c['models']})} | {sum(len(c['tasks']) for c in cards)} | "
             f"{sum(c['records'] for c in cards)} | {sum(c['failed'] for c in cards)} | | |")
    text = README.format(rows="\n".join([*rows, total]))
    path = store.root / "README.md"
    path.write_text(text)
    return path


def _rate(card: dict) -> str:
    """The card's records per hour; starred where its seconds may include pauses (a lower bound)."""
    rate = card["records_per_hour"]
    if not rate:
        return "not timed"
    return str(rate) if card.get("clock") == "active" else f"{rate}*"


def _recipe(recipe: dict | None) -> str:
    if not recipe:
        return "-"
    return f"{recipe['random']} random + {recipe['search']} searched (population {recipe['population']})"


README = """# Generated pretraining data, in chunks

Written by `tvm-gnn-cost generate ... --chunks data/generated` (`tvm_gnn_cost/datasets/campaign.py`);
do not edit by hand: every new chunk rewrites this page from the chunks' cards.

Each chunk `<cpu>-s<seed>-<index>.tar.xz` holds finished tasks of random models of generator
seed `seed` (`tvm_gnn_cost/datasets/generator/`, the version in the table), measured on the
CPU `cpu` names (LLVM's name for it), one directory per task in MetaSchedule's JSON database format (`database_workload.json`,
`database_tuning_record.json`) plus `task.json` (name, source model, weight, target, machine
with its caches, versions, the records asked for and the seconds each phase took). Its card
`<chunk>.json`, also inside the archive as `manifest.json`, lists every task with its records,
failures, structural hash and source model, and the machine, versions, generator and recipe.
Failed builds and runs are kept with TVM's `run_secs = [1e10]` marker.

A recipe "R random + S searched" means R random samples of the task's design space, then S
candidates picked by MetaSchedule's evolutionary search (that population per generation)
guided by an `XGBModel` fitted to the task's records; tasks whose design space holds fewer
distinct schedules hold fewer records. No chunk repeats a task (structural hash), and no task
of the models the transfer benchmark calls unseen (Inception v1, VGG-19, ZFNet-512) is in any.
`tvm_gnn_cost.load_dataset("data/generated")` and `tvm-gnn-cost train data/generated`
read every chunk. Records per hour are records over the seconds the collection spent on the
chunk's tasks (sampling, building, running, searching), on the machine's 2 cores, less the time
the collection was stopped (`kill -STOP` on its process group; `tvm_gnn_cost/datasets/clock.py`).
A starred rate comes from tasks timed before pauses were left out: a lower bound, low by however
long the collection was paused.

| chunk | CPU | generator | packed | models | tasks | records | failed | records/hour | recipe |
| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |
{rows}
"""
