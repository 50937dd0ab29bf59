"""Dataset modules: each registers a grader.data.Dataset (fetch from the official source, synthesise for quick mode)."""
