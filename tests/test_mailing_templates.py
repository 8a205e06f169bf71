"""Templates: {placeholders} typed in Excel, rendered safely, completely, or not at all."""

import datetime as dt

import pytest
from builders import sheet

from crmbook.mailing.config import MailConfig
from crmbook.mailing.templates import (
    MessageTemplate,
    TemplateError,
    customer_fields,
    find_template,
    known_fields,
    split_name,
    to_jinja,
)

TODAY = dt.date(2026, 3, 15)
CONFIG = MailConfig(sender="Shop <office@shop.example>")


@pytest.mark.parametrize(
    ("typed", "jinja"),
    [
        ("Hello {name}!", "Hello {{ name }}!"),
        ("{ First name }, {owner}", "{{ first_name }}, {{ owner }}"),
        ("{Favourite-colour}", "{{ favourite_colour }}"),
        ("{{ name }} stays", "{{ name }} stays"),
        ("{{name|upper}}", "{{name|upper}}"),
        (
            "{% if city is defined %}{city}{% endif %}",
            "{% if city is defined %}{{ city }}{% endif %}",
        ),
        ("{# a note #}{name}", "{# a note #}{{ name }}"),
        ('braces {} and { 1 } and {"a": 1} stay', 'braces {} and { 1 } and {"a": 1} stay'),
        ("{имя}", "{{ имя }}"),
        ("{city | default('Köln')}", "{{ city | default('Köln') }}"),
        ("{ First name|upper }", "{{ first_name |upper }}"),
    ],
)
def test_placeholders_typed_in_excel_become_jinja(typed, jinja):
    assert to_jinja(typed) == jinja


@pytest.mark.parametrize("typed", ["Dear {name!}", "{first name?}", "{name}} and {city)"])
def test_a_placeholder_that_cannot_be_read_is_refused_not_sent_as_typed(typed):
    with pytest.raises(TemplateError, match="'Newsletter', body: cannot read the placeholder"):
        MessageTemplate("Newsletter", "email", "Hi", typed)


def _template(subject="Hi {first_name}", body="Dear {name} from {city}", channel="email"):
    return MessageTemplate("Newsletter", channel, subject, body)


def test_renders_every_field_with_unicode():
    customer = {"id": "C-1", "name": "Иванов Сергей Викторович", "city": "Москва", "kind": "person"}
    rendered = _template().render(customer_fields(customer, TODAY))
    assert rendered.subject == "Hi Сергей"
    assert rendered.body == "Dear Иванов Сергей Викторович from Москва"


def test_an_unknown_field_is_refused_before_anything_is_rendered():
    template = _template(body="Dear {name} from {citty}")
    with pytest.raises(TemplateError) as error:
        template.check(known_fields(["id", "name", "city"]))
    message = str(error.value)
    assert "'Newsletter'" in message and "{citty}" in message and "{city}" in message


def test_an_empty_field_names_template_field_and_customer_never_half_renders():
    fields = customer_fields({"id": "C-7", "name": "Anna Schmidt", "city": None}, TODAY)
    with pytest.raises(TemplateError) as error:
        _template().render(fields, "Anna Schmidt (C-7)")
    assert str(error.value) == (
        "template 'Newsletter': {city} is empty for Anna Schmidt (C-7); "
        "fill it in or change the template"
    )


def test_jinja_defaults_and_conditions_cover_empty_fields():
    template = _template(
        subject="Hi",
        body="Hi {name}{% if city is defined %} in {city}{% endif %}, {{ tags | default('-') }}",
    )
    assert template.render({"name": "Bo"}).body == "Hi Bo, -"
    assert template.render({"name": "Bo", "city": "Haifa"}).body == "Hi Bo in Haifa, -"


@pytest.mark.parametrize(
    "body",
    [
        "{{ name.__class__.__mro__ }}",
        "{{ name.format.__globals__ }}",
        "{{ ''.__class__.__subclasses__() }}",
    ],
)
def test_the_sandbox_keeps_templates_away_from_python(body):
    with pytest.raises(TemplateError, match=r"not allowed|is empty"):
        _template(body=body).render({"name": "x", "first_name": "x"})


def test_a_syntax_error_is_a_clear_error():
    with pytest.raises(TemplateError, match=r"'Newsletter': the body cannot be read \(line 1"):
        _template(body="Hi {% if name %}")


def test_an_email_template_needs_a_subject_and_a_known_channel():
    with pytest.raises(TemplateError, match="has no subject"):
        MessageTemplate("x", "email", None, "body")
    with pytest.raises(TemplateError, match="not email or sms"):
        MessageTemplate("x", "fax", None, "body")
    assert MessageTemplate("x", "sms", None, "Hi {name}").render({"name": "A"}).subject is None


def test_find_template_ignores_case_and_lists_the_known_ones():
    templates = sheet(
        "Templates",
        [
            {"name": "Birthday greeting", "channel": "email", "subject": "Hi", "body": "B"},
            {"name": "Reminder", "channel": "sms", "body": "R"},
        ],
    )
    assert find_template(templates, " birthday GREETING ").name == "Birthday greeting"
    with pytest.raises(TemplateError, match="'Birthday greeting', 'Reminder'"):
        find_template(templates, "Newsletter")


@pytest.mark.parametrize(
    ("name", "kind", "first", "last"),
    [
        ("Anna Schmidt", "person", "Anna", "Schmidt"),
        ("Schmidt, Anna", "person", "Anna", "Schmidt"),
        ("Ivanov Sergey V.", "person", "Sergey", "Ivanov"),
        ("Иванов Сергей Викторович", "person", "Сергей", "Иванов"),
        ("Смирнова Анна Павловна", "person", "Анна", "Смирнова"),
        ("דוד כהן", "person", "דוד", "כהן"),
        ("José Müller-Lüdenscheid", "person", "José", "Müller-Lüdenscheid"),
        ("Ivanov S. V.", "person", "Ivanov S. V.", "Ivanov"),
        ("Cher", "person", "Cher", None),
        ("Bluestone Engineering GmbH", "company", "Bluestone Engineering GmbH", None),
    ],
)
def test_first_and_last_names_for_greetings(name, kind, first, last):
    assert split_name(name, kind) == (first, last)


def test_customer_fields_shows_dates_as_days_and_leaves_empty_cells_out():
    customers = sheet(
        "Customers",
        [
            {
                "id": "C-000001",
                "name": "Anna Schmidt",
                "birthday": "1990-03-16",
                "owner": "Daniel Levi",
                "consent_email": True,
                "contact_every_days": 30,
            }
        ],
        **{"Favourite colour": ["green"]},
    )
    fields = customer_fields(customers.iloc[0].to_dict(), TODAY)
    assert fields["birthday"] == "1990-03-16"
    assert fields["age"] == 35  # turns 36 tomorrow
    assert fields["owner_first_name"] == "Daniel"
    assert fields["contact_every_days"] == 30
    assert fields["favourite_colour"] == "green"
    assert fields["today"] == "2026-03-15"
    assert "city" not in fields and "phone" not in fields
    assert known_fields(customers.columns) >= {"favourite_colour", "first_name", "age", "email"}


def test_a_plan_skips_customers_with_an_empty_field_and_says_why():
    from crmbook.mailing.campaign import plan_messages

    customers = sheet(
        "Customers",
        [
            {"id": "C-000001", "name": "Anna", "email": "a@x.com", "city": "Berlin",
             "consent_email": True},
            {"id": "C-000002", "name": "Boris", "email": "b@x.com", "consent_email": True},
            {"id": "C-000003", "name": "Carla", "email": "c@x.com", "city": "Rome"},
        ],
    )  # fmt: skip
    plan = plan_messages(_template(), customers, config=CONFIG, today=TODAY, workbook_id="wb")
    assert [m.customer_id for m in plan.messages] == ["C-000001"]
    assert plan.messages[0].key == "Newsletter/C-000001/2026-03-15"
    reasons = dict(zip(plan.skipped["id"], plan.skipped["reason"], strict=True))
    assert reasons == {
        "C-000002": "template 'Newsletter': {city} is empty for Boris (C-000002); "
        "fill it in or change the template",
        "C-000003": "no consent to emails",
    }
    again = plan_messages(
        _template(), customers, config=CONFIG, today=TODAY, workbook_id="wb", campaign="Spring"
    )
    assert again.messages[0].key == "Spring/C-000001"
    assert again.messages[0].message_id != plan.messages[0].message_id


def test_a_customer_id_typed_twice_gets_one_message():
    from crmbook.mailing.campaign import plan_messages

    customers = sheet(
        "Customers",
        [
            {"id": "C-000001", "name": "Anna", "email": "a@x.com", "city": "Rome",
             "consent_email": True},
            {"id": "C-000001", "name": "Anne", "email": "anne@x.com", "city": "Rome",
             "consent_email": True},
        ],
    )  # fmt: skip
    plan = plan_messages(_template(), customers, config=CONFIG, today=TODAY, workbook_id="wb")
    assert [m.to for m in plan.messages] == ["a@x.com"]
    assert plan.skipped["reason"].tolist() == ["the id C-000001 is used twice"]
