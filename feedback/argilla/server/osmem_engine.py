"""Argilla's OpenSearch engine without scripted updates, for the embedded osmem search engine.

Runs inside the Argilla server's own virtualenv (imported by `serve.py`), never in the project
venv. `osmem-server` (an in-memory OpenSearch API) refuses `_update` requests with a `script`,
which stock Argilla uses to add/remove one annotator's response inside a record document. This
engine replaces those scripted updates (and the partial suggestion updates) with
read-modify-write: fetch the document source, change it in Python, index it back with
refresh. A process-wide lock serialises these writes so two annotators submitting the same
record concurrently do not lose each other's response (the embedded server runs one process;
the background worker never touches responses). Everything else is stock `OpenSearchEngine`.

Registered as `ENGINE_NAME`; the stack selects it with `ARGILLA_SEARCH_ENGINE`. Stock
deployments (Elasticsearch/OpenSearch) keep Argilla's own engines.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from argilla_server.models import Response, Suggestion
from argilla_server.search_engine import OpenSearchEngine, SearchEngine
from argilla_server.search_engine.commons import es_index_name_for_dataset

ENGINE_NAME = "osmem-opensearch"

_WRITE_LOCK = asyncio.Lock()


@SearchEngine.register(engine_name=ENGINE_NAME)
@dataclasses.dataclass
class OsmemOpenSearchEngine(OpenSearchEngine):
    """OpenSearchEngine whose per-record response/suggestion updates avoid scripts."""

    async def _modify_source(
        self, index_name: str, doc_id: str, change: Callable[[dict[str, Any]], None]
    ) -> None:
        async with _WRITE_LOCK:
            document = await self.client.get(index=index_name, id=doc_id)
            source = document["_source"]
            change(source)
            await self.client.index(index=index_name, id=doc_id, body=source, refresh=True)

    async def update_record_response(self, response: Response) -> None:
        es_response = _jsonable(self._map_record_response_to_es(response))

        def change(source: dict[str, Any]) -> None:
            kept = [r for r in source.get("responses") or [] if r.get("id") != es_response["id"]]
            source["responses"] = [*kept, es_response]

        record = response.record
        await self._modify_source(es_index_name_for_dataset(record.dataset), str(record.id), change)

    async def delete_record_response(self, response: Response) -> None:
        response_id = str(response.id)

        def change(source: dict[str, Any]) -> None:
            responses = source.get("responses") or []
            source["responses"] = [r for r in responses if str(r.get("id")) != response_id]

        record = response.record
        await self._modify_source(es_index_name_for_dataset(record.dataset), str(record.id), change)

    async def update_record_suggestion(self, suggestion: Suggestion) -> None:
        es_suggestions = _jsonable(self._map_record_suggestions_to_es([suggestion]))

        def change(source: dict[str, Any]) -> None:
            source["suggestions"] = {**(source.get("suggestions") or {}), **es_suggestions}

        index_name = es_index_name_for_dataset(suggestion.record.dataset)
        await self._modify_source(index_name, str(suggestion.record_id), change)

    async def delete_record_suggestion(self, suggestion: Suggestion) -> None:
        name = suggestion.question.name

        def change(source: dict[str, Any]) -> None:
            (source.get("suggestions") or {}).pop(name, None)

        index_name = es_index_name_for_dataset(suggestion.record.dataset)
        await self._modify_source(index_name, str(suggestion.record_id), change)


def _jsonable(value: Any) -> Any:
    """UUIDs/enums -> JSON types, as the OpenSearch client would serialise them."""
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)
