"""``frolic bench import``: N coupon codes through ``POST /admin/coupons/import``, over real
HTTP, into a ``frolic serve --role api`` process (or the API at a given URL).

The clock runs from the first byte sent to the last answer received: what an operator
waits for. Making up the codes happens before it starts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from frolic.config import Settings
from frolic_bench.cluster import running

UPLOAD_CHUNK = 1 << 20
Progress = Callable[[str], None]


def codes_file(brand: int, tag: str, first: int, count: int) -> bytes:
    """A ``brand_id,code`` file of ``count`` codes no other run has (``tag`` is random)."""
    rows = "".join(f"{brand},{tag}-{i:010d}\n" for i in range(first, first + count))
    return b"brand_id,code\n" + rows.encode()


def _upload(body: bytes, progress: Progress, label: str) -> Iterator[bytes]:
    """``body`` in chunks, saying how much has been sent at every tenth."""
    step = max(len(body) // 10, 1)
    shown = 0
    for start in range(0, len(body), UPLOAD_CHUNK):
        yield body[start : start + UPLOAD_CHUNK]
        sent = min(start + UPLOAD_CHUNK, len(body))
        if sent - shown >= step or sent == len(body):
            shown = sent
            progress(f"{label}: sent {sent / 2**20:.1f} of {len(body) / 2**20:.1f} MiB")


def import_codes(
    url: str, admin_token: str, *, codes: int, per_request: int, progress: Progress
) -> dict[str, Any]:
    """Import ``codes`` fresh codes of a new brand, ``per_request`` to a request."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(900)) as client:
        answer = client.post("/admin/brands", json={"name": f"bench-{uuid.uuid4().hex[:8]}"})
        answer.raise_for_status()
        brand = int(answer.json()["id"])
        tag = uuid.uuid4().hex[:12]
        totals = {"imported": 0, "duplicates": 0, "rejected": 0}
        requests = -(-codes // per_request)
        seconds = 0.0
        sent = 0
        for n, first in enumerate(range(0, codes, per_request), 1):
            body = codes_file(brand, tag, first, min(per_request, codes - first))
            sent += len(body)
            label = f"request {n}/{requests}"
            began = time.perf_counter()
            answer = client.post(
                "/admin/coupons/import",
                content=_upload(body, progress, label),
                headers={"Content-Type": "text/csv"},
            )
            took = time.perf_counter() - began
            seconds += took
            answer.raise_for_status()
            report = answer.json()
            totals["imported"] += report["imported"]
            totals["duplicates"] += report["duplicates"]["count"]
            totals["rejected"] += report["rejectedCount"]
            progress(f"{label}: stored {report['imported']:,} codes in {took:.1f} s")
    return {
        "codes_per_s": round(codes / seconds),
        "seconds": round(seconds, 3),
        "codes": codes,
        **totals,
        "requests": requests,
        "per_request": per_request,
        "mib_sent": round(sent / 2**20, 1),
    }


def measure(
    settings: Settings, state: Path, *, codes: int, per_request: int, progress: Progress
) -> dict[str, Any]:
    """The run against a ``frolic serve --role api`` process started on ``settings``' servers."""
    assert settings.admin_token is not None, "call Settings.with_local_secrets() first"
    with running(settings, state, [["api"]]) as cluster:
        return import_codes(
            cluster.roles[0].url, settings.admin_token.get_secret_value(),
            codes=codes, per_request=per_request, progress=progress,
        )  # fmt: skip
