"""Finding a customer and entering what happened, on one page: the search with the card, and
the entry forms, where the card's buttons lead (log an interaction, schedule a task, edit).
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from crmbook.widgets.forms import DataEntryView, data_entry
from crmbook.widgets.search import SearchView, search
from crmbook.widgets.session import Session

FIND = "Find a customer"
ENTER = "Enter data"


def link_card_to_forms(
    finder: SearchView, entry: DataEntryView, bring_forward: Callable[[], None]
) -> None:
    """Buttons on the customer card that open an entry form for that customer;
    `bring_forward` shows the forms first (a tab of the page they are on)."""

    def open_form(title: str) -> Callable[[str], None]:
        def act(customer_id: str) -> None:
            bring_forward()
            entry.show(title, customer_id=customer_id)

        return act

    def edit(customer_id: str) -> None:
        bring_forward()
        form = entry.show("Edit customer")
        form.picker.value = customer_id
        form.load_button.click()

    finder.add_action("Log an interaction", open_form("Log an interaction"))
    finder.add_action("Schedule a task", open_form("Schedule a task"))
    finder.add_action("Edit customer", edit)


class CustomersView(widgets.Tab):
    """Two tabs: FIND (search and card, `finder`) and ENTER (the forms, `entry`)."""

    def __init__(self, session: Session):
        self.finder = search(session)
        self.entry = data_entry(session)
        super().__init__(children=[self.finder, self.entry], titles=[FIND, ENTER])
        link_card_to_forms(self.finder, self.entry, self._show_forms)

    def _show_forms(self) -> None:
        self.selected_index = 1


def customers(session: Session) -> CustomersView:
    """The customers page: find one and open the card, or add and log with the forms."""
    return CustomersView(session)
