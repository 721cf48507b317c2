"""An embedded llama.cpp judge on the CPU, fast because it reuses the prompt prefix.

rubricate puts what every criterion of a sample shares (instructions, conversation,
response) before the criterion, so consecutive requests of one sample differ only in
their tail. This judge keeps the previous prompt in llama.cpp's KV cache and evaluates
only the tokens after the longest common prefix.

Binary criteria (the request carries ``choices`` and an ``answer_prefix``) are scored
in one forward pass: the answer prefix is appended to the assistant turn and the
next-token distribution decides. P(choice) sums the probabilities of every vocabulary
token that ``rubricate.judge.choice_index`` maps to that choice (``m``, ``Me``, `` met``
-> met; ``n``, ``not_`` -> not_met), the rule the OpenAI backend applies to log-probabilities.
Everything else (levels, groups, re-asks, ``explain=True``) is generated until the JSON
object closes: greedily at temperature 0, else sampled with the seed, so one request
always gets one reply.

A request with a ``reply_schema`` is generated under a GBNF grammar compiled from the schema
(llama-cpp-python's ``LlamaGrammar.from_json_schema``): tokens the grammar forbids are masked
before each choice, so the reply is always valid JSON of that shape (if it fits the token
budget). Choice scoring needs no grammar: it already compares only the allowed answers.

Message contents are tokenized with special-token parsing off, so a response that
contains ``<|im_end|>`` stays text and cannot close its own turn.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rubricate.backends._grammar import Grammars
from rubricate.backends._protocol import JudgeBase
from rubricate.backends._turns import PrefixTurns, prefix_key
from rubricate.errors import BackendError, ConfigError, MissingDependency, ModelError
from rubricate.judge import JsonEnd, choice_index
from rubricate.types import JudgeReply, JudgeRequest, Message, Usage

__all__ = ["LlamaCppJudge"]

logger = logging.getLogger(__name__)

Overflow = Literal["error", "truncate"]

# Models without a template in their metadata get ChatML, the most common instruct format.
_CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_SENTINEL = re.compile(r"\x1eRUBRICATE-SEGMENT-(\d+)\x1e")
_CUT_MARKER = "\n[... part of this text was cut to fit the judge's context ...]\n"
_MIN_KEPT = 64  # tokens of the cut text to keep at least; fewer would leave nothing to judge
_PIECE_BYTES = 128
# llama_decode's "no KV-cache slot for this batch" (1) and "aborted" (2): after the reset that
# follows every failure, the same call can succeed. Other codes are faults of the model or input.
_TRANSIENT_DECODE = re.compile(r"llama_decode returned [12]\b")


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as error:
        raise MissingDependency("llama-cpp-python", "local") from error
    return llama_cpp


@dataclass(frozen=True, slots=True)
class _Prompt:
    tokens: list[int]
    cut: tuple[int, int] | None  # token range that may be shortened on overflow


def _choice_of(piece: bytes, choices: tuple[str, ...]) -> int | None:
    """The choice a vocabulary piece starts to spell (``choice_index`` on its text)."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return choice_index(text, choices)


def _logsumexp(values: np.ndarray) -> float:
    if values.size == 0:
        return -math.inf
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))


class LlamaCppJudge(JudgeBase):
    """A judge running a GGUF model in-process with llama.cpp.

    Calls are served one at a time in a worker thread (llama.cpp is neither thread safe nor
    faster when shared), so the event loop stays free while the CPU works. A waiting call
    that shares the last call's prefix goes first, whatever order the caller used.

    Attributes:
        fingerprint: ``llamacpp:<first 16 hex of the GGUF's sha256>:<prob|explain>``, plus
            ``:truncate@<n_ctx>`` when overflowing prompts are shortened (answers then depend on
            n_ctx) and ``:t<temperature>:s<seed>`` when the configured temperature is not 0.
        n_ctx: context size in tokens.
        truncated_requests: prompts shortened to fit the context so far.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        n_threads: int | None = None,
        n_ctx: int = 8192,
        explain: bool = False,
        n_batch: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
        on_overflow: Overflow = "error",
        reuse_prefix: bool = True,
    ) -> None:
        """Load the model.

        Args:
            model_path: a GGUF file (see ``rubricate.models.resolve_model``).
            n_threads: CPU threads (default: all cores).
            n_ctx: context size; prompt plus answer must fit.
            explain: generate an explanation with every verdict (text mode only, slower).
            n_batch: prompt tokens per decode call.
            temperature: sampling temperature of requests that leave theirs ``None``; 0 is
                greedy. Above 0, text is sampled and a choice verdict drawn from its probabilities.
            seed: seed of that sampling for requests that leave theirs ``None``.
            on_overflow: ``error`` raises a non-retryable ``BackendError``; ``truncate`` cuts
                the middle of the conversation and response to fit.
            reuse_prefix: keep the previous prompt in the KV cache (off only to measure its effect).
        """
        llama_cpp = _import_llama_cpp()
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from rubricate.models import file_sha256

        if temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {temperature}")
        if on_overflow not in ("error", "truncate"):
            raise ConfigError(f"on_overflow must be 'error' or 'truncate', not {on_overflow!r}")
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"local model file not found: {path}")
        threads = n_threads or os.cpu_count() or 1
        try:
            self._llama = llama_cpp.Llama(
                str(path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_ubatch=n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                seed=seed,
                logits_all=False,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"llama.cpp could not load {path}: {error}") from error
        self._lib = llama_cpp
        self._vocab = llama_cpp.llama_model_get_vocab(self._llama.model)
        self._recurrent = bool(
            llama_cpp.llama_model_is_recurrent(self._llama.model)
            or llama_cpp.llama_model_is_hybrid(self._llama.model)
        )
        llama = self._llama
        eos, bos = llama.token_eos(), llama.token_bos()
        # Typed loosely: its stubs want llama-cpp's message TypedDicts, rubricate passes plain dicts.
        self._formatter: Any = Jinja2ChatFormatter(
            template=llama.metadata.get("tokenizer.chat_template") or _CHATML,
            eos_token=llama.detokenize([eos], special=True).decode("utf-8") if eos >= 0 else "",
            bos_token=llama.detokenize([bos], special=True).decode("utf-8") if bos >= 0 else "",
            add_generation_prompt=True,
        )
        self.explain = explain
        self.on_overflow: Overflow = on_overflow
        self.reuse_prefix = reuse_prefix
        # llama.cpp pads the context, but Llama's token buffer keeps the size asked for.
        self.n_ctx: int = min(llama.n_ctx(), len(llama.input_ids))
        self.truncated_requests = 0
        mode = "explain" if explain else "prob"
        self.fingerprint = f"llamacpp:{file_sha256(path)[:16]}:{mode}"
        if on_overflow == "truncate":
            self.fingerprint += f":truncate@{self.n_ctx}"
        self.temperature = temperature
        self.seed = seed
        if temperature != 0:
            self.fingerprint += f":t{temperature:g}:s{seed}"
        self._n_vocab: int = llama.n_vocab()
        self._pieces: list[bytes] | None = None
        self._choice_ids: dict[tuple[str, ...], list[np.ndarray]] = {}
        self._grammars = Grammars(llama_cpp, self._vocab, self._n_vocab)
        self._warned_template = False
        self._thread_lock = threading.Lock()
        self._turns = PrefixTurns()
        self._closed = False

    # --- async surface ----------------------------------------------------------

    def __repr__(self) -> str:
        return f"LlamaCppJudge({self.fingerprint!r})"

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Answer one request (probability mode for binary criteria, else text)."""
        turns = self._turns
        await turns.acquire(prefix_key(request))
        try:
            return await asyncio.to_thread(self.complete_sync, request)
        finally:
            turns.release()

    async def aclose(self) -> None:
        """Free the model once the running call, if any, is done."""
        turns = self._turns
        await turns.acquire(None)
        try:
            await asyncio.to_thread(self.close)
        finally:
            turns.release()

    def close(self) -> None:
        with self._thread_lock:
            if not self._closed:
                self._closed = True
                self._llama.close()

    def complete_sync(self, request: JudgeRequest) -> JudgeReply:
        """``complete`` without an event loop (blocks; safe to call from any thread)."""
        import jinja2

        with self._thread_lock:
            if self._closed:
                raise BackendError("the local judge is closed", retryable=False)
            started = time.perf_counter()
            try:
                if request.choices and request.answer_prefix and not self.explain:
                    reply = self._score_choices(request)
                else:
                    reply = self._generate(request)
            except (RuntimeError, ValueError, jinja2.TemplateError) as error:
                self._llama.reset()  # a failed decode leaves the KV cache in an unknown state
                transient = isinstance(error, RuntimeError) and bool(
                    _TRANSIENT_DECODE.search(str(error))
                )
                raise BackendError(f"local judge failed: {error}", retryable=transient) from error
            return JudgeReply(
                text=reply.text,
                usage=reply.usage,
                latency_s=time.perf_counter() - started,
                probabilities=reply.probabilities,
            )

    # --- prompt -----------------------------------------------------------------

    def _cut_index(self, request: JudgeRequest) -> int | None:
        """The message holding the shared text (the first one long enough), else the longest non-system one."""
        candidates = [i for i, m in enumerate(request.messages) if m.role != "system"]
        if not candidates:
            return None
        if request.shared_prefix_chars > 0:
            for i in candidates:
                if len(request.messages[i].content) >= request.shared_prefix_chars:
                    return i
        return max(candidates, key=lambda i: len(request.messages[i].content))

    def _segments(self, request: JudgeRequest) -> list[tuple[str, bool, bool]]:
        """The prompt as (text, is_template_text, may_be_cut) pieces, in order."""
        messages = request.messages
        marked = [
            {"role": m.role, "content": f"\x1eRUBRICATE-SEGMENT-{i}\x1e"}
            for i, m in enumerate(messages)
        ]
        rendered: str = self._formatter(messages=marked).prompt
        parts = _SENTINEL.split(rendered)
        order = [int(i) for i in parts[1::2]]
        if order != list(range(len(messages))):
            # The template rewrites contents; fall back to one string (special tokens parsed in it).
            if not self._warned_template:
                logger.warning(
                    "chat template changes message text; tokenizing the prompt as one string"
                )
                self._warned_template = True
            return [(self._render(messages), True, False)]
        cut = self._cut_index(request)
        shared = request.shared_prefix_chars
        segments: list[tuple[str, bool, bool]] = [(parts[0], True, False)]
        for index, template_text in zip(order, parts[2::2], strict=True):
            content = messages[index].content
            if index == cut and 0 < shared <= len(content):
                # Tokenized apart from the criterion, the shared text gives identical tokens in every request.
                segments += [(content[:shared], False, True), (content[shared:], False, False)]
            else:
                segments.append((content, False, index == cut))
            segments.append((template_text, True, False))
        return segments

    def _render(self, messages: tuple[Message, ...]) -> str:
        prompt: str = self._formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages]
        ).prompt
        return prompt

    def _prompt(self, request: JudgeRequest, prefill: str) -> _Prompt:
        tokens: list[int] = []
        cut: tuple[int, int] | None = None
        segments = self._segments(request)
        if prefill:
            segments.append((prefill, False, False))
        for text, special, cuttable in segments:
            if not text:
                continue
            ids = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=special)
            if cuttable:
                cut = (len(tokens), len(tokens) + len(ids))
            tokens.extend(ids)
        return _Prompt(tokens, cut)

    def _fit(self, prompt: _Prompt, reserve: int) -> list[int]:
        """The prompt's tokens, shortened in the middle of the cut range if ``on_overflow`` allows."""
        tokens, limit = prompt.tokens, self.n_ctx - reserve
        if len(tokens) <= limit:
            return tokens
        need = len(tokens) + reserve
        if self.on_overflow == "error":
            suggest = -(-need // 1024) * 1024
            raise BackendError(
                f"the judge prompt has {len(tokens)} tokens and the answer up to {reserve} more "
                f"({need} in all), over the local judge's context of {self.n_ctx} tokens; raise it "
                f"with --context {suggest} (RUBRICATE_CONTEXT) or let the judge truncate",
                retryable=False,
            )
        marker: list[int] = self._llama.tokenize(
            _CUT_MARKER.encode("utf-8"), add_bos=False, special=False
        )
        start, end = prompt.cut or (0, 0)
        keep = (end - start) - (len(tokens) - limit) - len(marker)
        if keep < _MIN_KEPT:
            raise BackendError(
                f"the judge prompt has {len(tokens)} tokens ({need} with the answer) and cannot be "
                f"cut to the local judge's context of {self.n_ctx} tokens; raise --context",
                retryable=False,
            )
        head = keep // 2
        fitted = tokens[: start + head] + marker + tokens[end - (keep - head) :]
        self.truncated_requests += 1
        logger.warning(
            "judge prompt truncated from %d to %d tokens to fit n_ctx=%d (%d truncated so far)",
            len(tokens),
            len(fitted),
            self.n_ctx,
            self.truncated_requests,
        )
        return fitted

    # --- evaluation -------------------------------------------------------------

    def _evaluate(self, tokens: list[int]) -> int:
        """Bring the KV cache to ``tokens``, evaluating only what differs; returns the reused length."""
        llama = self._llama
        reuse = 0
        if self.reuse_prefix and not self._recurrent and llama.n_tokens:
            common = min(llama.n_tokens, len(tokens))
            same = llama.input_ids[:common] == np.asarray(tokens[:common], dtype=np.intc)
            reuse = common if bool(same.all()) else int(np.argmin(same))
            reuse = min(reuse, len(tokens) - 1)  # the last token is always run: its logits are read
        if reuse:
            llama.n_tokens = reuse  # eval() drops the cache from here on
        else:
            llama.reset()
        llama.eval(tokens[reuse:])
        return reuse

    def _last_logits(self) -> np.ndarray:
        """Logits after the last evaluated token (``Llama.scores`` is not filled without logits_all)."""
        pointer = self._lib.llama_get_logits_ith(self._llama.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))

    def _piece(self, token: int) -> bytes:
        return self._token_pieces()[token]

    def _token_pieces(self) -> list[bytes]:
        if self._pieces is None:
            buffer = ctypes.create_string_buffer(_PIECE_BYTES)
            pieces = []
            for token in range(self._n_vocab):
                n = self._lib.llama_token_to_piece(
                    self._vocab, token, buffer, _PIECE_BYTES, 0, False
                )
                pieces.append(buffer.raw[:n] if n > 0 else b"")
            self._pieces = pieces
        return self._pieces

    def _ids_for(self, choices: tuple[str, ...]) -> list[np.ndarray]:
        """Per choice, the token ids that start spelling it and no other choice (computed once)."""
        found = self._choice_ids.get(choices)
        if found is None:
            buckets: list[list[int]] = [[] for _ in choices]
            for token, piece in enumerate(self._token_pieces()):
                if piece and not self._lib.llama_vocab_is_control(self._vocab, token):
                    index = _choice_of(piece, choices)
                    if index is not None:
                        buckets[index].append(token)
            found = [np.asarray(b, dtype=np.intp) for b in buckets]
            if not all(ids.size for ids in found):
                raise BackendError(f"no vocabulary token starts any of {choices}", retryable=False)
            self._choice_ids[choices] = found
        return found

    def _score_choices(self, request: JudgeRequest) -> JudgeReply:
        ids = self._ids_for(request.choices)
        tokens = self._fit(self._prompt(request, request.answer_prefix), reserve=0)
        reused = self._evaluate(tokens)
        logits = self._last_logits().astype(np.float64)
        log_z = _logsumexp(logits)
        log_p = [_logsumexp(logits[i]) - log_z for i in ids]
        log_total = _logsumexp(np.asarray(log_p))
        probabilities = {
            c: math.exp(lp - log_total) for c, lp in zip(request.choices, log_p, strict=True)
        }
        temperature, rng = self._sampling(request)
        if rng is None:
            best = max(probabilities, key=probabilities.__getitem__)
        else:
            scaled = np.asarray(log_p) / temperature
            weights = np.exp(scaled - scaled.max())
            best = request.choices[int(rng.choice(len(weights), p=weights / weights.sum()))]
        logger.debug(
            "P=%s, the choices hold %.3f of the next-token mass", probabilities, math.exp(log_total)
        )
        return JudgeReply(
            text=json.dumps({"verdict": best}),
            usage=Usage(
                prompt_tokens=len(tokens), cached_prompt_tokens=reused, completion_tokens=1
            ),
            probabilities=probabilities,
        )

    def _generate(self, request: JudgeRequest) -> JudgeReply:
        # Without an explanation the answer prefix is a free head start on valid JSON; under
        # a grammar the reply starts where the grammar's root does, so nothing is prefilled.
        grammars = self._grammars
        grammar = grammars.sampler(request.reply_schema) if request.reply_schema else None
        prefill = request.answer_prefix if not self.explain and grammar is None else ""
        budget = max(1, request.max_tokens)
        tokens = self._fit(self._prompt(request, prefill), reserve=budget)
        reused = self._evaluate(tokens)
        scanner = JsonEnd()
        scanner.feed(prefill.encode("utf-8"))
        temperature, rng = self._sampling(request)
        out: list[int] = []
        try:
            for _ in range(budget):
                logits = self._last_logits()
                token = _next_token(logits, temperature, rng)
                # Checking one token against the grammar is cheap, masking the whole
                # vocabulary is not: greedy decoding masks only when its choice is refused
                # (the argmax of the masked logits is then the same token, so this is exact).
                if grammar is not None and (
                    rng is not None or not grammars.permits(grammar, token)
                ):
                    token = _next_token(grammars.allowed(grammar, logits), temperature, rng)
                if self._lib.llama_vocab_is_eog(self._vocab, token):
                    break
                if grammar is not None:
                    grammars.accept(grammar, token)
                out.append(token)
                if scanner.feed(self._piece(token)) or len(out) == budget:
                    break
                self._llama.eval([token])
        finally:
            if grammar is not None:
                grammars.free(grammar)
        text = prefill + self._llama.detokenize(out).decode("utf-8", errors="replace")
        return JudgeReply(
            text=text,
            usage=Usage(
                prompt_tokens=len(tokens), cached_prompt_tokens=reused, completion_tokens=len(out)
            ),
        )

    def _sampling(self, request: JudgeRequest) -> tuple[float, np.random.Generator | None]:
        """The request's temperature (else the judge's), and a generator seeded for this call
        (``None`` when greedy): the same request always draws the same reply."""
        temperature = self.temperature if request.temperature is None else request.temperature
        if temperature <= 0:
            return 0.0, None
        seed = self.seed if request.seed is None else request.seed
        return temperature, np.random.default_rng(seed)


def _next_token(logits: np.ndarray, temperature: float, rng: np.random.Generator | None) -> int:
    """Argmax when greedy, else a draw from ``softmax(logits / temperature)``."""
    if rng is None:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / temperature
    weights = np.exp(scaled - scaled.max())
    return int(rng.choice(weights.size, p=weights / weights.sum()))
