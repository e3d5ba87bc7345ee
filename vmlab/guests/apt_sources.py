"""Which Debian mirror this machine's apt uses: read from /etc/apt/sources.list{,.d/*}.

Two formats exist: one-line (``deb [options] URI suite components``, in ``*.list``) and
deb822 stanzas (``Types:``/``URIs:``/``Suites:`` fields, in ``*.sources``).  A Debian mirror is
a ``deb`` source whose suites are Debian releases (not the security archive, which carries only
updates).  We never name a host ourselves: the user's configuration is the authority.
"""
from __future__ import annotations

from pathlib import Path

APT_ETC = Path("/etc/apt")
#: Debian's release names and aliases; a source listing one of them is a Debian archive
DEBIAN_SUITES = {"buster", "bullseye", "bookworm", "trixie", "forky", "sid", "stable",
                 "testing", "unstable", "oldstable"}


def debian_mirror(etc: Path = APT_ETC) -> str | None:
    """The first Debian archive URI the machine's apt sources name, or None."""
    for uri, suites in _sources(etc):
        if any(s.split("-")[0] in DEBIAN_SUITES and "security" not in s for s in suites):
            if "security" not in uri:
                return uri.rstrip("/")
    return None


def _sources(etc: Path):
    """(uri, suites) of every 'deb' source, the main file first, then sources.list.d/."""
    files = [etc / "sources.list"]
    parts = etc / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        yield from (_deb822(text) if path.suffix == ".sources" else _one_line(text))


def _one_line(text: str):
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):          # [arch=… signed-by=…] options
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield words[0], [words[1]]


def _deb822(text: str):
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"])[0] != "no":
            for uri in fields.get("uris", []):
                yield uri, fields.get("suites", [])
