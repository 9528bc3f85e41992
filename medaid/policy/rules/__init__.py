"""The rules, one concern per module; each reads compiled `Terms`, never YAML or rows."""
