"""Adapters from log shapes providers already have onto the event record."""

from distillguard.events.adapters.otel_genai import (
    DEFAULT_ACCOUNT_ATTRIBUTES,
    iter_otel_genai,
    looks_like_otlp,
    span_to_event,
)

__all__ = ["DEFAULT_ACCOUNT_ATTRIBUTES", "iter_otel_genai", "looks_like_otlp", "span_to_event"]
