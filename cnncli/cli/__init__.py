"""The command-line layer: parse arguments, call the core, render its result. Nothing heavy here."""
