"""The page-table model: one module per kernel file, kernel names, kernel order."""
