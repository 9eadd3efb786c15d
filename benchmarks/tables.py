"""The benchmark's results as Markdown tables (``python -m benchmarks --table FILE`` too)."""

from __future__ import annotations

from typing import Any


def _value(stats: dict[str, float] | None, unit: str) -> str:
    if stats is None:
        return ""
    if unit == "s":
        f = 1e3
        med, lo, hi = (stats[k] * f for k in ("median", "min", "max"))
        digits = 3 if med < 10 else 1
        return f"{med:.{digits}f} ms ({lo:.{digits}f}–{hi:.{digits}f})"
    if unit == "MB":
        return f"{stats['median']:,.0f} B/entry = {stats['median']:,.0f} MB per 1M"
    return f"{stats['median']:,.0f}/s ({stats['min']:,.0f}–{stats['max']:,.0f})"


def _faster(times: float) -> str:
    """``times`` = how many times faster ours is, said both ways round."""
    if times >= 1:
        return f"ours {times:,.1f}x faster" if times < 10 else f"ours {times:,.0f}x faster"
    return f"ours {1 / times:,.1f}x slower"


def _ratio(stats: dict[str, float] | None) -> str:
    if not stats:
        return ""
    return f"{stats['median']:.2f}x ({stats['min']:.2f}–{stats['max']:.2f})"


def _targets(row: dict[str, Any], targets: list[dict[str, Any]]) -> str:
    parts = []
    for t in targets:
        if t["key"] == row["key"]:
            parts.append(f"{'✅' if t['met'] else '❌'} {t['target']}: {t['shown']}")
    return "; ".join(parts)


def table(report: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    rows, targets = report["results"], report["targets"]
    lines = [
        "| Measurement | ours | raw sqlite3 | ours/raw | LIKE scan | targets |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        like = ""
        if "like" in row:
            like = f"{_value(row['like'], 's')}; {_faster(row['like_over_ours']['median'])}"
        lines.append(
            f"| {row['name']} | {_value(row['ours'], row['unit'])} | "
            f"{_value(row.get('raw'), row['unit'])} | {_ratio(row.get('ratio'))} | {like} | "
            f"{_targets(row, targets)} |"
        )
    peer = report["info"].get("peers")
    if peer:
        lines += ["", peers_table(report, peer)]
    return "\n".join(lines)


def peers_table(report: dict[str, Any], peer: dict[str, Any]) -> str:
    """Our figures beside the peers' (each peer in its own Django project on SQLite WAL)."""
    ours = {row["key"]: row for row in report["results"]}

    def rate(key: str) -> float:
        return float(ours[key]["ours"]["median"])

    def secs(key: str) -> float:
        return float(ours[key]["ours"]["median"])

    lines = [
        "| Measurement | ours | django-auditlog | django-activity-stream | ours vs faster peer |",
        "|---|---:|---:|---:|---:|",
    ]
    for what, key, a, b in (
        ("Entries/s, one per commit", "record.1", "auditlog_per_commit_per_s",
         "actstream_per_commit_per_s"),
        ("Entries/s, one transaction", "ingest", "auditlog_one_transaction_per_s",
         "actstream_one_transaction_per_s"),
    ):  # fmt: skip
        best = max(peer[a], peer[b])
        lines.append(f"| {what} | {rate(key):,.0f}/s | {peer[a]:,.0f}/s | {peer[b]:,.0f}/s | "
                     f"{_faster(rate(key) / best)} |")  # fmt: skip
    for what, key, a, b in (
        ("Search a rare name, first page", "search.rare.page", "auditlog_name_search_first_page_s",
         None),
        ("Search a rare name, count", "search.rare.count", "auditlog_name_search_count_s", None),
        ("Search “deleted”, first page", "search.common.page", None,
         "actstream_search_first_page_s"),
        ("Search “deleted”, count", "search.common.count", None, "actstream_search_count_s"),
        ("Counts per category / type", "categories", "auditlog_counts_per_type_s",
         "actstream_counts_per_type_s"),
    ):  # fmt: skip
        mine = secs(key)
        theirs = [peer[k]["median"] for k in (a, b) if k]
        cells = [f"{peer[k]['median'] * 1e3:,.1f} ms" if k else "—" for k in (a, b)]
        lines.append(f"| {what} | {mine * 1e3:,.3f} ms | {cells[0]} | {cells[1]} | "
                     f"{_faster(min(theirs) / mine)} |")  # fmt: skip
    lines.append(f"| File size | {report['info']['file']['bytes'] / 1e6:,.0f} MB | "
                 f"{peer['db_bytes'] / 1e6:,.0f} MB (both peers in one file) | | |")  # fmt: skip
    return "\n".join(lines)
