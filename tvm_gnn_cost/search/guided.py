"""GuidedSearch: a MetaSchedule search strategy that spends its trials where the cost model points.

Each round it proposes ``proposal`` times the round's batch of unmeasured schedules (fresh
design-space samples, mutations of the best measured traces, and one-step mutations of the
best one: its neighbourhood), scores them with the cost model (optionally refining the pool's
best-scored schedules for a few model-screened generations first), and picks the batch by an
upper-confidence rule (score + beta * spread, beta shrinking every round) with a penalty on
schedules whose decisions repeat ones already picked. A share of every batch goes to the best
schedule's neighbourhood. Without a ``spread`` function (how unsure the model is of each
candidate) it ranks by the cost model's scores alone.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from tvm.ir import IRModule
from tvm.ir.utils import derived_object
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy
from tvm.s_tir.schedule import Trace


Method = TypeVar("Method", bound=Callable[..., Any])


def timed(method: Method) -> Method:
    """Adds each call's seconds to ``self.seconds``: how long a strategy takes to propose a round,
    its cost model's ``predict`` included, reported beside the trials' build and run time."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    return wrapper  # type: ignore[return-value]


def log_scale(score: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Throughput-like scores and their spread as log-throughput and its spread (``spread / score``).

    A few good candidates dominate the spread of throughput scores, which squeezes the rest of
    the pool together; in log units every factor counts alike. Scores at or below zero (an
    XGBModel predicts slightly negative ones) are floored at 1e-6 of the pool's best.
    """
    score = np.asarray(score, dtype=np.float64)
    best = np.nanmax(score, initial=0.0)
    floored = np.maximum(score, 1e-6 * best if best > 0 else 1e-12)
    return np.where(np.isnan(score), np.nan, np.log(floored)), np.asarray(spread, dtype=np.float64) / floored


def pick_batch(score: np.ndarray, spread: np.ndarray, keys: Sequence[tuple], count: int, *, beta: float,
               diversity: float, among: Sequence[int] | None = None, after: Sequence[int] = ()) -> list[int]:
    """Greedy upper-confidence picks: each step takes the best ``score + beta * spread`` less
    ``diversity`` times the largest share of decisions it has in common with an earlier pick.

    Scores are standardised first, so ``beta`` and ``diversity`` are in units of their spread.
    ``among`` limits the picks to those indices (default: all); ``after`` are earlier picks of
    the same round, which the penalty counts but which are not returned again.
    """
    score = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-np.inf, posinf=np.inf, neginf=-np.inf)
    finite = score[np.isfinite(score)]
    centre, scale = (finite.mean(), finite.std() or 1.0) if len(finite) else (0.0, 1.0)
    bonus = np.nan_to_num(np.asarray(spread, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    value = (score - centre) / scale + beta * bonus / scale
    allowed = np.zeros(len(score), dtype=bool)
    allowed[list(range(len(score))) if among is None else list(among)] = True
    allowed[list(after)] = False
    overlap = np.zeros(len(score))
    for earlier in after:
        overlap = np.maximum(overlap, [_shared(keys[earlier], key) for key in keys])
    picked: list[int] = []
    for _ in range(min(count, int(allowed.sum()))):
        open_ = np.flatnonzero(allowed)  # argmax among these alone: NaN scores are -inf, like a taken index
        best = int(open_[np.argmax((value - diversity * overlap)[open_])])
        picked.append(best)
        allowed[best] = False
        overlap = np.maximum(overlap, [_shared(keys[best], key) for key in keys])
    return picked


def _shared(a: tuple, b: tuple) -> float:
    """Share of equal decisions of two traces of one design space (0 when they differ in length)."""
    if len(a) != len(b) or not a:
        return 0.0
    return sum(x == y for x, y in zip(a, b)) / len(a)


def decision_key(trace: Trace) -> tuple:
    """A trace's sampling decisions in instruction order: what tells two candidates apart."""
    decisions = trace.decisions
    return tuple(str(decisions[inst]) for inst in trace.insts if inst in decisions)


@derived_object
class GuidedSearch(PySearchStrategy):
    """Model-guided search with exploration, diversity and a neighbourhood share (see module doc).

    Args:
        measured: structural hashes of schedules measured before (the database's are added at
            ``pre_tuning``); none is proposed again.
        spread: ``spread(context, candidates)``, the model's uncertainty per candidate in units of
            its scores (e.g. the sd of an ensemble's); MetaSchedule hands a strategy only the
            cost model's TVM handle, so it is passed here. None: no exploration bonus.
        proposal: unmeasured candidates scored per trial of the round.
        neighbourhood: share of each round's trials spent one mutation away from the best measured schedule.
        beta: weight of the model's spread in the first round; multiplied by ``beta_decay`` every round.
        diversity: penalty on a candidate per unit share of decisions equal to an earlier pick's.
        parents: measured records the evolution draws from (the best first), and the number of
            best-scored candidates each refinement generation mutates.
        generations: model-screened refinements of a round's pool before it is picked from: each
            adds half the pool again as one-step mutations of its best-scored candidates, so the
            model screens more of the space than is measured (0: the pool as proposed).
        log_scores: rank by log-throughput (``log_scale``) rather than by the scores themselves.
        max_failures: failed replays per round before it gives up on filling the pool.
    """

    def __init__(self, measured: set[int] | None = None, *,
                 spread: Callable[[ms.TuneContext, list[ms.MeasureCandidate]], np.ndarray] | None = None,
                 proposal: int = 8, neighbourhood: float = 0.25, beta: float = 1.0,
                 beta_decay: float = 0.7, diversity: float = 0.5, parents: int = 16, generations: int = 0,
                 log_scores: bool = False, max_failures: int = 256) -> None:
        super().__init__()
        if not 0.0 <= neighbourhood <= 1.0:
            raise ValueError(f"neighbourhood={neighbourhood} must be a share between 0 and 1")
        if generations < 0 or generations != int(generations):
            raise ValueError(f"generations={generations} must be a whole number of at least 0")
        self.options = dict(spread=spread, proposal=int(proposal), neighbourhood=neighbourhood, beta=beta,
                            beta_decay=beta_decay, diversity=diversity, parents=int(parents),
                            generations=int(generations), log_scores=bool(log_scores), max_failures=int(max_failures))
        self.__dict__.update(self.options)
        self.measured = measured if measured is not None else set()
        self.rounds = self.trials = self.skipped = 0
        self.seconds = 0.0

    def _initialize_with_tune_context(self, context: ms.TuneContext) -> None:
        self.context = context
        self.postprocs = list(context.space_generator.postprocs)
        probs = dict(context.space_generator.mutator_probs)
        self.mutators = list(probs)
        self.mutator_probs = np.array([float(probs[m]) for m in self.mutators])
        self.mutator_probs = self.mutator_probs / self.mutator_probs.sum() if self.mutators else self.mutator_probs
        self.rng = np.random.default_rng(int(context.rand_state) & 0x7FFFFFFF)
        self.modules = [copy.deepcopy(context.mod) for _ in range(max(1, int(context.num_threads)))]

    def pre_tuning(self, max_trials: int, num_trials_per_iter: int, design_spaces: list, database: Any = None,
                   cost_model: Any = None) -> None:
        import tvm_ffi

        self.max_trials, self.per_round = max_trials, num_trials_per_iter
        self.spaces = [space.trace for space in design_spaces]
        self.database, self.cost_model = database, cost_model
        self.workload = database.commit_workload(self.context.mod) if database is not None else None
        if database is not None:  # failed records too: top-k holds only the valid ones
            self.measured |= {tvm_ffi.structural_hash(r.as_measure_candidate().sch.mod)
                              for r in database.get_all_tuning_records() if r.workload.same_as(self.workload)}
        self.rounds = self.trials = 0

    def post_tuning(self) -> None:
        self.database = self.cost_model = None

    @timed
    def generate_measure_candidates(self) -> list[ms.MeasureCandidate] | None:
        count = min(self.per_round, self.max_trials - self.trials)
        if count <= 0:
            return None
        parents = [r.trace for r in self._records(self.parents)]
        seen = set(self.measured)  # one schedule is proposed once a round, near or far
        near = (self._propose(parents[:1], math.ceil(count * self.proposal * self.neighbourhood), seen)
                if parents else [])
        pool = near + self._propose(parents, count * self.proposal - len(near), seen, wide=True)
        if not pool:
            return None
        score, spread = self._score(pool)
        for _ in range(self.generations):  # the whole pool is scored again: scores are relative to a batch
            elite = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")[: self.parents]
            children = self._propose([pool[i].sch.trace for i in elite], len(pool) // 2, seen)
            if not children:
                break
            pool += children
            score, spread = self._score(pool)
        if self.log_scores:
            score, spread = log_scale(score, spread)
        keys = [decision_key(c.sch.trace) for c in pool]
        options = dict(beta=self.beta * self.beta_decay**self.rounds, diversity=self.diversity)
        picks = pick_batch(score, spread, keys, math.ceil(count * self.neighbourhood), among=range(len(near)),
                           **options)  # one scale for the round: the neighbours and the rest compete alike
        picks += pick_batch(score, spread, keys, count - len(picks), after=picks, **options)
        self.rounds += 1
        return [pool[i] for i in picks]

    def notify_runner_results(self, measure_candidates: list, results: list) -> None:
        import tvm_ffi

        self.trials += len(measure_candidates)
        self.measured.update(tvm_ffi.structural_hash(c.sch.mod) for c in measure_candidates)

    def clone(self) -> ms.search_strategy.SearchStrategy:
        return GuidedSearch(set(self.measured), **self.options)

    def _records(self, count: int) -> list:
        """The best ``count`` measured records of this task in the database (none without one)."""
        if self.workload is None:
            return []
        return list(self.database.get_top_k(self.workload, count))

    def _propose(self, parents: list[Trace], count: int, seen: set[int], *,
                 wide: bool = False) -> list[ms.MeasureCandidate]:
        """``count`` candidates not in ``seen`` (to which their hashes are added): one-step mutations
        of ``parents`` (with ``wide``, half of them 1-3-step mutations and half fresh design-space
        samples) or, without parents, samples only. Drawn in batches replayed on the context's threads."""
        pool: list[Schedule] = []
        failures = 0
        while len(pool) < count and failures < self.max_failures:
            jobs = [self._job(parents, wide) for _ in range(count - len(pool))]
            for sch, key in self._replay_all(jobs):
                self.skipped += key in self.measured
                if sch is None or key in seen:
                    failures += 1
                    continue
                seen.add(key)
                pool.append(sch)
        return [ms.MeasureCandidate(s, ms.arg_info.ArgInfo.from_entry_func(s.mod, remove_preproc=True))
                for s in pool]

    def _job(self, parents: list[Trace], wide: bool) -> tuple[Trace | None, int]:
        """One candidate to replay, drawn as :meth:`_propose` says, and the seed of its replay
        (drawn here, so a run repeats from its seed whichever thread replays it)."""
        if parents and (not wide or self.rng.random() < 0.5):
            parent = parents[int(self.rng.integers(len(parents)))]
            trace = self._mutate(parent, steps=int(self.rng.integers(1, 4)) if wide else 1)
        else:
            trace = Trace(self.spaces[int(self.rng.integers(len(self.spaces)))].insts, {})
        return trace, int(self.rng.integers(1, 2**31 - 1))

    def _mutate(self, trace: Trace, steps: int) -> Trace | None:
        """``trace`` with ``steps`` decisions changed by the space's mutators (None without mutators).

        Each mutator draws from a seed of this search's generator, so a run repeats from its seed
        (``Mutator.apply`` alone seeds from the device's random source)."""
        from tvm.s_tir.meta_schedule import _ffi_api

        if not self.mutators:
            return None
        for _ in range(steps):
            mutator = self.mutators[int(self.rng.choice(len(self.mutators), p=self.mutator_probs))]
            try:
                trace = _ffi_api.MutatorApply(mutator, trace, int(self.rng.integers(1, 2**31 - 1))) or trace
            except Exception:  # noqa: BLE001 - a mutation the trace cannot take: keep the trace as it is
                continue
        return trace

    def _replay_all(self, jobs: list[tuple[Trace | None, int]]) -> list[tuple[Schedule | None, int | None]]:
        """Each job replayed (:meth:`_replay`) with its schedule's structural hash, in job order.

        Thread ``i`` replays every ``len(self.modules)``-th job on its own copy of the task, as
        MetaSchedule's evolutionary search does; TVM's calls release the GIL, so they overlap."""
        threads = len(self.modules)
        with ThreadPoolExecutor(threads) as executor:
            parts = list(executor.map(lambda i: [self._replay(self.modules[i], *job) for job in jobs[i::threads]],
                                      range(threads)))
        return [parts[i % threads][i // threads] for i in range(len(jobs))]

    def _replay(self, mod: IRModule, trace: Trace | None, seed: int) -> tuple[Schedule | None, int | None]:
        """A schedule of ``mod`` from ``trace`` (decisions it lacks are sampled from ``seed``) and
        the postprocessors, and its structural hash ((None, None) on failure)."""
        import tvm_ffi

        if trace is None:
            return None, None
        sch = Schedule(mod, seed=seed, debug_mask=0, error_render_level="none")  # TVM's checks stay on
        try:
            trace.apply_to_schedule(sch, remove_postproc=True)
        except Exception:  # noqa: BLE001 - a sampled decision the task cannot take: try another
            return None, None
        sch.enter_postproc()
        if not all(p.apply(sch) for p in self.postprocs):
            return None, None
        return sch, tvm_ffi.structural_hash(sch.mod)

    def _score(self, candidates: list[ms.MeasureCandidate]) -> tuple[np.ndarray, np.ndarray]:
        """The cost model's scores (random without one) and ``spread``'s (zeros without it)."""
        n = len(candidates)
        score = self.rng.random(n) if self.cost_model is None else self.cost_model.predict(self.context, candidates)
        spread = np.zeros(n) if self.spread is None else self.spread(self.context, candidates)
        return np.asarray(score, dtype=np.float64), np.asarray(spread, dtype=np.float64)
