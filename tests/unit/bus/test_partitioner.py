"""The relay places keys with aiokafka's default partitioner (Kafka's murmur2 layout).

The partitions below were computed by the hand-written murmur2 the project used before
(checked against aiokafka on 2,000 random keys and the Java client's vectors); pinning
them catches a library upgrade that would move keys between partitions of a live topic.
"""

from __future__ import annotations

import pytest

from polyfhir_bus.events import event_key
from polyfhir_bus.kafka import key_partition

PINNED = [
    (event_key("acme", "Patient", "123"), 1, 1),
    (event_key("acme/research", "Observation", "o-1"), 0, 9),
    (event_key("default", "Patient", "a"), 1, 10),
    ("ünïcødé|Patient|1", 0, 9),
]


@pytest.mark.parametrize(("key", "of_3", "of_12"), PINNED)
def test_a_key_keeps_its_partition(key: str, of_3: int, of_12: int) -> None:
    assert (key_partition(key, 3), key_partition(key, 12)) == (of_3, of_12)


def test_keys_spread_over_partitions() -> None:
    used = {key_partition(event_key("t", "Observation", str(i)), 3) for i in range(100)}
    assert used == {0, 1, 2}


def test_a_topic_has_partitions() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        key_partition("k", 0)
