from __future__ import annotations

import uuid

from frolic import topics
from frolic.config import Settings


def test_topics_are_created_with_the_configured_partitions(settings: Settings) -> None:
    suffix = uuid.uuid4().hex[:8]
    wanted = settings.model_copy(
        update={
            "play_topic": f"plays-{suffix}",
            "result_topic": f"results-{suffix}",
            "kafka_partitions": 5,
        }
    )
    admin = topics.admin_client(wanted)
    topics.ensure_topics(admin, wanted)
    topics.ensure_topics(admin, wanted)  # a second start finds them and changes nothing
    counts = topics.partition_counts(admin, timeout=5)
    assert counts[f"plays-{suffix}"] == 5
    assert counts[f"results-{suffix}"] == 5
