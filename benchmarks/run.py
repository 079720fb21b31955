"""Benchmarks of the engine against the targets of issue 6, measured in one run.

    python benchmarks/run.py [--quick | --full] [--json out.json] [--profile N]

Prints, and writes as JSON:

- customer-steps per second of the full model step (`RetentionModel.step`:
  market events, the manager reading the CRM and deciding, allocation, every
  customer mechanism with word of mouth, metrics and Mesa's DataCollector) for
  N = 10^4, 10^5, 10^6 customers, on one core, with two managers: `uniform`
  (the same decisions as the plain Mesa version's manager) and the default
  scenario's `data_driven` arm (`clv`: a learned churn model scoring every
  customer each period);
- memory: the bytes per customer of the state (columns and network) and the
  peak traced by `tracemalloc` while building the model and stepping it
  (each N in a fresh process), as experiments run a model (`keep_last=False`:
  the figure judged) and as a notebook's model keeps its last CRM view and
  decision for inspection;
- the ratio against the plain Mesa version (`benchmarks/plain_mesa.py`, one
  `mesa.Agent` per customer under a fixed uniform manager) measured in the
  same run, at 10^4 and 10^5: the full step with the uniform manager (the
  same step: the target's ratio), the full step with the learning manager
  (more work than the plain version does), and the customer step alone under
  the same fixed manager;
- each N is timed over whole cycles of 13 periods after 2 warm-up periods:
  the learning manager re-targets every 13 periods and computes its scores
  only then (`Policy.pure_score`), so every timing includes a re-targeting;
- parallel efficiency of replications on 2 workers (`sim.experiment.run`
  with workers=1 vs 2, local processes; the Dask backend too);
- the wall time of a comparison of 4 policies × 30 replications × 20,000
  customers × 104 weeks on 2 workers (run in full with `--full`, otherwise
  extrapolated from fewer replications and said so).

"Customer-steps" counts customers at period 0 (`population.size`) × periods;
the engine also carries the potential customers not yet won (50 % more rows
by default), so rows-steps per second are 1.5 × higher.

BLAS is pinned to one thread so that "one core" means one core. The compiled
kernels are compiled, or loaded from numba's cache, before any timing starts.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from plain_mesa import (  # noqa: E402
    PlainMesaMarket,
    VectorisedMarket,
    benchmark_scenario,
)

from sim.scenario import Scenario  # noqa: E402

TARGETS = {
    "ratio_vs_plain_mesa_1e5": 100.0,
    "customer_steps_per_s_1e6": 10e6,
    "bytes_per_customer": 300.0,
    "parallel_efficiency_2_workers": 0.85,
    "comparison_4x30x20k_104_seconds": 60.0,
}


def machine() -> dict[str, Any]:
    """The machine and software the figures were measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    import mesa

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True, check=False).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "sim"], cwd=HERE,
                                    capture_output=True, text=True, check=False).stdout.strip())
    except OSError:
        commit, dirty = "", False
    return {
        "cpu": model, "cores": os.cpu_count(), "memory_gib": mem,
        "python": platform.python_version(), "numpy": np.__version__,
        "mesa": mesa.__version__, "platform": platform.platform(),
        "git_commit": commit, "sim_modified_since_commit": dirty,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def _say(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- throughput


def full_model(size: int, seed: int = 1, policy: str = "data_driven", keep_last: bool = True):
    """The full model at `size` customers: default scenario plus a `uniform` arm."""
    from sim.model import RetentionModel

    sc = benchmark_scenario(size)
    data = sc.model_dump()
    data["policies"] = [*data["policies"], {"name": "uniform", "kind": "uniform"}]
    return RetentionModel(Scenario.model_validate(data), policy=policy, rng=seed, keep_last=keep_last)


def _timed_steps(make: Callable[[], Any], size: int, steps: int, warmup: int) -> dict[str, Any]:
    """Build a model with `make`, step it `warmup` times, then time `steps` steps (wall and CPU)."""
    t0 = time.perf_counter()
    model = make()
    build = time.perf_counter() - t0
    for _ in range(warmup):
        model.step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.step()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"customers": size, "steps": steps, "build_seconds": build,
            "seconds_per_step": dt / steps, "customer_steps_per_s": size * steps / dt,
            "cpu_seconds_per_step": cpu / steps, "customer_steps_per_cpu_s": size * steps / cpu,
            "model": model}


def throughput(size: int, steps: int, warmup: int = 2, policy: str = "data_driven") -> dict[str, Any]:
    """Customer-steps per second of `RetentionModel.step` at `size` customers.

    The warm-up covers the churn model's first fit, which happens early.
    """
    r = _timed_steps(lambda: full_model(size, policy=policy), size, steps, warmup)
    model = r.pop("model")
    return {**r, "policy": policy, "rows": int(model.customers.n)}


def vectorised_fixed(size: int, steps: int, warmup: int = 1) -> dict[str, Any]:
    """The vectorised customer step under the fixed manager (like for like with plain Mesa)."""
    r = _timed_steps(lambda: VectorisedMarket(benchmark_scenario(size), rng=1), size, steps, warmup)
    del r["model"]
    return r


def plain(size: int, steps: int, warmup: int = 1) -> dict[str, Any]:
    """Customer-steps per second of the plain Mesa version (a few steps, extrapolated)."""
    r = _timed_steps(lambda: PlainMesaMarket(benchmark_scenario(size), rng=1), size, steps, warmup)
    del r["model"]
    return r


# --------------------------------------------------------------------------- memory


def _peak_rss() -> int:
    """Peak resident memory of this process in bytes (VmHWM; reset by exec, unlike maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


#: Periods that take a model past its first re-targeting with a fitted churn model (period 13),
#: the learning manager's busiest period: the warm-up that compiles every kernel, and the
#: periods stepped when measuring memory.
FIRST_CYCLE = 14


def _memory_child(size: int, steps: int, keep_last: bool) -> dict[str, Any]:
    full_model(1_000).run(FIRST_CYCLE)  # the compiled kernels are loaded before measuring
    base_rss = _peak_rss()
    tracemalloc.start()
    model = full_model(size, keep_last=keep_last)
    after_build, build_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(steps):
        model.step()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pop = model.customers
    cols = pop.nbytes  # columns and the segment traits' tables
    nw = pop.network
    net = nw.nbytes  # CSR arrays and the weights of the cached matrix
    rss = _peak_rss()
    return {
        "customers": size, "rows": int(pop.n), "steps": steps, "keep_last": keep_last,
        "state_columns_bytes_per_customer": cols / size,
        "state_network_bytes_per_customer": net / size,
        "state_bytes_per_customer": (cols + net) / size,
        "traced_after_build_bytes_per_customer": after_build / size,
        "traced_build_peak_bytes_per_customer": build_peak / size,
        "traced_peak_bytes_per_customer": peak / size,
        "traced_end_bytes_per_customer": current / size,
        "peak_rss_increase_bytes_per_customer": (rss - base_rss) / size,
    }


def _child(size: int, steps: int, keep_last: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, "--memory-child", str(size), str(steps), str(int(keep_last))]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory(size: int, steps: int) -> dict[str, Any]:
    """Memory per customer, each measured in a fresh process.

    As experiments, sweeps and the command line run a model (nothing kept for
    inspection: the figures judged), plus the peak of a model that keeps its
    last CRM view and decision for inspection (a notebook's default).
    """
    r = _child(size, steps, keep_last=False)
    r["traced_peak_keeping_last_view_bytes_per_customer"] = _child(size, steps, keep_last=True)[
        "traced_peak_bytes_per_customer"]
    return r


# --------------------------------------------------------------------------- replications


def replication_scenario(size: int, horizon: int, replications: int) -> Scenario:
    """The default comparison (data-driven vs biased manager) at a given size."""
    sc = benchmark_scenario(size, horizon)
    return sc.model_copy(update={"replications": replications})


def four_policy_scenario(size: int = 20_000, horizon: int = 104,
                         replications: int = 30) -> Scenario:
    """4 policies: data-driven, the default biased manager, uniform and CLV."""
    sc = replication_scenario(size, horizon, replications)
    data = sc.model_dump()
    data["policies"] = [*data["policies"], {"name": "uniform", "kind": "uniform"},
                        {"name": "clv", "kind": "clv"}]
    return Scenario.model_validate(data)


def timed_run(sc: Scenario, workers: int, backend: str = "local") -> float:
    """Wall time of `sim.experiment.run`."""
    from sim.experiment import run

    t0 = time.perf_counter()
    run(sc, workers=workers, backend=backend)
    return time.perf_counter() - t0


def parallel(size: int, horizon: int, replications: int, dask: bool) -> dict[str, Any]:
    """Parallel efficiency of replications: T(1 worker) / (2 × T(2 workers))."""
    sc = replication_scenario(size, horizon, replications)
    t1 = timed_run(sc, 1)
    t2 = timed_run(sc, 2)
    out = {"customers": size, "horizon": horizon, "replications": replications,
           "policies": len(sc.policies), "seconds_1_worker": t1, "seconds_2_workers": t2,
           "efficiency_2_workers": t1 / (2 * t2)}
    if dask:
        try:
            td = timed_run(sc, 2, backend="dask")
        except ImportError as exc:
            out["dask"] = f"not measured: {exc}"
        else:
            out["seconds_2_dask_workers"] = td
            out["efficiency_2_dask_workers"] = t1 / (2 * td)
    return out


def comparison(replications: int) -> dict[str, Any]:
    """Wall time of 4 policies × R replications × 20k customers × 104 weeks on 2 workers."""
    sc = four_policy_scenario(replications=replications)
    dt = timed_run(sc, 2)
    est = dt * 30 / replications
    return {"policies": 4, "replications_run": replications, "customers": 20_000,
            "horizon": 104, "workers": 2, "seconds": dt, "seconds_for_30_replications": est,
            "extrapolated": replications != 30}


# --------------------------------------------------------------------------- profile


def profile(size: int, steps: int, top: int = 25) -> list[dict[str, Any]]:
    """cProfile of `RetentionModel.step` at `size`: the top functions by own time."""
    model = full_model(size)
    for _ in range(3):
        model.step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        model.step()
    prof.disable()
    st = pstats.Stats(prof)
    total = st.total_tt
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _) in st.stats.items():
        rows.append({"function": f"{Path(file).name}:{line}({fn})", "calls": nc,
                     "own_seconds": tt, "cumulative_seconds": ct, "own_share": tt / total})
    rows.sort(key=lambda r: -r["own_seconds"])
    return rows[:top]


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmarks, print them and write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer steps, ~1 minute")
    mode.add_argument("--full", action="store_true",
                      help="also run the 4×30×20k×104 comparison in full (minutes)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--profile", type=int, metavar="N", help="also profile the step at N")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask backend")
    args = ap.parse_args(argv)

    res: dict[str, Any] = {"machine": machine(), "load_average_at_start": os.getloadavg(),
                           "mode": (
        "quick" if args.quick else "full" if args.full else "default"), "targets": TARGETS}
    m = res["machine"]
    _say(f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
         f"Python {m['python']}, numpy {m['numpy']}, Mesa {m['mesa']}")

    # Whole cycles of 13 periods: the learning manager re-targets (and scores) once in 13.
    sizes = {10_000: 26, 100_000: 13, 1_000_000: 13}
    if args.quick:
        sizes = {10_000: 13, 100_000: 13, 1_000_000: 13}
    res["compiled"] = True  # numba is a dependency: there is no other path
    for policy in ("uniform", "data_driven"):  # compile or load the kernels before timing anything,
        full_model(1_000, policy=policy).run(FIRST_CYCLE)
    res["throughput"] = []
    res["throughput_uniform"] = []
    for policy, key in (("uniform", "throughput_uniform"), ("data_driven", "throughput")):
        what = "the same decisions as plain Mesa" if policy == "uniform" else "clv: learned churn model"
        _say(f"\nFull step, {policy} manager ({what}), one core:")
        for n, k in sizes.items():
            r = throughput(n, k, policy=policy)
            res[key].append(r)
            _say(f"  N={n:>9,}: {r['customer_steps_per_s'] / 1e6:7.2f} M customer-steps/s "
                 f"({r['seconds_per_step'] * 1e3:8.1f} ms/step; per CPU-second "
                 f"{r['customer_steps_per_cpu_s'] / 1e6:.2f} M; {r['rows']:,} rows; "
                 f"build {r['build_seconds']:.2f} s)")

    _say("\nMemory per customer (fresh process each; tracemalloc):")
    res["memory"] = []
    for n in sizes:
        r = memory(n, FIRST_CYCLE)
        res["memory"].append(r)
        _say(f"  N={n:>9,}: state {r['state_bytes_per_customer']:6.0f} B "
             f"(columns {r['state_columns_bytes_per_customer']:.0f}, network "
             f"{r['state_network_bytes_per_customer']:.0f}); peak while building "
             f"{r['traced_build_peak_bytes_per_customer']:6.0f} B; peak while stepping "
             f"{r['traced_peak_bytes_per_customer']:6.0f} B (keeping the last view for inspection "
             f"{r['traced_peak_keeping_last_view_bytes_per_customer']:.0f} B); max RSS increase "
             f"{r['peak_rss_increase_bytes_per_customer']:6.0f} B")

    _say("\nAgainst plain Mesa (one mesa.Agent per customer, fixed uniform manager):")
    plain_sizes = {10_000: (3 if args.quick else 5)}
    if not args.quick:
        plain_sizes[100_000] = 2
    res["plain_mesa"] = []
    for n, k in plain_sizes.items():
        p = plain(n, k)
        v = vectorised_fixed(n, 10 if n <= 10_000 else 5)
        full = next(r for r in res["throughput"] if r["customers"] == n)
        same = next(r for r in res["throughput_uniform"] if r["customers"] == n)
        pv = p["customer_steps_per_s"]
        row = {
            "customers": n, "plain": p, "vectorised_fixed_manager": v,
            "ratio_full_step_same_manager": same["customer_steps_per_s"] / pv,
            "ratio_full_step_learning_manager": full["customer_steps_per_s"] / pv,
            "ratio_customer_step_fixed_manager": v["customer_steps_per_s"] / pv,
            "ratio_full_step_same_manager_cpu": (same["customer_steps_per_cpu_s"]
                                                 / p["customer_steps_per_cpu_s"]),
            "note": (f"plain Mesa timed over {k} steps after 1 warm-up step and extrapolated "
                     "per customer-step"),
        }
        res["plain_mesa"].append(row)
        _say(f"  N={n:>9,}: plain Mesa {pv / 1e3:7.1f} k customer-steps/s "
             f"({k} steps timed, build {p['build_seconds']:.1f} s) → full step, same manager "
             f"{row['ratio_full_step_same_manager']:6.1f}×; full step, learning manager "
             f"{row['ratio_full_step_learning_manager']:6.1f}×; customer step alone "
             f"{row['ratio_customer_step_fixed_manager']:6.1f}×")

    _say("\nParallel efficiency of replications (default comparison, 2 policies):")
    if args.quick:
        par = parallel(5_000, 52, 4, dask=not args.no_dask)
    else:
        par = parallel(20_000, 104, 8, dask=not args.no_dask)
    res["parallel"] = par
    _say(f"  {par['replications']} replications × {par['policies']} policies × "
         f"{par['customers']:,} customers × {par['horizon']} periods: 1 worker "
         f"{par['seconds_1_worker']:.1f} s, 2 workers {par['seconds_2_workers']:.1f} s → "
         f"efficiency {par['efficiency_2_workers']:.0%}")
    if "efficiency_2_dask_workers" in par:
        _say(f"  Dask LocalCluster, 2 workers: {par['seconds_2_dask_workers']:.1f} s → "
             f"efficiency {par['efficiency_2_dask_workers']:.0%}")

    reps = 30 if args.full else (2 if args.quick else 4)
    _say(f"\n4 policies × 30 replications × 20,000 customers × 104 weeks, 2 workers"
         f"{'' if reps == 30 else f' (run with {reps} replications, extrapolated)'}:")
    cmp_ = comparison(reps)
    res["comparison"] = cmp_
    _say(f"  {cmp_['seconds']:.1f} s for {reps} replications → "
         f"{cmp_['seconds_for_30_replications']:.0f} s for 30")

    if args.profile:
        _say(f"\nProfile of the full step at N={args.profile:,} (own time):")
        prof = profile(args.profile, 5)
        res["profile"] = {"customers": args.profile, "steps": 5, "top": prof}
        for r in prof[:15]:
            _say(f"  {r['own_share']:6.1%} {r['own_seconds']:7.3f} s  {r['function']}")

    thr6 = next(r for r in res["throughput"] if r["customers"] == 1_000_000)
    mem6 = next(r for r in res["memory"] if r["customers"] == 1_000_000)
    ratio5 = next((r["ratio_full_step_same_manager"] for r in res["plain_mesa"]
                   if r["customers"] == 100_000), None)
    achieved = {
        "ratio_vs_plain_mesa_1e5": ratio5,
        "customer_steps_per_s_1e6": thr6["customer_steps_per_s"],
        "bytes_per_customer": mem6["traced_peak_bytes_per_customer"],
        "parallel_efficiency_2_workers": par["efficiency_2_workers"],
        "comparison_4x30x20k_104_seconds": cmp_["seconds_for_30_replications"],
    }
    res["achieved"] = achieved
    res["load_average_at_end"] = os.getloadavg()
    if max(*res["load_average_at_start"], *res["load_average_at_end"]) > (os.cpu_count() or 1):
        _say(f"\nWARNING: the machine was busy (load average {res['load_average_at_start']} at "
             f"start, {res['load_average_at_end']} at end, {os.cpu_count()} cores): wall-clock "
             "figures are pessimistic; per-CPU-second figures are the better guide.")
    _say("\nTargets (issue 6):")
    for key, target in TARGETS.items():
        got = achieved[key]
        if got is None:
            _say(f"  {key}: not measured in this mode (target {target:g})")
            continue
        lower_is_better = key in ("bytes_per_customer", "comparison_4x30x20k_104_seconds")
        ok = got <= target if lower_is_better else got >= target
        _say(f"  {key}: {got:,.3g} (target {'≤' if lower_is_better else '≥'} {target:,.3g}) "
             f"{'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
        _say(f"\nWrote {args.json}")
    return res


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-child":
        print(json.dumps(_memory_child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")))
    else:
        main()
