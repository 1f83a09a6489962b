import pytest

from pocketai_pipeline.sync.licenses import LICENSE_TYPES, hub_license_id, license_type


def test_license_types_are_the_contract_enum_in_order():
    assert LICENSE_TYPES == (
        "apache_2_0", "mit", "bsd", "gpl", "lgpl", "agpl", "mpl_2_0", "cc0", "cc_by", "cc_by_sa",
        "cc_by_nc", "cc_by_nd", "openrail", "llama", "gemma", "other", "unknown",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("hub_license", "expected"),
    [
        ("apache-2.0", "apache_2_0"),
        ("mit", "mit"),
        ("bsd", "bsd"),
        ("bsd-2-clause", "bsd"),
        ("bsd-3-clause", "bsd"),
        ("bsd-3-clause-clear", "bsd"),
        ("gpl", "gpl"),
        ("gpl-2.0", "gpl"),
        ("gpl-3.0", "gpl"),
        ("lgpl", "lgpl"),
        ("lgpl-2.1", "lgpl"),
        ("lgpl-3.0", "lgpl"),
        ("lgpl-lr", "lgpl"),
        ("agpl-3.0", "agpl"),
        ("mpl-2.0", "mpl_2_0"),
        ("cc0-1.0", "cc0"),
        ("cc-by-2.0", "cc_by"),
        ("cc-by-2.5", "cc_by"),
        ("cc-by-3.0", "cc_by"),
        ("cc-by-4.0", "cc_by"),
        ("cc-by-sa-3.0", "cc_by_sa"),
        ("cc-by-sa-4.0", "cc_by_sa"),
        ("cc-by-nc", "cc_by_nc"),
        ("cc-by-nc-2.0", "cc_by_nc"),
        ("cc-by-nc-4.0", "cc_by_nc"),
        ("cc-by-nc-sa-2.0", "cc_by_nc"),
        ("cc-by-nc-sa-4.0", "cc_by_nc"),
        ("cc-by-nc-nd-3.0", "cc_by_nc"),
        ("cc-by-nc-nd-4.0", "cc_by_nc"),
        ("cc-by-nd-4.0", "cc_by_nd"),
        ("openrail", "openrail"),
        ("openrail++", "openrail"),
        ("bigscience-openrail-m", "openrail"),
        ("creativeml-openrail-m", "openrail"),
        ("bigcode-openrail-m", "openrail"),
        ("bigscience-bloom-rail-1.0", "openrail"),
        ("llama2", "llama"),
        ("llama3", "llama"),
        ("llama3.1", "llama"),
        ("llama3.2", "llama"),
        ("llama3.3", "llama"),
        ("llama4", "llama"),
        ("gemma", "gemma"),
        ("other", "other"),
        ("wtfpl", "other"),
        ("afl-3.0", "other"),
        ("cc-by-ncx", "other"),
        ("cc-by-nd-3.0", "other"),
        ("llama", "other"),
        ("unknown", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_every_hub_license_id_maps_to_its_type(hub_license, expected):
    assert license_type(hub_license) == expected


@pytest.mark.parametrize(
    ("hub_license", "expected"),
    [
        (" Apache-2.0 ", "apache_2_0"),
        ("MIT", "mit"),
        ("CC-BY-NC-SA-4.0", "cc_by_nc"),
        ("Gemma\n", "gemma"),
        ("OpenRAIL++", "openrail"),
        ("mit\x00", "mit"),
        ("UNKNOWN", "unknown"),
        ("None", "unknown"),
        ("  ", "unknown"),
        ("\x00", "unknown"),
        (" Other ", "other"),
    ],
)
def test_case_whitespace_and_nul_do_not_matter(hub_license, expected):
    assert license_type(hub_license) == expected


@pytest.mark.parametrize(
    ("card_data", "tags", "expected"),
    [
        ({"license": "apache-2.0"}, [], "apache-2.0"),
        ({"license": " MIT "}, [], "MIT"),
        ({"license": ["mit", "apache-2.0"]}, [], "mit"),
        ({"license": [3, "gpl-3.0"]}, [], "gpl-3.0"),
        ({"license": ["", "bsd"]}, [], "bsd"),
        ({}, ["text-generation", "license:gemma", "license:mit"], "gemma"),
        (None, ["license:apache-2.0"], "apache-2.0"),
        ({"license": "mit"}, ["license:apache-2.0"], "mit"),
        ({"license": ""}, ["license:apache-2.0"], "apache-2.0"),
        ({"license": "   "}, ["license:apache-2.0"], "apache-2.0"),
        ({"license": []}, ["license:apache-2.0"], "apache-2.0"),
        ({"license": 7}, ["license:apache-2.0"], "apache-2.0"),
        ({"license": None}, ["license:llama3"], "llama3"),
        ("not a dict", ["license:mit"], "mit"),
        ({"license": "mit\x00"}, [], "mit"),
        ({"license": "unknown"}, ["license:mit"], "unknown"),
        ({}, ["license:", "license:bsd"], "bsd"),
        ({}, ["mit", "License:mit"], None),
        ({}, [], None),
        (None, [], None),
    ],
)
def test_card_license_comes_first_then_the_first_license_tag(card_data, tags, expected):
    assert hub_license_id(card_data, tags) == expected


@pytest.mark.parametrize(
    ("card_data", "tags", "expected"),
    [
        ({"license": " Apache-2.0 "}, [], "apache_2_0"),
        ({"license": ["CC-BY-NC-SA-4.0"]}, [], "cc_by_nc"),
        ({}, ["license:mit"], "mit"),
        ({"license": "other"}, ["license:mit"], "other"),
        ({"license": "wtfpl"}, [], "other"),
        ({"license": ""}, [], "unknown"),
        (None, [], "unknown"),
    ],
)
def test_declared_license_to_type(card_data, tags, expected):
    assert license_type(hub_license_id(card_data, tags)) == expected
