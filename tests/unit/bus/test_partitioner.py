"""The relay's partitioner is Kafka's: same key, same partition as aiokafka would choose."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner

from polyfhir_bus.events import event_key
from polyfhir_bus.partitioner import murmur2, partition_for

pytestmark = pytest.mark.unit

# org.apache.kafka.common.utils.UtilsTest#testMurmur2
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def test_murmur2_matches_the_java_client() -> None:
    assert {k: murmur2(k) for k in JAVA_VECTORS} == JAVA_VECTORS


@pytest.mark.parametrize("partitions", [1, 2, 3, 7, 12, 64])
def test_partition_for_matches_aiokafka_default_partitioner(partitions: int) -> None:
    rng = random.Random(partitions)
    keys = [event_key(f"t{rng.randrange(50)}", "Patient", str(i)) for i in range(3000)]
    keys += [
        "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(40)))
        for _ in range(2000)
    ]
    everyone = list(range(partitions))
    for key in keys:
        raw = key.encode()
        assert partition_for(key, partitions) == DefaultPartitioner()(raw, everyone, everyone), key


def test_keys_spread_over_partitions() -> None:
    used = {partition_for(event_key("t", "Observation", str(i)), 3) for i in range(100)}
    assert used == {0, 1, 2}


def test_a_topic_has_partitions() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for("k", 0)
