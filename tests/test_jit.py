"""The compiled customer kernels are vectorised (SIMD), as their speed depends on it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Steps a small model, then prints how many packed float32 instructions on 256- or 512-bit
# registers the customer kernels were compiled with.
SCRIPT = r"""
import json, re
from sim.agents import kernels
from sim.loader import load_scenario
from sim.model import RetentionModel

sc = load_scenario("default")
sc = sc.model_copy(update={"population": sc.population.model_copy(update={"size": 300})})
RetentionModel(sc, rng=1).run(2)
counts = {}
for kern in (kernels.react, kernels.experience):  # compiled by the run: the cache was empty
    asm = kern.inspect_asm(kern.signatures[0])
    counts[kern.__name__] = len(re.findall(r"\tv\w+ps\t[^\n]*%[yz]mm", asm))
print(json.dumps(counts))
"""


def _vector_instructions(cache: Path) -> dict[str, int]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="counts x86 vector instructions")
@pytest.mark.skipif("avx2" not in Path("/proc/cpuinfo").read_text(errors="replace")
                    if Path("/proc/cpuinfo").exists() else True, reason="needs AVX2 or wider")
def test_customer_kernels_are_compiled_vectorised(tmp_path):
    # In a fresh process with an empty cache, so the kernels and everything they call are compiled.
    # 16 float32 lanes are at least 256-bit registers: the scalar react has ~150 such instructions
    # (tables, constants), the vectorised one ~400. A clamp written with numba's scalar np.minimum
    # once left react's loop scalar, 4x slower at 10^6 customers.
    counts = _vector_instructions(tmp_path)
    assert counts["react"] >= 250, counts
    assert counts["experience"] >= 200, counts


def test_kernel_cache_follows_the_kernels_sources_only(tmp_path):
    """An edit to a rule compiles afresh; an edit to the command line keeps the cache."""
    import shutil
    from pathlib import Path

    import sim
    from sim.jit import cache_dir, kernel_sources

    package = tmp_path / "sim"
    shutil.copytree(Path(sim.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    names = {p.relative_to(package).as_posix() for p in kernel_sources(package)}
    assert {"agents/rules.py", "agents/kernels.py", "agents/state.py", "crm_kernels.py", "jit.py"} <= names
    assert not {"cli.py", "report.py", "scenario.py"} & names
    before = cache_dir(package)
    (package / "cli.py").write_text((package / "cli.py").read_text() + "\n# an edit\n")
    assert cache_dir(package) == before
    rules = package / "agents" / "rules.py"
    rules.write_text(rules.read_text() + "\n# an edit\n")
    assert cache_dir(package) != before
