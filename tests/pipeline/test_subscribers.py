"""Subscriber import, add, remove, export and forget on a real SQLite store."""

from __future__ import annotations

import json
import string
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.core.models import Digest
from newsletter.pipeline import subscribers as subs
from newsletter.store import DigestIssueStatus, Store, SubscriberStatus
from newsletter.store.ledger import Ledger

NOW = datetime(2025, 3, 24, 8, 0, tzinfo=UTC)
CSV = """email,name,lists,locale
Jeanne.Dupont@Example.org,Jeanne Dupont,main; culture,fr
not-an-address,Bad Row,main,fr
jeanne.dupont@example.org,Duplicate,main,fr
,Empty,main,fr
paul@example.org,Paul,,en
zoe@bücher.example,Zoé,culture,fr
"""


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_reports_bad_rows_and_deduplicates(tmp_path: Path, store: Store) -> None:
    report = subs.import_csv(store, write(tmp_path, CSV), now=NOW, list_name="all")

    assert (report.rows, report.added, report.duplicates) == (6, 3, 1)
    assert [(r.line, r.value) for r in report.rejected] == [(3, "not-an-address"), (5, "")]
    assert "@" in report.rejected[0].reason and report.rejected[1].reason == "no email address"
    jeanne = store.subscribers.get_subscriber("jeanne.dupont@example.org")
    assert jeanne is not None and jeanne.name == "Jeanne Dupont" and jeanne.locale == "fr"
    assert jeanne.lists == ["all", "culture", "main"]
    assert jeanne.consent_source == "import:people.csv" and jeanne.consent_at == NOW
    assert store.subscribers.get_subscriber("paul@example.org").lists == ["all"]
    assert store.subscribers.get_subscriber("zoe@xn--bcher-kva.example") is not None


def test_reimport_is_idempotent_and_never_resubscribes(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, CSV)
    subs.import_csv(store, path, now=NOW)
    store.subscribers.set_subscriber_status("paul@example.org", SubscriberStatus.UNSUBSCRIBED)
    store.subscribers.set_subscriber_status("jeanne.dupont@example.org", SubscriberStatus.BOUNCED)
    subs.forget(store, "zoe@xn--bcher-kva.example", now=NOW)
    before = subs.export(store, "json")

    again = subs.import_csv(store, path, now=NOW)

    assert (again.added, again.memberships_added, again.suppressed) == (0, 0, 1)
    assert subs.export(store, "json") == before
    assert store.subscribers.get_subscriber("paul@example.org").status is SubscriberStatus.UNSUBSCRIBED
    assert store.subscribers.get_subscriber("jeanne.dupont@example.org").status is SubscriberStatus.BOUNCED
    assert store.subscribers.get_subscriber("zoe@xn--bcher-kva.example") is None


def test_header_names_and_semicolon_delimiter_are_configurable(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "Courriel;Nom;Listes\nanne@example.org;Anne;main|culture\n")
    report = subs.import_csv(store, path, now=NOW, columns=subs.ColumnNames(email="Courriel", name="Nom",
                                                                               lists="Listes"))
    assert report.added == 1
    assert store.subscribers.get_subscriber("anne@example.org").lists == ["culture", "main"]


def test_comma_header_with_semicolon_list_cells_imports_every_list(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "email,lists\nmarc@example.org;x@y,\"main; culture; sport\"\n"
                           "lea@example.org,main; culture\n")
    report = subs.import_csv(store, path, now=NOW)
    assert report.added == 1 and len(report.rejected) == 1, "the header's comma decides, not the cells' semicolons"
    assert store.subscribers.get_subscriber("lea@example.org").lists == ["culture", "main"]


def test_windows_1252_file_from_french_excel_is_decoded(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "export-excel.csv"
    rows = "email;nom;listes\r\nhelene@example.org;Hélène Lefèvre;main\r\nfrancois@example.org;François Œuvré;main\r\n"
    path.write_bytes(rows.encode("cp1252"))
    report = subs.import_csv(store, path, now=NOW, columns=subs.ColumnNames(name="nom", lists="listes"))
    assert report.added == 2 and not report.rejected
    assert store.subscribers.get_subscriber("helene@example.org").name == "Hélène Lefèvre"
    assert store.subscribers.get_subscriber("francois@example.org").name == "François Œuvré"


def test_utf8_with_bom_keeps_the_email_header(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("email,name\nzoe@example.org,Zoé\n".encode("utf-8-sig"))
    assert subs.import_csv(store, path, now=NOW).added == 1
    assert store.subscribers.get_subscriber("zoe@example.org").name == "Zoé"


def test_missing_email_column_names_the_file_and_line(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "mail,name\na@example.org,A\n")
    with pytest.raises(subs.SubscriberError, match=r"people.csv, line 1: no 'email' column"):
        subs.import_csv(store, path, now=NOW)


def test_an_import_quickens_thread_switches_while_it_writes_and_restores_them_even_when_it_fails(
        tmp_path: Path, store: Store) -> None:
    before, during = sys.getswitchinterval(), []
    rows = "".join(f"p{n}@example.org\n" for n in range(subs.BATCH_SIZE + 1))  # progress after a batch, and at the end
    subs.import_csv(store, write(tmp_path, "email\n" + rows), now=NOW,
                    progress=lambda _rows: during.append(sys.getswitchinterval()))
    with pytest.raises(subs.SubscriberError):
        subs.import_csv(store, write(tmp_path, "mail\na@example.org\n"), now=NOW)
    assert during == [subs.WRITING_SWITCH_INTERVAL, before] and sys.getswitchinterval() == before


def test_an_import_writes_its_memberships_unchecked_and_every_pooled_connection_checks_foreign_keys_after(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.upgrade(url)
    with Store.open(url) as store:
        checks_while_joining: list[tuple[object, int]] = []

        @sqlalchemy.event.listens_for(store.engine, "before_cursor_execute")
        def note_checks(_conn: object, cursor: object, statement: str, *_args: object) -> None:
            if statement.startswith("INSERT INTO list_members"):
                driver = cursor.connection  # type: ignore[attr-defined]
                checks_while_joining.append((driver, driver.execute("PRAGMA foreign_keys").fetchone()[0]))

        report = subs.import_csv(store, write(tmp_path, "email,lists\nune@exemple.fr,lettre\n"), now=NOW)
        with store.engine.begin() as conn:  # the next batch fails in its transaction, checks off
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON list_members "
                                 "BEGIN SELECT RAISE(ABORT, 'refused'); END")
        with pytest.raises(sqlalchemy.exc.IntegrityError, match="refused"):
            subs.import_csv(store, write(tmp_path, "email,lists\ndeux@exemple.fr,lettre\n"), now=NOW)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse")

        assert report.memberships_added == 1 and [checks for _driver, checks in checks_while_joining] == [0, 0]
        pooled = [store.engine.connect() for _ in range(store.engine.pool.checkedin())]  # type: ignore[attr-defined]
        drivers = {conn.connection.driver_connection: conn for conn in pooled}
        assert {driver for driver, _checks in checks_while_joining} <= drivers.keys()
        for conn in pooled:
            with pytest.raises(sqlalchemy.exc.IntegrityError, match="FOREIGN KEY"), conn.begin():
                conn.exec_driver_sql("INSERT INTO list_members (subscriber_id, list_name, added_at) "
                                     "VALUES (999, 'lettre', '2025-03-24')")
            conn.close()
        assert [s.email for s in store.subscribers.list_subscribers("lettre", status=None)] == ["une@exemple.fr"]


def test_add_remove_and_forgotten_address_cannot_come_back(store: Store) -> None:
    added = subs.add(store, " Anne@Example.org ", now=NOW, name="Anne", lists=["main", "culture"])
    assert added.email == "anne@example.org" and added.status is SubscriberStatus.ACTIVE
    assert subs.remove(store, "anne@example.org", now=NOW, list_name="culture").lists == ["main"]
    assert subs.remove(store, "anne@example.org", now=NOW).status is SubscriberStatus.UNSUBSCRIBED
    assert subs.add(store, "anne@example.org", now=NOW, lists=["main"]).status is SubscriberStatus.UNSUBSCRIBED
    assert subs.forget(store, "ANNE@example.org", now=NOW)
    with pytest.raises(subs.SubscriberError, match="forgotten"):
        subs.add(store, "anne@example.org", now=NOW)
    with pytest.raises(subs.SubscriberError, match="no subscriber"):
        subs.remove(store, "anne@example.org", now=NOW)
    with pytest.raises(subs.SubscriberError):
        subs.add(store, "anne@@example.org", now=NOW)


def test_export_of_a_person_holds_everything_and_forget_erases_it(store: Store) -> None:
    subscriber = subs.add(store, "anne@example.org", now=NOW, name="Anne", lists=["main"], consent_source="form")
    digest = Digest(name="hebdo", issue_id="hebdo-1", subject="s", list_name="main", announcement_ids=[],
                    html="h", text="t")
    store.issues.create_digest_issue(digest, status=DigestIssueStatus.APPROVED, follows="", now=NOW)
    Ledger(store).ensure_pending([("email:hebdo-1:1", "email", "anne@example.org",
                                   {"subscriber_id": subscriber.id, "name": "Anne"})], issue_id="hebdo-1")

    record = json.loads(subs.export(store, "json", email="anne@example.org"))
    assert record["email"] == "anne@example.org" and record["name"] == "Anne"
    assert record["lists"] == ["main"] and record["consent_source"] == "form"
    assert [d["issue_id"] for d in record["deliveries"]] == ["hebdo-1"]
    assert "anne@example.org" in subs.export(store, "csv", email="anne@example.org")

    subs.forget(store, "anne@example.org", now=NOW)
    dump = subs.export(store, "csv") + json.dumps([d.__dict__ for d in Ledger(store).list_deliveries()],
                                                  default=str)
    assert "anne@example.org" not in dump and "Anne" not in dump
    assert store.subscribers.is_suppressed("anne@example.org")


def test_an_import_keeps_each_row_and_its_consent_time_on_every_backend(tmp_path: Path, store: Store) -> None:
    rows = "".join(f"p{n}@exemple.fr,Personne {n},main; culture,fr\n" for n in range(2500))
    report = subs.import_csv(store, write(tmp_path, "email,name,lists,locale\n" + rows), now=NOW)
    assert (report.added, report.memberships_added) == (2500, 5000)
    again = subs.import_csv(store, write(tmp_path, "email,name,lists,locale\n" + rows), now=NOW)
    assert (again.added, again.existing, again.memberships_added) == (0, 2500, 0)
    person = store.subscribers.get_subscriber("p1234@exemple.fr")
    assert person is not None
    assert (person.name, person.locale, person.lists) == ("Personne 1234", "fr", ["culture", "main"])
    assert person.consent_at == NOW
    assert store.subscribers.count_subscribers("culture") == 2500


def test_a_large_file_imports_every_good_row_and_names_each_bad_line(tmp_path: Path, store: Store) -> None:
    lines = ["email,name,lists,locale"]
    bad = {}
    for n in range(7000):  # more than one batch, so batches are written while the next is read
        if n % 1000 == 999:
            lines.append(f"personne.{n}.exemple.fr,Sans arobase,lettre,fr")
            bad[len(lines)] = f"personne.{n}.exemple.fr"
        else:
            lines.append(f"Personne.{n}@Commune-{n % 50}.fr,Personne {n},lettre; jeunesse,fr")
    lines.append(",Sans adresse,lettre,fr")
    bad[len(lines)] = ""
    lines.append("personne.0@commune-0.fr,Doublon,lettre,fr")
    report = subs.import_csv(store, write(tmp_path, "\n".join(lines) + "\n"), now=NOW)

    assert (report.rows, report.added, report.duplicates, report.memberships_added) == (7002, 6993, 1, 2 * 6993)
    assert {r.line: r.value for r in report.rejected} == bad
    assert all("@" in r.reason for r in report.rejected if r.value)
    assert store.subscribers.count_subscribers("jeunesse") == store.subscribers.count_subscribers("lettre") == 6993
    last = store.subscribers.get_subscriber("personne.6998@commune-48.fr")
    assert last is not None and (last.name, last.lists) == ("Personne 6998", ["jeunesse", "lettre"])


def test_an_imported_row_stores_times_as_every_other_write_does(tmp_path: Path, store: Store) -> None:
    subs.import_csv(store, write(tmp_path, "email,name,lists,locale\nimporte@exemple.fr,,main,fr\n"), now=NOW)
    subs.add(store, "ajoute@exemple.fr", now=NOW, lists=["main"])
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT email, created_at FROM subscribers ORDER BY email").all()
    assert stored[0][1] == stored[1][1]


PLAIN = st.text(alphabet=st.sampled_from(string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-.\"é@ "),
                min_size=0, max_size=70)
DOMAINS = st.sampled_from(["exemple.fr", "EXEMPLE.FR", "bücher.example", "xn--bcher-kva.example", "localhost",
                           "a..b.fr", "-x.fr", "sub.commune-12.fr", "exemple", "x" * 70 + ".fr", "ville.paris"])


@given(local=PLAIN, domain=DOMAINS)
@settings(max_examples=400, deadline=None)
def test_the_plain_address_shortcut_decides_as_email_validator_does(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    try:
        expected: str | None = subs._validated(address.strip())
    except subs.SubscriberError:
        expected = None
    try:
        found: str | None = subs.normalise_address(address)
    except subs.SubscriberError:
        found = None
    assert found == expected


@pytest.mark.parametrize(("address", "problem"), [
    ("pas-une-adresse", "no_at"), ("@example.org", "empty_local"), ("ana@", "empty_domain"),
    ("ana@localhost", "bad_domain"), ("ana@exa_mple.org", "bad_domain"), ("ana@example..org", "periods"),
    ("ana marie@example.org", "bad_local"), ("a@" + "x" * 70 + ".org", "bad_domain"),
])
def test_an_invalid_address_names_its_problem_for_the_interface(address: str, problem: str) -> None:
    with pytest.raises(subs.InvalidAddress) as refused:
        subs.normalise_address(address)
    assert refused.value.problem == problem and str(refused.value).endswith(".")  # the validator's words kept


def test_an_import_adds_new_lists_to_known_subscribers_and_keeps_their_profile(tmp_path: Path, store: Store) -> None:
    store.subscribers.add_subscriber("ana@example.org", name="Ana", lists=["main"])
    store.subscribers.set_subscriber_status("ana@example.org", SubscriberStatus.BOUNCED)
    path = write(tmp_path, "email,name,lists\nANA@example.org,Autre,main; culture|sport\nbob@example.org,Bob,\n")

    report = subs.import_csv(store, path, now=NOW, list_name="lettre")

    ana = store.subscribers.get_subscriber("ana@example.org")
    assert (report.added, report.existing, report.memberships_added) == (1, 1, 4)
    assert ana.lists == ["culture", "lettre", "main", "sport"] and ana.name == "Ana"
    assert ana.status is SubscriberStatus.BOUNCED
    assert store.subscribers.get_subscriber("bob@example.org").lists == ["lettre"]


def test_an_import_of_new_people_puts_them_alone_on_their_lists_and_never_one_who_left(
        tmp_path: Path, store: Store) -> None:
    store.subscribers.add_subscriber("avant@exemple.fr", lists=["culture"])
    left = store.subscribers.add_subscriber("partie@exemple.fr", lists=["lettre"])
    store.subscribers.leave_lists(left, ["lettre"], NOW)

    new = subs.import_csv(store, write(tmp_path, "email,lists\nune@exemple.fr,lettre\ndeux@exemple.fr,lettre\n"),
                          now=NOW, list_name="jeunesse")
    mixed = subs.import_csv(store, write(tmp_path, "email,lists\npartie@exemple.fr,lettre\ntrois@exemple.fr,lettre\n"),
                            now=NOW)

    assert (new.added, new.memberships_added, mixed.added, mixed.memberships_added) == (2, 4, 1, 1)
    on_letter = [s.email for s in store.subscribers.list_subscribers("lettre", status=None)]
    assert on_letter == ["une@exemple.fr", "deux@exemple.fr", "trois@exemple.fr"]
    assert store.subscribers.get_subscriber("avant@exemple.fr").lists == ["culture"]
