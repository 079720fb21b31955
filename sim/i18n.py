"""Languages: one set of gettext catalogues (Babel) for the workshop and the report.

The catalogues are ``sim/workshop/locale/<lang>/LC_MESSAGES/messages.po``
(domain ``messages``). They are read at run time from the ``.po`` files with
Babel, so nothing generated is kept in the repository; ``docs/workshop.md``
("Translating") has the commands that extract and update them.

Code that produces text shown to people marks it where it is written:

- ``N_("...")``: a constant, translated where it is shown (`localize`);
- ``msg("... {n} ...", n=3)``: a sentence with values; it reads as the English
  sentence (a `Message` is a `str`) and carries its msgid and values, so a page
  can show it in any language later;
- ``nmsg("{n} week", "{n} weeks", n)``: the same, in the right number.

Pages translate with `localize` (plain text) and the Jinja2 i18n extension
(templates). Numbers and dates follow the language's conventions through Babel
(`number`, `percent`, `date`). Babel is imported only when a catalogue or a
format is needed: marking text costs nothing at import time.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babel.support import Translations

#: The languages the workshop speaks: code → its own name.
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
#: The language of the msgids, used when nothing else is chosen.
DEFAULT_LANGUAGE = "en"
#: Where the catalogues live, and their domain.
LOCALE_DIR = Path(__file__).parent / "workshop" / "locale"
DOMAIN = "messages"
#: The extraction keywords (Babel's spec: function name → positions of msgid and plural).
KEYWORDS: dict[str, Any] = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None,
                            "msg": None, "nmsg": (1, 2)}


def N_(text: str) -> str:
    """Mark a constant for translation; it is translated where it is shown (`localize`)."""
    return text


class Message(str):
    """A sentence in English that can still be shown in another language.

    It is the English text (so comparisons, logs and exceptions read as
    before) and keeps its msgid, plural and values for `localize`.
    """

    msgid: str
    plural: str | None
    n: float | None
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any], plural: str | None = None,
                n: float | None = None) -> Message:
        """The English text of `msgid` (or `plural`, for `n` other than 1) with `params` filled in."""
        text = msgid if plural is None or n == 1 else plural
        self = super().__new__(cls, text.format(**params))
        self.msgid, self.plural, self.n, self.params = msgid, plural, n, dict(params)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.msgid, self.params, self.plural, self.n))


def msg(text: str, **params: Any) -> Message:
    """A translatable sentence with values (``str.format`` fields)."""
    return Message(text, params)


def nmsg(singular: str, plural: str, n: float, **params: Any) -> Message:
    """A translatable sentence in the number of `n` (``{n}`` is available in the text)."""
    k = int(n) if float(n).is_integer() else n
    return Message(singular, {"n": k, **params}, plural, k)


def language(code: str | None) -> str:
    """`code` if it is a language the workshop speaks, else the default ('zh-CN' reads as 'zh_CN')."""
    code = (code or "").replace("-", "_")
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def catalogue_path(lang: str) -> Path:
    """The ``.po`` file of a language."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> Translations:
    """The language's translations, read from its ``.po`` (the msgids themselves for English)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    path = catalogue_path(language(lang))
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language(lang))
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def localize(text: Any, lang: str) -> Any:
    """`text` in language `lang`: a `Message` with its values, a marked constant, else unchanged."""
    if isinstance(text, Message):
        t = translations(lang)
        params = {k: localize(v, lang) if isinstance(v, Message) else v
                  for k, v in text.params.items()}
        if text.plural is None:
            return t.gettext(text.msgid).format(**params)
        return t.ngettext(text.msgid, text.plural, text.n).format(**params)
    if isinstance(text, str) and text:
        return translations(lang).gettext(text)
    return text


def babel_locale(lang: str) -> str:
    """Babel's name of the language's locale."""
    return language(lang)


def number(x: float, lang: str, digits: int = 0) -> str:
    """A number with the language's grouping and decimal mark, `digits` after the point."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(x, format=pattern, locale=babel_locale(lang))


def percent(share: float, lang: str, digits: int = 0) -> str:
    """A share (0.25) as the language writes a percentage."""
    from babel.numbers import format_percent

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
    return format_percent(share, format=pattern, locale=babel_locale(lang))


def date(when: dt.date | dt.datetime | str, lang: str, form: str = "medium") -> str:
    """A date as the language writes it (an ISO text is read first)."""
    from babel.dates import format_date

    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    return format_date(when, format=form, locale=babel_locale(lang))


def datetime(when: dt.datetime | str, lang: str, form: str = "short") -> str:
    """A date and time as the language writes it (an ISO text is read first)."""
    from babel.dates import format_datetime

    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    return format_datetime(when, format=form, locale=babel_locale(lang))
