"""The domain vocabulary: tables, payload schemas, enums and domain errors."""
