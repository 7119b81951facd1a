// SwellKafka: Swell's Kafka client. See docs/triggers.md for what it supports.
