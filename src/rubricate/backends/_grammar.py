"""Reply schemas as llama.cpp grammars: the embedded judge's constrained decoding.

A ``Grammars`` compiles each reply schema to GBNF once (llama-cpp-python's
``LlamaGrammar.from_json_schema``) and makes a fresh grammar sampler per reply (it holds the
parse state of that reply); ``permits`` and ``allowed`` read it on the judge's own logits.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from rubricate.errors import ConfigError

__all__ = ["Grammars"]

# llama-cpp-python's converter lets a string hold raw control characters (a newline), which
# no JSON parser accepts; upstream llama.cpp's converter excludes them, as this does.
_LOOSE_CHAR = r'char ::= [^"\\] |'
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'
_KEPT = 256  # compiled grammars kept: grouped schemas differ per group, memory stays flat
_LAYOUT = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class Grammars:
    """Grammar samplers for one model's vocabulary (``lib`` is the ``llama_cpp`` module)."""

    def __init__(self, lib: Any, vocab: Any, n_vocab: int) -> None:
        self._lib = lib
        self._vocab = vocab
        self._n_vocab = n_vocab
        self._gbnf: dict[str, str] = {}
        self._ids = np.arange(n_vocab, dtype=np.intc)
        # Buffers in the layout of llama_token_data, reused by every step.
        self._all = np.recarray((n_vocab,), dtype=_LAYOUT)
        self._one = np.recarray((1,), dtype=_LAYOUT)

    def sampler(self, schema: str) -> Any:
        """A fresh grammar sampler for ``schema``; free it with ``free``."""
        gbnf = self._gbnf.get(schema)
        if gbnf is None:
            from llama_cpp.llama_grammar import LlamaGrammar

            try:
                gbnf = LlamaGrammar.from_json_schema(schema, verbose=False)._grammar
            except (ValueError, KeyError, TypeError, RecursionError) as error:
                raise ConfigError(f"the reply schema cannot be made a grammar: {error}") from error
            gbnf = gbnf.replace(_LOOSE_CHAR, _JSON_CHAR)
            if len(self._gbnf) >= _KEPT:
                self._gbnf.clear()
            self._gbnf[schema] = gbnf
        sampler = self._lib.llama_sampler_init_grammar(self._vocab, gbnf.encode("utf-8"), b"root")
        if not sampler:
            raise ConfigError("llama.cpp refused the grammar compiled from the reply schema")
        return sampler

    def free(self, sampler: Any) -> None:
        self._lib.llama_sampler_free(sampler)

    def accept(self, sampler: Any, token: int) -> None:
        self._lib.llama_sampler_accept(sampler, token)

    def _apply(self, sampler: Any, data: np.recarray, size: int) -> int:
        array = self._lib.llama_token_data_array(
            data=data.ctypes.data_as(self._lib.llama_token_data_p),
            size=size,
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(sampler, ctypes.byref(array))
        return int(array.size)

    def permits(self, sampler: Any, token: int) -> bool:
        """Whether the grammar allows ``token`` next (one token: cheap)."""
        one = self._one
        one.id[0], one.logit[0], one.p[0] = token, 0.0, 0.0
        self._apply(sampler, one, 1)
        return bool(np.isfinite(one.logit[0]))

    def allowed(self, sampler: Any, logits: np.ndarray) -> np.ndarray:
        """``logits`` with every token the grammar forbids next set to -inf (whole vocabulary)."""
        data = self._all
        data.id[:] = self._ids
        data.logit[:] = logits
        data.p[:] = 0.0
        size = self._apply(sampler, data, self._n_vocab)
        # The grammar sampler masks in place and never reorders, but be exact about ids.
        masked = np.full(self._n_vocab, -np.inf, dtype=np.float32)
        masked[data.id[:size]] = data.logit[:size]
        return masked
