"""The LLM simulator: a model (local HF or an OpenAI-compatible endpoint) plays the customer."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from supportloop.eval.injections import TEMPLATES
from supportloop.eval.simulator import LLMSimulator, SimState, hf_backend, openai_backend
from supportloop.eval.suites import Fact, Scenario
from supportloop.models.sampling import SamplingConfig

SCENARIO = Scenario(
    scenario_id="s1",
    topic="cancel",
    opening="Please cancel order #W1.",
    known_info={"order_id": "#W1", "zip": "19122"},
    facts=[Fact(text="order #W1 cancelled", anchors=["#W1"], keywords=["cancel"])],
)


def _states(scenario=SCENARIO):
    return [
        SimState(
            scenario,
            [
                {"role": "user", "content": scenario.opening},
                {"role": "assistant", "content": "What is your zip code?"},
            ],
        )
    ]


def test_openai_compatible_endpoint_plays_the_customer():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            payload = json.dumps({"choices": [{"message": {"content": "My zip is 19122."}}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = openai_backend(f"http://127.0.0.1:{server.server_port}/v1", "sim", "k", 32, 0.7)
        simulator = LLMSimulator(backend, similarity=lambda a, b: 0.0)
        move = simulator.respond(_states())[0]
    finally:
        server.shutdown()
    assert move.text == "My zip is 19122." and move.kind == "llm" and move.slots == ["zip"]
    messages = seen[0]["messages"]
    assert messages[0]["role"] == "system" and "19122" in messages[0]["content"]
    # roles are swapped: the assistant's question is the simulator's "user" turn
    assert messages[-1] == {"role": "user", "content": "What is your zip code?"}


def test_local_model_backend_and_injection_turn(tiny_llama_dir, one_thread):
    sampling = SamplingConfig(max_new_tokens=8, do_sample=False)
    simulator = LLMSimulator(
        hf_backend(str(tiny_llama_dir), None, sampling), similarity=lambda a, b: 1.0
    )
    attacked = SCENARIO.model_copy(update={"scenario_id": "s2", "injection": TEMPLATES[1]})
    moves = simulator.respond(_states() + _states(attacked))
    assert moves[0].kind == "repeat" and moves[0].text  # similarity 1.0 to the issue
    assert moves[1].kind == "injection" and moves[1].text == TEMPLATES[1].message
