"""The summary table: medians per contender and size, and ratios that read as costs."""

import statistics


def summarize(contenders, sizes, runs, failed):
    """{contender: {size: {...}}} over the timed runs of contenders that passed."""
    rows = {}
    for c in contenders:
        if c.name in failed:
            continue
        rows[c.name] = {}
        for n in sizes:
            mine = [r for r in runs if r["contender"] == c.name and r["size"] == n and r["ok"]]
            if not mine:
                continue
            walls = [r["wall_s"] for r in mine]
            cell = {
                "runs": len(mine),
                "median_s": statistics.median(walls),
                "min_s": min(walls),
                "max_s": max(walls),
                "maxrss_kb_median": statistics.median(r["maxrss_kb"] for r in mine),
                "maxrss_kb_max": max(r["maxrss_kb"] for r in mine),
            }
            trips = [r["round_trips"] for r in mine if "round_trips" in r]
            if trips:
                cell["round_trips"] = statistics.median(trips)
            rows[c.name][n] = cell
    return rows


def ispec_best(contenders, sizes, rows):
    """Per size, the fastest ispec mode's median: what every ratio is relative to."""
    best = {}
    for n in sizes:
        medians = [(rows[c.name][n]["median_s"], c.name) for c in contenders
                   if c.family == "ispec" and n in rows.get(c.name, {})]
        if medians:
            best[n] = min(medians)
    return best


def render(contenders, sizes, rows, best, failed, skipped, rounds):
    lines = [f"web-node: median wall time of {rounds} paired round(s), whole process, in seconds;",
             "(x) = that median / the fastest ispec mode's median at the same size"]
    width = max([len(c.name) for c in contenders] + [10])
    head = f"{'contender':<{width}}" + "".join(f"{n:>17}" for n in sizes)
    scale = len(sizes) > 1
    if scale:
        head += f"{f'{sizes[-1]}/{sizes[0]}':>9}"
    lines += ["", head, "-" * len(head)]
    for c in contenders:
        if c.name in failed:
            why = failed[c.name].splitlines()[0]  # the tool's output is in the JSON
            lines.append(f"{c.name:<{width}}  FAILED (not timed): {why}")
            continue
        if c.name not in rows:
            continue
        cells = rows[c.name]
        line = f"{c.name:<{width}}"
        for n in sizes:
            line += _cell(cells.get(n), best.get(n))
        if scale and sizes[0] in cells and sizes[-1] in cells:
            line += f"{cells[sizes[-1]]['median_s'] / cells[sizes[0]]['median_s']:>8.2f}x"
        lines.append(line)
    lines += ["", "fastest ispec mode: " + ", ".join(f"{n}: {name}" for n, (_, name) in best.items())]
    lines += _ispec_extras(contenders, sizes, rows, width)
    for name, why in skipped:
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)


def _cell(cell, best):
    if not cell:
        return f"{'-':>17}"
    ratio = f"({cell['median_s'] / best[0]:.1f}x)" if best else ""
    return f"{cell['median_s']:>9.3f} {ratio:>7}"


def _ispec_extras(contenders, sizes, rows, width):
    """ispec's peak RSS, and its round trips when its JSON report gives them."""
    ispec = [c.name for c in contenders if c.family == "ispec" and c.name in rows]
    if not ispec:
        return []
    sizes_head = "".join(f"{n:>17}" for n in sizes)
    lines = ["", f"{'ispec peak RSS, MB':<{width}}{sizes_head}   (median / max over runs)"]
    for name in ispec:
        cells = [rows[name].get(n) for n in sizes]
        lines.append(f"{name:<{width}}" + "".join(
            f"{c['maxrss_kb_median'] / 1024:>10.1f} /{c['maxrss_kb_max'] / 1024:>5.1f}" if c else f"{'-':>17}"
            for c in cells))
    with_trips = [name for name in ispec if any("round_trips" in c for c in rows[name].values())]
    if not with_trips:
        return lines + ["", "ispec round trips: not in this build's JSON report (no `targets`/`stats`)"]
    lines += ["", f"{'ispec round trips':<{width}}{sizes_head}   (per run, median, from its report)"]
    for name in with_trips:
        trips = [rows[name].get(n, {}).get("round_trips") for n in sizes]
        lines.append(f"{name:<{width}}" + "".join(f"{t:>17}" if t is not None else f"{'-':>17}" for t in trips))
    return lines
