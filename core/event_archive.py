"""The events topic as a JSONL archive, byte for byte: one line per record with topic,
partition, offset, timestamp (ms, CreateTime), key, value and headers. Keys, values and
header values are UTF-8 text, or `{"base64": …}` for bytes that are not UTF-8.

Restoring re-produces the records in order, partition by partition, with their keys,
headers and timestamps, into an empty topic. Offsets are then the original ones when the
original partitions started at 0 without gaps (the events topic is never compacted or
expired, and commands are produced without transactions), which `projection_offsets` and
the position-derived ids of the projection rely on.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from kernel.kafka import new_producer, partition_count
from kernel.settings import Settings

Progress = Callable[[int, int], None]


def _ignore(_done: int, _total: int) -> None:
    return None


def encode_bytes(raw: bytes | None) -> str | dict[str, str] | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode()}


def decode_bytes(value: str | dict[str, str] | None) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return base64.b64decode(value["base64"])
    return value.encode("utf-8")


def archive_line(message: Any) -> bytes:
    return orjson.dumps({
        "topic": message.topic, "partition": message.partition, "offset": message.offset,
        "timestamp": message.timestamp, "key": encode_bytes(message.key),
        "value": encode_bytes(message.value),
        "headers": [[name, encode_bytes(value)] for name, value in message.headers or ()],
    }) + b"\n"


async def export_topic(settings: Settings, topic: str, path: Path,
                       progress: Progress = _ignore) -> dict[int, list[int]]:
    """Writes every record below the end offsets seen at the start; returns, per partition,
    [beginning offset, end offset]."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.resolved_bootstrap(),
                                enable_auto_commit=False, max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    try:
        count = await partition_count(settings.resolved_bootstrap(), topic)
        tps = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(tps)
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        total, done = sum(ends[tp] - starts[tp] for tp in tps), 0
        progress(0, total)
        with path.open("wb") as out:
            for tp in tps:
                await _copy_partition(consumer, tp, starts[tp], ends[tp], out,
                                      _shifted(progress, done, total))
                done += ends[tp] - starts[tp]
                progress(done, total)
        return {tp.partition: [starts[tp], ends[tp]] for tp in tps}
    finally:
        await consumer.stop()


async def _copy_partition(consumer: AIOKafkaConsumer, tp: TopicPartition, start: int,
                          end: int, out: Any, copied: Callable[[int], None]) -> None:
    consumer.seek(tp, start)
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
        for message in batch.get(tp, []):
            if message.offset < end:
                out.write(archive_line(message))
        copied(min(await consumer.position(tp), end) - start)


def _shifted(progress: Progress, base: int, total: int) -> Callable[[int], None]:
    return lambda copied: progress(base + copied, total)


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield orjson.loads(line)


async def produce_archive(settings: Settings, topic: str, path: Path, total: int = 0,
                          progress: Progress = _ignore) -> int:
    """Re-produces the archive into `topic` in file order (per partition: offset order);
    `total` (the manifest's record count) only sizes the progress."""
    producer = new_producer(settings)
    await producer.start()
    count, pending = 0, []
    try:
        for record in read_archive(path):
            pending.append(await producer.send(
                topic, decode_bytes(record["value"]), key=decode_bytes(record["key"]),
                partition=record["partition"], timestamp_ms=record["timestamp"],
                headers=[(name, decode_bytes(value) or b"") for name, value in record["headers"]]))
            count += 1
            if len(pending) >= 1000:
                await _settle(pending)
                progress(count, max(total, count))
        await _settle(pending)
        progress(count, max(total, count))
        return count
    finally:
        await producer.stop()


async def _settle(pending: list[Any]) -> None:
    for future in pending:
        await future
    pending.clear()
