"""Programs: the operation vocabulary, run_program, the .kprog text format."""
