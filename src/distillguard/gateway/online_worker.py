"""The online behaviour scorer in its own process, so that its cost never lands on a request.

Scoring an account (A's ``detect.online.update``) runs the batch detectors over the account's
running aggregates: microseconds most of the time, a millisecond or more when it rescores. On the
event loop that would delay whichever request arrives next, so the gateway hands every finished
request's observation to a child process instead and reads the scores back. The score a request
is judged by is therefore the one from the account's earlier requests, a few milliseconds behind;
content signals still act on the request itself.

The two pipes to the child are served by the event loop itself: every few milliseconds the batch
is encoded (orjson) and written without blocking, and the scores are read back when the pipe is
readable. No thread in the gateway process runs Python besides the loop (a
``multiprocessing.Queue`` would add a feeder and a reader thread, and every time one of them wants
the GIL a request can wait for it). Frames are ``multiprocessing.Connection``'s: a 4-byte
big-endian length, then the bytes.

State lives in the child (in-process mode) or in Redis (``redis_url``): then the child reads the
account's state before each update and writes it back with the score, so several gateways share
one history, and each gateway reads the score with its rate-limit counters in one round trip.
If the child dies the gateway logs it once and goes on without behaviour scores (fail-open for
this signal only; limits, content and the enforcement list still apply).

Predict inputs are judged in the child too: the enforcement list's ``predict_reference`` (the
range of the predict inputs the audit read) travels down the same pipe as a control frame, at
start and after every reload, in order with the batches (observations queued before a reload are
judged against the range they were queued under). Each predict observation carries its input
vector (the request's ``features``, as the event log records them); :func:`score_batch` sets
``predict_outside`` with ``prada.outside_range``, the function the replay calls. While the list
has no reference (a gateway deployed before its first audit), the child judges against a
``prada.RunningReference`` of the predict inputs it has seen so far, every account weighing the
same, from the time ``prada.RUNNING_MIN_ACCOUNTS`` accounts have sent some (the replay does the
same before its first audit).

The sequential tests' sibling prior (``online.SiblingMarks``) lives in the child too: each
observation's context carries its account's sibling keys (``online.sibling_keys``: hashes of its
payment instrument and sign-up device; none for a known-good account, which neither marks nor
takes a prior, as the replay skips it), read before the account is scored and marked when a
sequential test flags it. With Redis the marks are shared between gateways: read with the
states (``{prefix}sib:{hash}`` holds the first marker's account id) and written with the scores.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing as mp
import os
import signal
import struct
import sys
import time
from collections import ChainMap
from collections.abc import Collection, Mapping
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from distillguard.respond.enforcement import parse_predict_reference, predict_reference_document
from distillguard.respond.policy import hottest
from distillguard.settings import PolicySettings

if TYPE_CHECKING:
    from distillguard.detect.online import SiblingMarks
    from distillguard.detect.prediction.prada import PopulationStats, RunningReference

__all__ = [
    "NO_SCORE",
    "AccountContext",
    "OnlineView",
    "OnlineWorker",
    "decode_score",
    "score_batch",
    "score_key",
    "state_key",
]

log = structlog.get_logger(__name__)

# (account created at, epoch seconds; plan; country; sibling keys) from the account record
AccountContext = tuple[float | None, str | None, str | None, tuple[str, ...]]
# (behaviour score, its reasons, the reason of a hot prompt still holding or None)
OnlineView = tuple[float, tuple[str, ...], str | None]
NO_SCORE: OnlineView = (0.0, (), None)
_MAX_STATES = 200_000
_MAX_DRAIN = 8192  # observations scored together at most (bounds one round's latency)
_STATE_TTL_S = 7 * 86_400


def state_key(prefix: str, account_id: str) -> str:
    return f"{prefix}o:{account_id}"


def score_key(prefix: str, account_id: str) -> str:
    return f"{prefix}os:{account_id}"


def sibling_mark_key(prefix: str, key: str) -> str:
    return f"{prefix}sib:{key}"


def decode_score(raw: bytes | None, now: float) -> OnlineView:
    """``[score, reasons, hot_until, hot_reason]`` as the scorer writes it; the hot prompt's
    reason counts while ``hot_until`` (epoch seconds) lies ahead."""
    if not raw:
        return NO_SCORE
    doc = orjson.loads(raw)
    hot = doc[3] if len(doc) > 3 and doc[3] and doc[2] > now else None
    return float(doc[0]), tuple(doc[1]), hot


def _dump_state(state: Any) -> bytes:
    # Same document as OnlineState.to_bytes (dataclass fields, sets as sorted lists), built by
    # orjson directly: ~15x faster than dataclasses.asdict.
    return orjson.dumps(state, default=sorted)


# The per-prompt signals that hold an account degraded (PolicySettings.content_degrade_signals).
HOT_SIGNALS: tuple[str, ...] = PolicySettings().content_degrade_signals


def _hot(
    content: Mapping[str, float] | None, threshold: float, signals: Collection[str] = HOT_SIGNALS
) -> str | None:
    if not content:
        return None
    name, value = hottest(content, signals)
    return f"content:{name}={value:.2f} (earlier prompt)" if value >= threshold else None


_ORPHAN_CHECK_S = 1.0
_SCORER_SLICE_NS = 100_000
_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}  # syscall numbers


def _yield_quickly() -> None:
    """Ask Linux (6.12+, EEVDF) for a 0.1 ms time slice instead of the default ~1.4 ms.

    Nice 10 gives the scorer a small share of the CPU, but once it runs it may keep the CPU for
    its whole slice before a woken gateway thread gets it; with a short slice the proxy waits at
    most 0.1 ms for it. Older kernels ignore the request; other systems skip it."""
    import ctypes
    import platform

    nr = _SCHED_SETATTR.get(platform.machine())
    if nr is None or not sys.platform.startswith("linux"):
        return
    # struct sched_attr (version 0): size, policy, flags, nice, priority, runtime, deadline, period
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    attr = ctypes.create_string_buffer(
        struct.pack("IIQiIQQQ", 48, 0, 0, nice, 0, _SCORER_SLICE_NS, 0, 0)
    )
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(nr, 0, attr, 0) != 0:
        log.debug("gateway.online.slice_unchanged", errno=ctypes.get_errno())


_MIN_BATCH = 64
"""Prompts scored with one batched call only from this many on. A batched call is cheaper per
prompt but allocates batch-sized arrays in one burst; for the handful a flush usually carries,
those bursts showed up in the proxy's added p99 (3.4-4.4 ms against 1.7-2.6 ms with per-prompt
calls, A/B on this 2-core machine), so batching is kept for a real backlog."""


def _content_scores(model: Any, texts: list[str]) -> list[dict[str, float]]:
    """The content model's scores per text: ``score_one`` per prompt for a usual flush (no
    batch set-up, short bursts), one batched ``score`` call for a backlog."""
    if len(texts) < _MIN_BATCH:
        return [dict(model.score_one(t)) for t in texts]
    columns = {name: values.tolist() for name, values in model.score(texts).as_dict().items()}
    return [{name: float(col[i]) for name, col in columns.items()} for i in range(len(texts))]


def score_batch(
    batch: list[Any],
    states: Mapping[str, Any],
    hot: dict[str, tuple[float, str]],
    model: Any,
    template_id: Any,
    hot_at: float,
    hold_s: float,
    reference: PopulationStats | None = None,
    running: RunningReference | None = None,
    marks: SiblingMarks | None = None,
    hot_signals: Collection[str] = HOT_SIGNALS,
) -> tuple[list[Any], dict[str, Any]]:
    """Fold and score a batch of ``(account_id, context, observation)`` in order.

    ``context`` is ``[verification, created_at_epoch_s, plan, country, sibling_keys]`` from the
    account record (a bare verification string, or the list without sibling keys, is accepted
    too); it seeds a new account's state the way the replay seeds it, and its sibling keys take
    the prior from ``marks`` and are marked there when a sequential test flags the account.
    Prompts without content scores are scored by ``model`` first (batched when there are
    several). A predict observation's ``features`` (its input vector) is judged
    against ``reference`` (the enforcement list's ``predict_reference``) into
    ``predict_outside``, as the replay judges it; without a reference it is judged against
    ``running`` (the range of the predict inputs seen so far, which each input then joins) once
    that has one; otherwise, or for a vector of another length, it stays None (not judged).
    Returns the results to send back and the states touched; ``hot`` is updated in place."""
    import numpy as np

    from distillguard.detect import online
    from distillguard.detect.prediction.prada import outside_range

    texts: list[str] = []
    slots: list[dict[str, Any]] = []
    for account_id, _, obs in batch:
        # The prompt's template fingerprint is computed here, off the request path.
        text = obs.pop("text", None)
        obs["template_id"] = template_id(text) if template_id is not None and text else None
        # The sequential content test counts a prompt sent again once (online.fold).
        obs["text_key"] = (
            hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()
            if text
            else None
        )
        if model is not None and text and obs.get("content") is None:
            texts.append(text)
            slots.append(obs)
        feats = obs.pop("features", None)
        ref = reference
        if reference is None and running is not None and feats and obs["endpoint"] == "predict":
            # No audit's range yet: what was seen so far (judged before this input joins it).
            ref = running.current()
            running.add(str(account_id), np.asarray(feats, dtype=np.float64))
        obs["predict_outside"] = (
            outside_range(np.asarray(feats, dtype=np.float64), ref)
            if ref is not None and feats and obs["endpoint"] == "predict"
            else None
        )
    if texts:
        for obs, scores in zip(slots, _content_scores(model, texts), strict=True):
            obs["content"] = scores
    results: list[Any] = []
    touched: dict[str, Any] = {}
    for account_id, context, obs in batch:
        flag = _hot(obs.get("content"), hot_at, hot_signals)
        if flag is not None:
            hot[account_id] = (obs["ts"] + hold_s, flag)
        siblings = _sibling_keys(context)
        state = touched.get(account_id) or states.get(account_id)
        if state is None:
            if isinstance(context, str):
                state = online.initial_state(verification=context)
            else:
                tier, created_t, plan, country = context[:4]
                state = online.initial_state(created_t, tier, plan, country)
        prior = marks.prior(account_id, siblings) if marks is not None and siblings else 0.0
        state, score = online.update(state, online.Observation(**obs), prior)
        if score.test_passed and marks is not None and siblings:
            marks.mark(account_id, siblings)
        touched[account_id] = state
        until, flag = hot.get(account_id, (0.0, ""))
        results.append((account_id, float(score.score), score.reasons, until, flag))
    return results, touched


def _sibling_keys(context: Any) -> tuple[str, ...]:
    if isinstance(context, str) or len(context) < 5 or not context[4]:
        return ()
    return tuple(str(k) for k in context[4])


_HEADER = struct.Struct("!i")  # multiprocessing.Connection's frame header
_STOP = b"null"


def _reference_frame(reference: PopulationStats | None) -> bytes:
    """The control frame that sets the child's predict reference (None: no reference)."""
    doc = predict_reference_document(reference) if reference is not None else None
    return orjson.dumps({"predict_reference": doc})


def _apply_control(frame: Mapping[str, Any]) -> PopulationStats | None:
    """The child's predict reference after a control frame (the parent validated it)."""
    try:
        reference, note = parse_predict_reference(frame.get("predict_reference"))
    except Exception as exc:
        log.error("gateway.online.bad_predict_reference", error=str(exc))
        return None
    if note is not None:
        log.warning("gateway.online.predict_reference_skipped", note=note)
    return reference


def _worker_main(
    inq: Connection,
    outq: Connection,
    redis_url: str | None,
    prefix: str,
    score_content: bool,
    hot_at: float,
    hold_s: float,
    parent: int,
    hot_signals: tuple[str, ...] = HOT_SIGNALS,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # ...but a parent killed without a clean shutdown (SIGKILL, OOM) never sends the stop
    # marker: notice the re-parenting and exit instead of lingering as an orphan. ``parent`` is
    # passed in: by the time this process has booted, the parent may already be gone.
    # Scoring is best effort: when CPU is short the proxy comes first, the scorer lags behind
    # (bounded by the parent's max_pending; what does not fit is counted as dropped).
    os.nice(10)
    _yield_quickly()
    from distillguard.detect import online
    from distillguard.detect.prediction.prada import RunningReference

    template_id: Any = None
    try:
        from distillguard.detect.content import templates

        template_id = templates.template_id
    except ImportError:
        log.warning("gateway.online.templates_unavailable")
    model: Any = None
    if score_content:
        try:
            from distillguard.detect.content import ContentModel

            model = ContentModel.load()
        except Exception as exc:  # the parent loaded it already; say why it failed here
            log.error("gateway.online.content_unavailable", error=str(exc))
    hot: dict[str, tuple[float, str]] = {}
    states: dict[str, Any] = {}
    reference: PopulationStats | None = None
    running = RunningReference()  # used while the enforcement list has no reference
    marks = online.SiblingMarks()
    client = None
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    while True:
        try:
            if not inq.poll(_ORPHAN_CHECK_S):
                if os.getppid() != parent:
                    log.warning("gateway.online.orphaned", parent=parent)
                    break
                continue
            batch = orjson.loads(inq.recv_bytes())
        except (EOFError, OSError):
            break  # the gateway closed its end: it is gone or stopping
        if batch is None:
            break
        if isinstance(batch, dict):
            reference = _apply_control(batch)
            continue
        stopping = False
        control: Mapping[str, Any] | None = None
        # Batches that queued up while the last one was scored are drained and scored
        # together: one batched content-model call costs a quarter of per-prompt calls, which is
        # what keeps the scorer up with the proxy at peak rate.
        while len(batch) < _MAX_DRAIN and inq.poll(0):
            try:
                more = orjson.loads(inq.recv_bytes())
            except (EOFError, OSError):
                more = None
            if more is None:
                stopping = True
                break
            if isinstance(more, dict):
                # A new reference applies to what was queued after it: score these first.
                control = more
                break
            batch.extend(more)
        loaded: dict[str, Any] = {}
        if client is not None:
            accounts = list(dict.fromkeys(a for a, _, _ in batch))
            keys = list(dict.fromkeys(k for _, c, _ in batch for k in _sibling_keys(c)))
            try:
                raws = client.mget(
                    [state_key(prefix, a) for a in accounts]
                    + [sibling_mark_key(prefix, k) for k in keys]
                )
                loaded = {
                    a: online.OnlineState.from_bytes(
                        raw if isinstance(raw, bytes) else raw.encode()
                    )
                    for a, raw in zip(accounts, raws[: len(accounts)], strict=True)
                    if raw
                }
                for k, raw in zip(keys, raws[len(accounts) :], strict=True):
                    if raw:
                        marks.learn(k, raw.decode() if isinstance(raw, bytes) else str(raw))
            except Exception as exc:  # Redis down: score from what this process knows
                log.warning("gateway.online.redis_read_failed", error=type(exc).__name__)
        results, touched = score_batch(
            batch,
            ChainMap(loaded, states),
            hot,
            model,
            template_id,
            hot_at,
            hold_s,
            reference,
            running,
            marks,
            hot_signals,
        )
        fresh = marks.drain_new()
        if len(states) > _MAX_STATES:
            states.clear()  # bounded memory; accounts re-learn (documented in the README)
            hot.clear()
        states.update(touched)
        if client is not None:
            try:
                pipe = client.pipeline(transaction=False)
                last = {r[0]: r[1:] for r in results}
                for account_id, state in touched.items():
                    pipe.set(state_key(prefix, account_id), _dump_state(state), ex=_STATE_TTL_S)
                    blob = orjson.dumps(list(last[account_id]))
                    pipe.set(score_key(prefix, account_id), blob, ex=_STATE_TTL_S)
                for key, marker in fresh:
                    pipe.set(sibling_mark_key(prefix, key), marker, ex=_STATE_TTL_S, nx=True)
                pipe.execute()
            except Exception as exc:
                log.warning("gateway.online.redis_write_failed", error=type(exc).__name__)
        try:
            outq.send_bytes(orjson.dumps(results))
        except OSError:
            break
        if control is not None:
            reference = _apply_control(control)
        if stopping:
            break
    try:
        outq.send_bytes(_STOP)
    except OSError:
        pass


class OnlineWorker:
    """Parent side: ``submit`` observations, read ``view`` scores (in-process mode)."""

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        prefix: str = "dg:",
        flush_s: float = 0.005,
        max_pending: int = 20_000,
        score_content: bool = False,
        content_hot_at: float = PolicySettings().content_degrade_at,
        content_hold_s: float = 600.0,
        content_hot_signals: tuple[str, ...] = HOT_SIGNALS,
    ) -> None:
        self.score_content = score_content
        self.content_hot_at = content_hot_at
        self.content_hot_signals = tuple(content_hot_signals)
        self.content_hold_s = content_hold_s
        self._hot: dict[str, tuple[float, str]] = {}
        self.redis_url = redis_url
        self.prefix = prefix
        self.flush_s = flush_s
        self.max_pending = max_pending
        self.scores: dict[str, tuple[float, tuple[str, ...]]] = {}
        self.pending = 0
        self.dropped = 0
        self.scored = 0
        self._batch: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._proc: Any = None
        self._to_child: Connection | None = None
        self._from_child: Connection | None = None
        self._out = bytearray()  # frames the pipe did not take yet
        self._in = bytearray()  # bytes of a frame not complete yet
        self._writing = False
        self._stopped = False  # the child said it has scored everything
        self._dead_logged = False
        self._reference: bytes | None = None  # the last predict reference frame, for start

    def start(self) -> None:
        """Spawn the scorer and attach its pipes to the running event loop."""
        ctx = mp.get_context("spawn")
        child_in, to_child = ctx.Pipe(duplex=False)
        from_child, child_out = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_worker_main,
            args=(
                child_in,
                child_out,
                self.redis_url,
                self.prefix,
                self.score_content,
                self.content_hot_at,
                self.content_hold_s,
                os.getpid(),
                self.content_hot_signals,
            ),
            name="dg-online-scorer",
            daemon=True,
        )
        self._proc.start()
        # Only the child holds these ends now: when it dies, reading gives end-of-file.
        child_in.close()
        child_out.close()
        self._to_child, self._from_child = to_child, from_child
        os.set_blocking(to_child.fileno(), False)
        os.set_blocking(from_child.fileno(), False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(from_child.fileno(), self._read)
        if self._reference is not None:
            self._send(self._reference, 0)
        log.info("gateway.online.started", pid=self._proc.pid, redis=bool(self.redis_url))

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def set_predict_reference(self, reference: PopulationStats | None) -> None:
        """Judge predict inputs against ``reference`` from now on (the enforcement list's, at
        start and after each reload; None turns the predict test's evidence off). Observations
        already queued are sent first, so each is judged against the range it arrived under."""
        self._reference = _reference_frame(reference)
        if self._loop is None:
            return  # sent by start()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()
        self._send(self._reference, 0)

    def view(self, account_id: str, now: float) -> OnlineView:
        """The account's latest behaviour score and reasons, and a hot prompt's reason while
        it holds (in-process mode; with Redis the gateway reads the same from Redis)."""
        score, reasons = self.scores.get(account_id, (0.0, ()))
        hot = self._hot.get(account_id)
        return score, reasons, hot[1] if hot is not None and hot[0] > now else None

    def submit(
        self,
        account_id: str,
        tier: str,
        obs: Mapping[str, Any],
        account: AccountContext | None = None,
    ) -> None:
        """Queue one finished request's observation; ``account`` is what the identity store
        knows of the account (creation time as epoch seconds, plan, country, sibling keys),
        which seeds its state on its first request as the replay does."""
        if self._loop is None:
            return
        if self.pending >= self.max_pending:
            self.dropped += 1
            return
        created_t, plan, country, siblings = account or (None, None, None, ())
        self._batch.append((account_id, (tier, created_t, plan, country, siblings), obs))
        self.pending += 1
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_later(self.flush_s, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        batch, self._batch = self._batch, []
        if batch:
            self._send(orjson.dumps(batch), len(batch))

    def _send(self, payload: bytes, count: int) -> None:
        if self._to_child is None:
            self._lost(count)
            return
        self._out += _HEADER.pack(len(payload))
        self._out += payload
        if not self._writing:
            self._write()

    def _write(self) -> None:
        # Called on the loop: now, and again whenever the pipe has room after a partial write.
        conn, loop = self._to_child, self._loop
        if conn is None or loop is None:
            return
        try:
            n = os.write(conn.fileno(), self._out)
        except BlockingIOError:
            n = 0
        except OSError:  # the scorer is gone (broken pipe)
            self._down()
            return
        del self._out[:n]
        if self._out and not self._writing:
            loop.add_writer(conn.fileno(), self._write)
            self._writing = True
        elif not self._out and self._writing:
            loop.remove_writer(conn.fileno())
            self._writing = False

    def _read(self) -> None:
        conn = self._from_child
        if conn is None:
            return
        try:
            data = os.read(conn.fileno(), 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._down()
            return
        buf = self._in
        buf += data
        while len(buf) >= 4:
            (n,) = _HEADER.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            results = orjson.loads(bytes(buf[4 : 4 + n]))
            del buf[: 4 + n]
            if results is None:
                self._stopped = True
            else:
                self._apply(results)

    def _lost(self, count: int) -> None:
        self.pending -= count
        self.dropped += count

    def _down(self) -> None:
        """The scorer closed its pipes: stop talking to it, count what it never scored."""
        loop = self._loop
        for conn in (self._to_child, self._from_child):
            if conn is not None and loop is not None and not loop.is_closed():
                loop.remove_reader(conn.fileno())
                loop.remove_writer(conn.fileno())
        self._writing = False
        self._out.clear()
        self._lost(self.pending)
        self._stopped = True
        if not self._dead_logged:
            self._dead_logged = True
            log.error(
                "gateway.online.worker_down",
                consequence="requests are judged without behaviour scores",
            )
        for conn in (self._to_child, self._from_child):
            if conn is not None:
                conn.close()
        self._to_child = self._from_child = None

    def _apply(self, results: list[Any]) -> None:
        self.pending -= len(results)
        self.scored += len(results)
        for account_id, score, reasons, until, flag in results:
            self.scores[account_id] = (score, tuple(reasons))
            if flag:
                self._hot[account_id] = (until, flag)
        if len(self.scores) > _MAX_STATES:
            self.scores.clear()
            self._hot.clear()

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Score what is queued, then stop the child."""
        if self._proc is None:
            return
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()
        if self._to_child is not None:
            self._send(_STOP, 0)
        # The loop keeps writing the batches and reading the scores while we wait here.
        deadline = time.monotonic() + timeout_s
        while not self._stopped and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.get_running_loop().run_in_executor(None, self._proc.join, 2.0)
        if self._proc.is_alive():
            self._proc.terminate()
        if self._to_child is not None or self._from_child is not None:
            self._dead_logged = True  # a stop we asked for, not an outage
            self._down()
        self._proc = None
        log.info("gateway.online.stopped", scored=self.scored, dropped=self.dropped)
