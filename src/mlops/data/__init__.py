"""Data: the versioned raw tables, their contract (validation), features and the split."""
