"""`makemessages` that also extracts the project's `_lazy(...)` and `_g(...)` aliases.

Modules that need both `gettext` (as `_`) and `gettext_lazy` import the lazy one as
`_lazy`; xgettext knows only the standard names, so without this their strings never
reached the catalog and stayed English in the Chinese UI.
"""

from django.core.management.commands.makemessages import Command as MakeMessagesCommand


class Command(MakeMessagesCommand):
    xgettext_options = [*MakeMessagesCommand.xgettext_options, "--keyword=_lazy", "--keyword=_g"]
