"""The play log on Kafka: what goes on each topic, and the clients that carry it."""
