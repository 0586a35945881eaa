"""Build a world from a scenario and write its traffic, accounts and ground truth."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import structlog

from distillguard.errors import ConfigError
from distillguard.events.writers import open_writer, write_table
from distillguard.simulate.actors import PARAM_PROFILES, compile_actors, param_table
from distillguard.simulate.campaigns import BUILDERS
from distillguard.simulate.catalog import ModelNames
from distillguard.simulate.config import ScenarioConfig
from distillguard.simulate.ids import random_ids, to_epoch_ms
from distillguard.simulate.infrastructure import USER_AGENTS, Infrastructure, client_fingerprint
from distillguard.simulate.population import build_population
from distillguard.simulate.predict import PredictModel
from distillguard.simulate.prompts import load_library
from distillguard.simulate.render import RenderContext, render_batch
from distillguard.simulate.schedule import window_events
from distillguard.simulate.world import HarvestStyle, WorldBuilder

__all__ = ["SimulationSummary", "build_world", "simulate"]

log = structlog.get_logger(__name__)

_RENDER_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """What a run wrote.

    ``owned`` lists, per account/event field, the values campaigns own and share between
    their accounts (payment cards, sign-up devices and networks, egress addresses): genuine
    coordination evidence rather than simulator artefacts.
    """

    events_path: Path
    accounts_path: Path
    labels_path: Path
    n_events: int
    n_accounts: int
    n_malicious: int
    accounts_by_kind: dict[str, int]
    events_by_kind: dict[str, int]
    events_by_campaign: dict[str, int]
    prompt_source: str
    seconds: float
    owned: dict[str, tuple[str, ...]]

    @property
    def events_per_s(self) -> float:
        return self.n_events / self.seconds if self.seconds > 0 else float("inf")


def build_world(config: ScenarioConfig) -> tuple[WorldBuilder, RenderContext]:
    """The actors and everything rendering needs, deterministically from ``config.seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
    b = WorldBuilder(config=config, rng=rng, infra=Infrastructure.build(rng))
    b.style(HarvestStyle((0.4, 0.3, 0.2, 0.1), 0.7, 0.3, 0.0))  # benign users' own habit
    n_campaign = sum(c.accounts * c.instances for c in config.campaigns)
    n_benign = config.accounts - n_campaign
    if n_benign < 20:
        raise ConfigError(
            f"scenario {config.name!r}: {config.accounts} accounts leave {n_benign} benign "
            f"after {n_campaign} campaign accounts; raise --accounts or shrink the campaigns"
        )
    build_population(b, n_benign)
    for cfg in config.campaigns:
        for index in range(cfg.instances):
            BUILDERS[cfg.kind](b, cfg, index)
    table = compile_actors(b.actors, len(PARAM_PROFILES))
    library = load_library(config.data_dir, config.prompt_split, config.seed)
    ip_text, ip_asn, ip_country = b.infra.tables()
    params = param_table()
    seeds = pa.concat_arrays(
        [library.gsm8k, library.humaneval, library.mmlu, library.chat, library.search]
    )
    ctx = RenderContext(
        actors=table,
        account_ids=pa.array([str(a.account["account_id"]) for a in b.actors], type=pa.string()),
        org_ids=pa.array([str(a.account["org_id"]) for a in b.actors], type=pa.string()),
        key_ids=random_ids(rng, int(table.keys.sum()), "key_", 8),
        ip_text=ip_text,
        ip_asn=ip_asn,
        ip_country=ip_country,
        fingerprints=pa.array(
            [client_fingerprint(u, o) for u in range(len(USER_AGENTS)) for o in range(3)]
        ),
        user_agents=pa.array([u[0] for u in USER_AGENTS]),
        params=params,
        params_text=pa.array(params.text, type=pa.string()),
        library=library,
        seeds=seeds,
        styles=tuple(b.styles),
        models=(
            ModelNames(new=config.release.model, flagship=config.release.replaces)
            if config.release
            else ModelNames()
        ),
        predict=PredictModel.build(np.random.default_rng(np.random.SeedSequence([config.seed, 3]))),
        start_ms=to_epoch_ms(config.start),
        release_s=b.release_s,
    )
    return b, ctx


def _events_name(config: ScenarioConfig) -> str:
    return {"jsonl": "events.jsonl", "jsonl.gz": "events.jsonl.gz", "parquet": "events.parquet"}[
        config.events_format
    ]


def _accounts_table(b: WorldBuilder, start_ms: int) -> tuple[pa.Table, pa.Table]:
    rows = sorted(b.actors, key=lambda a: str(a.account["account_id"]))
    acc = [a.account for a in rows]
    created = [start_ms + int(math.floor(float(str(r["created_s"])) * 1000)) for r in acc]
    accounts = pa.table(
        {
            "account_id": [r["account_id"] for r in acc],
            "created_at": pa.array(created, type=pa.timestamp("ms", tz="UTC")),
            **{
                f: pa.array([r[f] for r in acc], type=pa.string())
                for f in (
                    "org_id",
                    "email_domain",
                    "verification",
                    "payment_fingerprint",
                    "signup_ip",
                    "signup_fingerprint",
                    "country",
                    "plan",
                )
            },
        }
    )
    labels = pa.table(
        {
            "account_id": [r["account_id"] for r in acc],
            "label": [a.label for a in rows],
            "campaign_id": pa.array([a.campaign_id for a in rows], type=pa.string()),
            "kind": [a.kind for a in rows],
        }
    )
    return accounts, labels


def _batches(
    config: ScenarioConfig, b: WorldBuilder, ctx: RenderContext, per_actor: np.ndarray
) -> Iterator[pa.RecordBatch]:
    """Rendered batches in time order. Windows are drawn one by one (the schedule), then
    rendered in batches of at least _RENDER_ROWS requests, so the per-call cost of the Arrow
    kernels is paid per batch; ``per_actor`` accumulates each actor's request count."""
    step = config.chunk_minutes * 60.0
    n_windows = max(1, math.ceil(b.period_s / step))
    start_s = ctx.start_ms / 1000.0
    pending_a = np.zeros(0, dtype=np.int64)
    pending_t = np.zeros(0)
    batch_no = 0
    for w in range(n_windows):
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2, w]))
        w_start, w_end = w * step, min(b.period_s, (w + 1) * step)
        actor, ts = window_events(ctx.actors, w_start, w_end, start_s, config.volume_scale, rng)
        per_actor += np.bincount(actor, minlength=ctx.actors.n)
        pending_a = np.concatenate([pending_a, actor])
        pending_t = np.concatenate([pending_t, ts])
        last = w == n_windows - 1
        # Fixed-size slices keep memory flat however busy a window is; events are already
        # in time order, so slicing keeps the file in time order.
        while len(pending_a) >= _RENDER_ROWS or (last and len(pending_a)):
            rng = np.random.default_rng(np.random.SeedSequence([config.seed, 3, batch_no]))
            yield render_batch(ctx, pending_a[:_RENDER_ROWS], pending_t[:_RENDER_ROWS], rng)
            pending_a, pending_t = pending_a[_RENDER_ROWS:], pending_t[_RENDER_ROWS:]
            batch_no += 1


def simulate(config: ScenarioConfig, out_dir: Path) -> SimulationSummary:
    """Write ``out_dir``/events.*, accounts.jsonl and labels.jsonl for ``config``.

    Same config, same bytes. Memory is bounded by a few render batches of 50,000 requests,
    whatever the number of events.
    """
    started = time.perf_counter()
    b, ctx = build_world(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    events_path = out_dir / _events_name(config)
    per_actor = np.zeros(ctx.actors.n, dtype=np.int64)
    batches: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in _batches(config, b, ctx, per_actor):
                while not stop.is_set():
                    try:
                        batches.put(batch, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            batches.put(None)
        except BaseException as exc:  # handed to the writing thread, which re-raises it
            batches.put(exc)

    # Rendering (Arrow kernels) and writing (DuckDB, zlib, Parquet) both release the GIL, so
    # a producer thread keeps both cores busy; order and bytes are those of a serial run.
    producer = threading.Thread(target=produce, name="simulate-render", daemon=True)
    producer.start()
    try:
        with open_writer(events_path, "events") as writer:
            while (item := batches.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                writer.write(item)
    finally:
        stop.set()
        producer.join()
    accounts, labels = _accounts_table(b, ctx.start_ms)
    accounts_path, labels_path = out_dir / "accounts.jsonl", out_dir / "labels.jsonl"
    write_table(accounts_path, "accounts", accounts)
    write_table(labels_path, "labels", labels)
    by_kind: Counter[str] = Counter()
    by_campaign: Counter[str] = Counter()
    for a, count in zip(b.actors, per_actor.tolist(), strict=True):
        by_kind[a.kind] += count
        if a.campaign_id:
            by_campaign[a.campaign_id] += count
    seconds = time.perf_counter() - started
    summary = SimulationSummary(
        events_path=events_path,
        accounts_path=accounts_path,
        labels_path=labels_path,
        n_events=int(per_actor.sum()),
        n_accounts=len(b.actors),
        n_malicious=sum(a.label == "malicious" for a in b.actors),
        accounts_by_kind=dict(sorted(Counter(a.kind for a in b.actors).items())),
        events_by_kind=dict(sorted(by_kind.items())),
        events_by_campaign=dict(sorted(by_campaign.items())),
        prompt_source=ctx.library.source,
        seconds=seconds,
        owned={k: tuple(sorted(v)) for k, v in sorted(b.owned.items())},
    )
    log.info(
        "simulate.finished",
        scenario=config.name,
        events=summary.n_events,
        accounts=summary.n_accounts,
        malicious=summary.n_malicious,
        seconds=round(seconds, 2),
    )
    return summary
