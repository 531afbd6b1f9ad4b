"""The sample photos the landing page and the editor offer, served from static/samples.

They are rembg's test fixture photos (MIT, see NOTICE), for someone with no photo at
hand to try the service in one click.
"""

from __future__ import annotations

SAMPLES = [
    {"file": "car-1.jpg", "alt": "A silver sports car, with a woman beside it"},
    {"file": "anime-girl-1.jpg", "alt": "An anime drawing of a girl in a sailor uniform"},
    {"file": "cloth-1.jpg", "alt": "A model in a patterned shirt and white trousers"},
    {"file": "plants-1.jpg", "alt": "Succulents in pots on a wooden table"},
]
