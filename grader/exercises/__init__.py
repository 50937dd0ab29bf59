"""Exercise modules: each registers its check types and defines its kernel-side probe."""
