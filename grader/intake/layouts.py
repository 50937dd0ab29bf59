"""Who submitted a file, read from the path an LMS export gives it (Moodle's and Canvas's naming schemes)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Moodle's "Download all submissions": <prefix>_<participant id>_assignsubmission_<plugin> as a folder (Moodle ≥ 4.1),
# the same with a trailing "_" (older folders), or as a file-name prefix (flat). The prefix is the full name, the
# localised word "Participant" (blind marking), "Group name-Full name" (team, older) or the group's name (team, 4.x);
# Moodle turns every "_" inside it into a space, so the first "_<digits>_assignsubmission_" ends it.
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)(?:_(?P<rest>.*))?$", re.DOTALL)
# Canvas: <lastfirst>_[LATE_]<user id>_<attachment id>_<the file's name as the student uploaded it>.
CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?:(?P<late>late|LATE)_)?(?P<id>\d+)_(?P<attachment>\d+)_(?P<rest>.+)$", re.DOTALL)
TEAM_WORDS = ("group", "kelompok", "team", "default group")
BLIND_WORDS = {"participant", "peserta", "teilnehmer/in", "participante", "participant(e)", "참가자"}


@dataclass(frozen=True)
class Owner:
    """Whose file this is: the LMS's id (the student id), the name it gives, and the path inside their submission."""

    student: str
    name: str
    layout: str
    path: str
    late_flag: bool = False
    plugin: str = "file"


def _moodle_name(prefix: str) -> tuple[str, str]:
    """(name, layout) from Moodle's prefix: blind marking hides the name, team submissions lead with the group."""
    if prefix.strip().lower() in BLIND_WORDS:
        return "", "moodle-blind"
    if prefix.lower().startswith(TEAM_WORDS):
        return prefix, "moodle-team"
    return prefix, "moodle"


def owner_of(relative: str) -> Owner | None:
    """The owner of a path inside an LMS export ('/'-separated, relative to its top), or None for another layout."""
    first, _, below = relative.partition("/")
    moodle = MOODLE.match(first)
    if moodle:
        rest = moodle["rest"] or ""
        path = "/".join(part for part in (rest, below) if part)
        name, layout = _moodle_name(moodle["name"])
        flat = bool(rest) and not below
        return Owner(moodle["id"], name, layout + ("-flat" if flat else ""), path, plugin=moodle["plugin"])
    canvas = CANVAS.match(first)
    if canvas and not below:
        return Owner(canvas["id"], canvas["name"], "canvas", canvas["rest"], late_flag=bool(canvas["late"]))
    return None
