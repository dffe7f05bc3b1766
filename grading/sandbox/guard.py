"""Runtime integrity of grade cells: the kernel side (``install``) and the driver side (``proof``).

Student code runs in the same Python process as the kernel that later runs the instructor's
test cells, so it can change how those cells run without touching their saved source:
input/AST transformers that rewrite them, ``pre_run_cell``/``post_run_cell`` callbacks,
a replaced ``run_cell``/``transform_cell``/``do_execute``, ``sys.settrace`` jumping over
asserts, patched builtins or ``labchain``/``numpy`` functions, a custom exception handler.

``install(kernel, key)`` runs in the kernel after ``IPKernelApp.initialize`` and before the
kernel reads its first message, i.e. before any student code exists. It snapshots the
pristine state (``Snapshot``) and wraps ``kernel.do_execute``. For an ``execute_request``
that the driver marked as a grade cell (content key ``MARK``) the wrapper:

1. restores everything that differs from the snapshot, and reports it (``found``);
2. runs the cell with the pristine ``IPythonKernel.do_execute`` (not the instance's), so
   the code that runs is exactly the code received;
3. checks again after the cell: a change made *while the test ran* (by a student function
   the test called, a thread, a finaliser) is restored too and turns the cell's result into
   an error (``TamperedRuntime``), since the test may have run with it;
4. adds ``{"proof", "found"}`` to the reply: an HMAC, with the per-submission ``key`` the
   driver sent through the zygote, of the request's msg_id, the SHA-256 of the code run,
   the status and the error name.

The driver (``grading.sandbox.kernel.SandboxClient``) checks the proof of every grade cell
against the code it sent. A missing or wrong proof (``do_execute`` or the message handlers
replaced, the mark stripped, the code rewritten on the way, the status edited after the
guard) fails that cell. Anything found becomes the ``tampered-runtime`` flag.

The notebook's global names (the user namespace) are covered too (``Scope``): a grade cell
runs in a fresh copy of the namespace, so a student function the test calls that rebinds a
global (``globals()[...] = ...``, a ``global`` statement) changes the notebook's namespace,
not the one the test looks its names up in; such a rebinding of a name the test bound is
reported. Names an instructor cell bound (a setup cell the driver marks ``SETUP``, or a
grade cell) are put back into that copy as the instructor cell bound them, so student code
between cells cannot swap a name a later test uses (``H = FakeHashlib`` after the setup
cell's ``import hashlib as H``).

Behind the guard's back (``_Watch``, an audit hook): while the test's code runs the shell
shows the notebook's namespace, not the test's (``get_ipython().user_ns`` leads a student
function to the notebook's names); student code that takes a frame (``sys._getframe``,
``inspect``, ``tb_frame``...), searches the heap (``gc``) or uses ``ctypes`` while a test
runs fails that test; a method a student put on an instructor's object is removed.

What this does not stop (see docs/grading-sandbox.md, "What is and is not covered"): code
that attacks the guard itself (its closure, the hook's state, the key in its memory, via
``gc`` between tests or ``ctypes``), code that fakes a library file name, and mutation of a
shared object in place (a list the test and the student both hold); test cells must use
references they take themselves and type-exact comparisons.
"""
from __future__ import annotations

import ast
import builtins
import gc
import hashlib
import hmac
import os
import sys
import threading
import types
from typing import Any

#: content key of an execute_request the driver wants guarded (a grade cell)
MARK = "labchain_guard"
#: value of ``MARK`` on a locked instructor cell that is not a grade cell (a setup cell)
SETUP = "setup"
#: error name of a grade cell whose runtime was changed while it ran
TAMPERED = "TamperedRuntime"
#: modules whose attributes (and, for labchain and numpy.testing, classes) tests rely on;
#: imported by the guard at install (free: the zygote preloads them)
PROTECTED = ("builtins", "labchain", "labchain.errors", "labchain.crypto", "labchain.params",
             "labchain.encoding", "labchain.merkle", "labchain.tx", "labchain.block",
             "labchain.difficulty", "labchain.chain", "labchain.miner", "labchain.wallet",
             "labchain.node", "labchain.testnet", "numpy", "numpy.testing", "math", "cmath",
             "operator", "hashlib", "hmac", "json", "re", "functools", "itertools",
             "collections", "decimal", "fractions", "random", "types", "copy", "os", "posixpath", "ast",
             "grading.sandbox.guard")
#: a module whose name starts with one of these is protected (its attributes restored)
PROTECTED_PREFIXES = ("labchain.", "numpy.testing")
#: packages whose functions may be event callbacks (matplotlib_inline's flush, autoreload)
TRUSTED_CALLBACK_PACKAGES = ("IPython", "ipykernel", "matplotlib_inline", "matplotlib")
_MISSING = object()


def proof(key: bytes, msg_id: str, code: str, status: str, ename: str) -> str:
    """What the guard puts in the reply of a grade cell, and what the driver checks."""
    digest = hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()
    return hmac.new(key, f"{msg_id}\n{digest}\n{status}\n{ename}".encode(), "sha256").hexdigest()


def _protected_names() -> list[str]:
    for name in PROTECTED:
        try:
            __import__(name)
        except Exception:   # a bare image without numpy: nothing to protect there
            pass
    return [n for n in sys.modules if n in PROTECTED or n.startswith(PROTECTED_PREFIXES)]


def _mro_classes(*objects: Any) -> list[type]:
    seen: dict[int, type] = {}
    for obj in objects:
        for cls in type(obj).__mro__ if not isinstance(obj, type) else obj.__mro__:
            if cls is not object and not _is_static(cls):
                seen.setdefault(id(cls), cls)
    return list(seen.values())


def _is_static(cls: type) -> bool:
    """C types that cannot be patched (``setattr`` raises): nothing to check."""
    return not (cls.__flags__ & (1 << 9))   # Py_TPFLAGS_HEAPTYPE


class Snapshot:
    """The pristine state, taken before any student code runs, and the check that restores it.

    Everything is compared by identity (``is``), never with ``==``: a student object's
    ``__eq__`` never runs during a check."""

    def __init__(self, kernel: Any) -> None:
        shell = kernel.shell
        self.kernel, self.shell = kernel, shell
        self.sys_modules = {n: sys.modules[n] for n in _protected_names()}
        self.modules = {n: dict(vars(m)) for n, m in self.sys_modules.items()}
        self.paths = {n: tuple(m.__path__) for n, m in self.sys_modules.items()
                      if isinstance(getattr(m, "__path__", None), list)}
        self.roots = {n: os.path.dirname(os.path.realpath(m.__file__))
                      for n, m in self.sys_modules.items()
                      if "." not in n and getattr(m, "__path__", None) and getattr(m, "__file__", None)}
        from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult
        tm = shell.input_transformer_manager
        objects = [shell, kernel, tm, shell.compile, shell.events, shell.displayhook,
                   shell.display_pub, kernel.session, sys.stdout, sys.stderr,
                   ExecutionInfo, ExecutionResult]
        classes = _mro_classes(*objects, Snapshot, Scope, _Watch)
        for name in self.sys_modules:   # Python classes of labchain and numpy.testing
            if name.startswith(PROTECTED_PREFIXES) or name == "labchain":
                classes += [v for v in self.modules[name].values() if isinstance(v, type)
                            and v.__module__ == name and not _is_static(v)]
        self.classes = {id(c): (c, dict(vars(c))) for c in classes}
        self.attrs = {(obj, name): getattr(obj, name) for obj, names in (
            (shell, ("user_ns", "user_module", "user_global_ns", "compile", "input_transformer_manager",
                     "events", "displayhook", "display_pub", "ast_transformers",
                     "input_transformers_post", "custom_exceptions", "CustomTB")),
            (kernel, ("shell", "session", "shell_handlers", "do_execute")),
            (tm, ("cleanup_transforms", "line_transforms", "token_transformers")),
            (shell.events, ("callbacks",))) for name in names}
        self.instance_keys = {id(obj): (obj, set(vars(obj))) for obj in (shell, kernel, tm)}
        self.lists = {id(v): (v, list(v)) for v in (
            shell.ast_transformers, shell.input_transformers_post, tm.cleanup_transforms,
            tm.line_transforms, tm.token_transformers, sys.meta_path, sys.path_hooks,
            gc.callbacks)}
        self.dicts = {id(d): (d, dict(d)) for d in (kernel.shell_handlers,)}
        self.events = {e: list(cbs) for e, cbs in shell.events.callbacks.items()}
        self.trusted_ids = {id(f) for _, d in self.classes.values() for f in d.values()}
        self.trusted_ids |= {id(f) for d in self.modules.values() for f in d.values()}
        for cbs in self.events.values():
            self.trusted_ids |= {id(_function_of(cb)) for cb in cbs}
        self.builtins_module = builtins

    # -- the check -------------------------------------------------------------------------
    def restore(self) -> list[str]:
        """Put back everything that differs from the snapshot; say what was changed."""
        return self._restore_own_state() + self._restore_classes() + self._restore_rest()

    def _restore_rest(self) -> list[str]:
        found: list[str] = []
        if sys.gettrace() is not None:
            sys.settrace(None)
            found.append("sys.settrace was set")
        if sys.getprofile() is not None:
            sys.setprofile(None)
            found.append("sys.setprofile was set")
        if getattr(threading, "_trace_hook", None) or getattr(threading, "_profile_hook", None):
            threading.settrace(None)    # type: ignore[arg-type]
            threading.setprofile(None)  # type: ignore[arg-type]
            found.append("threading.settrace/setprofile was set")
        for (obj, name), value in self.attrs.items():
            if getattr(obj, name, _MISSING) is not value:
                setattr(obj, name, value)
                found.append(f"{type(obj).__name__}.{name} was replaced")
        for obj, keys in self.instance_keys.values():
            for name in set(vars(obj)) - keys:
                if callable(getattr(type(obj), name, None)):   # an instance-level method override
                    delattr(obj, name)
                    found.append(f"{type(obj).__name__}.{name} was overridden")
        for lst, items in self.lists.values():
            if len(lst) != len(items) or any(a is not b for a, b in zip(lst, items)):
                lst[:] = items
                found.append(f"a hook list was changed ({_list_name(self, lst)})")
        for d, items in self.dicts.values():
            if d.keys() != items.keys() or any(d[k] is not v for k, v in items.items()):
                d.clear()
                d.update(items)
                found.append("the kernel's message handlers were replaced")
        found += self._restore_events()
        found += self._restore_modules()
        ns = self.shell.user_ns
        if ns.get("__builtins__", _MISSING) is not self.builtins_module:
            ns["__builtins__"] = self.builtins_module
            found.append("__builtins__ of the notebook was replaced")
        return found

    def _restore_own_state(self) -> list[str]:
        """Builtins and this module's globals first, with dict methods only (C code no
        student can patch), so that the rest of the check runs with pristine names."""
        found = []
        for name in ("builtins", __name__):
            pristine, current = self.modules.get(name), vars(self.sys_modules.get(name, builtins))
            if pristine is not None:
                changed = [k for k, v in pristine.items() if current.get(k, _MISSING) is not v]
                if changed:
                    current.update(pristine)
                    found.append(f"{name}.{', '.join(sorted(changed)[:5])} was patched")
        return found

    def _restore_events(self) -> list[str]:
        found = []
        callbacks = self.shell.events.callbacks
        for event, pristine in self.events.items():
            current = callbacks.setdefault(event, [])
            keep = [cb for cb in current if self._trusted_callback(cb)]
            keep += [cb for cb in pristine if not any(cb is k for k in keep)]
            if len(keep) != len(current) or any(a is not b for a, b in zip(keep, current)):
                dropped = [cb for cb in current if not any(cb is k for k in keep)]
                current[:] = keep
                if dropped:
                    found.append(f"a {event!r} event callback was registered")
        return found

    def _trusted_callback(self, cb: Any) -> bool:
        """A pristine callback, or a function of IPython/matplotlib_inline found under its
        own name in its own (genuine) module: what ``%matplotlib inline``/autoreload add."""
        fn = _function_of(cb)
        if id(fn) in self.trusted_ids:
            return True
        module = sys.modules.get(getattr(fn, "__module__", None) or "")
        if module is None or not module.__name__.startswith(TRUSTED_CALLBACK_PACKAGES):
            return False
        target: Any = module
        for part in getattr(fn, "__qualname__", "").split("."):
            target = vars(target).get(part, _MISSING) if hasattr(target, "__dict__") else _MISSING
        return _function_of(target) is fn and self._genuine(module.__name__, module)

    def _genuine(self, name: str, module: Any) -> bool:
        """A real module loaded from its package's own directory (read-only in the sandbox)."""
        root = self.roots.get(name.split(".")[0])
        if type(module) is not types.ModuleType:
            return False
        if root is None:   # a trusted package not snapshotted (matplotlib_inline): its file
            return bool(getattr(module, "__file__", None)) and "site-packages" in module.__file__
        path = getattr(module, "__file__", None)
        return bool(path) and os.path.realpath(path).startswith(root + os.sep)

    def _restore_modules(self) -> list[str]:
        found = []
        for name, module in self.sys_modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                found.append(f"sys.modules[{name!r}] was replaced")
        for name in [n for n in list(sys.modules) if n.startswith(PROTECTED_PREFIXES)
                     and n not in self.sys_modules]:
            if not self._genuine(name, sys.modules[name]):
                del sys.modules[name]
                found.append(f"a fake module {name!r} was put in sys.modules")
        for name, pristine in self.modules.items():
            d = vars(self.sys_modules[name])
            changed = [k for k, v in pristine.items() if d.get(k, _MISSING) is not v]
            for key in changed:
                d[key] = pristine[key]
            if changed:
                found.append(f"{name}.{', '.join(sorted(changed)[:5])} was patched")
        for name, path in self.paths.items():
            current = self.sys_modules[name].__path__
            if tuple(current) != path:
                current[:] = path
                found.append(f"{name}.__path__ was changed")
        return found

    def _restore_classes(self) -> list[str]:
        found = []
        for cls, pristine in self.classes.values():
            d = vars(cls)
            changed = [k for k, v in pristine.items() if d.get(k, _MISSING) is not v]
            added = [k for k in d if k not in pristine]
            for key in changed:
                type.__setattr__(cls, key, pristine[key])
            for key in added:
                type.__delattr__(cls, key)
            if changed or added:
                found.append(f"{cls.__qualname__}.{', '.join(sorted(changed + added)[:5])} was patched")
        return found


#: audit events that hand Python code a frame, or any object of the heap (the test's globals)
FRAME_EVENTS = ("sys._getframe", "sys._current_frames", "sys._current_exceptions",
                "gc.get_referrers", "gc.get_referents", "gc.get_objects")
#: attributes whose read is audited (``object.__getattr__``) because they lead to a frame
FRAME_ATTRS = ("tb_frame", "gi_frame", "cr_frame", "ag_frame")
_WATCHED = frozenset(FRAME_EVENTS + ("compile", "exec", "object.__getattr__"))


class _Watch:
    """The guard's audit hook (``sys.addaudithook``: it cannot be removed once added).

    While a grade cell runs it does two things:

    - it keeps the test's namespace out of the shell: IPython reads ``shell.user_ns`` just
      before each ``exec`` of the cell's code, so the shell points at the test's fresh
      namespace from the moment IPython compiles the cell (a ``compile`` event from IPython's
      compiler with no student frame on the stack) until that ``exec`` starts (the ``exec``
      event from ``InteractiveShell.run_code``), and at the notebook's namespace while the test
      runs: ``get_ipython().user_ns``/``user_module`` then lead a student function to the
      notebook's names, not to those the test looks up;
    - it records student code that takes a frame (``sys._getframe``, ``inspect.currentframe``,
      ``tb_frame``, ``gi_frame``...) or searches the heap (``gc.get_referrers``...) or uses
      ``ctypes`` while the test runs: frames lead to the test's globals and cannot be hidden,
      so the test's result is not trusted (the cell fails with ``TamperedRuntime``).

    "Student code" is a frame of the notebook's namespace that no instructor cell compiled,
    or code whose file is not under the installation's prefixes (the read-only site-packages,
    the standard library, labchain and grading). The immediate caller decides (``inspect``'s
    frame functions are looked through): the standard library taking frames on a student's
    behalf (``warnings``, ``logging``, ``traceback``) is not an alarm.
    """

    __slots__ = ("shell", "mode", "seen", "fresh", "scope", "main_module", "main_ns", "trusted_files",
                 "busy", "compile_codes", "run_code", "prefixes", "inspect_file")

    def __init__(self, shell: Any) -> None:
        import codeop
        import inspect
        from IPython.core.compilerop import CachingCompiler
        from IPython.core.interactiveshell import InteractiveShell
        self.shell, self.mode, self.seen = shell, "", []
        self.fresh = self.scope = self.main_module = self.main_ns = None
        self.trusted_files: set[str] = set()
        self.busy: set[int] = set()
        self.compile_codes = (codeop.Compile.__call__.__code__, CachingCompiler.ast_parse.__code__)
        self.run_code = InteractiveShell.run_code.__code__
        roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
        for name in ("labchain", "grading", "IPython", "ipykernel"):
            module = sys.modules.get(name)
            if getattr(module, "__file__", None):
                roots.add(os.path.dirname(os.path.realpath(module.__file__)))   # the package's own dir
        self.prefixes = tuple(os.path.join(r, "") for r in roots) + ("<frozen ",)
        self.inspect_file = inspect.__file__

    def enter(self, state: tuple[Any, ...]) -> None:
        self.main_module, self.main_ns, self.scope = state[0], state[1], state[2]
        self.fresh, self.seen, self.mode = self.shell.user_module, [], "grade"

    def audit(self, event: str, args: tuple) -> None:
        if not self.mode or event not in _WATCHED and not event.startswith("ctypes."):
            return
        me = threading.get_ident()
        if me in self.busy:     # the hook's own sys._getframe
            return
        self.busy.add(me)
        try:
            self._event(event, args)
        except Exception:       # never let the hook break what it watches
            pass
        finally:
            self.busy.discard(me)

    def _student(self, frame: Any) -> bool:
        g, name = frame.f_globals, frame.f_code.co_filename
        if g is self.scope:
            return False
        if g is self.main_ns:
            return name not in self.trusted_files
        return not name.startswith(self.prefixes)

    def _event(self, event: str, args: tuple) -> None:
        caller = sys._getframe(2)   # _event <- audit <- the audited C function's Python caller
        grade = self.mode == "grade"
        if event == "compile":
            if caller.f_code in self.compile_codes and not self._student_on_stack(caller):
                if type(args[1]) is str:
                    self.trusted_files.add(args[1])
                if grade:
                    self.shell.user_module, self.shell.user_ns = self.fresh, self.scope
            return
        if not grade:
            return
        if event == "exec":
            if caller.f_code is self.run_code:
                self.shell.user_module, self.shell.user_ns = self.main_module, self.main_ns
            return
        if event == "object.__getattr__":
            if len(args) < 2 or args[1] not in FRAME_ATTRS:
                return
            what = f"{type(args[0]).__name__}.{args[1]}"
        elif event in FRAME_EVENTS or event.startswith("ctypes."):
            what = event
        else:
            return
        if event.startswith("ctypes."):
            taken = self._student_on_stack(caller)
        else:
            while caller is not None and caller.f_code.co_filename == self.inspect_file:
                what = f"inspect.{caller.f_code.co_name} ({what})"
                caller = caller.f_back
            taken = caller is not None and self._student(caller)
        if taken and len(self.seen) < 5:
            self.seen.append(f"student code called {what}")

    def _student_on_stack(self, frame: Any) -> bool:
        while frame is not None:
            if self._student(frame):
                return True
            frame = frame.f_back
        return False


def _function_of(cb: Any) -> Any:
    return getattr(cb, "__func__", cb)


def _list_name(snap: Snapshot, lst: list) -> str:
    shell, tm = snap.shell, snap.shell.input_transformer_manager
    names = {id(shell.ast_transformers): "ast_transformers",
             id(shell.input_transformers_post): "input_transformers_post",
             id(tm.cleanup_transforms): "input_transformers_cleanup",
             id(tm.line_transforms): "line transforms", id(tm.token_transformers): "token transformers",
             id(sys.meta_path): "sys.meta_path", id(sys.path_hooks): "sys.path_hooks",
             id(gc.callbacks): "gc.callbacks"}
    return names.get(id(lst), "?")


class Scope:
    """The notebook's names as instructor cells bound them, and the fresh namespace a grade
    cell runs in (see the module docstring). Identity comparisons only."""

    #: names IPython itself rebinds on every cell (output history): never trusted
    VOLATILE = ("_", "__", "___", "_i", "_ii", "_iii", "_oh", "_dh", "In", "Out", "exit", "quit")

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.trusted: dict[str, Any] = {}
        #: name -> (object, its instance attribute names) of trusted objects with a __dict__
        self.instances: dict[str, tuple[Any, set[str]]] = {}

    def _trusts(self, name: str) -> bool:
        return not (name in self.VOLATILE or name.startswith(("_i", "_o")) and name[2:].isdigit()
                    or name.startswith("_") and name[1:].isdigit())

    def record(self, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        """What an instructor cell bound (new or rebound names): trusted from now on."""
        bound = {k: v for k, v in after.items() if before.get(k, _MISSING) is not v and self._trusts(k)}
        self.trusted.update({k: _plain_copy(v) for k, v in bound.items()})
        for name, value in bound.items():
            attrs = getattr(value, "__dict__", None)
            if type(attrs) is dict and not isinstance(value, (type, types.ModuleType, types.FunctionType)):
                self.instances[name] = (value, set(attrs))
            else:
                self.instances.pop(name, None)
        return bound

    def restore_instances(self) -> list[str]:
        """A method a student put on an instructor's object (``checker.ok = lambda x: True``:
        an instance attribute shadowing a method of its class) is removed before the test."""
        found = []
        for name, (obj, keys) in self.instances.items():
            if self.trusted.get(name, _MISSING) is not obj:
                continue
            attrs = vars(obj)
            for key in [k for k in attrs if k not in keys]:
                if callable(getattr(type(obj), key, None)):
                    del attrs[key]
                    found.append(f"{name}.{key} was overridden on the instance")
        return found

    def trust_setup(self, before: dict[str, Any], own: set[str]) -> None:
        """After a setup cell (which runs in the notebook's namespace: the functions it
        defines must see later names): only the names its own statements bind become
        trusted, not what a student function it called wrote into ``globals()``."""
        ns = self.shell.user_ns
        self.record(before, {k: v for k, v in ns.items() if k in own})
        for name in own & set(before):   # `del` in the setup cell: no longer trusted
            if name not in ns:
                self.trusted.pop(name, None)

    def enter_grade(self) -> tuple[Any, ...]:
        """Swap in a fresh copy of the namespace with the trusted names put back."""
        shell = self.shell
        main_module, main_ns = shell.user_module, shell.user_ns
        fresh = types.ModuleType(getattr(main_module, "__name__", "__main__"))
        scope = fresh.__dict__
        scope.update(main_ns)
        scope.update({k: _plain_copy(v) for k, v in self.trusted.items()})
        shell.user_module, shell.user_ns = fresh, scope
        return main_module, main_ns, scope, dict(scope), dict(main_ns)

    def leave_grade(self, state: tuple[Any, ...]) -> list[str]:
        """(The namespace is swapped back and the runtime restored already.) Copy what the
        test bound back to the notebook; report trusted or test-bound names that student
        code rebound in the notebook's namespace while the test ran."""
        _, main_ns, scope, start, before = state
        bound = self.record(start, scope)
        for name in [k for k in self.trusted if k not in scope]:   # the test's own `del`
            del self.trusted[name]
        watched = set(self.trusted) | set(bound)
        rebound = sorted(k for k in watched if main_ns.get(k, _MISSING) is not before.get(k, _MISSING))
        main_ns.update({k: v for k, v in scope.items() if start.get(k, _MISSING) is not v})
        for name in [k for k in start if k not in scope]:
            main_ns.pop(name, None)
        return [f"the notebook's global {name!r} was rebound while the test ran"
                for name in rebound[:5]]


_PLAIN_ATOMS = (str, int, float, bool, bytes, type(None))
_PLAIN_CONTAINERS = (dict, list, tuple, set, frozenset)
_PLAIN_MAX = 10_000     # elements: a bigger value is trusted by identity only


def _plain_copy(value: Any) -> Any:
    """A private deep copy of plain data (type-exact dict/list/tuple/set of str, int, float,
    bool, bytes, None, up to ``_PLAIN_MAX`` elements), so that mutating a trusted value in
    place (``REORG["fork"] = ...``) does not reach the next test; anything else (a live
    testnet handle, a student's object) is kept as it is. Runs no code of the value's: type
    checks are exact and keys are plain atoms."""
    budget = [_PLAIN_MAX]

    def copy(v: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > 20:
            raise ValueError
        t = type(v)
        if t in _PLAIN_ATOMS:
            return v
        if t is dict:
            if not all(type(k) in _PLAIN_ATOMS for k in v):
                raise ValueError
            return {k: copy(x, depth + 1) for k, x in v.items()}
        if t is list or t is tuple:
            return t(copy(x, depth + 1) for x in v)
        if t is set or t is frozenset:
            if not all(type(k) in _PLAIN_ATOMS for k in v):
                raise ValueError
            return t(v)
        raise ValueError

    if type(value) not in _PLAIN_CONTAINERS:   # an atom, or anything kept as it is: no copy
        return value                           # (and no exception to raise: this runs per name)
    try:
        return copy(value, 0)
    except (ValueError, RecursionError):
        return value


def _bound_names(code: str) -> set[str]:
    """Names the cell's own module-level statements bind (assignments, imports, ``def``,
    ``class``, loop and ``with`` targets), not those inside its functions. Magics and shell
    lines are blanked; code that does not parse binds nothing trusted."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


def install(kernel: Any, key: bytes) -> None:
    """Snapshot the pristine kernel and guard every grade cell (see the module docstring).

    Must run before the kernel handles its first message. The pristine ``do_execute`` and
    the snapshot live only in this closure."""
    from ipykernel.ipkernel import IPythonKernel

    pristine_do_execute = IPythonKernel.do_execute
    sign = proof
    snapshot: Snapshot | None = None
    scope = Scope(kernel.shell)
    pending: list[str] = []    # found before a setup cell: reported with the next grade cell
    checked_clean = [False]    # the last thing the kernel ran was a test whose check found nothing
    # the functions themselves, own state first: patching the class or this module's
    # globals changes nothing here, and the first two steps undo such patches
    steps = (Snapshot._restore_own_state, Snapshot._restore_classes, Snapshot._restore_rest)
    # Scope's steps and the parser captured now: a class patched while a cell runs is
    # restored before the step that runs after it
    trust_setup, enter_grade, leave_grade = Scope.trust_setup, Scope.enter_grade, Scope.leave_grade
    restore_instances, watch_enter = Scope.restore_instances, _Watch.enter
    bound_names, shell = _bound_names, kernel.shell

    def restore(snap: Snapshot) -> list[str]:
        return [what for step in steps for what in step(snap)]

    watch = _Watch(shell)
    sys.addaudithook(watch.audit)    # cannot be removed: lives as long as the kernel

    async def do_execute(code: str, silent: bool, *args: Any, **kwargs: Any) -> dict[str, Any]:
        parent = kernel.get_parent("shell") or {}
        mark = (parent.get("content") or {}).get(MARK)

        def run() -> Any:
            return pristine_do_execute(kernel, code, silent, *args, **kwargs)

        if not mark:
            checked_clean[0] = False
            return await run()
        if mark == SETUP:
            checked_clean[0] = False
            pending.extend(restore(snapshot))
            own, before = bound_names(code), dict(shell.user_ns)
            watch.mode = "setup"
            try:
                reply = await run()
            finally:
                watch.mode = ""
            pending.extend(f"{what} (while a setup cell ran)" for what in restore(snapshot))
            trust_setup(scope, before, own)
            return reply
        # The check before a test is skipped when the check after the previous test found
        # nothing and no cell ran since: anything changed in between (a student's thread or
        # timer) is still found by the check after this test, and then fails this test
        # instead of being repaired before it. Saves one of two checks for back-to-back tests.
        found = pending[:] + ([] if checked_clean[0] else restore(snapshot))
        checked_clean[0] = False
        pending.clear()
        found += restore_instances(scope)
        state = enter_grade(scope)
        watch_enter(watch, state)
        try:
            reply = await run()
        finally:
            watch.mode = ""
            shell.user_module, shell.user_ns = state[0], state[1]
        during = restore(snapshot) + watch.seen[:5]
        if during:
            found += [f"{what} (while the test ran)" for what in during]
            reply = {**reply, "status": "error", "ename": TAMPERED,
                     "evalue": "the submission changed the grader's runtime while this test ran",
                     "traceback": [f"{TAMPERED}: " + "; ".join(during)]}
        found += leave_grade(scope, state)
        checked_clean[0] = not during
        msg_id = str((parent.get("header") or {}).get("msg_id", ""))
        reply[MARK] = {"found": found[:20],
                       "proof": sign(key, msg_id, code, str(reply.get("status")),
                                     str(reply.get("ename", "")))}
        return reply

    kernel.do_execute = do_execute
    snapshot = Snapshot(kernel)   # after the wrapper: do_execute IS the wrapper when pristine
