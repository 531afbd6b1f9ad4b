"""Month names for dates in Thai.

Django ships date formats for Thai (django/conf/locale/th/formats.py) but no Thai
catalogue, so its month names would stay English. Naming Django's own message ids
here puts them in locale/th (makemessages finds them), where they are translated.
Nothing imports this module.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop as _

# "F" in a date format.
MONTHS = [
    _("January"),
    _("February"),
    _("March"),
    _("April"),
    _("May"),
    _("June"),
    _("July"),
    _("August"),
    _("September"),
    _("October"),
    _("November"),
    _("December"),
]
# "M" in a date format.
MONTHS_3 = [
    _("jan"),
    _("feb"),
    _("mar"),
    _("apr"),
    _("may"),
    _("jun"),
    _("jul"),
    _("aug"),
    _("sep"),
    _("oct"),
    _("nov"),
    _("dec"),
]
