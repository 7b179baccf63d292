"""Reads keycdc topics the way a Kafka Connect-style consumer does, with clients that
keycdc did not write: librdkafka (through confluent-kafka) with read_committed isolation,
the Schema Registry client, and Apache Avro. Prints one JSON line per record:
{"topic", "partition", "offset", "key": {...}, "value": {...} or null}.

Usage: read_topics.py BOOTSTRAP REGISTRY_URL TOPIC...
"""
import io
import json
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient


def main():
    bootstrap, registry_url, topics = sys.argv[1], sys.argv[2], sys.argv[3:]
    registry = SchemaRegistryClient({"url": registry_url})
    schemas = {}

    def decode(data):
        if data is None:
            return None
        magic, schema_id = struct.unpack(">bI", data[:5])
        if magic != 0:
            raise ValueError("not the Confluent wire format")
        if schema_id not in schemas:
            schemas[schema_id] = avro.schema.parse(registry.get_schema(schema_id).schema_str)
        reader = avro.io.DatumReader(schemas[schema_id])
        return reader.read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "keycdc-independent-reader",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    })
    parts = []
    for topic in topics:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts += [TopicPartition(topic, p, 0) for p in meta.partitions]
    consumer.assign(parts)
    remaining = {(p.topic, p.partition) for p in parts}
    while remaining:
        msg = consumer.poll(10)
        if msg is None:
            raise SystemExit("timed out reading " + repr(sorted(remaining)))
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                remaining.discard((msg.topic(), msg.partition()))
                continue
            raise SystemExit(str(msg.error()))
        value = decode(msg.value())
        out = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
               "key": decode(msg.key()), "value": value}
        print(json.dumps(out, default=str, sort_keys=True))
    consumer.close()


main()
