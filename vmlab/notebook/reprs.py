"""Rich displays for vmlab's objects: what a notebook shows when a cell ends with one.

The formatters are registered *by name* (``for_type_by_name``), so registering them imports
nothing: a Machine's display costs nothing until a Machine exists, and the hypervisor's types
get theirs as soon as that package is imported.  Every formatter uses public attributes only.
"""
from __future__ import annotations

import html

from vmlab.notebook.session import ABI_NAMES, PRIV_NAMES

_STYLE = ("font-family: var(--jp-code-font-family, monospace); font-size: 12px; "
          "border-collapse: collapse")


def _table(rows, header=None, cls="vmlab-table") -> str:
    head = "".join(f"<th style='text-align:left;padding:1px 8px'>{html.escape(str(h))}</th>"
                   for h in header) if header else ""
    body = "".join("<tr>" + "".join(f"<td style='padding:1px 8px'>{c}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table class='{cls}' style='{_STYLE}'>{'<tr>' + head + '</tr>' if head else ''}{body}</table>"


def machine_html(m) -> str:
    regs = [(f"<b>{n}</b>", f"<code>{m.reg(i) & (2**64 - 1):#018x}</code>")
            for i, n in enumerate(ABI_NAMES) if i]
    grid = [sum(regs[i:i + 4], ()) for i in range(0, len(regs), 4)]
    c = m.counters
    traps = ", ".join(f"{k}: {v}" for k, v in c["traps"].items()) or "none"
    out = m.console_output[-400:]
    return (f"<div class='vmlab-machine'><p><b>Machine</b> {m.ram_size >> 20} MiB RAM, "
            f"pc <code>{m.pc:#x}</code>, {PRIV_NAMES.get(m.priv, m.priv)}-mode, "
            f"{c['instructions']:,} instructions retired, traps: {html.escape(traps)}</p>"
            f"{_table(grid)}"
            + (f"<pre style='max-height:10em;overflow:auto'>{html.escape(out)}</pre>" if out else "")
            + "</div>")


def machine_text(m, p, cycle) -> None:
    c = m.counters
    p.text(f"<Machine {m.ram_size >> 20} MiB, pc={m.pc:#x}, {PRIV_NAMES.get(m.priv, m.priv)}-mode, "
           f"{c['instructions']:,} instructions>")


def program_html(prog) -> str:
    from vmlab.disasm import disassemble
    rows = [(html.escape(s.name), f"<code>{s.addr:#x}</code>", f"{s.size}", s.flags)
            for s in prog.sections.values()]
    listing = ""
    text = prog.sections.get(".text")
    if text is not None and text.data:
        lines = []
        names = {v: k for k, v in prog.symbols.items()}
        for r in disassemble(text.data, text.addr, symbols=prog.symbols)[:64]:
            if r.address in names:
                lines.append(f"{html.escape(names[r.address])}:")
            src = prog.line_map.get(r.address)
            where = f"   # line {src}" if src else ""
            lines.append(f"  {r.address:08x}:  {html.escape(r.mnemonic):<8} {html.escape(r.operands)}{where}")
        listing = ("<details><summary>disassembly</summary><pre class='vmlab-listing'>"
                   + "\n".join(lines) + "</pre></details>")
    return (f"<div class='vmlab-program'><p><b>Program</b> {len(prog.image)} bytes at "
            f"<code>{prog.base:#x}</code>, entry <code>{prog.entry:#x}</code>, "
            f"{len(prog.symbols)} symbols</p>{_table(rows, ('section', 'address', 'size', 'flags'))}"
            f"{listing}</div>")


def program_text(prog, p, cycle) -> None:
    p.text(f"<Program {len(prog.image)} bytes at {prog.base:#x}, entry {prog.entry:#x}, "
           f"sections {', '.join(prog.sections)}>")


def trace_html(trace) -> str:
    from vmlab.hv.trace import EXIT, INJECT, KIND_NAMES, SHADOW
    from vmlab.viz.traps import cause_text
    try:
        from vmlab.hv.shadow import EVENT_NAMES
    except ImportError:
        EVENT_NAMES = {}
    counts = []
    for (kind, cause), n in sorted(trace.counts.items()):
        if kind in (EXIT, INJECT):
            name = cause_text(cause)
        else:
            name = EVENT_NAMES.get(cause, f"event {cause}") if kind == SHADOW else f"event {cause}"
        counts.append((KIND_NAMES[kind], html.escape(name), f"{n:,}"))
    last = [(e.seq, e.time, e.kind, f"{e.pc:#x}", html.escape(e.handler))
            for e in trace.events(max(0, trace.total - 8))]
    return (f"<div class='vmlab-trace'><p><b>Trace</b>: {trace.total:,} records</p>"
            f"{_table(counts, ('kind', 'cause', 'count'))}"
            f"<p>latest</p>{_table(last, ('seq', 'time ns', 'kind', 'pc', 'handler'))}</div>")


def exit_html(ex) -> str:
    from vmlab.viz.traps import cause_text, insn_text
    cause = cause_text(ex.cause) if ex.cause >= 0 else "-"
    insn = insn_text(ex.insn, ex.pc) if ex.insn else ""
    rows = [("reason", ex.reason), ("cause", html.escape(cause)), ("guest pc", f"<code>{ex.pc:#x}</code>"),
            ("instruction", f"<code>{html.escape(insn)}</code>"), ("tval", f"<code>{ex.tval:#x}</code>"),
            ("handler", html.escape(ex.handler)), ("cost", f"{ex.cost} ns"),
            ("guest privilege", PRIV_NAMES.get(ex.priv, str(ex.priv))),
            ("instructions run", f"{ex.instructions:,}")]
    return f"<div class='vmlab-exit'><b>Exit</b>{_table(rows)}</div>"


def vm_html(vm) -> str:
    vcpus = [(v.id, f"<code>{v.pc:#x}</code>", PRIV_NAMES.get(v.priv, v.priv), f"{v.instructions:,}")
             for v in vm.vcpus]
    out = vm.console_output[-400:]
    return (f"<div class='vmlab-vm'><p><b>VM {vm.id}</b>: {vm.mem.size >> 20} MiB guest RAM, "
            f"{vm.mem.resident_pages} pages resident; {html.escape(repr(vm.trace))}</p>"
            f"{_table(vcpus, ('vCPU', 'pc', 'privilege', 'instructions'))}"
            + (f"<pre style='max-height:10em;overflow:auto'>{html.escape(out)}</pre>" if out else "")
            + "</div>")


def cell_result_text(r, p, cycle) -> None:
    p.text(r.summary())


def register(ip) -> None:
    """Install the formatters on an IPython shell."""
    html_f = ip.display_formatter.formatters["text/html"]
    text_f = ip.display_formatter.formatters["text/plain"]
    html_f.for_type_by_name("vmlab.machine.board", "Machine", machine_html)
    text_f.for_type_by_name("vmlab.machine.board", "Machine", machine_text)
    html_f.for_type_by_name("vmlab.asm.program", "Program", program_html)
    text_f.for_type_by_name("vmlab.asm.program", "Program", program_text)
    html_f.for_type_by_name("vmlab.hv.trace", "Trace", trace_html)
    html_f.for_type_by_name("vmlab.hv.exit_types", "Exit", exit_html)
    html_f.for_type_by_name("vmlab.hv.vm", "VM", vm_html)
    text_f.for_type_by_name("vmlab.notebook.session", "CellResult", cell_result_text)
