"""Writes locale/en/LC_MESSAGES/django.po: allauth's English in the site's own words.

allauth says "Email", "Sign Up", "Signup" and title-cases its buttons; the site says
"E-mail", "Sign up" and uses sentence case. Django takes LOCALE_PATHS before the apps'
catalogues, so these English "translations" win. Run after upgrading allauth:

    .venv/bin/python locale/english_house_style.py
    msgfmt --check -o locale/en/LC_MESSAGES/django.mo locale/en/LC_MESSAGES/django.po
"""

from __future__ import annotations

import re
from pathlib import Path

import allauth
import polib

SOURCE = Path(allauth.__file__).parent / "locale" / "en" / "LC_MESSAGES" / "django.po"
TARGET = Path(__file__).parent / "en" / "LC_MESSAGES" / "django.po"
# "email" as a word, not inside a placeholder such as %(email)s, {email} or {{ email }}.
EMAIL = re.compile(r"(?<![%({\w])(E|e)mail(?![)}\w])")
KEEP_CAPITALS = {"I", "E-mail"}


def house_style(text: str) -> str:
    text = text.replace("Signup", "Sign up").replace("Sign-In", "Sign-in")
    text = EMAIL.sub(lambda m: f"{m.group(1)}-mail", text)
    words = text.split(" ")
    # A title-cased label ("Reset My Password"): sentence case ("Reset my password").
    if len(words) > 1 and all(w[:1].isupper() for w in words) and not text.endswith("."):
        words = [words[0]] + [w if w in KEEP_CAPITALS else w.lower() for w in words[1:]]
        words = ["e-mail" if w == "E-mail" and i else w for i, w in enumerate(words)]
    return " ".join(words)


def main() -> None:
    source = polib.pofile(str(SOURCE))
    target = polib.POFile()
    target.metadata = {
        "Project-Id-Version": "Cutout",
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "Language": "en",
    }
    seen = set()
    for entry in source:
        key = (entry.msgctxt, entry.msgid)
        if entry.obsolete or entry.msgid_plural or key in seen:
            continue
        seen.add(key)
        styled = house_style(entry.msgid)
        if styled != entry.msgid:
            target.append(polib.POEntry(msgctxt=entry.msgctxt, msgid=entry.msgid, msgstr=styled))
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    target.save(str(TARGET))


if __name__ == "__main__":
    main()
