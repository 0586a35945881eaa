"""Prompt pools: the shared public prompt data when present, the built-in generator when not.

Pools are Arrow string arrays; events take rows by index, so a pool is loaded once per run.
Benign pools leave out rows that also appear in ``prompts/train.jsonl`` (unless the scenario
asks for the train split), so a content classifier trained there meets unseen benign text.
Attack pools come from the scenario's ``prompt_split`` of ``prompts/*.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import structlog

from distillguard.errors import InputFileError
from distillguard.simulate import textgen
from distillguard.simulate.config import PromptSplit

__all__ = ["PromptLibrary", "load_library"]

log = structlog.get_logger(__name__)

_MAX_CHARS = 8000
_FALLBACK_POOL = 4000


@dataclass(frozen=True, slots=True)
class PromptLibrary:
    """Every text pool the actors draw from.

    ``source`` says where the pools came from: ``"shared"`` (the public data) or
    ``"builtin"`` (the generator; also used per pool when one file is missing).
    """

    chat: pa.Array
    search: pa.Array
    gsm8k: pa.Array
    mmlu: pa.Array
    humaneval: pa.Array
    jailbreak: pa.Array
    injection: pa.Array
    source: str

    @property
    def benchmark(self) -> pa.Array:
        return pa.concat_arrays([self.gsm8k, self.mmlu, self.humaneval])

    @property
    def attacks(self) -> pa.Array:
        return pa.concat_arrays([self.jailbreak, self.injection])


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    try:
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InputFileError(path, f"line {lineno}: not JSON ({exc})") from exc
                if isinstance(row, dict) and isinstance(row.get("text"), str):
                    rows.append(row)
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc.strerror})") from exc
    return rows


def _arr(texts: list[str]) -> pa.Array:
    return pa.array([t[:_MAX_CHARS] for t in texts], type=pa.string())


def load_library(data_dir: Path | None, split: PromptSplit, seed: int) -> PromptLibrary:
    """Load pools from ``data_dir`` (``shared/data`` layout); any pool whose file is absent,
    or every pool when ``data_dir`` is ``None`` or missing, comes from the built-in generator
    seeded with ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB1]))
    gen = {
        "chat": textgen.chat_like(rng, _FALLBACK_POOL),
        "search": textgen.search_like(rng, _FALLBACK_POOL),
        "bench": textgen.benchmark_like(rng, _FALLBACK_POOL),
        "jailbreak": textgen.jailbreak_like(rng, 600),
        "injection": textgen.extraction_ask(rng, 600),
    }
    chat_rows: list[dict[str, object]] = []
    bench_rows: list[dict[str, object]] = []
    attack_rows: list[dict[str, object]] = []
    if data_dir is not None and data_dir.is_dir():
        chat_path = data_dir / "benign_prompts" / "chat_prompts.jsonl"
        bench_path = data_dir / "benign_prompts" / "benchmark_prompts.jsonl"
        if chat_path.is_file():
            chat_rows = _read_jsonl(chat_path)
        if bench_path.is_file():
            bench_rows = _read_jsonl(bench_path)
        for name in ("train", "dev") if split == "all" else (split,):
            path = data_dir / "prompts" / f"{name}.jsonl"
            if path.is_file():
                attack_rows += [r for r in _read_jsonl(path) if r.get("label") != "benign"]

    def benign_ok(row: dict[str, object]) -> bool:
        return split == "train" or row.get("in_prompts_split") != "train"

    def texts(rows: list[dict[str, object]], prefix: str) -> list[str]:
        return [
            str(r["text"])
            for r in rows
            if str(r.get("topic", "")).startswith(prefix) and benign_ok(r)
        ]

    # The conversational rows are few and most are also in prompts/train.jsonl; all of them
    # are used (with generated ones) so that chat traffic does not repeat a few hundred texts.
    chat = [
        str(r["text"])
        for r in chat_rows
        if str(r.get("topic", "")).startswith(("chat:", "instruction:"))
    ]
    search = texts(chat_rows, "search_query:")
    gsm8k = texts(bench_rows, "benchmark:gsm8k")
    mmlu = texts(bench_rows, "benchmark:mmlu")
    humaneval = texts(bench_rows, "benchmark:humaneval")
    jailbreak = [str(r["text"]) for r in attack_rows if r.get("label") == "jailbreak"]
    injection = [str(r["text"]) for r in attack_rows if r.get("label") == "injection"]
    bench_gen = gen["bench"]
    order = np.random.default_rng(np.random.SeedSequence([seed, 0xB2]))

    def shuffled(texts: list[str]) -> list[str]:
        return [texts[i] for i in order.permutation(len(texts))]

    chat, search = shuffled(chat), shuffled(search)
    thirds = len(bench_gen) // 3
    lib = PromptLibrary(
        chat=pa.concat_arrays([_arr(chat), gen["chat"]]) if chat else gen["chat"],
        search=_arr(search) if search else gen["search"],
        gsm8k=_arr(gsm8k) if gsm8k else bench_gen.slice(0, thirds),
        mmlu=_arr(mmlu) if mmlu else bench_gen.slice(thirds, thirds),
        humaneval=_arr(humaneval) if humaneval else bench_gen.slice(2 * thirds),
        jailbreak=_arr(jailbreak) if jailbreak else gen["jailbreak"],
        injection=_arr(injection) if injection else gen["injection"],
        source="shared" if chat and gsm8k and jailbreak else "builtin",
    )
    log.info(
        "simulate.prompts.loaded",
        source=lib.source,
        chat=len(lib.chat),
        benchmark=len(lib.benchmark),
        attacks=len(lib.attacks),
        split=split,
    )
    return lib
