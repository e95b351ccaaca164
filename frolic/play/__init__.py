"""Play ingestion: the gateway's checks, the durable record, and the publish."""
