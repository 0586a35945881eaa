"""Sign-up burst farm: accounts created within minutes of each other from one hosting
network, mostly with disposable e-mail, then driven by one script in lock-step."""

from __future__ import annotations

import numpy as np

from distillguard.simulate.actors import Rhythm, Session, Source
from distillguard.simulate.campaigns.common import new_operator, operator_frames
from distillguard.simulate.config import SignupFarmConfig
from distillguard.simulate.infrastructure import NetKind
from distillguard.simulate.world import HarvestStyle, WorldBuilder

__all__ = ["build"]


def build(b: WorldBuilder, cfg: SignupFarmConfig, index: int) -> None:
    rng = b.rng
    op = new_operator(b, cfg.kind, cfg, index)
    style = b.style(
        HarvestStyle(
            domain_weights=(0.4, 0.3, 0.2, 0.1),
            seed_share=0.5,
            long_cot_share=0.6,
            paraphrase_rate=cfg.paraphrase_rate,
            frames=operator_frames(b),
            frame_share=cfg.template_share,
        )
    )
    net = b.infra.network(NetKind.HOSTING, None)
    signup_ips = b.infra.new_ips(NetKind.HOSTING, None, max(1, cfg.accounts // 3), net=net)
    for ip in signup_ips:
        b.own("signup_ip", b.ip_text(int(ip)))
    devices = [b.own("signup_fingerprint", b.new_id("dev_")) for _ in range(cfg.signup_devices)]
    burst_start = float(rng.uniform(0.02, 0.15)) * b.period_s
    burst_end = burst_start + cfg.signup_window_minutes * 60.0
    # One schedule for the whole farm: the script wakes every account at the same moments.
    first = burst_end + 600.0
    days = max(1.0, b.config.days)
    n_sessions = max(1, int(round(cfg.sessions_per_day * days)))
    starts = np.sort(rng.uniform(first, max(first + 1, b.period_s - 1800.0), size=n_sessions))
    per_session = cfg.requests_per_account_day * days / n_sessions
    interval = float(rng.choice([15.0, 20.0, 30.0]))
    for _ in range(cfg.accounts):
        created = float(rng.uniform(burst_start, burst_end))
        disposable = rng.random() < cfg.disposable_email_share
        account = b.account(
            created_s=created,
            country=b.infra.country() if rng.random() < 0.5 else op.home_country,
            email_domain=b.infra.disposable() if disposable else b.infra.webmail(),
            verification=str(rng.choice(["none", "email", "email"])),
            plan="free",
            payment=None,
            signup_ip=int(signup_ips[int(rng.integers(len(signup_ips)))]),
            signup_device=devices[int(rng.integers(len(devices)))],
        )
        offset = float(rng.uniform(0, cfg.sync_jitter_s))
        sessions = [
            Session(
                s + offset,
                s + offset + per_session * interval,
                per_session,
                interval_s=interval,
                jitter_s=cfg.sync_jitter_s / 4,
            )
            for s in starts
        ]
        op.actor(
            b,
            account,
            {Source.DISTILL: 0.6, Source.RUBRIC: 0.25, Source.AGENTIC: 0.15},
            op.pools(b, int(rng.integers(5, 12)), 1200.0),
            Rhythm.SESSIONS,
            style=style,
            sessions=sessions,
            active_from_s=created,
            daily_volume=0.0,
            keys=1,
        )
