"""ISO 639-1 two-letter language codes (the Library of Congress registration authority's list,
https://www.loc.gov/standards/iso639-2/php/code_list.php), for validating --lang."""

CODES = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz
ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik
io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml
mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd
se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi
vo wa wo xh yi yo za zh zu
""".split())


def names() -> dict[str, tuple[str, str]]:
    """Each code's name in English and in the language itself (CLDR, through Babel); a code CLDR lacks has
    its code for a name."""
    global _NAMES
    if _NAMES is None:
        from babel import Locale, UnknownLocaleError

        en = Locale("en").languages
        out = {}
        for code in sorted(CODES):
            try:
                native = Locale.parse(code).get_language_name(code) or ""
            except (UnknownLocaleError, ValueError):
                native = ""
            out[code] = (en.get(code, code), native)
        _NAMES = out
    return _NAMES


_NAMES: dict[str, tuple[str, str]] | None = None


def find(query: str) -> str | None:
    """The code of a language given by its code, English name or own name ('Swedish', 'svenska' -> 'sv')."""
    q = query.strip().casefold()
    if q in CODES:
        return q
    for code, (en, native) in names().items():
        if q in (en.casefold(), native.casefold()):
            return code
    return None
