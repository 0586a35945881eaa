"""Per-account behaviour detectors. Each names the threat it catches and what evades it.

All read an :class:`AccountFrame` and return :class:`Evidence`; thresholds are written as
``ramp(x, lo, hi)``: evidence starts at ``lo`` and is full at ``hi``. The thresholds are set from
what the behaviour means (a person does not send 2,000 requests an hour), not fitted to one
simulator; the combination weights live in detect/combine.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

import numpy as np

from distillguard.detect.behaviour.frame import AccountFrame, ramp
from distillguard.detect.findings import Evidence

__all__ = [
    "BEHAVIOUR_DETECTORS",
    "CapabilityCoverage",
    "ContentAbuse",
    "Elicitation",
    "IdentityRisk",
    "InfraDiversity",
    "ReasoningParams",
    "ReleaseChasing",
    "TemplateConcentration",
    "TimingRegularity",
    "VolumeShape",
    "identity_risk_of",
]

_REPORT_FROM = 0.3  # reasons are written for accounts whose evidence reaches this


def _nz(x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    return np.where(np.isnan(arr), 0.0, arr)


def _reasons(
    scores: np.ndarray, describe: Callable[[int], tuple[str, ...]]
) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []
    for i, s in enumerate(scores):
        out.append(describe(i) if np.isfinite(s) and s >= _REPORT_FROM else ())
    return tuple(out)


def _pct(x: float) -> str:
    return f"{100.0 * x:.0f}%"


def _multi_day(frame: AccountFrame) -> np.ndarray:
    """Per account, whether its traffic spans more than a day, so that the volume and rotation
    detectors judge its typical day (``day_*``: medians over its active UTC days) rather than
    the whole log: over a week a customer's requests add up to a harvester's day and a
    traveller's or a mobile user's addresses to a proxy's (tuning world 1 over seven days, judged
    on the whole log: three customers flagged by volume and rotation alone). False where the
    day columns were never computed (the online scorer's frames) or the span is a day or less,
    which leaves a one-day log judged exactly as before."""
    span = frame.col("span_days")
    has_days = np.isfinite(frame.col("day_events"))
    return np.asarray(np.isfinite(span) & (span > 1.0) & has_days)


def _typical(frame: AccountFrame, multi: np.ndarray, whole: str, day: str) -> np.ndarray:
    """``whole`` (a count over the log), or ``day`` (its median per active day) where
    ``multi``."""
    return np.asarray(np.where(multi, frame.col(day), frame.col(whole)))


class VolumeShape:
    """Harvesting volume: many requests with long completions (distillation wants long,
    complete answers). Enterprise batch jobs also send volume, so alone this is weak evidence.
    A log without token counts (``share_has_tokens`` 0 on text traffic) leaves the shape
    unknown: the volume alone then counts, at half strength, and the reason says so.
    Evades it: many accounts with small volumes each (the network detector covers that)."""

    name: ClassVar[str] = "volume_shape"
    needs: ClassVar[frozenset[str]] = frozenset(
        {"n_events", "mean_completion_tokens", "share_long_completion", "active_hours"}
    )
    content: ClassVar[bool] = False
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/2306.02707"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        multi = _multi_day(frame)
        per_hour = frame.col("n_events") / np.maximum(frame.col("active_hours"), 1.0)
        n = _typical(frame, multi, "n_events", "day_events")
        ct = _nz(frame.col("mean_completion_tokens"))
        long_share = _nz(frame.col("share_long_completion"))
        shape = np.maximum(ramp(ct, 400.0, 1500.0), ramp(long_share, 0.2, 0.7))
        vol = np.maximum(ramp(np.log10(np.maximum(n, 1.0)), 2.0, 3.5), ramp(per_hour, 30, 300))
        scores = shape * (0.4 + 0.6 * vol)
        # Prediction and embedding requests have no completion; only text traffic logged
        # without any token count has an unknown shape (a column never computed, as in the
        # online scorer's frames, means the counts are there).
        text = 1.0 - _nz(frame.col("share_predict")) - _nz(frame.col("share_embeddings"))
        no_tokens = (frame.col("share_has_tokens") == 0.0) & (text > 0.5)
        scores = np.where(no_tokens, 0.5 * vol, scores)

        def why(i: int) -> tuple[str, ...]:
            volume = f"{int(n[i])} requests{' a day' if multi[i] else ''}"
            if no_tokens[i]:
                return (
                    f"{volume} ({per_hour[i]:.0f}/active hour); completion length "
                    "unknown (the log has no token counts)",
                )
            return (
                f"{volume} ({per_hour[i]:.0f}/active hour), mean completion "
                f"{ct[i]:.0f} tokens, {_pct(long_share[i])} over 1,000 tokens",
            )

        return Evidence(self.name, scores, _reasons(scores, why))


class ReasoningParams:
    """Asks for the model's reasoning and internals: high reasoning effort, log-probabilities,
    several samples per prompt, huge max_tokens (metadata only; works without content).
    Evades it: an operator who sends default parameters and elicits reasoning in the prompt
    (the content detector catches that)."""

    name: ClassVar[str] = "reasoning_params"
    needs: ClassVar[frozenset[str]] = frozenset(
        {"share_reasoning_high", "share_logprobs", "share_multi_choice", "share_max_tokens_large"}
    )
    content: ClassVar[bool] = False
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/2403.06634"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        reason_hi = _nz(frame.col("share_reasoning_high"))
        logprobs = _nz(frame.col("share_logprobs"))
        multi = _nz(frame.col("share_multi_choice"))
        big = _nz(frame.col("share_max_tokens_large"))
        parts = np.vstack(
            [
                ramp(reason_hi, 0.3, 0.8),
                ramp(logprobs, 0.3, 0.8),
                0.7 * ramp(multi, 0.3, 0.8),
                0.6 * ramp(big, 0.3, 0.8),
            ]
        )
        scores = np.clip(parts.max(axis=0) + 0.15 * (parts > 0.5).sum(axis=0) - 0.15, 0.0, 1.0)
        scores = np.where(parts.max(axis=0) > 0, scores, 0.0)

        def why(i: int) -> tuple[str, ...]:
            bits = []
            if reason_hi[i] >= 0.3:
                bits.append(f"{_pct(reason_hi[i])} of requests at high reasoning effort")
            if logprobs[i] >= 0.3:
                bits.append(f"{_pct(logprobs[i])} ask for log-probabilities")
            if multi[i] >= 0.3:
                bits.append(f"{_pct(multi[i])} ask for several samples (n>1)")
            if big[i] >= 0.3:
                bits.append(f"{_pct(big[i])} set max_tokens >= 4000")
            return ("; ".join(bits),) if bits else ()

        return Evidence(self.name, scores, _reasons(scores, why))


class Elicitation:
    """Chain-of-thought elicitation and grading-rubric prompts: 'explain step by step, show all
    your reasoning', 'score this answer against the rubric' (the content of a distillation or
    reward-model dataset). Needs prompt text. Evades it: paraphrases the content model misses."""

    name: ClassVar[str] = "elicitation"
    needs: ClassVar[frozenset[str]] = frozenset({"c_share_cot", "c_share_rubric"})
    content: ClassVar[bool] = True
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/2305.02301"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        cot = frame.col("c_share_cot")
        rubric = frame.col("c_share_rubric")
        scores = np.fmax(ramp(cot, 0.15, 0.6), ramp(rubric, 0.1, 0.5))

        def why(i: int) -> tuple[str, ...]:
            return (
                f"{_pct(_nz(cot)[i])} of prompts elicit step-by-step reasoning, "
                f"{_pct(_nz(rubric)[i])} are grading rubrics",
            )

        return Evidence(self.name, scores, _reasons(scores, why))


class ContentAbuse:
    """Jailbreaks, prompt injection, and system-prompt or training-data extraction attempts
    (C's content model per prompt, aggregated per account; a prompt counts when the model is
    sure of it, ``engine.ATTACK_COUNT_AT``). Red-team vendors send these too: identity and
    network evidence separate them. Needs prompt text."""

    name: ClassVar[str] = "content_abuse"
    needs: ClassVar[frozenset[str]] = frozenset(
        {"c_share_jailbreak", "c_share_injection", "c_share_extraction"}
    )
    content: ClassVar[bool] = True
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/2308.03825"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        jb = frame.col("c_share_jailbreak")
        inj = frame.col("c_share_injection")
        ext = frame.col("c_share_extraction")
        worst = np.fmax(np.fmax(jb, inj), ext)
        scores = ramp(worst, 0.05, 0.4)

        def why(i: int) -> tuple[str, ...]:
            return (
                f"{_pct(_nz(jb)[i])} jailbreak, {_pct(_nz(inj)[i])} injection, "
                f"{_pct(_nz(ext)[i])} extraction prompts (content score 0.95 or more)",
            )

        return Evidence(self.name, scores, _reasons(scores, why))


class CapabilityCoverage:
    """Sweeping the capability space: an even spread of prompts over code, maths, reasoning,
    tool use, writing, knowledge, analysis. A product's traffic is usually narrow; a
    distillation set is broad by design. Chat apps are broad too (identity separates them).
    Needs prompt text; judged only on accounts with at least 20 distinct prompts."""

    name: ClassVar[str] = "capability_coverage"
    needs: ClassVar[frozenset[str]] = frozenset({"c_coverage_entropy", "c_n_texts"})
    content: ClassVar[bool] = True
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/2212.10560"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        ent = frame.col("c_coverage_entropy")
        n_texts = frame.col("c_n_texts")
        n_cat = _nz(frame.col("c_n_categories"))
        scores = ramp(ent, 0.6, 0.85) * ramp(n_texts, 10.0, 40.0)
        scores = np.where(np.isfinite(ent), scores, np.nan)

        def why(i: int) -> tuple[str, ...]:
            return (
                f"prompts spread evenly over {int(n_cat[i])} task categories "
                f"(coverage entropy {_nz(ent)[i]:.2f})",
            )

        return Evidence(self.name, scores, _reasons(scores, why))


class TemplateConcentration:
    """Many distinct prompts built from few templates (slot filling at scale): the shape of a
    generated harvesting set. Eval harnesses look the same; identity and the network separate
    them. Needs prompt text."""

    name: ClassVar[str] = "template_concentration"
    needs: ClassVar[frozenset[str]] = frozenset({"c_top_template_share", "c_template_ratio"})
    content: ClassVar[bool] = True
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/2012.07805"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        top = frame.col("c_top_template_share")
        ratio = frame.col("c_template_ratio")  # templates per distinct prompt
        n_texts = frame.col("c_n_texts")
        scores = np.fmax(ramp(top, 0.3, 0.8), ramp(1.0 - ratio, 0.7, 0.95)) * ramp(
            n_texts, 10.0, 40.0
        )

        def why(i: int) -> tuple[str, ...]:
            return (
                f"{_pct(_nz(top)[i])} of prompts share one template; "
                f"{_nz(ratio)[i]:.2f} templates per distinct prompt",
            )

        return Evidence(self.name, scores, _reasons(scores, why))


class TimingRegularity:
    """Automation: clockwork inter-arrival times, or traffic straight through the local night of
    the account's country. Batch jobs are automated too, so this only adds evidence.
    Evades it: jitter and a day/night schedule per account."""

    name: ClassVar[str] = "timing_regularity"
    needs: ClassVar[frozenset[str]] = frozenset({"gap_cv", "n_gaps", "night_share"})
    content: ClassVar[bool] = False
    doc_uri: ClassVar[str] = "https://doi.org/10.1145/2660267.2660269"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        cv = frame.col("gap_cv")
        n_gaps = _nz(frame.col("n_gaps"))
        night = frame.col("night_share")
        enough = ramp(n_gaps, 10.0, 40.0)
        regular = ramp(1.0 - _nz(np.where(np.isfinite(cv), cv, 1.0)), 0.4, 0.85) * enough
        nightly = ramp(_nz(night), 0.12, 0.2) * enough
        scores = np.maximum(regular, nightly)

        def why(i: int) -> tuple[str, ...]:
            bits = []
            if regular[i] >= 0.3:
                bits.append(f"clockwork timing (inter-arrival CV {_nz(cv)[i]:.2f})")
            if nightly[i] >= 0.3:
                bits.append(f"{_pct(_nz(night)[i])} of requests in the local night")
            return ("; ".join(bits),) if bits else ()

        return Evidence(self.name, scores, _reasons(scores, why))


class ReleaseChasing:
    """Traffic that jumps to a newly released model within hours: harvesters want the newest
    capability first, while products pin a model version and migrate over weeks. A launch
    crowd of developers who flip the model string does the same (a tenth of the simulator's
    everyday customers, half of the human-driven accounts of ``benchmarks/foreign.py``), so it
    only corroborates other evidence; its combination weight is set accordingly.
    Evades it: a campaign that waits, or keeps some traffic on the old model."""

    name: ClassVar[str] = "release_chasing"
    needs: ClassVar[frozenset[str]] = frozenset(
        {"share_new_model_after", "hours_to_new_model", "n_after_release"}
    )
    content: ClassVar[bool] = False
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/2403.06634"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        share = _nz(frame.col("share_new_model_after"))
        hours = frame.col("hours_to_new_model")
        n_after = _nz(frame.col("n_after_release"))
        fast = 1.0 - ramp(np.where(np.isfinite(hours), hours, 1e9), 6.0, 36.0)
        scores = ramp(share, 0.5, 0.9) * fast * ramp(n_after, 5.0, 30.0)

        def why(i: int) -> tuple[str, ...]:
            return (
                f"moved {_pct(share[i])} of its traffic to the newly released model "
                f"{_nz(hours)[i]:.1f} h after its release",
            )

        return Evidence(self.name, scores, _reasons(scores, why))


class InfraDiversity:
    """Proxy rotation: requests spread over many networks, countries and device fingerprints.
    Mobile users change addresses within one carrier; rotating residential proxies cross
    networks and countries. A log without ASNs (``share_has_asn`` 0) counts networks from the
    /24 (IPv6 /48) prefixes instead, a third of their count: a phone or a home line moves
    within a few prefixes of its carrier, a rotating proxy crosses dozens.
    Evades it: one stable address per account (the network detector then links the accounts
    that share it)."""

    name: ClassVar[str] = "infra_diversity"
    needs: ClassVar[frozenset[str]] = frozenset(
        {"n_asns", "n_countries", "n_subnets", "n_fingerprints", "n_events"}
    )
    content: ClassVar[bool] = False
    doc_uri: ClassVar[str] = "https://arxiv.org/abs/2205.11443"

    def evaluate(self, frame: AccountFrame) -> Evidence:
        multi = _multi_day(frame)
        n = np.maximum(_nz(_typical(frame, multi, "n_events", "day_events")), 1.0)
        asns = _nz(_typical(frame, multi, "n_asns", "day_asns"))
        countries = _nz(_typical(frame, multi, "n_countries", "day_countries"))
        subnets = _nz(_typical(frame, multi, "n_subnets", "day_subnets"))
        fps = _nz(_typical(frame, multi, "n_fingerprints", "day_fingerprints"))
        # A column never computed (the online scorer's frames) means the ASNs are there.
        no_asn = frame.col("share_has_asn") == 0.0
        asns = np.where(no_asn, subnets / 3.0, asns)
        rotation = ramp(subnets / n, 0.3, 0.8) * ramp(n, 4.0, 10.0)
        spread = np.maximum(ramp(asns, 3.0, 10.0), ramp(countries, 2.0, 5.0))
        devices = ramp(fps, 3.0, 8.0)
        scores = np.clip(
            np.maximum(np.maximum(rotation * ramp(asns, 1.5, 4.0), spread), devices), 0, 1
        )

        def why(i: int) -> tuple[str, ...]:
            day = " (a typical day)" if multi[i] else ""
            if no_asn[i]:
                return (
                    f"{int(n[i])} requests from {int(subnets[i])} subnets (the log has no ASNs), "
                    f"{int(countries[i])} countries, {int(fps[i])} device fingerprints{day}",
                )
            return (
                f"{int(n[i])} requests from {int(subnets[i])} subnets in {int(asns[i])} "
                f"networks and {int(countries[i])} countries, {int(fps[i])} device "
                f"fingerprints{day}",
            )

        return Evidence(self.name, scores, _reasons(scores, why))


_WEAK_TIERS = {"none": 1.0, "email": 0.8, "phone": 0.4, "document": 0.1, "organization": 0.0}
_PAID_PLANS = {"enterprise": 0.0, "pay_as_you_go": 0.6, "free": 1.0}


def identity_risk_of(
    age_days: np.ndarray, tiers: Iterable[object], plans: Iterable[object]
) -> np.ndarray:
    """:class:`IdentityRisk`'s score from an account's age (days), verification tier and plan;
    NaN where the age is unknown. The gateway's policy reads the same score per request."""
    fresh = 1.0 - ramp(np.asarray(age_days, dtype=np.float64), 2.0, 30.0)
    weak = np.array([_WEAK_TIERS.get(str(t), 0.7) if t else 0.7 for t in tiers])
    plan = np.array([_PAID_PLANS.get(str(p), 0.5) if p else 0.5 for p in plans])
    scores = 0.45 * fresh + 0.4 * weak + 0.15 * plan
    return np.asarray(np.where(np.isfinite(scores), scores, np.nan))


class IdentityRisk:
    """Throwaway identity: an account that started sending traffic soon after sign-up, with
    little or no verification, on a free or prepaid plan. Alone it accuses nobody (every new
    customer looks like this); it weighs the other evidence. Needs account records."""

    name: ClassVar[str] = "identity_risk"
    needs: ClassVar[frozenset[str]] = frozenset({"created_t", "first_t"})
    content: ClassVar[bool] = False
    doc_uri: ClassVar[str] = (
        "https://www.usenix.org/conference/usenixsecurity13/technical-sessions/presentation/thomas"
    )

    def evaluate(self, frame: AccountFrame) -> Evidence:
        created = frame.col("created_t")
        age_days = (frame.col("first_t") - created) / 86400.0
        tiers = frame.txt("verification")
        plans = frame.txt("plan")
        scores = identity_risk_of(age_days, tiers, plans)

        def why(i: int) -> tuple[str, ...]:
            return (
                f"account {max(age_days[i], 0.0):.1f} days old at first request, "
                f"verification {tiers[i] or 'unknown'}, plan {plans[i] or 'unknown'}",
            )

        return Evidence(self.name, scores, _reasons(scores, why))


BEHAVIOUR_DETECTORS = (
    VolumeShape(),
    ReasoningParams(),
    Elicitation(),
    ContentAbuse(),
    CapabilityCoverage(),
    TemplateConcentration(),
    TimingRegularity(),
    ReleaseChasing(),
    InfraDiversity(),
    IdentityRisk(),
)
