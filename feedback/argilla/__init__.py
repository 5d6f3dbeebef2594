"""Argilla: the embedded server stack, dataset settings, push, pull, agreement, webhooks.

    supportloop argilla up                                  # embedded server (stack.yaml)
    supportloop argilla push configs/argilla/default.yaml   # one record per judged assistant turn
    supportloop argilla pull configs/argilla/default.yaml   # -> <pull_dir>/responses (contract)
    supportloop argilla agreement configs/argilla/default.yaml --out runs/argilla/agreement
    supportloop argilla listen configs/argilla/default.yaml # pull on every record.completed
    supportloop argilla simulate configs/argilla/default.yaml  # DEMO ONLY: simulated annotators
    supportloop argilla down

Modules: `stack` (processes, credentials), `server/` (runs inside .venv-argilla-server: entry
point + osmem search-engine adapter), `connection` (env or credentials file), `network`
(timeouts, retries, one-line errors) with `rest` (requests session) and `sdk` (the argilla
client), `settings` (config -> Argilla settings), `push`, `pull`, `agreement`, `webhooks`,
`simulate`.
With ARGILLA_API_URL / ARGILLA_API_KEY (and ARGILLA_WORKSPACE) set, push/pull/listen talk to
that server (stock Argilla with Elasticsearch, an HF Space) and nothing is started.
"""
