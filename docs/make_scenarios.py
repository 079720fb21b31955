"""Write docs/scenarios.md from the built-in scenarios: `python docs/make_scenarios.py`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import sim
from sim.loader import builtin_names

OUT = Path(__file__).with_name("scenarios.md")


def render() -> str:
    """The page's text."""
    lines = ["# Built-in scenarios\n",
             "`retention-lab list` lists them, `retention-lab show NAME` prints one to copy and "
             "edit, `retention-lab run NAME` runs it. Each is tested (tests/test_scenarios.py) to "
             "show the effect it is built to teach, with a paired 95 % interval that excludes "
             "zero, at a reduced size (2,500 customers, 6 replications).\n"]
    for n in builtin_names():
        s = sim.load_scenario(n)
        lines.append(f"## `{n}`\n")
        lines.append(textwrap.fill(" ".join(s.description.split()), 88) + "\n")
        for p in s.policies:
            extra = []
            if p.biases:
                extra.append("biases: " + ", ".join(f"{b.kind} {b.strength:g}" for b in p.biases))
            if p.remedies:
                extra.append("remedies: " + ", ".join(r.kind for r in p.remedies))
            lines.append(f"- `{p.name}` — `{p.kind}`" + (f" ({'; '.join(extra)})" if extra else ""))
        ev = ", ".join(f"{e.kind} at {e.at}" for e in s.market.events) or "none"
        lines.append(f"\n{s.population.size:,} customers, {s.horizon} {s.period}s, "
                     f"{s.replications} replications; events: {ev}; baseline "
                     f"`{s.baseline_policy}`.\n")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
