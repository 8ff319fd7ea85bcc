#!/usr/bin/env python3
"""Turns bench/results.json into bench/results.md (tables) and bench/figures.svg (a plot)."""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    with open(os.path.join(HERE, "results.json")) as f:
        r = json.load(f)
    s, fig = r["scenarios"], r["figures"]
    n = f"{r['n']:,}"

    rows = [
        ("fixed-response axum (ceiling)", "fixed_response"),
        (f"getTrainer ({n} stored)", "get"),
        (f"allTrainers(limit: 20), first page ({n})", "list_first"),
        (f"allTrainers(limit: 20), page at 90% depth ({n})", "list_deep"),
        (f"trainersBySpecialty(limit: 20), first page ({n})", "by_specialty_first"),
        ("createTrainer (durable)", "create"),
        ("createTrainer, syncs off (reference)", "create_nosync"),
        ("updateTrainers (durable)", "update"),
    ]
    lines = ["| scenario | req/s @1 | p50 / p99 ms @1 | req/s @32 | p50 / p99 ms @32 | server CPU µs/request @32 | requests per core-second @32 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def cpu(x):
        us = x["server_cpu_us_per_request"]
        return f"{us:.0f} | {1e6 / us:,.0f}"

    for label, key in rows:
        one, many = s.get(f"{key}@1"), s.get(f"{key}@32")
        cell = lambda x: (f"{x['rps']:,.0f}", f"{x['p50_ms']:.2f} / {x['p99_ms']:.2f}") if x else ("-", "-")
        lines.append(f"| {label} | {' | '.join(cell(one))} | {' | '.join(cell(many))} | {cpu(many) if many else '- | -'} |")
    for label, key in [("allTrainers first page (1,000 stored)", "list_first_1k@32"),
                       ("allTrainers page at 90% depth (1,000 stored)", "list_deep_1k@32")]:
        x = s[key]
        lines.append(f"| {label} | - | - | {x['rps']:,.0f} | {x['p50_ms']:.2f} / {x['p99_ms']:.2f} | {cpu(x)} |")

    checks = [
        ("getTrainer @32 vs fixed-response @32", s["get@32"]["rps"] / s["fixed_response@32"]["rps"], ">= 0.40", lambda v: v >= 0.40, "{:.2f}"),
        ("getTrainer @32 p99 (ms)", s["get@32"]["p99_ms"], "< 5", lambda v: v < 5, "{:.2f}"),
        (f"allTrainers first page ({n}) @32 vs fixed-response @32", s["list_first@32"]["rps"] / s["fixed_response@32"]["rps"], ">= 0.20", lambda v: v >= 0.20, "{:.2f}"),
        (f"allTrainers page at 90% depth ({n}) @32 vs fixed-response @32", s["list_deep@32"]["rps"] / s["fixed_response@32"]["rps"], ">= 0.20", lambda v: v >= 0.20, "{:.2f}"),
        ("trainersBySpecialty first page vs allTrainers first page @32", s["by_specialty_first@32"]["rps"] / s["list_first@32"]["rps"], ">= 0.90", lambda v: v >= 0.90, "{:.2f}"),
        ("createTrainer durable @32 vs syncs off @32", s["create@32"]["rps"] / s["create_nosync@32"]["rps"], ">= 0.80", lambda v: v >= 0.80, "{:.2f}"),
        (f"deep page vs first page ({n})", s["list_deep@32"]["rps"] / s["list_first@32"]["rps"], ">= 0.80", lambda v: v >= 0.80, "{:.2f}"),
        (f"deep page ({n}) vs deep page (1,000)", s["list_deep@32"]["rps"] / s["list_deep_1k@32"]["rps"], ">= 0.80", lambda v: v >= 0.80, "{:.2f}"),
        (f"peak RSS after walking {n} (MB)", fig["peak_rss_mb_after_walk"], "< 150", lambda v: v < 150, "{:.1f}"),
        ("import (trainers/s)", fig["import_per_s"], ">= 50,000", lambda v: v >= 50000, "{:,.0f}"),
        (f"serve ready on {n} (ms)", fig["ready_ms"], "< 300", lambda v: v < 300, "{:.0f}"),
    ]
    lines += ["", "| target | measured | wanted | met |", "| --- | ---: | ---: | :---: |"]
    for label, value, wanted, ok, fmt in checks:
        lines.append(f"| {label} | {fmt.format(value)} | {wanted} | {'yes' if ok(value) else '**no**'} |")
    lines += ["", f"References in the same run: single-writer fsync rate {fig['fsync_per_s']:,.0f}/s just before the write scenarios ({fig['fsync_per_s_at_start']:,.0f}/s at the start), so createTrainer @32 shares each sync among {s['create@32']['rps'] / fig['fsync_per_s']:.1f} writes at least; "
              f"walk of {fig['walk_items']:,} trainers (limit 100) in {fig['walk_s']:.1f} s; "
              f"peak RSS over the whole run {fig['peak_rss_mb']:.1f} MB. {r['seconds_per_scenario']} s per scenario, wrk, loopback."]
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    # A bar chart of req/s at 32 connections.
    bars = [(label.split(" (")[0], s[f"{key}@32"]["rps"]) for label, key in rows]
    width, bar_h, gap, left = 760, 26, 10, 300
    top = max(v for _, v in bars)
    height = 50 + len(bars) * (bar_h + gap)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
           f'<text x="10" y="22" font-size="15" font-weight="bold">Requests per second at 32 connections ({n} trainers stored)</text>']
    for i, (label, v) in enumerate(bars):
        y = 40 + i * (bar_h + gap)
        w = (width - left - 90) * v / top
        color = "#999" if i == 0 else "#2b6cb0"
        svg.append(f'<text x="{left - 8}" y="{y + 18}" text-anchor="end">{label}</text>')
        svg.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
        svg.append(f'<text x="{left + w + 6:.1f}" y="{y + 18}">{v:,.0f}</text>')
    svg.append("</svg>")
    with open(os.path.join(HERE, "figures.svg"), "w") as f:
        f.write("\n".join(svg) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
