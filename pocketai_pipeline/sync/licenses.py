"""Which license a Hub model declares, and its catalog `license_type` (contract rule 4)."""

LICENSE_TYPES: tuple[str, ...] = (
    "apache_2_0",
    "mit",
    "bsd",
    "gpl",
    "lgpl",
    "agpl",
    "mpl_2_0",
    "cc0",
    "cc_by",
    "cc_by_sa",
    "cc_by_nc",
    "cc_by_nd",
    "openrail",
    "llama",
    "gemma",
    "other",
    "unknown",
)

_LICENSE_TYPE_BY_HUB_ID: dict[str, str] = {
    "apache-2.0": "apache_2_0",
    "mit": "mit",
    "bsd": "bsd",
    "bsd-2-clause": "bsd",
    "bsd-3-clause": "bsd",
    "bsd-3-clause-clear": "bsd",
    "gpl": "gpl",
    "gpl-2.0": "gpl",
    "gpl-3.0": "gpl",
    "lgpl": "lgpl",
    "lgpl-2.1": "lgpl",
    "lgpl-3.0": "lgpl",
    "lgpl-lr": "lgpl",
    "agpl-3.0": "agpl",
    "mpl-2.0": "mpl_2_0",
    "cc0-1.0": "cc0",
    "cc-by-2.0": "cc_by",
    "cc-by-2.5": "cc_by",
    "cc-by-3.0": "cc_by",
    "cc-by-4.0": "cc_by",
    "cc-by-sa-3.0": "cc_by_sa",
    "cc-by-sa-4.0": "cc_by_sa",
    "cc-by-nc": "cc_by_nc",
    "cc-by-nd-4.0": "cc_by_nd",
    "openrail": "openrail",
    "openrail++": "openrail",
    "bigscience-openrail-m": "openrail",
    "creativeml-openrail-m": "openrail",
    "bigcode-openrail-m": "openrail",
    "bigscience-bloom-rail-1.0": "openrail",
    "llama2": "llama",
    "llama3": "llama",
    "llama3.1": "llama",
    "llama3.2": "llama",
    "llama3.3": "llama",
    "llama4": "llama",
    "gemma": "gemma",
    "unknown": "unknown",
    "none": "unknown",  # the contract's "none": a card saying `license: none` declares no license
}

# Every NonCommercial variant (cc-by-nc-4.0, cc-by-nc-sa-*, cc-by-nc-nd-*) is one type.
_CC_BY_NC_PREFIX = "cc-by-nc-"
_LICENSE_TAG_PREFIX = "license:"


def _clean(value: str) -> str:
    return value.replace("\x00", "").strip()


def card_license(declared: object) -> str | None:
    """A card's `license`: itself when a non-blank string, or the first non-blank string of a list."""
    candidates = declared if isinstance(declared, list) else [declared]
    for candidate in candidates:
        if isinstance(candidate, str) and _clean(candidate):
            return _clean(candidate)
    return None


def _tag_license(tags: list[str]) -> str | None:
    """The id of the first non-blank `license:<id>` tag."""
    for tag in tags:
        if tag.startswith(_LICENSE_TAG_PREFIX) and _clean(tag.removeprefix(_LICENSE_TAG_PREFIX)):
            return _clean(tag.removeprefix(_LICENSE_TAG_PREFIX))
    return None


def hub_license_id(card_data: object, tags: list[str]) -> str | None:
    """The license id a model declares: its model card's `license`, else its first `license:` tag.

    A missing, blank or non-string card license counts as absent. NULs and surrounding
    whitespace are removed; case is kept (`license_type` ignores it).
    """
    return card_license(card_data.get("license") if isinstance(card_data, dict) else None) or _tag_license(tags)


def license_name(card_data: object) -> str | None:
    """`cardData.license_name` trimmed (the name behind `license: other`, mostly); None when absent or blank."""
    return card_license_name(card_data.get("license_name") if isinstance(card_data, dict) else None)


def card_license_name(declared: object) -> str | None:
    return (_clean(declared) or None) if isinstance(declared, str) else None


def license_type(hub_license: str | None) -> str:
    """The catalog `license_type` for a Hub license id; `unknown` when none is declared."""
    key = _clean(hub_license or "").lower()
    if not key:
        return "unknown"
    if key.startswith(_CC_BY_NC_PREFIX):
        return "cc_by_nc"
    return _LICENSE_TYPE_BY_HUB_ID.get(key, "other")
