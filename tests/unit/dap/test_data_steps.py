"""`set`, `log` and `if`: named values from sandboxed expressions, log entries, and skipped steps."""

from __future__ import annotations

import pytest

from tasklane.dap import Engine, RunContext, load_dap
from tasklane.dap.package import DapError
from tests.unit.dap.conftest import build_zip

CTX = RunContext(task_id="task-1")
OFFER = """
name: Offer
params:
  amount: {type: number, required: true}
steps:
  - set: {as: total, value: "param.amount * 1.24"}
  - set: {as: big, value: "total > 1000"}
  - log: {level: WARNING, message: "Large offer {{ total }}", if: "big"}
  - compose: {template: templates/offer.txt, as: offer}
  - compose: {template: templates/discount.txt, as: discount, if: "not big"}
  - store: {from: offer, id: Offer}
  - store: {from: discount, id: Discount, if: "not big"}
"""
TEMPLATES = {"templates/offer.txt": "Total {{ '%.2f' | format(total) }}", "templates/discount.txt": "Small offer"}


def run(manifest: str, params: dict, templates: dict | None = None):
    dap = load_dap(build_zip({"dap.yaml": manifest, **(templates if templates is not None else TEMPLATES)}))
    return Engine().run(dap, params, CTX)


def test_set_names_a_value_that_later_steps_read():
    result = run(OFFER, {"amount": 100})
    assert result.ok and result.documents[0].content == b"Total 124.00"


def test_if_skips_steps_and_log_adds_an_entry_at_its_level():
    large = run(OFFER, {"amount": 1000})
    assert [d.id for d in large.documents] == ["Offer"]
    assert any(e.level == "WARNING" and e.message == "Large offer 1240.0" for e in large.logs)
    assert any("Skipped step 5 (compose)" in e.message for e in large.logs)
    small = run(OFFER, {"amount": 10})
    assert [d.id for d in small.documents] == ["Offer", "Discount"]
    assert not any(e.level == "WARNING" for e in small.logs)


def test_a_severe_log_entry_does_not_fail_the_task():
    manifest = OFFER.replace("level: WARNING", "level: SEVERE")
    result = run(manifest, {"amount": 5000})
    assert result.ok and any(e.level == "SEVERE" and "Large offer" in e.message for e in result.logs)


def test_a_failing_expression_fails_the_task_naming_the_step():
    manifest = OFFER.replace('"param.amount * 1.24"', '"param.amount / 0"')
    result = run(manifest, {"amount": 1})
    assert not result.ok and "'set' of 'total'" in result.status_message


def test_expressions_run_sandboxed_and_within_the_budget():
    escape = OFFER.replace('"param.amount * 1.24"', '"param.__class__.__mro__[1].__subclasses__()"')
    assert not run(escape, {"amount": 1}).ok
    huge = OFFER.replace('"param.amount * 1.24"', "\"'x' * 100000000\"")
    assert not run(huge, {"amount": 1}).ok


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ("- set: {as: total, value: 'param.amount +'}", "not a valid expression"),
        ("- set: {as: param, value: '1'}", "reserved"),
        ("- log: {level: DEBUG, message: x}", "level"),
        ("- compose: {template: templates/offer.txt, as: x, if: '1 +'}", "not a valid expression"),
        ("- set: {as: offer, value: '1'}", "already used by an earlier step"),
        ("- store: {from: total, id: T}", "not an earlier compose or convert output"),
    ],
)
def test_bad_data_steps_are_refused_at_upload(step, problem):
    manifest = OFFER.replace("  - store: {from: offer, id: Offer}", f"  - store: {{from: offer, id: Offer}}\n  {step}")
    with pytest.raises(DapError) as refused:
        load_dap(build_zip({"dap.yaml": manifest, **TEMPLATES}))
    assert problem in str(refused.value) or any(problem in str(p) for p in getattr(refused.value, "problems", []))


def test_the_offer_example_runs_both_ways():
    from tasklane.dap.pack import pack_directory
    from tests.support import ROOT

    dap = load_dap(pack_directory(ROOT / "examples" / "offer"))
    small = Engine().run(dap, {"customer": "Globex", "amount": 100}, CTX)
    assert small.ok and [d.filename for d in small.documents] == ["offer-Globex.html", "Discount.txt"]
    assert b"with tax 124.00" in small.documents[0].content
    large = Engine().run(dap, {"customer": "Initech", "amount": 5000}, CTX)
    assert large.ok and [d.id for d in large.documents] == ["Offer"]
    assert any(e.level == "WARNING" and "Initech" in e.message for e in large.logs)


LETTERS = """
name: Letters
params:
  contacts: {type: array, required: true}
steps:
  - set: {as: people, value: "param.contacts | selectattr('active') | list"}
  - compose: {template: templates/letter.html, as: letters, foreach: people, item: contact}
  - store: {from: letters, id: Letter, filename: "letter-{{ contact.Id }}.html"}
"""
LETTER = {"templates/letter.html": "<p>Dear {{ contact.Name }}</p>"}


def test_foreach_composes_and_stores_one_result_per_item():
    contacts = [{"Id": "003A", "Name": "Ann", "active": True}, {"Id": "003B", "Name": "<Bo>", "active": False},
                {"Id": "003C", "Name": "Cy & Co", "active": True}]
    result = run(LETTERS, {"contacts": contacts}, LETTER)
    assert result.ok
    assert [(d.id, d.filename) for d in result.documents] == [("Letter-1", "letter-003A.html"), ("Letter-2", "letter-003C.html")]
    assert result.documents[1].content == b"<p>Dear Cy &amp; Co</p>"


def test_foreach_over_nothing_stores_nothing_and_over_a_non_list_fails():
    assert run(LETTERS, {"contacts": []}, LETTER).documents == []
    not_a_list = LETTERS.replace("foreach: people", "foreach: \"'text'\"")
    result = run(not_a_list, {"contacts": []}, LETTER)
    assert not result.ok and "must give a list" in result.status_message


def test_foreach_is_bounded():
    result = run(LETTERS, {"contacts": [{"Id": str(i), "Name": "n", "active": True} for i in range(101)]}, LETTER)
    assert not result.ok and "at most 100" in result.status_message


def test_a_store_of_a_skipped_compose_fails_clearly():
    manifest = OFFER.replace("  - store: {from: discount, id: Discount, if: \"not big\"}", "  - store: {from: discount, id: Discount}")
    result = run(manifest, {"amount": 5000})
    assert not result.ok and "was not produced (its step was skipped)" in result.status_message


def test_a_foreach_item_name_must_be_a_plain_unreserved_name():
    manifest = LETTERS.replace("item: contact", "item: param")
    with pytest.raises(DapError):
        load_dap(build_zip({"dap.yaml": manifest, **LETTER}))


def test_the_letters_example_writes_one_letter_per_active_contact():
    from tasklane.dap.pack import pack_directory
    from tests.support import ROOT

    dap = load_dap(pack_directory(ROOT / "examples" / "letters"))
    contacts = [{"Id": "1", "Name": "Ann", "active": True}, {"Id": "2", "Name": "Bo", "active": True}]
    result = Engine().run(dap, {"account": "Globex", "contacts": contacts}, CTX)
    assert result.ok and [d.filename for d in result.documents] == ["letter-1.html", "letter-2.html"]
    assert b"Dear Bo" in result.documents[1].content and b"Globex" in result.documents[1].content
    none = Engine().run(dap, {"account": "Globex", "contacts": []}, CTX)
    assert none.ok and none.documents == [] and any(e.level == "WARNING" for e in none.logs)
