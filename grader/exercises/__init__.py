"""Exercise packages: each `grader/exercises/<id>/` declares one Exercise spec (grader.exercise) in its __init__."""
