"""Fixtures of the window-source conformance suite: every kind in ``LOADERS``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sources_helpers import LOADERS, history

from llm_rollout.records import Feedback, RequestRecord
from llm_rollout.sources import WindowSource


@pytest.fixture(scope="module")
def traffic() -> tuple[list[RequestRecord], list[Feedback]]:
    return history()


@pytest.fixture(params=sorted(LOADERS))
def source(
    request: pytest.FixtureRequest, traffic: tuple[list[RequestRecord], list[Feedback]]
) -> Iterator[WindowSource]:
    yield from LOADERS[request.param](*traffic)
