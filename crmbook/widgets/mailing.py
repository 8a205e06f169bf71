"""The mailing page: pick a template and who gets it (a saved segment or rules), read every
message before anything goes out, then send: by email (SMTP), as .eml files, as an SMS CSV for
the provider or to an HTTP gateway.

Everything is crmbook.mailing: only customers who consented get a message, each message goes
once (the book's outbox journal), and each is logged on the Interactions sheet.
Sending is allowed only after a preview of exactly the choices shown.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, replace
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from crmbook.errors import CrmbookError
from crmbook.mailing.campaign import DEFAULT_VIA, MailingRun, mail
from crmbook.mailing.config import MailConfig, load_config
from crmbook.mailing.outbox import Delivery
from crmbook.mailing.senders import EMAIL_VIAS, SMS_VIAS
from crmbook.widgets._base import Alert, PagedTable, ProgressBar, heading, reported
from crmbook.widgets.session import NO_STEPS, Session, Steps

VIA_LABELS = {
    "smtp": "send by email (SMTP)",
    "eml": "write .eml files",
    "sms-csv": "write an SMS CSV for the provider",
    "http": "send to the SMS gateway (HTTP)",
}
PREVIEW_COLUMNS = ["customer_id", "name", "to", "status", "subject"]


@dataclass(frozen=True)
class Choices:
    """What the controls ask for: the template, who (segment and/or rules) and how."""

    template: str = ""
    segment: str = ""
    rules: str = ""
    via: str = ""
    out: str = ""
    campaign: str = ""


class MailingModel:
    """The choices, the preview of the messages they give (`run`) and the last sending."""

    def __init__(self, session: Session, *, config_path: str | os.PathLike | None = None):
        self.session = session
        self.config_path = config_path
        templates = self.templates()
        self.choices = Choices(template=templates[0] if templates else "")
        self.run: MailingRun | None = None
        self.delivery: Delivery | None = None
        session.on_change(self._forget_preview)

    def templates(self) -> list[str]:
        names = self.session.frames("Templates")["Templates"]["name"].dropna().astype("str")
        return names.str.strip().tolist()

    def saved_segments(self) -> list[str]:
        names = self.session.frames("Segments")["Segments"]["name"].dropna().astype("str")
        return names.str.strip().tolist()

    def channel(self) -> str:
        """email or sms: the channel of the chosen template."""
        templates = self.session.frames("Templates")["Templates"]
        names = templates["name"].astype("str").str.strip().str.casefold()
        hit = templates["channel"][names == self.choices.template.strip().casefold()]
        channel = str(hit.iloc[0]).strip().lower() if len(hit) else ""
        return channel if channel in DEFAULT_VIA else "email"

    def vias(self) -> tuple[str, ...]:
        return EMAIL_VIAS if self.channel() == "email" else SMS_VIAS

    def update(self, **changes: str) -> Choices:
        """Change some choices (see Choices); the preview no longer holds."""
        self.choices = replace(self.choices, **changes)
        self.run = None
        return self.choices

    def config(self) -> MailConfig:
        return load_config(self.session.path, self.config_path)

    def preview(self) -> MailingRun:
        """Render every message of the choices; nothing is sent, nothing is written."""
        self.run = self._mail(dry_run=True)
        return self.run

    def send(self, steps: Steps = NO_STEPS) -> Delivery:
        """Send what the preview showed; the workbook is read again to show the new
        interactions."""
        if self.run is None:
            raise CrmbookError("Preview the messages first: nothing is sent unseen.")
        waiting = int((self.run.preview["status"] == "to send").sum())
        steps.start(waiting, f"Sending {waiting} message(s)…")

        def progress(position: int, total: int, message) -> None:
            steps.step(f"Sending {position} of {total}: {message.name} <{message.to}>")

        try:
            run = self._mail(dry_run=False, progress=progress)
        except Exception:
            steps.done("Not sent.")
            raise
        self.delivery = run.delivery
        self.session.reload()
        self.run = None
        steps.done(self.delivery.summary().capitalize())
        return self.delivery

    def skipped(self) -> pd.DataFrame:
        return self.run.plan.skipped if self.run is not None else pd.DataFrame()

    def _mail(self, *, dry_run: bool, progress=None) -> MailingRun:
        c = self.choices
        if not c.template:
            raise CrmbookError("Choose a template first (the Templates sheet has none yet).")
        return mail(
            self.session.book,
            c.template,
            today=self.session.today(),
            config=self.config(),
            segment=c.segment or None,
            rules=c.rules.strip() or None,
            via=c.via or None,
            out=Path(c.out).expanduser() if c.out.strip() else None,
            dry_run=dry_run,
            campaign=c.campaign.strip() or None,
            progress=progress,
        )

    def _forget_preview(self) -> None:
        """The workbook changed (a save or a re-read): the preview may be out of date."""
        self.run = None


class MailingView(widgets.VBox):
    """Template, audience and sender on top; Preview, then Send; the messages below."""

    def __init__(self, model: MailingModel):
        self.model = model
        self.alert = Alert()
        self.progress = ProgressBar()
        wide = {"width": "420px"}
        self.template = widgets.Dropdown(
            options=model.templates(), value=model.choices.template or None, description="Template"
        )
        self.segment = widgets.Dropdown(
            options=[("(only the rules below)", ""), *[(n, n) for n in model.saved_segments()]],
            description="Segment",
        )
        self.rules = widgets.Text(
            placeholder="rules, e.g. stage=loyal,promoter city=Berlin",
            description="Rules",
            continuous_update=False,
            layout=wide,
        )
        self.via = widgets.Dropdown(description="Send as")
        self.out = widgets.Text(
            placeholder="folder for files (default: beside the workbook)",
            description="Folder",
            continuous_update=False,
            layout=wide,
        )
        self.campaign = widgets.Text(
            placeholder="campaign name: once per customer ever (optional)",
            description="Campaign",
            continuous_update=False,
            layout=wide,
        )
        self.preview_button = widgets.Button(description="Preview", icon="eye")
        self.send_button = widgets.Button(
            description="Send", icon="paper-plane", button_style="primary", disabled=True
        )
        self.summary = widgets.HTML()
        self.table = PagedTable(what="messages")
        self.recipient = widgets.Dropdown(description="Read", layout=wide)
        self.message = widgets.HTML()
        self.skipped_title = widgets.HTML()
        self.skipped_table = PagedTable(what="customers")
        self._syncing = False
        self._set_vias()
        for control in (self.template, self.segment, self.rules, self.via, self.out, self.campaign):
            control.observe(reported(self.alert, self._changed), names="value")
        self.recipient.observe(reported(self.alert, self._show_message), names="value")
        self.table.pager.on_turn(reported(self.alert, self._offer_recipients))
        self.preview_button.on_click(reported(self.alert, self._preview))
        self.send_button.on_click(reported(self.alert, self._send))
        super().__init__(
            [
                heading(
                    "Mailing",
                    "Choose a template (Templates sheet) and who gets it: a saved segment, "
                    "rules, or both. Preview shows every message; only customers who agreed "
                    "to this channel get one, and nobody gets the same message twice.",
                ),
                widgets.HBox([self.template, self.segment]),
                self.rules,
                widgets.HBox([self.via, self.out]),
                self.campaign,
                widgets.HBox([self.preview_button, self.send_button, self.progress]),
                self.alert,
                self.summary,
                self.table,
                self.recipient,
                self.message,
                self.skipped_title,
                self.skipped_table,
            ]
        )

    def _set_vias(self) -> None:
        """Offer the senders of the template's channel, its usual one chosen."""
        self._syncing = True
        try:
            self.via.options = [(VIA_LABELS[v], v) for v in self.model.vias()]
            self.via.value = DEFAULT_VIA[self.model.channel()]
        finally:
            self._syncing = False

    def _changed(self, change=None) -> None:
        if self._syncing:
            return
        self.alert.clear()
        if change is not None and change["owner"] is self.template:
            self.model.update(template=self.template.value or "")
            self._set_vias()
        self.model.update(
            template=self.template.value or "",
            segment=self.segment.value or "",
            rules=self.rules.value,
            via=self.via.value or "",
            out=self.out.value,
            campaign=self.campaign.value,
        )
        self.send_button.disabled = True
        self.send_button.description = "Send"
        self.summary.value = self.message.value = self.skipped_title.value = ""
        self.table.clear()
        self.skipped_table.clear()
        self.recipient.options = []

    def _preview(self, _button=None) -> None:
        self.alert.clear()
        self._changed()
        run = self.model.preview()
        preview = run.preview
        waiting = int((preview["status"] == "to send").sum())
        done_before = len(preview) - waiting
        skipped = run.plan.skipped
        self.summary.value = (
            f"<b>{waiting:,}</b> message(s) to send"
            + (f", {done_before:,} sent before (not sent again)" if done_before else "")
            + f"; {len(skipped):,} customer(s) get none (see below)."
        )
        self.table.show(preview[PREVIEW_COLUMNS], empty="Nobody gets this message.")
        self._offer_recipients()
        if len(skipped):
            self.skipped_title.value = f"<b>No message for ({len(skipped):,})</b>"
            self.skipped_table.show(skipped)
        else:
            self.skipped_title.value = ""
            self.skipped_table.clear()
        self.send_button.disabled = waiting == 0
        self.send_button.description = f"Send {waiting:,}"

    def _offer_recipients(self) -> None:
        """The messages of the preview page shown, to read one in full."""
        run = self.model.run
        pager = self.table.pager
        if run is None:
            self.recipient.options = []
            return
        page = pager.rows(run.preview)
        self.recipient.options = [
            (f"{r.name} <{r.to}>", position)
            for position, r in enumerate(page.itertuples(index=False), start=pager.start)
        ]
        self.recipient.value = pager.start if len(page) else None
        self._show_message()

    def _show_message(self, _change=None) -> None:
        run = self.model.run
        if run is None or self.recipient.value is None or run.preview.empty:
            self.message.value = ""
            return
        row = run.preview.iloc[self.recipient.value]
        subject = f"<b>Subject:</b> {html.escape(row['subject'])}<br>" if row["subject"] else ""
        self.message.value = (
            f"<div style='border:1px solid #ced4da;border-radius:4px;padding:8px;"
            f"max-width:60em'><b>To:</b> {html.escape(row['name'])} "
            f"&lt;{html.escape(row['to'])}&gt;<br>{subject}"
            f"<pre style='white-space:pre-wrap;font-family:inherit'>"
            f"{html.escape(row['body'])}</pre></div>"
        )

    def _send(self, _button=None) -> None:
        self.alert.clear()
        self.send_button.disabled = True
        delivery = self.model.send(self.progress)
        results = delivery.to_frame()
        self.table.show(results, empty="Nothing was sent.")
        self.recipient.options = []
        self.message.value = ""
        summary = f"{delivery.summary().capitalize()}; {delivery.logged} interaction(s) logged."
        if delivery.error:
            self.alert.error(f"{summary} Stopped: {delivery.error}")
        elif delivery.count("failed") or delivery.log_error:
            self.alert.warning(" ".join(filter(None, [summary, delivery.log_error])))
        else:
            self.alert.success(summary)


def mailing(session: Session, *, config_path: str | os.PathLike | None = None) -> MailingView:
    """The mailing page."""
    return MailingView(MailingModel(session, config_path=config_path))
