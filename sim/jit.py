"""Compiling the model: numba, with the settings that make the customer loops vectorise.

The customer step, the CRM snapshot, the churn model's scores and the metrics
are numba kernels (`njit`), compiled once per machine and cached beside the
package; the customer mechanisms are scalar rules (`rule`) compiled inline
into the loops that call them. numba is a dependency: there is no second,
numpy implementation. `NUMBA_DISABLE_JIT=1` runs every kernel and rule as
plain Python, which is slow but can be stepped through in a debugger.

Kernels written for it (`njit(simd=True)`) get two compilation settings that
make their loops vectorise (SIMD) where the processor allows it, without
changing a single result (no fast-math: every operation stays IEEE-exact and
in order):

- **no aliasing**: a kernel's array arguments are declared not to overlap
  when one of them is written (LLVM's `noalias`), so the compiler need not
  prove at run time that, say, a table read by index is not the output being
  written. Callers must never pass the same buffer twice to such a kernel
  if it writes one of them (read-only arguments may share a buffer).
- **vector width**: loops are vectorised 16 float32 lanes wide (AVX-512 where
  present; LLVM splits the lanes on narrower hardware). The setting is made
  only while one of these kernels compiles and restored afterwards, so other
  numba code in the process is compiled with the defaults. A forced width
  also lets LLVM reorder a float *reduction* (a float accumulated across
  iterations is summed in vector lanes, then across them): `simd` kernels
  therefore accumulate only integers across rows; float sums that must be in
  customer order stay in plain `njit` kernels.

Both hooks use numba's compiler internals (`_compiler`); if a future numba
lacks them, kernels compile without them: slower, with the same results.

numba's on-disk cache checks only the file a kernel is defined in: a rule
edited in `sim/agents/rules.py` would leave every kernel that inlines it
cached with the old rule. The cache is therefore kept in a folder named after
a fingerprint of the sources a kernel can depend on (`cache_dir`): every module
that imports from `sim.jit` (the kernels and rules) and every package module
those import from (the constants they read), so an edit there compiles afresh
while an edit to the command line or the report does not. A kernel module that
reads a constant through a longer chain of imports must import it directly.
`NUMBA_CACHE_DIR`, when set, is used as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numba as _numba
from llvmlite import binding as _llvm
from numba.extending import overload as _overload

_SIM_IMPORT = re.compile(r"^from (sim(?:\.\w+)*) import ([\w, ()]+)", re.MULTILINE)


def kernel_sources(package: Path) -> list[Path]:
    """The package's sources compiled kernels depend on, in a stable order.

    The modules that import from `sim.jit` and the package modules they import
    from (a `from sim.x import y` names module `sim/x.py` or, when `y` is a
    module, `sim/x/y.py`).
    """
    def module(name: str) -> Path | None:
        base = package.parent.joinpath(*name.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    found: set[Path] = set()
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        imports = _SIM_IMPORT.findall(text)
        if not any(name == "sim.jit" for name, _ in imports) and path.name != "jit.py":
            continue
        found.add(path)
        for name, names in imports:
            for target in [module(name)] + [module(f"{name}.{n.strip()}")
                                            for n in names.strip("()").split(",") if n.strip()]:
                if target is not None:
                    found.add(target)
    return sorted(found)


def cache_dir(package: Path | None = None) -> Path:
    """Where compiled kernels are cached: a folder per fingerprint of the kernels' sources.

    Under `$XDG_CACHE_HOME` (or `~/.cache`) `/retention-lab/numba/<fingerprint>`;
    `package` is this package's folder unless given (tests fingerprint a copy).
    """
    package = package or Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in kernel_sources(package):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "retention-lab" / "numba" / digest.hexdigest()[:16]


if not os.environ.get("NUMBA_CACHE_DIR"):  # before any kernel is declared: numba reads it then
    _numba.config.CACHE_DIR = str(cache_dir())

#: Lanes of the vectorised loops (LLVM's -force-vector-width while our kernels compile).
VECTOR_WIDTH = 16

_compile_lock = threading.RLock()  # kernels compile the kernels they call
_depth = [0]


def _vectorising(dispatcher: Any) -> Any:
    """Compile `dispatcher`'s kernels with noalias arrays and VECTOR_WIDTH lanes."""
    compiler = getattr(dispatcher, "_compiler", None)
    if compiler is None or not hasattr(compiler, "_customize_flags") or not hasattr(compiler, "compile"):
        return dispatcher  # pragma: no cover - numba without these internals
    customize, compile_ = compiler._customize_flags, compiler.compile

    def customize_flags(flags: Any) -> Any:
        flags = customize(flags)
        flags.noalias = True
        return flags

    def compile_vectorised(args: Any, return_type: Any) -> Any:
        with _compile_lock:
            outermost = not _depth[0]
            _depth[0] += 1
            _llvm.set_option("", f"-force-vector-width={VECTOR_WIDTH}")
            try:
                with _llvm_remarks_dropped() if outermost else contextlib.nullcontext():
                    return compile_(args, return_type)
            finally:
                _depth[0] -= 1
                if outermost:  # nested compilations (kernels calling kernels) keep the setting
                    _llvm.set_option("", "-force-vector-width=0")

    compiler._customize_flags = customize_flags
    compiler.compile = compile_vectorised
    return dispatcher


@contextlib.contextmanager
def _llvm_remarks_dropped() -> Iterator[None]:
    """Drop LLVM's "remark: loop not vectorized" lines from standard error while compiling.

    With a forced vector width LLVM remarks on loops it leaves scalar (react's
    compilation prints four such lines although its loop is vectorised). They
    are written by C++ to file descriptor 2, so it is redirected to a file for
    the duration and anything else written meanwhile is passed on.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # pragma: no cover - no file descriptor 2
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            rest = [line for line in captured.read().decode(errors="replace").splitlines(True)
                    if not line.startswith("remark: ")]
            if rest:
                sys.stderr.write("".join(rest))


def njit(fn: Callable[..., Any] | None = None, *, simd: bool = False) -> Any:
    """Compile `fn` with numba (no Python objects, cached on disk).

    With `simd=True` the kernel is compiled with non-aliasing arrays and
    VECTOR_WIDTH lanes: its loops must be written to vectorise (straight-line
    bodies, selects instead of branches, only calls the compiler inlines), or
    they stay scalar.
    """
    if fn is None:
        return lambda f: njit(f, simd=simd)
    dispatcher = _numba.njit(cache=True, nogil=True, error_model="numpy")(fn)
    return _vectorising(dispatcher) if simd else dispatcher


def rule(fn: Callable[..., Any]) -> Any:
    """A scalar rule of the model (`sim.agents.rules`): compiled inline into every loop that calls it.

    Inlined in numba's own representation before types are inferred, so a
    loop of rules is compiled as if written out by hand. A rule can also be
    called from Python (it is then compiled on its own).
    """
    return _numba.njit(inline="always", cache=True, nogil=True, error_model="numpy")(fn)


def by_type(fn: Callable[..., Any]) -> Callable[[Callable[..., Any]], Any]:
    """Compile calls to the rule `fn` as the implementation a chooser returns for the arguments' types.

    The decorated chooser receives numba types in place of the arguments and
    returns the function to compile (inlined like a rule), so a choice such as
    "weekly or not" is made once, when a kernel is compiled, instead of being
    a branch in every iteration of a loop. `fn` itself stays the plain-Python
    rule (what runs with `NUMBA_DISABLE_JIT=1`); the implementations must do
    what it does.
    """
    return _overload(fn, inline="always")


def is_none(numba_type: Any) -> bool:
    """Whether a chooser's argument type (`by_type`) is None's."""
    return isinstance(numba_type, _numba.types.NoneType)
