"""The online predict test at the gateway: the audit's predict reference reaches the scorer
process through the enforcement list, predict inputs are judged against it there, and an account
sweeping the input space is challenged by the online path while customers are not."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from distillguard.detect import online
from distillguard.detect.prediction.prada import PopulationStats, outside_range, range_reference
from distillguard.gateway.online_worker import OnlineWorker, score_batch
from distillguard.respond.enforcement import parse_enforcement, predict_reference_document
from tests.gateway.conftest import GatewayFactory, Keys
from tests.gateway.test_app import auth

PREDICT = "/v1/predict"
ADMIN = {"Authorization": "Bearer adm1n"}
# The fake upstream's model was trained on these class centres, unit spread (fixtures.py).
CENTRES = np.array([[0, 0, 0, 0], [3, 3, 0, 0], [0, 3, 3, 3]], dtype=float)
PREDICT_REASON = "predict inputs"  # the sequential test's reason names them


def natural(rng: np.random.Generator, n: int) -> np.ndarray:
    """Inputs like the customers': the training distribution."""
    return CENTRES[rng.integers(0, 3, size=n)] + rng.normal(0.0, 1.0, size=(n, 4))


def sweep(rng: np.random.Generator, n: int) -> np.ndarray:
    """An extraction sweep: uniform over a box far wider than real inputs."""
    return rng.uniform(-60.0, 60.0, size=(n, 4))


def reference() -> PopulationStats:
    rng = np.random.default_rng(7)
    x = natural(rng, 600)
    return range_reference(x, np.asarray([f"cust-{i % 20}" for i in range(600)], dtype=object))


def document(with_reference: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {"accounts": [], "clusters": [], "known_good": []}
    if with_reference:
        doc["predict_reference"] = predict_reference_document(reference())
    return doc


def predict_obs(ts: float, features: list[float] | None) -> dict[str, Any]:
    o: dict[str, Any] = {
        "ts": ts,
        "endpoint": "predict",
        "model": "m",
        "prompt_tokens": None,
        "completion_tokens": None,
        "content": None,
        "text": None,
        "client_ip": "10.0.0.1",
        "asn": None,
        "params": None,
    }
    if features is not None:
        o["features"] = features
    return o


def test_score_batch_judges_predict_inputs_like_the_replay() -> None:
    ref = reference()
    rng = np.random.default_rng(3)
    inputs = [*natural(rng, 20).tolist(), *sweep(rng, 20).tolist()]
    batch: list[Any] = [["a", "phone", predict_obs(100.0 + i, x)] for i, x in enumerate(inputs)]
    batch.append(["a", "phone", predict_obs(200.0, [1.0, 2.0])])  # another model's input
    chat = predict_obs(201.0, None) | {"endpoint": "chat.completions", "text": "hello"}
    batch.append(["a", "phone", chat])
    _, touched = score_batch(json.loads(json.dumps(batch)), {}, {}, None, None, 0.85, 600.0, ref)
    state = touched["a"]
    # What the replay folds: outside_range on each predict input against the same reference.
    expected = [outside_range(np.asarray(x, dtype=np.float64), ref) for x in inputs]
    assert state.n_pred_judged == len(inputs)  # not the short vector, not the chat call
    assert state.n_pred_outside == sum(bool(e) for e in expected)
    assert 0 < state.n_pred_outside < len(inputs)
    # Without a reference nothing is judged (the test waits for an audit), as in the replay.
    _, bare = score_batch(json.loads(json.dumps(batch)), {}, {}, None, None, 0.85, 600.0)
    assert bare["a"].n_pred_judged == 0 and bare["a"].n_predict == len(inputs) + 1


def test_worker_judges_against_the_reference_it_was_given_in_order() -> None:
    import asyncio

    rng = np.random.default_rng(5)
    xs = sweep(rng, 60).tolist()

    async def run() -> tuple[float, float, tuple[str, ...]]:
        worker = OnlineWorker()
        worker.start()
        try:
            # Queued before any reference: not judged, however far out.
            for i, x in enumerate(xs):
                worker.submit("acct-s", "phone", predict_obs(1000.0 + i, x))
            worker.set_predict_reference(reference())
            deadline = time.monotonic() + 60
            while worker.pending and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            before = worker.view("acct-s", time.time())[0]
            for i, x in enumerate(xs):
                worker.submit("acct-s", "phone", predict_obs(2000.0 + i, x))
            while worker.pending and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            after, reasons, _ = worker.view("acct-s", time.time())
            return before, after, reasons
        finally:
            await worker.aclose()

    before, after, reasons = asyncio.run(run())
    assert before < online.ABUSE_SCORE
    assert after >= online.ABUSE_SCORE
    assert any(PREDICT_REASON in r for r in reasons), reasons


def _challenged(r: httpx.Response) -> bool:
    return r.status_code == 403 and r.json()["error"]["code"] == "step_up_required"


def _send(url: str, key: str, xs: np.ndarray, app: Any) -> list[httpx.Response]:
    """Send ``xs`` one by one; halfway and at the end wait for the scorer to catch up, so the
    outcome does not depend on how far behind it runs on a busy machine."""
    out: list[httpx.Response] = []
    with httpx.Client(base_url=url, headers=auth(key)) as client:
        for i, x in enumerate(xs.tolist()):
            out.append(client.post(PREDICT, json={"model": "m", "features": x}))
            if i in (len(xs) // 2, len(xs) - 2):
                deadline = time.monotonic() + 30
                while app.online.pending and time.monotonic() < deadline:
                    time.sleep(0.01)
    return out


def test_sweeping_account_is_challenged_online_and_customer_is_not(
    gateway: GatewayFactory,
) -> None:
    keys = Keys()
    sweeper = keys.add("sk-sweep", "acct-sweep")
    customer = keys.add("sk-cust", "acct-cust")
    rng = np.random.default_rng(11)
    enf = parse_enforcement(orjson.dumps(document()))
    with gateway(keys, enforcement=enf, online=OnlineWorker()) as (url, app):
        assert httpx.get(url + "/healthz").json()["predict_reference_features"] == 4
        cust = _send(url, customer, natural(rng, 80), app)
        swept = _send(url, sweeper, sweep(rng, 80), app)
    assert all(r.status_code == 200 for r in cust)
    assert not any(PREDICT_REASON in r.headers["x-distillguard-action"] for r in cust)
    first = next(i for i, r in enumerate(swept) if _challenged(r))
    # The test needs PREDICT_MIN_QUERIES judged inputs before it may act.
    assert first >= online.PREDICT_MIN_QUERIES
    assert all(r.status_code == 200 for r in swept[:first])
    assert _challenged(swept[-1])
    action = swept[-1].headers["x-distillguard-action"]
    assert action.startswith("challenge") and PREDICT_REASON in action


def test_old_file_loads_without_the_test_and_a_reload_turns_it_on(
    gateway: GatewayFactory, tmp_path: Path
) -> None:
    from distillguard.gateway.server import load_enforcement, make_reloader
    from distillguard.settings import Settings

    keys = Keys()
    sweeper = keys.add("sk-sweep", "acct-sweep")
    path = tmp_path / "enforcement.json"
    path.write_text(json.dumps(document(with_reference=False)))
    enf = load_enforcement(path)
    assert enf.predict_reference is None
    rng = np.random.default_rng(13)
    with gateway(
        keys, enforcement=enf, online=OnlineWorker(), admin_token="adm1n", enforcement_path=path
    ) as (url, app):
        app.reloader = make_reloader(Settings(gateway=app.settings), None)
        assert httpx.get(url + "/healthz").json()["predict_reference_features"] is None
        before = _send(url, sweeper, sweep(rng, 40), app)
        path.write_text(json.dumps(document()))
        r = httpx.post(url + "/admin/reload", headers=ADMIN)
        assert r.status_code == 200 and r.json()["predict_reference_features"] == 4
        after = _send(url, sweeper, sweep(rng, 60), app)
        # A malformed reference is refused and the loaded one stays.
        path.write_text(json.dumps({"predict_reference": {"version": 1, "median": [0.0]}}))
        assert httpx.post(url + "/admin/reload", headers=ADMIN).status_code == 400
        assert httpx.get(url + "/healthz").json()["predict_reference_features"] == 4
    assert all(r.status_code == 200 for r in before)  # no reference: the test waits
    assert _challenged(after[-1])
    assert PREDICT_REASON in after[-1].headers["x-distillguard-action"]


def test_without_a_reference_the_range_seen_so_far_judges_once_enough_accounts_sent(
    gateway: GatewayFactory,
) -> None:
    from distillguard.detect.prediction.prada import RUNNING_MIN_ACCOUNTS

    keys = Keys()
    customers = [keys.add(f"sk-c{i}", f"acct-c{i}") for i in range(RUNNING_MIN_ACCOUNTS + 4)]
    sweeper = keys.add("sk-sweep", "acct-sweep")
    early = keys.add("sk-early", "acct-early")
    rng = np.random.default_rng(17)
    enf = parse_enforcement(orjson.dumps(document(with_reference=False)))
    with gateway(keys, enforcement=enf, online=OnlineWorker()) as (url, app):
        assert httpx.get(url + "/healthz").json()["predict_reference_features"] is None
        # Alone, a sweeping account is not judged: one account is no population.
        alone = _send(url, early, sweep(rng, 40), app)
        cust = [_send(url, key, natural(rng, 8), app) for key in customers]
        swept = _send(url, sweeper, sweep(rng, 80), app)
        late = _send(url, customers[0], natural(rng, 40), app)
    assert all(r.status_code == 200 for r in alone)
    for rs in [*cust, late]:
        assert all(r.status_code == 200 for r in rs)
        assert not any(PREDICT_REASON in r.headers["x-distillguard-action"] for r in rs)
    first = next(i for i, r in enumerate(swept) if _challenged(r))
    assert first >= online.PREDICT_MIN_QUERIES
    assert _challenged(swept[-1])
    assert PREDICT_REASON in swept[-1].headers["x-distillguard-action"]


def test_score_batch_uses_the_running_reference_only_without_the_audits() -> None:
    from distillguard.detect.prediction.prada import RunningReference

    rng = np.random.default_rng(19)
    running = RunningReference(min_accounts=5)
    batch: list[Any] = [
        [f"c{i}", "phone", predict_obs(100.0 + 10 * i + j, x)]
        for i in range(5)
        for j, x in enumerate(natural(rng, 10).tolist())
    ]
    batch += [
        ["s", "phone", predict_obs(300.0 + i, x)] for i, x in enumerate(sweep(rng, 30).tolist())
    ]
    _, touched = score_batch(batch, {}, {}, None, None, 0.85, 600.0, None, running)
    assert running.current() is not None
    assert all(touched[f"c{i}"].n_pred_judged == 0 for i in range(4))  # before five accounts
    assert touched["s"].n_pred_judged == 30 and touched["s"].n_pred_outside >= 20
    # With the audit's reference the running one is neither used nor fed.
    before = running.current()
    more = [["s", "phone", predict_obs(400.0 + i, x)] for i, x in enumerate(sweep(rng, 5).tolist())]
    score_batch(more, {}, {}, None, None, 0.85, 600.0, reference(), running)
    assert running.current() is before
