"""The self-contained HTML report of one eval: one file, plots inlined, no network needed."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from supportloop.eval.metrics import all_metrics, get_metric
from supportloop.eval.reports.plots import metrics_side_by_side, per_topic
from supportloop.eval.reports.winrate import win_rate_html

CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f6f8}.pass{color:#1e8449;font-weight:600}.fail{color:#c0392b;font-weight:600}
.badge{display:inline-block;padding:4px 10px;border-radius:4px;color:#fff;font-weight:700}
.promote{background:#1e8449}.reject{background:#c0392b}.incomplete{background:#b9770e}
.insufficient_evidence{background:#7f8c8d}.unsure{color:#b9770e;font-weight:600}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.turn{margin:4px 0;padding:4px 8px;border-radius:4px;font-size:13px;white-space:pre-wrap}
.user{background:#eef3f8}.assistant{background:#f7f7f2}.kind{color:#888;font-size:11px}
img{max-width:100%}.note{color:#555;font-size:13px}
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _gate_summary(decision: dict) -> str:
    """Why the verdict, how stable it is under resampling, and the scenarios it would need."""
    parts = [f"<b>{escape(decision['verdict'])}</b>: {escape(decision['reason'])}."]
    if decision["stability"] is not None:
        parts.append(
            f"Stability: {decision['stability']:.1%} of {decision['n_resamples']} bootstrap "
            f"resamples of the scenarios reach the same verdict (needs "
            f"&ge; {decision['stability_level']:.0%})."
        )
    if decision["scenarios_needed"] is not None:
        parts.append(
            f"Scenarios needed: <b>{decision['scenarios_needed']}</b> "
            f"(this suite: {decision['n_scenarios']})."
        )
    return f"<p>{' '.join(parts)}</p>"


def _gate_table(decision: dict) -> str:
    rows = "".join(
        f"<tr><td>{escape(c['name'])}</td><td class={c['status']}>{c['status'].upper()}</td>"
        f"<td>{escape(c['value'])}</td><td>{escape(c['threshold'])}</td>"
        f"<td>{escape(c['detail'])}</td><td>{_fmt(c['stability'])}</td></tr>"
        for c in decision["criteria"]
    )
    return (
        "<table><tr><th>criterion</th><th>result</th><th>value</th><th>threshold</th>"
        f"<th>detail</th><th>stability</th></tr>{rows}</table>"
    )


def _description(metric: str) -> str:
    """A scored metric's description; a held-out win rate (`win_rate:<judge>`) is described."""
    known = get_metric(metric)
    if known is not None:
        return known.description
    judge = metric.partition(":")[2]
    return f"share of held-out prompts won against the champion ({judge} judge; 0.5 = a coin)"


def _metrics_table(metrics: dict[str, dict]) -> str:
    rows = "".join(
        f"<tr><td>{escape(n)}</td><td>{escape(_description(n))}</td>"
        f"<td>{_fmt(m['champion'])}</td><td>{_fmt(m['candidate'])}</td><td>{m['diff']:+.3f}</td>"
        f"<td>[{m['ci_low']:+.3f}, {m['ci_high']:+.3f}]</td><td>{_fmt(m['mdd'])}</td>"
        f"<td>{m['n']}</td></tr>"
        for n, m in metrics.items()
    )
    return (
        "<table><tr><th>metric</th><th>meaning</th><th>champion</th><th>candidate</th>"
        "<th>diff</th><th>CI</th><th>min. detectable diff</th><th>n</th></tr>"
        f"{rows}</table>"
    )


def _transcript(record: dict | None) -> str:
    if record is None:
        return "<p class=note>no conversation</p>"
    flags = [m.name for m in all_metrics() if record.get(m.name) and m.group != "resolution"]
    verdict = "resolved" if record["resolved"] else "not resolved"
    shown = escape(", ".join(flags) or "none")
    head = f"<p><b>{verdict}</b>; end: {escape(record['end'])}; flags: {shown}"
    if record.get("judge_p") is not None:
        head += f"; judge P(resolved) {record['judge_p']:.2f}"
    turns = "".join(
        f"<div class='turn {escape(m['role'])}'><span class=kind>{escape(m['role'])}"
        f"{' · ' + escape(m['kind']) if m.get('kind') else ''}</span>\n{escape(m['content'])}</div>"
        for m in record["messages"]
    )
    return head + "</p>" + turns


def differing_scenarios(records: dict[str, list[dict]], top: int) -> list[tuple[str, float]]:
    """Scenarios ranked by how differently the two models did (sum of |metric differences|)."""

    def means(rows):
        out: dict[str, dict[str, list[float]]] = {}
        for r in rows:
            for m in all_metrics():
                if r.get(m.name) is not None:
                    out.setdefault(r["scenario_id"], {}).setdefault(m.name, []).append(
                        float(r[m.name])
                    )
        return {s: {k: sum(v) / len(v) for k, v in d.items()} for s, d in out.items()}

    cand, champ = means(records["candidate"]), means(records["champion"])
    scores = {
        s: sum(abs(cand[s].get(k, 0) - champ.get(s, {}).get(k, 0)) for k in cand[s]) for s in cand
    }
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def _img(alt: str, png_base64: str) -> str:
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{png_base64}'>"


def _judge(judge: dict) -> str:
    held = judge.get("heldout") or {}
    if not held:
        return f"<p class=note>No judge: {escape(judge.get('reason', ''))}</p>"
    return (
        f"<p class=note>{escape(judge.get('kind', ''))} judge trained on {judge.get('train_n')} "
        f"labelled turns; held-out n={held.get('n')}: accuracy {_fmt(held.get('accuracy'))}, "
        f"AUC {_fmt(held.get('auc'))}, Brier {_fmt(held.get('brier'))}, "
        f"ECE {_fmt(held.get('ece'))}.</p>"
    )


def write_html_report(outcome, path: Path, top: int = 4) -> Path:
    s = outcome.summary
    decision = s["decision"]
    metrics = s["metrics"]
    verdict = escape(decision["verdict"])
    body = [
        f"<h1>Eval {escape(s['eval_id'])}</h1>",
        f"<p><span class='badge {verdict}'>{verdict.upper()}</span> "
        f"candidate <b>{escape(s['models']['candidate'])}</b> vs champion "
        f"<b>{escape(s['models']['champion'])}</b> on suite <b>{escape(s['suite'])}</b>: "
        f"{s['scenarios']} scenarios ({s['injection_scenarios']} injection) "
        f"x {s['trials']} trials, "
        f"{escape(s['simulator'])} simulator.</p>",
    ]
    if s["errors"]:
        body.append(f"<p class=fail>Incomplete eval: {escape('; '.join(s['errors']))}</p>")
    body += ["<h2>Gate decision</h2>", _gate_summary(decision), _gate_table(decision)]
    if metrics:
        body += [
            "<h2>Metrics (paired: same scenarios, same seeds)</h2>",
            _img("metrics with confidence intervals", metrics_side_by_side(metrics)),
            _metrics_table(metrics),
        ]
    pass_rows = "".join(
        f"<tr><td>{escape(role)}</td>"
        + "".join(f"<td>{_fmt(v)}</td>" for v in ks.values())
        + "</tr>"
        for role, ks in s["pass_k"].items()
    )
    ks = list(next(iter(s["pass_k"].values()), {}))
    body.append(
        "<h2>Reliability</h2><table><tr><th>model</th>"
        + "".join(f"<th>{escape(k)}</th>" for k in ks)
        + f"</tr>{pass_rows}</table>"
    )
    if s["topics"]:
        body += [
            "<h2>Per-topic breakdown</h2>",
            _img("resolution per topic", per_topic(s["topics"])),
        ]
    body.append("<h2>Resolution judge</h2>" + _judge(s["judge"]))
    body.append(win_rate_html(s.get("win_rate")))
    if s.get("champion_log_repeat_contact"):
        log_rate = s["champion_log_repeat_contact"]
        body.append(
            "<p class=note>Champion log repeat-contact rate: "
            f"{_fmt(log_rate['repeat_contact_rate'])} over {log_rate['conversations']} "
            "logged conversations.</p>"
        )
    body.append("<h2>Scenarios where the models differ most</h2>")
    first = {
        role: {r["scenario_id"]: r for r in rows if r["trial"] == 0}
        for role, rows in outcome.records.items()
    }
    for scenario_id, score in differing_scenarios(outcome.records, top):
        body.append(
            f"<h3>{escape(scenario_id)} <span class=note>(difference score {score:.2f})</span></h3>"
            "<div class=pair>"
            f"<div><h4>champion</h4>{_transcript(first['champion'].get(scenario_id))}</div>"
            f"<div><h4>candidate</h4>{_transcript(first['candidate'].get(scenario_id))}</div></div>"
        )
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(s['eval_id'])}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    path.write_text(html, encoding="utf-8")
    return path
