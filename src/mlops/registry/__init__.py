"""The registry: versions and stages as git tags, the gate that decides, and lineage."""
