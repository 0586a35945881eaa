"""The benign population: paying customers, including the ones that look like thieves.

Kinds (the ``kind`` in labels.jsonl for benign accounts) and what makes each hard:

- ``developer``: individuals; heavy-tailed volume, home networks, some on VPNs.
- ``agent_builder``: developers of tool-using agents (``tools`` in params, agent transcripts).
- ``chat_app``: one account serving thousands of end users: thousands of addresses, 24/7.
- ``corporate_nat``: many accounts of one company behind a few office addresses.
- ``shared_payment_org``: small teams whose accounts share one card and sign-up device.
- ``mobile``: users on phone networks whose address changes every hour or so.
- ``privacy_vpn``: customers who always use commercial VPN / residential-proxy exits, the same
  exits campaigns hide behind.
- ``new_signup``: accounts created during the period, some with disposable e-mail.
- ``eval_harness``: benchmark runs (GSM8K/MMLU/HumanEval, templated, bursty, huge), which also
  rerun on a newly released model within hours.
- ``enterprise_batch``: one template over many documents, nightly jobs.
- ``academic``: researchers (reasoning prompts, LLM-as-judge rubrics, new models at once).
- ``synthetic_data``: customers generating training data (many samples, reasoning traces).
- ``red_team_vendor``: security vendors running jailbreak / extraction suites for clients.
- ``prediction_customer``: natural queries to the prediction API; some run what-if sweeps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from distillguard.simulate.actors import (
    SYSTEM_PROMPTS,
    Actor,
    IpMode,
    Pool,
    Rhythm,
    Session,
    Source,
)
from distillguard.simulate.infrastructure import NetKind, utc_offset
from distillguard.simulate.textgen import house_frames
from distillguard.simulate.world import HarvestStyle, WorldBuilder

__all__ = ["BENIGN_KINDS", "build_population"]

_DAY = 86400.0

# kind: (share of the benign population, minimum count)
BENIGN_KINDS: dict[str, tuple[float, int]] = {
    "developer": (0.38, 1),
    "agent_builder": (0.05, 2),
    "chat_app": (0.006, 2),
    "corporate_nat": (0.13, 6),
    "shared_payment_org": (0.07, 4),
    "mobile": (0.08, 2),
    "privacy_vpn": (0.06, 3),
    "new_signup": (0.05, 3),
    "eval_harness": (0.008, 3),
    "enterprise_batch": (0.008, 3),
    "academic": (0.04, 3),
    "synthetic_data": (0.008, 2),
    "red_team_vendor": (0.008, 2),
    "prediction_customer": (0.035, 4),
}


def _counts(b: WorldBuilder, n_benign: int) -> dict[str, int]:
    weights = dict(BENIGN_KINDS)
    if b.config.benign.kind_weights:
        for k, w in b.config.benign.kind_weights.items():
            weights[k] = (w, 0)
    counts = {k: max(m, round(s * n_benign)) if s > 0 else 0 for k, (s, m) in weights.items()}
    counts["developer"] = max(1, n_benign - sum(v for k, v in counts.items() if k != "developer"))
    return counts


def _base(
    b: WorldBuilder,
    kind: str,
    account: dict[str, object],
    country: str,
    volume: float,
    rhythm: Rhythm,
    sources: dict[Source, float],
    pools: list[Pool],
    **kw: object,
) -> Actor:
    rng = b.rng
    # One draw decides both, so the launch crowd is a subset of the early adopters and a world
    # differs from one without a crowd only in the crowd's models (every later draw is the same).
    adopter = rng.random()
    early = adopter < b.config.benign.new_model_early_adopters
    # Kinds with a release habit of their own (eval harnesses, researchers, ...) keep it.
    crowd = adopter < b.config.benign.launch_crowd and "adopt_max" not in kw
    actor = Actor(
        kind=kind,
        label="benign",
        campaign_id=None,
        account=account,
        daily_volume=volume,
        tz_hours=utc_offset(country, rng),
        rhythm=rhythm,
        sources=sources,
        pools=pools,
        user_agents=b.infra.user_agents(2),
        os_index=int(rng.choice(3, p=[0.5, 0.3, 0.2])),
        weekend_factor=float(rng.uniform(0.3, 0.9)),
        # The launch crowd flips the flagship's model string and uses the small model little,
        # whose traffic stays where it is: 70-100% of its traffic is on the release 0.5-3 h
        # after it (lag 0.3-2 h, then 95% of the move within three time constants).
        models=(
            float(rng.uniform(0.2, 0.8)),
            float(rng.uniform(0, 0.08)) if crowd else float(rng.uniform(0.1, 0.8)),
            float(rng.uniform(0, 0.2)),
        ),
        adopt_max=(
            float(rng.uniform(0.85, 1.0))
            if crowd
            else float(rng.uniform(0.2, 0.9))
            if early
            else float(rng.uniform(0, 0.1))
        ),
        adopt_lag_h=(
            float(rng.uniform(0.3, 2.0))
            if crowd
            else float(rng.uniform(0.5, 12))
            if early
            else float(rng.uniform(24, 120))
        ),
        adopt_tau_h=float(rng.uniform(0.1, 0.35)) if crowd else float(rng.uniform(1, 12)),
        params=b.param_habits(int(rng.integers(1, 4))),
        system_rate=float(rng.choice([0.0, 0.1, 0.5, 1.0])),
        system_prompt=int(rng.integers(len(SYSTEM_PROMPTS))),
        cot_rate=float(rng.choice([0.0, 0.02, 0.05, 0.15, 0.4], p=[0.3, 0.3, 0.2, 0.15, 0.05])),
        keys=int(rng.choice([1, 1, 1, 2, 3])),
        completion_median=float(rng.lognormal(np.log(300), 0.5)),
        rate_limit_p=0.002 + 0.02 * float(volume > 2000),
    )
    for key, value in kw.items():
        setattr(actor, key, value)
    return actor


def _volume(b: WorldBuilder, median: float, sigma: float) -> float:
    return float(b.rng.lognormal(np.log(median), sigma))


def _personal(b: WorldBuilder, country: str, vpn: bool) -> list[Pool]:
    pools = [b.home_pool(country, int(b.rng.integers(1, 4)), 0.85)]
    if b.rng.random() < 0.4:
        pools.append(Pool(b.infra.new_ips(NetKind.MOBILE, country, 6), 0.1, IpMode.ROTATE))
    if vpn:
        pools.append(b.vpn_pool(float(b.rng.uniform(0.1, 0.6)), n=10, rotation_s=600.0))
    return pools[:3]


def _individual_account(
    b: WorldBuilder, country: str, pools: list[Pool], **kw: object
) -> dict[str, object]:
    rng = b.rng
    email = b.infra.disposable() if rng.random() < b.config.benign.disposable_email_share else None
    if email is None:
        email = b.infra.webmail() if rng.random() < 0.7 else b.infra.company_domain()
    plan = str(rng.choice(["free", "pay_as_you_go", "pay_as_you_go", "team"]))
    fields: dict[str, object] = {
        "created_s": b.aged_created_s(200.0, 1.0),
        "country": country,
        "email_domain": email,
        "verification": str(rng.choice(["email", "phone", "phone", "document", "none"])),
        "plan": plan,
        "payment": None if plan == "free" else b.new_id("pm_"),
        "signup_ip": int(pools[0].ips[0]),
    }
    fields.update(kw)
    return b.account(**fields)  # type: ignore[arg-type]


def _developer(b: WorldBuilder, kind: str = "developer") -> Actor:
    rng = b.rng
    country = b.infra.country()
    vpn = rng.random() < b.config.benign.vpn_share
    pools = _personal(b, country, vpn)
    agent = kind == "agent_builder"
    sources = {
        Source.CHAT: 0.4,
        Source.TASK: 0.3,
        Source.SEARCH: 0.12,
        Source.AGENTIC: 0.6 if agent else float(rng.choice([0.0, 0.03])),
        Source.GSM8K: float(rng.choice([0.0, 0.02])),
        Source.SYNTH_DATA: float(rng.choice([0.0, 0.0, 0.03])),
        Source.RUBRIC: float(rng.choice([0.0, 0.0, 0.02])),
        Source.DISTILL: float(rng.choice([0.0, 0.0, 0.02])),
    }
    if agent or rng.random() < 0.25:  # a cloud VM or CI runner next to the laptop
        cloud = Pool(b.infra.new_ips(NetKind.CLOUD, None, 3), 0.6 if agent else 0.3)
        pools = [cloud, *pools[:2]]
    rhythm = Rhythm(int(rng.choice([Rhythm.HUMAN, Rhythm.EVENING, Rhythm.OFFICE])))
    return _base(
        b,
        kind,
        _individual_account(b, country, pools),
        country,
        _volume(b, 25.0 if not agent else 80.0, 1.3),
        rhythm,
        sources,
        pools,
    )


def _chat_app(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    users = int(rng.integers(1500, 5000))
    pools = [
        Pool(
            np.concatenate(
                [b.infra.new_ips(NetKind.RESIDENTIAL, None, users // 100) for _ in range(60)]
                + [b.infra.new_ips(NetKind.MOBILE, None, users // 100) for _ in range(40)]
            ),
            1.0,
            skew=1.3,
        ),
        b.proxy_pool(0.03, 50, 300.0),
    ]
    account = b.account(
        created_s=b.aged_created_s(300.0, 0.6),
        country=country,
        email_domain=b.infra.company_domain(),
        verification="organization",
        plan=str(rng.choice(["enterprise", "pay_as_you_go"])),
        payment=b.new_id("pm_"),
        signup_ip=int(b.infra.new_ips(NetKind.CORPORATE, country, 1)[0]),
    )
    return _base(
        b,
        "chat_app",
        account,
        country,
        _volume(b, 2500.0, 0.8),
        Rhythm.FLAT,
        {Source.CHAT: 0.6, Source.SEARCH: 0.25, Source.TASK: 0.1, Source.GSM8K: 0.05},
        pools,
        system_rate=1.0,
        keys=int(rng.integers(2, 5)),
        rate_limit_p=0.01,
    )


def _org_members(
    b: WorldBuilder,
    kind: str,
    n: int,
    make_one: Callable[[str, str, str | None, str, str, list[Pool]], Actor],
) -> list[Actor]:
    rng = b.rng
    actors: list[Actor] = []
    while len(actors) < n:
        size = min(n - len(actors), int(rng.integers(3, 25 if kind == "corporate_nat" else 10)))
        country = b.infra.country()
        org = b.new_id("org_", 6)
        domain = b.infra.company_domain()
        card = b.new_id("pm_") if kind == "shared_payment_org" or rng.random() < 0.5 else None
        admin_device = b.new_id("dev_")
        office = Pool(b.infra.new_ips(NetKind.CORPORATE, country, int(rng.integers(1, 4))), 0.8)
        for _ in range(size):
            pools = [office] if kind == "corporate_nat" else []
            pools.append(b.home_pool(country, 2, 0.2 if kind == "corporate_nat" else 0.9))
            if rng.random() < b.config.benign.vpn_share:
                pools.append(b.vpn_pool(0.15))
            actors.append(make_one(org, domain, card, country, admin_device, pools))
    return actors


def _corporate(b: WorldBuilder, n: int, kind: str) -> list[Actor]:
    # Some teams run an in-house tool that wraps its tasks in the team's own template, so one
    # template is stamped across the org's accounts (like an operator's across its fleet).
    tools: dict[str, int | None] = {}

    def one(
        org: str, domain: str, card: str | None, country: str, admin: str, pools: list[Pool]
    ) -> Actor:
        rng = b.rng
        if org not in tools:
            tools[org] = _house_style(b, frame_share=(0.6, 1.0)) if rng.random() < 0.4 else None
        tool = tools[org]
        uses_tool = tool is not None and rng.random() < 0.7
        sources = {Source.CHAT: 0.5, Source.TASK: 0.3, Source.SEARCH: 0.1, Source.DOCUMENT: 0.1}
        if uses_tool:
            sources = {**sources, Source.DOCUMENT: 0.0, Source.DISTILL: 0.1}
        account = b.account(
            created_s=b.aged_created_s(250.0, 0.8),
            country=country,
            email_domain=domain,
            verification="organization" if kind == "corporate_nat" else "email",
            plan="enterprise"
            if kind == "corporate_nat"
            else str(rng.choice(["team", "pay_as_you_go"])),
            org_id=org,
            payment=card if card else (b.new_id("pm_") if rng.random() < 0.5 else None),
            signup_ip=int(pools[0].ips[0]),
            signup_device=admin if rng.random() < 0.6 else None,
        )
        return _base(
            b,
            kind,
            account,
            country,
            _volume(b, 20.0, 1.1),
            Rhythm.OFFICE,
            sources,
            pools,
            weekend_factor=float(rng.uniform(0.05, 0.3)),
            template=int(rng.integers(1000)),
            style=tool if uses_tool and tool is not None else 0,
        )

    return _org_members(b, kind, n, one)


def _mobile(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    pools = [
        Pool(
            b.infra.new_ips(NetKind.MOBILE, country, int(rng.integers(40, 300))),
            0.8,
            IpMode.ROTATE,
            rotation_s=float(rng.uniform(900, 5400)),
        ),
        b.home_pool(country, 1, 0.2),
    ]
    actor = _base(
        b,
        "mobile",
        _individual_account(b, country, pools),
        country,
        _volume(b, 30.0, 1.2),
        Rhythm.EVENING,
        {Source.CHAT: 0.6, Source.SEARCH: 0.3, Source.TASK: 0.1},
        pools,
    )
    actor.user_agents = b.infra.user_agents(2, ("okhttp", "Dart", "Mozilla", "axios"))
    return actor


def _privacy_vpn(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    pools = [
        b.vpn_pool(0.4, n=int(rng.integers(20, 60)), rotation_s=float(rng.uniform(300, 1800))),
        b.proxy_pool(0.5, int(rng.integers(20, 80)), float(rng.uniform(300, 3600))),
        b.home_pool(country, 1, 0.1),
    ]
    return _base(
        b,
        "privacy_vpn",
        _individual_account(b, country, pools, signup_ip=int(pools[0].ips[0])),
        country,
        _volume(b, 30.0, 1.2),
        Rhythm(int(rng.choice([Rhythm.HUMAN, Rhythm.EVENING]))),
        {Source.CHAT: 0.5, Source.TASK: 0.35, Source.SEARCH: 0.1, Source.DISTILL: 0.05},
        pools,
    )


def _new_signup(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    pools = _personal(b, country, rng.random() < 0.2)
    created = float(rng.uniform(0, b.period_s * 0.9))
    email = b.infra.disposable() if rng.random() < 0.3 else b.infra.webmail()
    actor = _base(
        b,
        "new_signup",
        _individual_account(
            b,
            country,
            pools,
            created_s=created,
            email_domain=email,
            verification=str(rng.choice(["none", "email", "email"])),
            plan="free",
            payment=None,
        ),
        country,
        _volume(b, 15.0, 1.0),
        Rhythm.HUMAN,
        {
            Source.CHAT: 0.5,
            Source.TASK: 0.3,
            Source.SEARCH: 0.1,
            Source.GSM8K: 0.05,
            Source.JAILBREAK: 0.01,
        },
        pools,
    )
    actor.active_from_s = created
    return actor


def _sessions(
    b: WorldBuilder,
    per_day: float,
    events: tuple[float, float],
    minutes: tuple[float, float],
    local_hours: tuple[float, float],
    tz: float,
) -> list[Session]:
    rng = b.rng
    out: list[Session] = []
    days = int(np.ceil(b.config.days))
    for day in range(days):
        for _ in range(int(rng.poisson(per_day))):
            hour = (float(rng.uniform(*local_hours)) - tz) % 24
            start = day * _DAY + hour * 3600.0
            length = float(rng.uniform(*minutes)) * 60.0
            if start >= b.period_s:  # a short period sees only the jobs that fall inside it
                continue
            out.append(Session(start, start + length, float(rng.uniform(*events))))
    return out


def _server_pools(b: WorldBuilder, n: int = 3) -> list[Pool]:
    return [Pool(b.infra.new_ips(NetKind.CLOUD, None, n), 1.0, skew=1.5)]


def _server_account(
    b: WorldBuilder, country: str, pools: list[Pool], domain: str
) -> dict[str, object]:
    rng = b.rng
    return b.account(
        created_s=b.aged_created_s(300.0, 0.7),
        country=country,
        email_domain=domain,
        verification=str(rng.choice(["organization", "document", "phone"])),
        plan=str(rng.choice(["enterprise", "pay_as_you_go"])),
        payment=b.new_id("pm_"),
        signup_ip=int(b.infra.new_ips(NetKind.CORPORATE, country, 1)[0]),
    )


def _eval_harness(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    pools = _server_pools(b)
    tz = utc_offset(country, rng)
    actor = _base(
        b,
        "eval_harness",
        _server_account(b, country, pools, b.infra.company_domain()),
        country,
        0.0,
        Rhythm.SESSIONS,
        {
            Source.GSM8K: float(rng.uniform(0.2, 1)),
            Source.MMLU: float(rng.uniform(0.2, 1)),
            Source.HUMANEVAL: float(rng.uniform(0.05, 0.4)),
        },
        pools,
        sessions=_sessions(b, 1.5, (300, 2500), (20, 120), (0, 24), tz),
        endpoints=(0.6, 0.4, 0.0),
        params={4: 0.6, 2: 0.3, 9: 0.1},
        cot_rate=float(rng.choice([0.0, 0.5, 1.0])),
        harness=int(rng.integers(4)),
        adopt_max=float(rng.uniform(0.5, 0.9)),
        adopt_lag_h=float(rng.uniform(0.5, 6)),
        adopt_tau_h=1.0,
        completion_median=float(rng.choice([30.0, 200.0, 500.0])),
        system_rate=0.0,
        rate_limit_p=0.03,
        tz_hours=tz,
    )
    actor.user_agents = b.infra.user_agents(1, ("OpenAI/Python", "AsyncOpenAI", "python-httpx"))
    return actor


def _enterprise_batch(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    pools = _server_pools(b, 4)
    tz = utc_offset(country, rng)
    return _base(
        b,
        "enterprise_batch",
        _server_account(b, country, pools, b.infra.company_domain()),
        country,
        0.0,
        Rhythm.SESSIONS,
        {Source.DOCUMENT: 1.0},
        pools,
        sessions=_sessions(b, 1.0, (500, 4000), (60, 360), (0, 6), tz)
        + _sessions(b, 1.0, (100, 800), (30, 120), (9, 17), tz),
        endpoints=(0.6, 0.1, 0.3),
        template=int(rng.integers(1000)),
        system_rate=float(rng.choice([0.0, 1.0])),
        completion_median=float(rng.choice([60.0, 150.0, 400.0])),
        tz_hours=tz,
        rate_limit_p=0.02,
    )


def _academic(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    campus = Pool(b.infra.new_ips(NetKind.CORPORATE, country, 3), 0.7)
    pools = [campus, b.home_pool(country, 2, 0.3)]
    sessions = rng.random() < 0.5
    account = b.account(
        created_s=b.aged_created_s(150.0, 1.0),
        country=country,
        email_domain=b.infra.university(),
        verification=str(rng.choice(["email", "document", "organization"])),
        plan=str(rng.choice(["pay_as_you_go", "free", "team"])),
        payment=b.new_id("pm_") if rng.random() < 0.7 else None,
        signup_ip=int(campus.ips[0]),
    )
    return _base(
        b,
        "academic",
        account,
        country,
        _volume(b, 60.0, 1.2),
        Rhythm.SESSIONS if sessions else Rhythm.HUMAN,
        {
            Source.TASK: 0.25,
            Source.DISTILL: 0.15,
            Source.RUBRIC: 0.25,
            Source.GSM8K: 0.15,
            Source.CHAT: 0.1,
            Source.MMLU: 0.1,
        },
        pools,
        sessions=_sessions(b, 1.0, (100, 800), (30, 240), (8, 22), 0.0) if sessions else [],
        params={4: 0.3, 6: 0.3, 1: 0.2, 9: 0.2},
        cot_rate=0.3,
        style=_house_style(b),
        adopt_max=float(rng.uniform(0.4, 0.9)),
        adopt_lag_h=float(rng.uniform(1, 12)),
        completion_median=600.0,
    )


def _house_style(b: WorldBuilder, frame_share: tuple[float, float] = (0.0, 0.9)) -> int:
    """Researchers, data vendors and teams' in-house tools script their reasoning prompts too,
    in templates of their own written the way operators write theirs (``house_frames``)."""
    rng = b.rng
    return b.style(
        HarvestStyle(
            domain_weights=tuple(float(x) for x in rng.dirichlet(np.ones(4) * 2)),  # type: ignore[arg-type]
            seed_share=float(rng.uniform(0.4, 0.9)),
            long_cot_share=float(rng.uniform(0.2, 0.8)),
            paraphrase_rate=float(rng.uniform(0.0, 0.5)),
            frames=house_frames(rng, int(rng.integers(1, 3))),
            frame_share=float(rng.uniform(*frame_share)),
        )
    )


def _synthetic_data(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    pools = _server_pools(b, 5)
    return _base(
        b,
        "synthetic_data",
        _server_account(b, country, pools, b.infra.company_domain()),
        country,
        _volume(b, 1500.0, 0.7),
        Rhythm.FLAT,
        {Source.SYNTH_DATA: 0.55, Source.DISTILL: 0.2, Source.TASK: 0.15, Source.RUBRIC: 0.1},
        pools,
        params={7: 0.5, 6: 0.2, 3: 0.3},
        completion_median=900.0,
        style=_house_style(b),
        adopt_max=float(rng.uniform(0.2, 0.7)),
        adopt_lag_h=float(rng.uniform(2, 24)),
        rate_limit_p=0.03,
    )


def _red_team(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    pools = [*_server_pools(b, 3), b.vpn_pool(0.3, 10)]
    tz = utc_offset(country, rng)
    return _base(
        b,
        "red_team_vendor",
        _server_account(b, country, pools, b.infra.company_domain()),
        country,
        _volume(b, 60.0, 0.8),
        Rhythm.OFFICE,
        {Source.JAILBREAK: 0.45, Source.EXTRACTION: 0.3, Source.CHAT: 0.15, Source.AGENTIC: 0.1},
        pools,
        # suites are run as published (mostly verbatim) and cover the whole corpus
        sessions=_sessions(b, 1.5, (300, 1200), (30, 90), (9, 18), tz),
        paraphrase_rate=float(rng.uniform(0.0, 0.3)),
        adopt_max=float(rng.uniform(0.5, 0.9)),
        adopt_lag_h=float(rng.uniform(2, 12)),
        tz_hours=tz,
    )


def _prediction_customer(b: WorldBuilder) -> Actor:
    rng = b.rng
    country = b.infra.country()
    pools = (
        _server_pools(b, 2)
        if rng.random() < 0.6
        else [Pool(b.infra.new_ips(NetKind.CORPORATE, country, 2), 1.0)]
    )
    whatif = float(rng.uniform(0.1, 0.4)) if rng.random() < 0.3 else 0.0
    return _base(
        b,
        "prediction_customer",
        _server_account(b, country, pools, b.infra.company_domain()),
        country,
        _volume(b, 150.0, 1.3),
        Rhythm(int(rng.choice([Rhythm.FLAT, Rhythm.OFFICE]))),
        {Source.PREDICT_NATURAL: 1.0 - whatif, Source.PREDICT_WHATIF: whatif},
        pools,
        predict_seed=int(rng.integers(1 << 30)),
    )


_SINGLE: dict[str, Callable[[WorldBuilder], Actor]] = {
    "developer": _developer,
    "agent_builder": lambda b: _developer(b, "agent_builder"),
    "chat_app": _chat_app,
    "mobile": _mobile,
    "privacy_vpn": _privacy_vpn,
    "new_signup": _new_signup,
    "eval_harness": _eval_harness,
    "enterprise_batch": _enterprise_batch,
    "academic": _academic,
    "synthetic_data": _synthetic_data,
    "red_team_vendor": _red_team,
    "prediction_customer": _prediction_customer,
}


def build_population(b: WorldBuilder, n_benign: int) -> None:
    """Append ``n_benign`` benign actors, by kind, to the world."""
    for kind, count in _counts(b, n_benign).items():
        if kind in ("corporate_nat", "shared_payment_org"):
            b.actors.extend(_corporate(b, count, kind))
        else:
            b.actors.extend(_SINGLE[kind](b) for _ in range(count))
