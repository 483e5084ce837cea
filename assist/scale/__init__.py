"""Scale-out on Redis Streams: stateless gateways at the websocket edge, workers that run the engine for
the partitions they lease. See docs/scale-out.md for the design and its guarantees."""
