"""The step types: one module each, registered when imported."""
