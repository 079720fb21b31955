"""`docs/odd.md` describes the model by the ODD protocol, and every reference in it resolves.

The seven elements of ODD (Grimm et al. 2020) are headings; every equation
label it cites ([N1], [Q1], ...) is one of docs/model.md; every code reference
`path.py: name` (or `path.py: Class.method`) names a function or class that
exists in that module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ODD = ROOT / "docs" / "odd.md"
MODEL = ROOT / "docs" / "model.md"

ELEMENTS = (
    "Purpose and patterns",
    "Entities, state variables and scales",
    "Process overview and scheduling",
    "Design concepts",
    "Initiali[sz]ation",
    "Input data",
    "Submodels",
)
DESIGN_CONCEPTS = ("Basic principles", "Emergence", "Adaptation", "Objectives", "Learning", "Prediction",
                   "Sensing", "Interaction", "Stochasticity", "Collectives", "Observation")
#: A code reference: `sim/x/y.py: name` or `sim/x/y.py: Class.method` (it may wrap over a line).
CODE_REF = re.compile(r"`(sim/[\w/]+\.py):\s+([A-Za-z_][\w.]*)`")


def labels(text: str) -> set[str]:
    """Every label inside brackets, the ends of ranges and the members of lists included."""
    found: set[str] = set()
    for m in re.finditer(r"\[([A-Z]\d(?:\s*[,–-]\s*[A-Z]\d)*)\]", text):
        found.update(re.findall(r"[A-Z]\d", m.group(1)))
    return found


def defined(path: Path) -> set[str]:
    """Top-level functions and classes of a module, and `Class.method` for their methods."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(f"{node.name}.{m.name}" for m in node.body
                         if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef))
        if isinstance(node, ast.Assign | ast.AnnAssign):  # module-level names such as METRICS
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


@pytest.fixture(scope="module")
def odd() -> str:
    return ODD.read_text(encoding="utf-8")


def test_the_seven_elements_are_headings_in_order(odd: str) -> None:
    headings = re.findall(r"^## (?:\d+\.\s*)?(.+)$", odd, re.M)
    at = []
    for element in ELEMENTS:
        hits = [i for i, h in enumerate(headings) if re.fullmatch(element, h.strip(), re.I)]
        assert hits, f"docs/odd.md has no heading {element!r}; headings: {headings}"
        at.append(hits[0])
    assert at == sorted(at), "the ODD elements are out of order"


def test_every_design_concept_is_described(odd: str) -> None:
    design = odd.split("## 4. Design concepts", 1)[1].split("\n## ", 1)[0]
    for concept in DESIGN_CONCEPTS:
        assert f"**{concept}.**" in design, concept


def test_every_cited_equation_label_is_in_the_model_page(odd: str) -> None:
    cited = labels(odd)
    known = labels(MODEL.read_text(encoding="utf-8"))
    assert len(cited) >= 30, sorted(cited)
    assert cited <= known, f"labels not in docs/model.md: {sorted(cited - known)}"


def test_every_submodel_names_its_code(odd: str) -> None:
    submodels = odd.split("## 7. Submodels", 1)[1]
    sections = re.split(r"^### ", submodels, flags=re.M)[1:]
    assert len(sections) >= 12
    for section in sections:
        assert "Code:" in section and CODE_REF.search(section), section.splitlines()[0]


def test_every_code_reference_exists(odd: str) -> None:
    refs = CODE_REF.findall(odd.replace("\n", " "))
    assert len(refs) >= 40
    missing = []
    for module, name in refs:
        path = ROOT / module
        if not path.exists() or name not in defined(path):
            missing.append(f"{module}: {name}")
    assert not missing, f"code references that do not exist: {missing}"


def test_the_finders_catch_what_is_wrong() -> None:
    assert labels("see [P1, P2] and [N1]–[G1], not [x1]") == {"P1", "P2", "N1", "G1"}
    assert "CustomerPopulation._welcome" in defined(ROOT / "sim" / "agents" / "customers.py")
    assert "no_such_rule" not in defined(ROOT / "sim" / "agents" / "rules.py")
    assert CODE_REF.findall("`sim/agents/rules.py:\n  nurture`".replace("\n", " ")) == [
        ("sim/agents/rules.py", "nurture")]
