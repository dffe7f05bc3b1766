"""A step debugger over the VM's trace, and its notebook front end (issue #11 §3).

Terminology
-----------
step
    One :class:`~labchain.ledger.contracts.records.Step`: a statement about to run (its line, the
    gas used before it, the frame's locals, the storage changed so far, the call depth, the events
    so far). The last step of a trace is ``returned`` or ``reverted``.
step / step over / step out / continue
    As in any debugger: the next statement anywhere; the next statement at the same or a
    shallower depth (skipping the inside of calls); the next statement at a shallower depth;
    run to the next breakpoint line (or the end).
gas per line
    The gas used between a step and the next one, added up per source line (so a line that calls
    a function is charged only its own operations; the callee's lines carry the rest).

The debugger works on a recorded trace, so it is the same object offline
(:meth:`Debugger.from_call` on a :class:`MemoryHost`) and against a live chain (build it with
:meth:`Debugger.from_json` from the steps a node's ``tracetransaction`` returns, which replays a
mined transaction deterministically). Simplification: it does not re-run code while stepping (no
"set variable" or reverse execution beyond moving back through the recorded steps).
"""
from __future__ import annotations

import html
from typing import Any, Iterable

from labchain.ledger.contracts.errors import ContractCallError
from labchain.ledger.contracts.records import CallResult, Event, Step
from labchain.ledger.contracts.values import decode_value, encode_value


class Debugger:
    def __init__(self, steps: list[Step], result: CallResult | None = None, source: str = "",
                 contract: bytes | None = None) -> None:
        if not steps:
            raise ContractCallError("a debugger needs at least one step (the trace is empty)", steps)
        self.steps = list(steps)
        self.result = result
        self.source = source
        self.lines = source.splitlines()
        self.contract = contract if contract is not None else self.steps[0].contract
        self.position = 0
        self.breakpoints: set[int] = set()

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_call(cls, host: Any, ctx: Any, program: Any, function: str, args: list, gas_limit: int) -> "Debugger":
        """Trace the call now (its effects stay on ``host``, as :func:`execute` would leave them)."""
        from labchain.ledger.contracts.vm import run_trace
        steps, result = run_trace(host, ctx, program, function, args, gas_limit)
        return cls(steps, result, program.source, ctx.contract)

    @classmethod
    def from_json(cls, obj: dict, source: str = "") -> "Debugger":
        """From ``{"steps": [...], "result": {...}}`` as :func:`trace_to_json` writes it."""
        steps = [step_from_json(s) for s in obj["steps"]]
        result = result_from_json(obj["result"]) if obj.get("result") else None
        return cls(steps, result, source)

    # -- where we are ---------------------------------------------------------------------------
    @property
    def current(self) -> Step:
        return self.steps[self.position]

    @property
    def finished(self) -> bool:
        return self.position == len(self.steps) - 1

    def _move(self, i: int) -> Step:
        self.position = max(0, min(i, len(self.steps) - 1))
        return self.current

    def reset(self) -> Step:
        return self._move(0)

    def back(self) -> Step:
        return self._move(self.position - 1)

    def step(self) -> Step:
        return self._move(self.position + 1)

    def step_over(self) -> Step:
        depth = self.current.depth
        for i in range(self.position + 1, len(self.steps)):
            if self.steps[i].depth <= depth:
                return self._move(i)
        return self._move(len(self.steps) - 1)

    def step_out(self) -> Step:
        depth = self.current.depth
        for i in range(self.position + 1, len(self.steps)):
            if self.steps[i].depth < depth:
                return self._move(i)
        return self._move(len(self.steps) - 1)

    def add_breakpoint(self, line: int) -> None:
        self.breakpoints.add(int(line))

    def remove_breakpoint(self, line: int) -> None:
        self.breakpoints.discard(int(line))

    def continue_(self, breakpoints: Iterable[int] | None = None) -> Step:
        """Run to the next step on a breakpoint line of the debugged contract, or to the end."""
        lines = set(self.breakpoints if breakpoints is None else breakpoints)
        for i in range(self.position + 1, len(self.steps)):
            s = self.steps[i]
            if s.line in lines and s.contract == self.contract and s.op not in ("returned", "reverted"):
                return self._move(i)
        return self._move(len(self.steps) - 1)

    # -- what happened --------------------------------------------------------------------------
    def gas_per_line(self, contract: bytes | None = None) -> dict[int, int]:
        """Gas used by each source line of ``contract`` (default: the debugged one)."""
        contract = self.contract if contract is None else contract
        out: dict[int, int] = {}
        for a, b in zip(self.steps, self.steps[1:]):
            if a.contract == contract and a.op not in ("returned", "reverted"):
                out[a.line] = out.get(a.line, 0) + b.gas_used - a.gas_used
        return out

    @property
    def storage_before(self) -> dict:
        return {label: before for label, (before, _) in self.steps[-1].storage_diff.items()}

    @property
    def storage_after(self) -> dict:
        return {label: after for label, (_, after) in self.steps[-1].storage_diff.items()}

    @property
    def revert_point(self) -> Step | None:
        """The statement that failed (None if the call succeeded)."""
        last = self.steps[-1]
        if last.op != "reverted":
            return None
        for s in reversed(self.steps[:-1]):
            if s.line == last.line:
                return s
        return self.steps[-2] if len(self.steps) > 1 else last

    def source_line(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def describe(self, step: Step | None = None) -> str:
        """A few lines of text: where, gas, locals, storage changes (for print())."""
        s = step or self.current
        parts = [f"step {self.steps.index(s) + 1}/{len(self.steps)}  line {s.line}  {s.op}  depth {s.depth}  "
                 f"gas used {s.gas_used}", f"  {self.source_line(s.line).strip()}"]
        if s.locals:
            parts.append("  locals: " + ", ".join(f"{k}={_show(v)}" for k, v in s.locals.items()))
        for label, (before, after) in s.storage_diff.items():
            parts.append(f"  storage {label}: {_show(before)} -> {_show(after)}")
        if s.revert_reason:
            parts.append(f"  REVERT: {s.revert_reason}")
        return "\n".join(parts)

    # -- notebook front end -----------------------------------------------------------------------
    def widget(self) -> Any:
        """An ipywidgets debugger (buttons, source with the current line and the revert point
        highlighted, locals, storage before/after, gas per line, events). Needs ``ipywidgets``
        (the ``[lab]`` extra); imported here only."""
        import ipywidgets as w

        source = w.HTML()
        state = w.HTML()
        status = w.HTML()
        bp = w.Text(description="breakpoints", placeholder="e.g. 12, 20")
        buttons = {name: w.Button(description=label) for name, label in (
            ("reset", "⏮ reset"), ("back", "◀ back"), ("step", "step"), ("over", "step over"),
            ("out", "step out"), ("cont", "continue ▶"))}

        def refresh(*_: Any) -> None:
            source.value = self._source_html()
            state.value = self._state_html()
            s = self.current
            status.value = (f"<b>step {self.position + 1}/{len(self.steps)}</b> line {s.line} "
                            f"<code>{html.escape(s.op)}</code> depth {s.depth} gas used {s.gas_used}"
                            + (f" <span style='color:#b00'>revert: {html.escape(s.revert_reason)}</span>"
                               if s.revert_reason else ""))

        def on_breakpoints(change: Any) -> None:
            self.breakpoints = {int(x) for x in str(change["new"]).replace(",", " ").split() if x.isdigit()}
            source.value = self._source_html()

        actions = {"reset": self.reset, "back": self.back, "step": self.step, "over": self.step_over,
                   "out": self.step_out, "cont": self.continue_}
        for name, button in buttons.items():
            button.on_click(lambda _b, f=actions[name]: (f(), refresh()))
        bp.observe(on_breakpoints, names="value")
        refresh()
        box = w.VBox([w.HBox(list(buttons.values())), bp, status, w.HBox([source, state])])
        box.debugger = self          # reachable from the notebook (and tests)
        box.refresh = refresh
        return box

    def _source_html(self) -> str:
        cur = self.current
        revert = self.revert_point
        gas = self.gas_per_line()
        rows = []
        for i, text in enumerate(self.lines, 1):
            style = ""
            if cur.contract == self.contract and i == cur.line:
                style = "background:#fff3b0"
            if revert is not None and i == revert.line:
                style = "background:#ffd0d0" if not style else "background:#ffb070"
            mark = "●" if i in self.breakpoints else "&nbsp;"
            g = gas.get(i, "")
            rows.append(f"<tr style='{style}'><td style='color:#b00'>{mark}</td><td style='color:#888'>{i}</td>"
                        f"<td style='color:#06c;text-align:right'>{g}</td>"
                        f"<td><pre style='margin:0'>{html.escape(text)}</pre></td></tr>")
        return "<table style='font-family:monospace;font-size:12px'>" + "".join(rows) + "</table>"

    def _state_html(self) -> str:
        s = self.current
        loc = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(_show(v))}</td></tr>" for k, v in s.locals.items())
        sto = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(_show(b))}</td><td>{html.escape(_show(a))}</td></tr>"
                      for k, (b, a) in s.storage_diff.items())
        ev = "".join(f"<li>{html.escape(e.name)} {html.escape(_show(e.fields))}</li>" for e in s.events)
        return (f"<b>locals</b><table>{loc}</table><b>storage (before → after)</b><table>{sto}</table>"
                f"<b>events</b><ul>{ev}</ul>")


def _show(v: Any) -> str:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_show(k)}: {_show(x)}" for k, x in v.items()) + "}"
    return repr(v)


# -- JSON form of traces (what a node's tracetransaction returns) ----------------------------------

def _value_json(v: Any) -> str:
    try:
        return encode_value(v).hex()
    except Exception:  # noqa: BLE001 -- a value too large to encode is shown as a placeholder
        return encode_value(f"<{type(v).__name__}>").hex()


def step_to_json(s: Step) -> dict:
    return {"line": s.line, "op": s.op, "gas_used": s.gas_used, "depth": s.depth, "function": s.function,
            "contract": s.contract.hex(), "revert_reason": s.revert_reason,
            "locals": {k: _value_json(v) for k, v in s.locals.items()},
            "storage_diff": {k: [_value_json(b), _value_json(a)] for k, (b, a) in s.storage_diff.items()},
            "events": [e.to_bytes().hex() for e in s.events]}


def step_from_json(o: dict) -> Step:
    return Step(int(o["line"]), str(o["op"]), int(o["gas_used"]),
                {k: decode_value(bytes.fromhex(v)) for k, v in o["locals"].items()},
                {k: (decode_value(bytes.fromhex(b)), decode_value(bytes.fromhex(a)))
                 for k, (b, a) in o["storage_diff"].items()},
                int(o["depth"]), tuple(Event.from_bytes(bytes.fromhex(e)) for e in o["events"]),
                str(o["function"]), bytes.fromhex(o["contract"]), o.get("revert_reason"))


def result_to_json(r: CallResult) -> dict:
    return {"success": r.success, "gas_used": r.gas_used, "return_value": _value_json(r.return_value),
            "events": [e.to_bytes().hex() for e in r.events], "revert_reason": r.revert_reason,
            "revert_line": r.revert_line}


def result_from_json(o: dict) -> CallResult:
    return CallResult(bool(o["success"]), int(o["gas_used"]), decode_value(bytes.fromhex(o["return_value"])),
                      tuple(Event.from_bytes(bytes.fromhex(e)) for e in o["events"]), o["revert_reason"],
                      o["revert_line"])


def trace_to_json(steps: list[Step], result: CallResult) -> dict:
    """The JSON a ``tracetransaction`` RPC can return (values as hex of their canonical bytes)."""
    return {"steps": [step_to_json(s) for s in steps], "result": result_to_json(result)}
