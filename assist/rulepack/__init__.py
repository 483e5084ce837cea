"""Rule packs: YAML data validated by pydantic, linted, and compiled once for the engine."""
