"""The win-rate section of an eval summary, as HTML for the report and flat keys for W&B."""

from __future__ import annotations

from html import escape
from typing import Any

from supportloop.eval.winrate import BUSINESS_METRICS

JUDGE_TITLES = {
    "gold": "gold rules (the simulated annotators' rules, no noise)",
    "reward_model": "reward model",
}


def _num(value: Any, sign: str = "") -> str:
    return "n/a" if value is None else f"{value:{sign}.3f}"


def win_rate_html(section: dict[str, Any] | None) -> str:
    """The report's "Win rate against the champion" section ("" when there is none)."""
    if not section:
        return ""
    head = "<h2>Win rate against the champion (held-out prompts, same seeds)</h2>"
    if section.get("error"):
        return f"{head}<p class=fail>Not computed: {escape(section['error'])}</p>"
    dropped = ", ".join(f"{n} by {k}" for k, n in section["dropped"].items()) or "none"
    parts = [
        head,
        f"<p class=note>{section['prompts']} prompts from the {escape(section['source'])} "
        f"({section['candidate_prompts']} before dropping those the preferences came from: "
        f"{escape(dropped)}), {section['samples']} reply per prompt and model. Ties count half."
        + ("" if section["prompt_settings_as_trained"] else " Prompt settings differ from the "
           "training data's.")
        + "</p>",
    ]  # fmt: skip
    rows = "".join(
        f"<tr><td>{escape(JUDGE_TITLES.get(name, name))}</td><td>{_num(r['rate'])}</td>"
        f"<td>[{_num(r['ci_low'])}, {_num(r['ci_high'])}]</td>"
        f"<td>{r['wins']} / {r['ties']} / {r['losses']}</td><td>{r['n']}</td></tr>"
        for name, r in section["judges"].items()
    )
    parts.append(
        "<table><tr><th>judge</th><th>win rate</th><th>CI</th><th>wins / ties / losses</th>"
        f"<th>prompts</th></tr>{rows}</table>"
    )
    agreement = section.get("agreement")
    if agreement:
        parts.append(
            f"<p class=note>Reward model agrees with the gold judge on {_num(agreement['rate'])} "
            f"[{_num(agreement['ci_low'])}, {_num(agreement['ci_high'])}] of the "
            f"{agreement['n']} comparisons the gold judge decides.</p>"
        )
    metric_rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(BUSINESS_METRICS[name][1])}</td>"
        f"<td>{'higher' if m['higher_is_better'] else 'lower'}</td>"
        f"<td>{_num(m['champion'])}</td><td>{_num(m['candidate'])}</td>"
        f"<td>{_num(m['diff'], '+')}</td><td>[{_num(m['ci_low'], '+')}, "
        f"{_num(m['ci_high'], '+')}]</td></tr>"
        for name, m in section["metrics"].items()
    )
    parts.append(
        "<table><tr><th>business metric</th><th>meaning</th><th>better</th><th>champion</th>"
        f"<th>candidate</th><th>diff</th><th>CI</th></tr>{metric_rows}</table>"
    )
    return "".join(parts)


def win_rate_flat(section: dict[str, Any] | None) -> dict[str, Any]:
    """W&B summary keys: win_rate/<judge>/..., win_rate/agreement/..., win_rate/<metric>/..."""
    if not section or section.get("error"):
        return {}
    out: dict[str, Any] = {"win_rate/prompts": section["prompts"]}
    for name, rate in section["judges"].items():
        for key in ("rate", "ci_low", "ci_high"):
            out[f"win_rate/{name}/{key}"] = rate[key]
    for key, value in (section.get("agreement") or {}).items():
        out[f"win_rate/agreement/{key}"] = value
    for name, metric in section["metrics"].items():
        for key in ("candidate", "champion", "diff", "ci_low", "ci_high"):
            out[f"win_rate/{name}/{key}"] = metric[key]
    return out
