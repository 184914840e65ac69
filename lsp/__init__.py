"""The protocol layer: one module per LSP feature, plus config and the CLI."""

__version__ = "0.1.0"
