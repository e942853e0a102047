"""Rich tables for ``pneumo stats`` (the same facts as ``--json``, for reading)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from pneumo_tui.plain import PlainTable as Table

CLASSES = ("NORMAL", "PNEUMONIA")
LIST_LIMIT = 12  # long lists are cut on screen; --json has them all


def render_stats(stats: dict, console: Console) -> None:
    source = stats["source"]
    title = f"{source['name']}  ({source['kind']}, {source['path']})"
    if stats["synthetic"]:
        console.print("[bold black on yellow] SYNTHETIC [/] demo data: drawn shapes, not radiographs")
    console.print(Text.assemble((title, "bold"), f"  {stats['total']} images listed, {stats['readable']} readable"))
    console.print(_counts(stats))
    if _unavailable(stats, "patients"):
        console.print(f"Patients: {_unavailable(stats, 'patients')}", markup=False, highlight=False)
    else:
        console.print(_patients(stats))
    if any(p.get("id_ranges") for p in stats["patients"].values()):
        console.print(_id_ranges(stats))
    console.print(_sizes(stats))
    console.print(_intensity(stats))
    _leaks(stats, console)
    _duplicates(stats, console)
    _listing(console, "Unreadable files", stats["unreadable"])
    _listing(console, "Skipped while listing", stats["problems"])


def _counts(stats: dict) -> Table:
    table = Table(title="Images per split", title_justify="left")
    for column in ("split", "NORMAL", "PNEUMONIA", "bacteria", "virus", "total", "modes"):
        table.add_column(column, justify="left" if column in ("split", "modes") else "right")
    for split, counts in stats["splits"].items():
        sub = stats["subtypes"].get(split, {})
        modes = stats["modes"]["by_split"].get(split, {})
        mode_text = "  ".join(
            f"{c[0]}: " + ", ".join(f"{m} {n}" for m, n in modes[c].items()) for c in CLASSES if c in modes
        )
        subtypes = ("n/a", "n/a") if _unavailable(stats, "subtypes") else (str(sub.get("bacteria", 0)),
                                                                           str(sub.get("virus", 0)))
        table.add_row(split, str(counts["NORMAL"]), str(counts["PNEUMONIA"]), *subtypes, str(sum(counts.values())),
                      mode_text)
    if _unavailable(stats, "subtypes"):
        table.caption = f"bacteria, virus: {_unavailable(stats, 'subtypes')}"
    return table


def _unavailable(stats: dict, what: str) -> str | None:
    """Why the data cannot give ``what`` (patients, subtypes), in the words the app shows too."""
    return (stats.get("unavailable") or {}).get(what)


def _patients(stats: dict) -> Table:
    table = Table(title="Patients (from file names)", title_justify="left")
    for column in ("split", "patients", "NORMAL", "PNEUMONIA", "images/patient min·median·max", "no id"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, p in stats["patients"].items():
        ipp = p["images_per_patient"]
        spread = f"{ipp['min']} · {ipp['median']} · {ipp['max']}" if ipp.get("n") else "-"
        table.add_row(split, str(p["patients"]), str(p["NORMAL"]), str(p["PNEUMONIA"]), spread, str(p["without_id"]))
    return table


def _id_ranges(stats: dict) -> Table:
    # Kermany's official splits are blocks of the patient numbering; this shows where each split sits.
    table = Table(title="Patient numbers per id series (lowest..highest)", title_justify="left")
    table.add_column("split")
    series = sorted({s for p in stats["patients"].values() for s in p.get("id_ranges", {})})
    for name in series:
        table.add_column(name, justify="right")
    for split, p in stats["patients"].items():
        ranges = p.get("id_ranges", {})
        table.add_row(split, *(f"{ranges[s][0]}..{ranges[s][1]}" if s in ranges else "-" for s in series))
    return table


def _sizes(stats: dict) -> Table:
    table = Table(title="Image sizes (width × height, min · median · max)", title_justify="left")
    for column in ("split", "class", "width", "height"):
        table.add_column(column, justify="left" if column in ("split", "class") else "right")
    for split, classes in stats["sizes"]["by_split"].items():
        for class_name, s in classes.items():
            table.add_row(split, class_name, _spread(s["width"]), _spread(s["height"]))
    aspect = stats["sizes"]["aspect"]
    if aspect.get("n"):
        table.caption = f"aspect (w/h): {_spread(aspect)}"
    return table


def _intensity(stats: dict) -> Table:
    table = Table(title="Mean intensity per image (0-255)", title_justify="left")
    for column in ("class", "p5", "median", "p95", "contrast (std) median"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for class_name, s in stats["intensity"].items():
        m = s["mean"]
        table.add_row(class_name, f"{m['p5']:.1f}", f"{m['median']:.1f}", f"{m['p95']:.1f}",
                      f"{s['contrast']['median']:.1f}")
    return table


def _leaks(stats: dict, console: Console) -> None:
    leaks = stats["cross_split_patients"]
    if _unavailable(stats, "patients"):
        console.print(f"Patients in more than one split: {_unavailable(stats, 'patients')}", markup=False,
                      highlight=False)
        return
    if not leaks["count"]:
        console.print("[green]No patient id appears in more than one split.[/]")
        return
    console.print(f"[yellow]{leaks['count']} patient ids appear in more than one split[/] (by file name):")
    for item in leaks["patients"][:LIST_LIMIT]:
        where = ", ".join(f"{s} {n}" for s, n in item["splits"].items())
        console.print(f"  {item['patient']}: {where}", markup=False, highlight=False)
    _more(console, leaks["patients"])


def _duplicates(stats: dict, console: Console) -> None:
    d = stats["duplicates"]
    if not d["groups"]:
        console.print("[green]No exact duplicate files.[/]")
        return
    console.print(
        f"[yellow]{len(d['groups'])} groups of identical files[/] ({d['within_split']} within a split, "
        f"{d['across_splits']} across splits, {d['conflicting_labels']} with conflicting labels):"
    )
    for group in d["groups"][:LIST_LIMIT]:
        console.print("  " + "  =  ".join(group["paths"]), markup=False, highlight=False, soft_wrap=True)
    _more(console, d["groups"])


def _listing(console: Console, title: str, items: list[dict]) -> None:
    if not items:
        return
    console.print(f"[red]{title}: {len(items)}[/]")
    for item in items[:LIST_LIMIT]:
        console.print(f"  {item['path']}: {item['reason']}", markup=False, highlight=False, soft_wrap=True)
    _more(console, items)


def _more(console: Console, items: list) -> None:
    if len(items) > LIST_LIMIT:
        console.print(f"  ... and {len(items) - LIST_LIMIT} more (pneumo stats --json lists them all)")


def _spread(s: dict) -> str:
    return f"{s['min']} · {s['median']} · {s['max']}" if s.get("n") else "-"
