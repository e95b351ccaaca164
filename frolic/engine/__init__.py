"""The probability engine (pure strategies) and the concurrency control engine (atomic stores).

A batch of plays of one game is decided in two steps:

1. A strategy (``strategies``) turns the plays into *intents*: for each play, whether it
   wants to win (a random draw against its probability), the cap its win must stay under,
   and the draw that picks the brand. Pure Python: an injected random source, no I/O.
2. A budget store (``store``) applies all intents in one atomic step: idempotency, the
   caps, the brand pick weighted by remaining stock, the decrement and the result write.
   The Redis store does it in one Lua call; the in-memory store (simulator) and the
   optimistic store (WATCH/MULTI fallback) run the same rules in Python (``step``).
"""
