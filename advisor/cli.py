"""Command line: argument parsing and output only.

Imports only click and the standard library at module level; the knowledge
base, pydantic and anything heavier load inside the commands.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

import click

FORMATS = click.Choice(["table", "json"], case_sensitive=False)


class AdvisorGroup(click.Group):
    """Turns AdvisorError into a message and its exit code; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from .errors import AdvisorError

        try:
            return super().invoke(ctx)
        except AdvisorError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)


def _catalog():
    from .kb import load_catalog

    return load_catalog()


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(v)) for w, v in zip(widths, r)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False)


@click.group(cls=AdvisorGroup)
@click.version_option(package_name="advisor")
def main() -> None:
    """Choose, defend and verify an on-device or self-hosted small language model."""


# --------------------------------------------------------------------------- catalog


@main.command()
@click.option("--family", "family", default=None, help="Only this family (e.g. qwen, phi, gemma).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def catalog(family: str | None, fmt: str) -> None:
    """List the models in the knowledge base."""
    from .errors import InputError
    from .views import model_record

    cat = _catalog()
    models = list(cat.models.items())
    if family:
        fam = family.lower()
        if fam not in cat.families:
            raise InputError("--family", f"unknown family '{family}'", ", ".join(sorted(cat.families)))
        models = [(i, m) for i, m in models if m.family == fam]
    if fmt == "json":
        click.echo(_dump([model_record(i, m, cat.quantizations) for i, m in models]))
        return
    rows = []
    for i, m in models:
        a = m.architecture
        rows.append([
            i, m.family, f"{m.params_b:g}",
            f"{m.active_params_b:g}" if m.active_params_b else "",
            a.context_length if a else "",
            ",".join(m.modalities_in), _langs(m), m.license, m.availability,
        ])
    click.echo(_table(["id", "family", "params_b", "active_b", "context", "inputs", "languages", "license", "availability"], rows))
    click.echo(f"\n{len(rows)} models")


def _langs(m) -> str:
    if m.languages:
        text = ",".join(m.languages[:6]) + ("..." if len(m.languages) > 6 else "")
        return f"{text} ({len(m.languages)})"
    return m.languages_claim or ""


@main.command()
@click.argument("model_id")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def show(model_id: str, fmt: str) -> None:
    """Every fact about one model, each with its source."""
    from .views import model_facts, model_record

    cat = _catalog()
    m = cat.model(model_id)
    if fmt == "json":
        rec = model_record(model_id, m, cat.quantizations)
        rec["facts"] = [dict(zip(("field", "value", "sources"), f)) for f in model_facts(m)]
        click.echo(_dump(rec))
        return
    click.echo(f"{m.name}  ({model_id}, {cat.files['models/' + model_id]})")
    click.echo(f"family: {m.family}" + (f", series: {m.series}" if m.series else "")
               + f"; weights: {m.hf_repo or 'none public (' + m.availability + ')'}\n")
    rows = [(f, v, ", ".join(s)) for f, v, s in model_facts(m)]
    click.echo(_table(["field", "value", "source"], rows))
    click.echo("\nsources:")
    for key, s in sorted(m.sources.items()):
        click.echo(f"  {key}: {s.kind}: {s.ref}" + (f" ({s.note})" if s.note else ""))
    if m.corrections:
        click.echo("\ncorrections to the course:")
        for c in m.corrections:
            click.echo(f"  {c.field}: course says {c.course_says}; {c.primary_says} [{c.source}]")
    for n in m.notes:
        click.echo(f"note: {n}")


# --------------------------------------------------------------------------- hardware


@main.group()
def hardware() -> None:
    """Hardware profiles."""


@hardware.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def hardware_list(fmt: str) -> None:
    """List the hardware profiles in the knowledge base."""
    from .views import hardware_record

    cat = _catalog()
    recs = [hardware_record(i, h) for i, h in cat.hardware.items()]
    if fmt == "json":
        click.echo(_dump(recs))
        return
    rows = [
        [r["id"], r["name"], f"{r['memory_gb']:g}", r["memory_kind"], f"{r['bandwidth_gbps']:g}",
         r["platform"], ",".join(r["backends"]), f"{r['npu_tops']:g}" if r["npu_tops"] else ""]
        for r in recs
    ]
    click.echo(_table(["id", "name", "memory_gb", "kind", "bandwidth_gbps", "platform", "backends", "npu_tops"], rows))


# --------------------------------------------------------------------------- kb


@main.group()
def kb() -> None:
    """Knowledge-base maintenance."""


@kb.command()
@click.option("--root", type=click.Path(file_okay=False), default=None, help="Knowledge directory (default: the bundled one).")
def validate(root: str | None) -> None:
    """Check the whole knowledge tree; one line per problem, exit 1 if any."""
    from .kb import default_root, validate_tree

    entities, problems, _ = validate_tree(root)
    for p in problems:
        click.echo(str(p))
    counts = ", ".join(f"{len(v)} {k}" for k, v in entities.items())
    where = root or default_root()
    if problems:
        click.echo(f"{len(problems)} problem(s) in {where} ({counts})", err=True)
        sys.exit(1)
    click.echo(f"ok: {where} ({counts})", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
