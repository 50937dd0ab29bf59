"""Grades out of the grader, into an LMS: Moodle's grading worksheet and Gradescope's results.json."""
