"""The words a workbook shows in German, Dutch and Italian, declared as data.

The library keeps one internal name per sheet, column and dropdown value (the English one in
schema.py). A workbook made with `crmbook init --lang de` shows these labels instead; reading
accepts the labels of every language here, and writing uses the workbook's own language.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("en", "de", "nl", "it")

# internal name -> (de, nl, it)
SHEETS = {
    "Customers": ("Kunden", "Klanten", "Clienti"),
    "Contacts": ("Kontakte", "Contactpersonen", "Contatti"),
    "Interactions": ("Kontaktverlauf", "Interacties", "Interazioni"),
    "Deals": ("Geschäfte", "Deals", "Trattative"),
    "Sales": ("Verkäufe", "Verkopen", "Vendite"),
    "Tasks": ("Aufgaben", "Taken", "Attività"),
    "Sources": ("Quellen", "Bronnen", "Fonti"),
    "Templates": ("Vorlagen", "Sjablonen", "Modelli"),
    "Competitors": ("Wettbewerber", "Concurrenten", "Concorrenti"),
    "Segments": ("Segmente", "Segmenten", "Segmenti"),
    "Log": ("Protokoll", "Logboek", "Registro"),
    "Lists": ("Listen", "Lijsten", "Elenchi"),
    "Dashboard": ("Übersicht", "Dashboard", "Cruscotto"),
}

FIELDS = {
    "id": ("ID", "ID", "ID"),
    "name": ("Name", "Naam", "Nome"),
    "kind": ("Art", "Soort", "Tipo"),
    "company": ("Firma", "Bedrijf", "Azienda"),
    "email": ("E-Mail", "E-mail", "Email"),
    "phone": ("Telefon", "Telefoon", "Telefono"),
    "birthday": ("Geburtstag", "Verjaardag", "Compleanno"),
    "city": ("Ort", "Plaats", "Città"),
    "country": ("Land", "Land", "Paese"),
    "source": ("Quelle", "Bron", "Fonte"),
    "stage": ("Phase", "Fase", "Fase"),
    "owner": ("Betreuer", "Eigenaar", "Responsabile"),
    "tags": ("Schlagwörter", "Labels", "Etichette"),
    "consent_email": ("Einwilligung E-Mail", "Toestemming e-mail", "Consenso email"),
    "consent_sms": ("Einwilligung SMS", "Toestemming sms", "Consenso SMS"),
    "consent_date": ("Einwilligung am", "Toestemming op", "Data consenso"),
    "referred_by": ("Empfohlen von", "Aangebracht door", "Segnalato da"),
    "contact_every_days": ("Kontakt alle Tage", "Contact elke dagen", "Contatto ogni giorni"),
    "created": ("Angelegt", "Aangemaakt", "Creato"),
    "updated": ("Geändert", "Gewijzigd", "Modificato"),
    "notes": ("Notizen", "Notities", "Note"),
    "customer_id": ("Kunden-ID", "Klant-ID", "ID cliente"),
    "role": ("Funktion", "Functie", "Ruolo"),
    "when": ("Wann", "Wanneer", "Quando"),
    "channel": ("Kanal", "Kanaal", "Canale"),
    "outcome": ("Ergebnis", "Resultaat", "Esito"),
    "summary": ("Zusammenfassung", "Samenvatting", "Riepilogo"),
    "next_step": ("Nächster Schritt", "Volgende stap", "Prossimo passo"),
    "next_date": ("Nächster Termin", "Volgende datum", "Prossima data"),
    "title": ("Titel", "Titel", "Titolo"),
    "amount": ("Betrag", "Bedrag", "Importo"),
    "opened": ("Eröffnet", "Geopend", "Aperta"),
    "expected_close": ("Erwarteter Abschluss", "Verwachte afsluiting", "Chiusura prevista"),
    "closed": ("Abgeschlossen", "Afgesloten", "Chiusa"),
    "lost_reason": ("Verlustgrund", "Reden verlies", "Motivo perdita"),
    "competitor": ("Wettbewerber", "Concurrent", "Concorrente"),
    "date": ("Datum", "Datum", "Data"),
    "product": ("Produkt", "Product", "Prodotto"),
    "deal_id": ("Geschäft-ID", "Deal-ID", "ID trattativa"),
    "promo_code": ("Aktionscode", "Actiecode", "Codice promo"),
    "due": ("Fällig", "Vervaldatum", "Scadenza"),
    "status": ("Status", "Status", "Stato"),
    "done_on": ("Erledigt am", "Gedaan op", "Fatto il"),
    "start": ("Beginn", "Begin", "Inizio"),
    "end": ("Ende", "Einde", "Fine"),
    "cost": ("Kosten", "Kosten", "Costo"),
    "subject": ("Betreff", "Onderwerp", "Oggetto"),
    "body": ("Text", "Tekst", "Testo"),
    "strengths": ("Stärken", "Sterktes", "Punti di forza"),
    "weaknesses": ("Schwächen", "Zwaktes", "Punti deboli"),
    "rules": ("Regeln", "Regels", "Regole"),
    "who": ("Wer", "Wie", "Chi"),
    "sheet": ("Blatt", "Blad", "Foglio"),
    "record": ("Datensatz", "Record", "Record"),
    "field": ("Feld", "Veld", "Campo"),
    "old": ("Alt", "Oud", "Vecchio"),
    "new": ("Neu", "Nieuw", "Nuovo"),
    "probability": ("Wahrscheinlichkeit", "Kans", "Probabilità"),
}

VALUES = {
    "person": ("Person", "persoon", "persona"),
    "company": ("Firma", "bedrijf", "azienda"),
    "prospect": ("Interessent", "prospect", "potenziale"),
    "potential": ("Potenzial", "potentieel", "possibile"),
    "customer": ("Kunde", "klant", "cliente"),
    "repeat": ("Wiederkäufer", "herhaalklant", "abituale"),
    "loyal": ("Stammkunde", "trouw", "fedele"),
    "promoter": ("Empfehler", "promotor", "promotore"),
    "lost": ("verloren", "verloren", "perso"),
    "call": ("Anruf", "telefoon", "telefonata"),
    "meeting": ("Termin", "afspraak", "riunione"),
    "email": ("E-Mail", "e-mail", "email"),
    "sms": ("SMS", "sms", "SMS"),
    "visit": ("Besuch", "bezoek", "visita"),
    "chat": ("Chat", "chat", "chat"),
    "other": ("Sonstiges", "overig", "altro"),
    "inquiry": ("Anfrage", "aanvraag", "richiesta"),
    "sale": ("Verkauf", "verkoop", "vendita"),
    "service": ("Service", "service", "assistenza"),
    "complaint": ("Beschwerde", "klacht", "reclamo"),
    "follow-up": ("Nachfassen", "opvolging", "richiamo"),
    "refusal": ("Absage", "afwijzing", "rifiuto"),
    "feedback": ("Rückmeldung", "feedback", "feedback"),
    "success": ("Erfolg", "succes", "successo"),
    "neutral": ("neutral", "neutraal", "neutro"),
    "failure": ("Misserfolg", "mislukt", "insuccesso"),
    "new": ("neu", "nieuw", "nuova"),
    "qualified": ("qualifiziert", "gekwalificeerd", "qualificata"),
    "proposal": ("Angebot", "offerte", "proposta"),
    "negotiation": ("Verhandlung", "onderhandeling", "negoziazione"),
    "won": ("gewonnen", "gewonnen", "vinta"),
    "price": ("Preis", "prijs", "prezzo"),
    "timing": ("Zeitpunkt", "timing", "tempistica"),
    "competitor": ("Wettbewerber", "concurrent", "concorrente"),
    "no budget": ("kein Budget", "geen budget", "nessun budget"),
    "no response": ("keine Antwort", "geen reactie", "nessuna risposta"),
    "open": ("offen", "open", "aperta"),
    "done": ("erledigt", "gedaan", "fatta"),
    "cancelled": ("abgesagt", "geannuleerd", "annullata"),
    "search ad": ("Suchanzeige", "zoekadvertentie", "annuncio di ricerca"),
    "banner": ("Banner", "banner", "banner"),
    "social": ("Soziale Medien", "sociale media", "social"),
    "exhibition": ("Messe", "beurs", "fiera"),
    "referral": ("Empfehlung", "doorverwijzing", "passaparola"),
    "print": ("Druck", "drukwerk", "stampa"),
    "radio": ("Radio", "radio", "radio"),
    "website": ("Website", "website", "sito web"),
}


@dataclass(frozen=True)
class Words:
    """The labels of one language, and the way back from any language's label."""

    lang: str

    def _pick(self, table: dict[str, tuple[str, ...]], name: str) -> str:
        if self.lang == "en" or name not in table:
            return name
        return table[name][LANGUAGES.index(self.lang) - 1]

    def sheet(self, name: str) -> str:
        return self._pick(SHEETS, name)

    def field(self, name: str) -> str:
        return self._pick(FIELDS, name)

    def value(self, name: str) -> str:
        return self._pick(VALUES, name)


# The words that mean yes and no in a yes/no cell, a segment rule or an imported file: the
# languages above, and those people write to us in (French, Spanish, Russian, Hebrew).
YES_WORDS = (
    *("true", "yes", "y", "1", "x", "✓"),
    *("ja", "wahr"),  # de
    *("ja", "waar"),  # nl
    *("sì", "si", "vero"),  # it
    *("oui", "да", "כן"),
)
NO_WORDS = (
    *("false", "no", "n", "0", "-"),
    *("nein", "falsch"),  # de
    *("nee", "onwaar"),  # nl
    *("no", "falso"),  # it
    *("non", "нет", "לא"),
)

ENGLISH = Words("en")
# Any language's dropdown label (lower case) -> the internal value, for reading.
LABELS: dict[str, str] = {
    label.lower(): name for name, labels in VALUES.items() for label in labels
}


def words(lang: str | None) -> Words:
    lang = (lang or "en").lower()
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; crmbook speaks {', '.join(LANGUAGES)}")
    return Words(lang)


def book_words(lang: object) -> Words:
    """The words of a book's `language` metadata; English when it names none crmbook knows."""
    try:
        return words(str(lang) if lang else "en")
    except ValueError:
        return words("en")


def sheet_aliases(name: str) -> tuple[str, ...]:
    """Every name a sheet may carry: the internal one and its labels."""
    return (name, *SHEETS.get(name, ()))


def field_aliases(name: str) -> tuple[str, ...]:
    return (name, *FIELDS.get(name, ()))
