"""One actor per account: the habits that drive its traffic, and its account record.

Population and campaign builders create :class:`Actor` values (a few thousand Python objects
at most); :func:`compile_actors` turns them into numpy arrays so that events are rendered
without a Python loop per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import orjson

__all__ = [
    "PARAM_PROFILES",
    "SYSTEM_PROMPTS",
    "Actor",
    "ActorTable",
    "Endpoint",
    "IpMode",
    "Rhythm",
    "Source",
    "compile_actors",
    "param_table",
]


class Source(IntEnum):
    """What a request's content is drawn from."""

    CHAT = 0
    SEARCH = 1
    GSM8K = 2
    MMLU = 3
    HUMANEVAL = 4
    DOCUMENT = 5  # one template over many documents (enterprise batch)
    SYNTH_DATA = 6
    TASK = 7  # generated coding / maths / reasoning tasks, asked plainly
    DISTILL = 8  # the same tasks with reasoning elicitation (harvest style)
    RUBRIC = 9
    AGENTIC = 10
    JAILBREAK = 11
    EXTRACTION = 12
    PREDICT_NATURAL = 13
    PREDICT_WHATIF = 14
    PREDICT_RANDOM = 15
    PREDICT_SYNTHETIC = 16
    PREDICT_BOUNDARY = 17


N_SOURCES = len(Source)
PREDICT_SOURCES = (
    Source.PREDICT_NATURAL,
    Source.PREDICT_WHATIF,
    Source.PREDICT_RANDOM,
    Source.PREDICT_SYNTHETIC,
    Source.PREDICT_BOUNDARY,
)


class Endpoint(IntEnum):
    CHAT = 0
    COMPLETIONS = 1
    EMBEDDINGS = 2
    PREDICT = 3


ENDPOINT_NAMES = ("chat.completions", "completions", "embeddings", "predict")


class Rhythm(IntEnum):
    """Shape of an actor's day (local time)."""

    HUMAN = 0
    OFFICE = 1
    EVENING = 2
    FLAT = 3
    SESSIONS = 4  # only inside explicit sessions (jobs, eval runs, scripted bursts)


class IpMode(IntEnum):
    SKEW = 0  # a few favourite addresses, a long tail
    ROTATE = 1  # the address changes every ``rotation_s`` (mobile churn, rotating proxies)


# Request-parameter habits shared by every actor. Each profile lists variants; a request
# picks a profile by the actor's weights, then a variant uniformly.
PARAM_PROFILES: tuple[tuple[dict[str, object], ...], ...] = (
    ({},),
    tuple({"temperature": t} for t in (0.2, 0.5, 0.7, 1.0)),
    tuple({"temperature": 0, "max_tokens": m} for m in (256, 512, 1024, 2048)),
    tuple({"temperature": t, "max_tokens": 4096, "stream": True} for t in (0.7, 1.0)),
    tuple(
        {"temperature": 0, "max_tokens": m, "logprobs": True, "top_logprobs": k}
        for m in (256, 1024)
        for k in (1, 5, 20)
    ),
    tuple({"temperature": 0.2, "top_p": p, "max_tokens": 2048} for p in (0.9, 0.95)),
    tuple(
        {"reasoning_effort": e, "max_tokens": m} for e in ("medium", "high") for m in (8192, 16384)
    ),
    tuple({"temperature": 0.9, "n": k, "max_tokens": 1024} for k in (2, 4, 8)),
    ({"stream": True}, {"stream": True, "stream_options": {"include_usage": True}}),
    tuple({"temperature": 0, "seed": s} for s in (0, 1, 42, 1234)),
    tuple(
        {"response_format": {"type": "json_object"}, "temperature": t, "max_tokens": 1024}
        for t in (0, 0.3)
    ),
    tuple({"temperature": 1.0, "max_tokens": m, "logprobs": True} for m in (2048, 8192)),
)
TOOLS_PROFILE = len(PARAM_PROFILES)
_TOOL_DEFS = (
    ("search_web", {"query": {"type": "string"}}),
    ("run_python", {"code": {"type": "string"}}),
    ("sql_query", {"sql": {"type": "string"}}),
    ("read_file", {"path": {"type": "string"}}),
    ("get_weather", {"city": {"type": "string"}}),
    ("http_get", {"url": {"type": "string"}}),
)
_TOOL_SETS = ((0, 1), (2,), (3, 1), (4,), (0, 5), (0, 1, 2, 3))
EMBED_PROFILE = TOOLS_PROFILE + 1

SYSTEM_PROMPTS: tuple[str, ...] = (
    "You are a helpful assistant.",
    "You are a helpful assistant. Answer concisely.",
    "You are a friendly customer support agent for an online store. Never discuss competitors.",
    "You are a tutor for high-school students. Encourage them and explain simply.",
    "You are an expert software engineer. Answer with code when useful.",
    "You are a writing assistant. Keep the user's voice.",
    "You are a travel planner. Ask clarifying questions when needed.",
    "You are a careful assistant. Think before you answer.",
    "You are an assistant with access to tools. Call a tool when it helps.",
    "Du bist ein hilfreicher Assistent.",
)


@dataclass(frozen=True, slots=True)
class ParamTable:
    """Every request-parameter JSON string a request can carry, and its ``max_tokens``."""

    text: tuple[str, ...]
    max_tokens: np.ndarray  # 0 where unset
    profile_start: np.ndarray  # first row of each profile
    profile_size: np.ndarray


def param_table() -> ParamTable:
    texts: list[str] = []
    max_tokens: list[int] = []
    starts: list[int] = []
    sizes: list[int] = []
    tool_profile = tuple(
        {
            "temperature": 0,
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": _TOOL_DEFS[i][0],
                        "parameters": {"type": "object", "properties": _TOOL_DEFS[i][1]},
                    },
                }
                for i in tool_set
            ],
            "tool_choice": "auto",
        }
        for tool_set in _TOOL_SETS
    )
    embed_profile: tuple[dict[str, object], ...] = (
        {},
        {"encoding_format": "float"},
        {"encoding_format": "base64"},
    )
    for profile in (*PARAM_PROFILES, tool_profile, embed_profile):
        starts.append(len(texts))
        sizes.append(len(profile))
        for variant in profile:
            texts.append(orjson.dumps(variant).decode() if variant else "")
            mt = variant.get("max_tokens", 0)
            max_tokens.append(int(mt) if isinstance(mt, int) else 0)
    return ParamTable(
        text=tuple(texts),
        max_tokens=np.asarray(max_tokens, dtype=np.int64),
        profile_start=np.asarray(starts, dtype=np.int64),
        profile_size=np.asarray(sizes, dtype=np.int64),
    )


@dataclass(slots=True)
class Pool:
    """Addresses an actor uses for a share of its requests."""

    ips: np.ndarray
    weight: float
    mode: IpMode = IpMode.SKEW
    skew: float = 2.0
    rotation_s: float = 3600.0


@dataclass(slots=True)
class Session:
    """A burst of ``events`` requests between ``start_s`` and ``end_s`` (seconds from the
    period start). With ``interval_s`` > 0 requests are spaced regularly from ``start_s``
    (scripted lock-step), otherwise uniformly at random."""

    start_s: float
    end_s: float
    events: float
    interval_s: float = 0.0
    jitter_s: float = 0.0


@dataclass(slots=True)
class Actor:
    """One account's identity and habits. Shares are relative weights."""

    kind: str
    label: str
    campaign_id: str | None
    account: dict[str, object]
    daily_volume: float
    tz_hours: float
    rhythm: Rhythm
    sources: dict[Source, float]
    pools: list[Pool]
    user_agents: tuple[int, ...]
    os_index: int
    weekend_factor: float = 0.6
    active_from_s: float = 0.0
    active_to_s: float = float("inf")
    sessions: list[Session] = field(default_factory=list)
    endpoints: tuple[float, float, float] = (0.9, 0.1, 0.0)
    models: tuple[float, float, float] = (0.5, 0.4, 0.1)  # flagship, mini, reasoning
    adopt_max: float = 0.0
    adopt_lag_h: float = 24.0
    adopt_tau_h: float = 12.0
    params: dict[int, float] = field(default_factory=lambda: {1: 1.0})
    system_rate: float = 0.2
    system_prompt: int = 0
    cot_rate: float = 0.03
    paraphrase_rate: float = 0.0
    template: int = 0
    harness: int = 0
    style: int = 0  # index into the world's harvest styles (campaign operators)
    keys: int = 1
    completion_median: float = 300.0
    completion_sigma: float = 0.8
    rate_limit_p: float = 0.002
    predict_seed: int = 0


@dataclass(frozen=True, slots=True)
class ActorTable:
    """Column-wise actors for vectorised rendering (index = actor number)."""

    n: int
    daily_volume: np.ndarray
    tz_hours: np.ndarray
    rhythm: np.ndarray
    weekend_factor: np.ndarray
    active_from_s: np.ndarray
    active_to_s: np.ndarray
    source_cum: np.ndarray  # (n, N_SOURCES) cumulative probabilities
    endpoint_cum: np.ndarray  # (n, 3)
    model_cum: np.ndarray  # (n, 3)
    adopt_max: np.ndarray
    adopt_lag_s: np.ndarray
    adopt_tau_s: np.ndarray
    param_cum: np.ndarray  # (n, n_profiles)
    system_rate: np.ndarray
    system_prompt: np.ndarray
    cot_rate: np.ndarray
    paraphrase_rate: np.ndarray
    template: np.ndarray
    harness: np.ndarray
    style: np.ndarray
    ua: np.ndarray  # (n, 2) user-agent indices
    os_index: np.ndarray
    keys: np.ndarray
    key_offset: np.ndarray
    completion_median: np.ndarray
    completion_sigma: np.ndarray
    rate_limit_p: np.ndarray
    predict_seed: np.ndarray
    pool_cum: np.ndarray  # (n, 3)
    pool_offset: np.ndarray  # (n, 3) into pool_ips
    pool_size: np.ndarray  # (n, 3)
    pool_mode: np.ndarray  # (n, 3)
    pool_skew: np.ndarray  # (n, 3)
    pool_rotation_s: np.ndarray  # (n, 3)
    pool_ips: np.ndarray  # flat address indices
    sess_actor: np.ndarray
    sess_start: np.ndarray
    sess_end: np.ndarray
    sess_events: np.ndarray
    sess_interval: np.ndarray
    sess_jitter: np.ndarray


def _cum(rows: list[np.ndarray]) -> np.ndarray:
    m = np.vstack(rows).astype(float)
    total = m.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    return np.cumsum(m / total, axis=1)


def compile_actors(actors: list[Actor], n_profiles: int) -> ActorTable:
    """Flatten actors into arrays. Every actor must have 1 to 3 address pools."""
    n = len(actors)
    src_rows, prof_rows = [], []
    for a in actors:
        s = np.zeros(N_SOURCES)
        for k, w in a.sources.items():
            s[int(k)] = w
        src_rows.append(s)
        p = np.zeros(n_profiles)
        for k2, w in a.params.items():
            p[k2] = w
        prof_rows.append(p)
    pool_ips: list[np.ndarray] = []
    offset = 0
    shape = (n, 3)
    pw, po, ps = np.zeros(shape), np.zeros(shape, np.int64), np.ones(shape, np.int64)
    pm, pk, pr = np.zeros(shape, np.int64), np.ones(shape), np.full(shape, 3600.0)
    for i, a in enumerate(actors):
        for j, pool in enumerate(a.pools[:3]):
            pw[i, j] = pool.weight
            po[i, j] = offset
            ps[i, j] = max(1, len(pool.ips))
            pm[i, j] = int(pool.mode)
            pk[i, j] = pool.skew
            pr[i, j] = pool.rotation_s
            pool_ips.append(pool.ips)
            offset += len(pool.ips)
    keys = np.asarray([a.keys for a in actors], dtype=np.int64)
    sessions = [(i, s) for i, a in enumerate(actors) for s in a.sessions]

    def col(name: str, dtype: type = float) -> np.ndarray:
        return np.asarray([getattr(a, name) for a in actors], dtype=dtype)

    return ActorTable(
        n=n,
        daily_volume=col("daily_volume"),
        tz_hours=col("tz_hours"),
        rhythm=col("rhythm", int),
        weekend_factor=col("weekend_factor"),
        active_from_s=col("active_from_s"),
        active_to_s=col("active_to_s"),
        source_cum=_cum(src_rows),
        endpoint_cum=_cum([np.asarray(a.endpoints) for a in actors]),
        model_cum=_cum([np.asarray(a.models) for a in actors]),
        adopt_max=col("adopt_max"),
        adopt_lag_s=col("adopt_lag_h") * 3600.0,
        adopt_tau_s=np.maximum(col("adopt_tau_h"), 0.05) * 3600.0,
        param_cum=_cum(prof_rows),
        system_rate=col("system_rate"),
        system_prompt=col("system_prompt", int),
        cot_rate=col("cot_rate"),
        paraphrase_rate=col("paraphrase_rate"),
        template=col("template", int),
        harness=col("harness", int),
        style=col("style", int),
        ua=np.asarray(
            [(a.user_agents[0], a.user_agents[-1]) for a in actors], dtype=np.int64
        ).reshape(n, 2),
        os_index=col("os_index", int),
        keys=keys,
        key_offset=np.concatenate([[0], np.cumsum(keys)[:-1]]).astype(np.int64),
        completion_median=col("completion_median"),
        completion_sigma=col("completion_sigma"),
        rate_limit_p=col("rate_limit_p"),
        predict_seed=col("predict_seed", int),
        pool_cum=_cum(list(pw)),
        pool_offset=po,
        pool_size=ps,
        pool_mode=pm,
        pool_skew=pk,
        pool_rotation_s=pr,
        pool_ips=np.concatenate(pool_ips) if pool_ips else np.zeros(0, np.int64),
        sess_actor=np.asarray([i for i, _ in sessions], dtype=np.int64),
        sess_start=np.asarray([s.start_s for _, s in sessions], dtype=float),
        sess_end=np.asarray([s.end_s for _, s in sessions], dtype=float),
        sess_events=np.asarray([s.events for _, s in sessions], dtype=float),
        sess_interval=np.asarray([s.interval_s for _, s in sessions], dtype=float),
        sess_jitter=np.asarray([s.jitter_s for _, s in sessions], dtype=float),
    )
