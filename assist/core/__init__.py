"""The I/O-free core: events in, outputs out, time from the events."""
