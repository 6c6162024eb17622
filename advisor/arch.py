"""Architecture arithmetic: parameter counts implied by a config.

Used by the validator (stated params_b vs implied) and later by the memory
estimator. Counts follow the tensors a Hugging Face checkpoint stores for a
decoder of the Llama/Qwen/Phi/Gemma kind; norms are included, rotary tables
are not (they are computed, not stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .schemas import Architecture, Model


@dataclass(frozen=True)
class ParamCount:
    embedding: int
    output: int
    attention: int
    mlp: int
    experts_active: int
    norms: int
    per_layer_embeddings: int
    encoders: int

    @property
    def total(self) -> int:
        return (
            self.embedding + self.output + self.attention + self.mlp + self.norms
            + self.per_layer_embeddings + self.encoders
        )

    @property
    def active(self) -> int:
        """Parameters touched per token: all but the experts not routed to."""
        return self.total - self.mlp + self.experts_active


@lru_cache(maxsize=16384)
def count_params(a: Architecture, encoders_b: float = 0.0) -> ParamCount:
    h, L = a.hidden_size, a.layers
    q = a.attention_heads * a.head_dim
    kv = a.kv_heads * a.head_dim
    attn = h * q + 2 * h * kv + q * h
    if a.attention_bias:
        attn += q + 2 * kv
    norms_per_layer = 2 * h + (2 * a.head_dim if a.qk_norm else 0)
    mats = 3 if a.mlp == "gated" else 2

    if a.experts:
        expert = mats * h * a.moe_intermediate_size
        router = h * a.experts
        shared = 0
        if a.shared_experts:
            shared = a.shared_experts * mats * h * (a.shared_expert_intermediate_size or a.moe_intermediate_size)
        mlp = a.experts * expert + router + shared
        mlp_active = a.experts_per_token * expert + router + shared
    else:
        mlp = mlp_active = mats * h * a.intermediate_size

    ple = 0
    if a.per_layer_input_size and a.per_layer_vocab_size:
        p = a.per_layer_input_size
        # per-layer token table, the model-level projection into it, and per layer
        # the gate (h->p) and the projection back (p->h) with its norm
        ple = a.per_layer_vocab_size * p * L + h * p * L + L * (2 * h * p + h)

    embedding = a.vocab_size * h
    return ParamCount(
        embedding=embedding,
        output=0 if a.tie_embeddings else a.vocab_size * h,
        attention=attn * L,
        mlp=mlp * L,
        experts_active=mlp_active * L,
        norms=norms_per_layer * L + h,
        per_layer_embeddings=ple,
        encoders=round(encoders_b * 1e9),
    )


def implied_params(model: Model) -> ParamCount | None:
    if model.architecture is None:
        return None
    return count_params(model.architecture, sum(e.params_b for e in model.encoders))
