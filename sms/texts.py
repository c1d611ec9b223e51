"""Everything the service itself says by text, in English, French, or both.

A texter's language is unknown until they choose it (by texting ``EN`` or ``FR``) or the
conversation records one; until then every text is bilingual, English first. Texts are
short because each 160-character segment (70 once a French accent outside GSM-7 appears)
is billed, but they always say where help is: 911 and the 24/7 line.

The opt-out, opt-in and help texts are also what docs/sms.md asks operators to paste into
Twilio's Advanced Opt-Out settings, since Twilio answers those keywords itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from config.settings import Settings
from routing.frames import WaitEstimate


class Language(StrEnum):
    """A language the service speaks."""

    EN = "en"
    FR = "fr"


@dataclass(frozen=True, slots=True)
class SmsTexts:
    """The service's texts with the crisis line and email filled in.

    Every method takes the texter's language, or ``None`` for a bilingual text.
    """

    crisis_line: str
    crisis_email: str

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsTexts:
        """Texts carrying the configured crisis line and email."""
        return cls(crisis_line=settings.crisis_line, crisis_email=settings.crisis_email)

    def queued(self, lang: Language | None, place: int, estimate: WaitEstimate | None = None) -> str:
        """First answer to a new texter: in line, their place, the estimated wait when there is
        one (routing/estimate.py), 911, the 24/7 line, and the optional check-in."""
        # The optional check-in by text (docs/sms.md): a reply of just a number 1-7 is recorded.
        wait_en = wait_fr = ""
        if estimate is not None:
            more = estimate.more_than
            wait_en = f" Estimated wait: {'more than' if more else 'about'} {estimate.minutes} min."
            wait_fr = f", attente estimée : {'plus de' if more else 'environ'} {estimate.minutes} min"
        en = (f"Thanks for reaching out. You're in line (number {place}).{wait_en} A trained peer will "
              f"text you back here. In an emergency call 911. 24/7 line: {self.crisis_line}. "
              "If you like, reply 1-7: how you feel now (1 very bad, 7 very good). "
              "Reply STOP to stop texts, HELP for help.")
        # French takes more segments (accents make it UCS-2): the greeting gives way to the estimate.
        fr = (f"{'' if wait_fr else 'Merci de nous écrire. '}Vous êtes en file (numéro {place}){wait_fr}. "
              f"Une personne aidante formée vous répondra ici. Urgence : 911. Ligne 24/7 : {self.crisis_line}. "
              "Au choix, répondez 1 à 7 : votre état (1 très mal, 7 très bien). "
              "ARRET pour arrêter, AIDE pour l'aide.")
        if lang is None:
            return _both(en + " Reply FR for French.", fr + " Répondez EN pour l'anglais.")
        return _pick(lang, en, fr)

    def queued_closed(self, lang: Language | None, place: int, next_open: datetime | None) -> str:
        """First answer to a new texter outside service hours: the 24/7 line first, when peers
        are next available (local time of the program), then their place in line."""
        when_en = f"from {_when_en(next_open)}" if next_open else "later"
        when_fr = f"à partir du {_when_fr(next_open)}" if next_open else "plus tard"
        en = (f"Peers are not available right now. To talk now, call the 24/7 line: {self.crisis_line}. "
              f"In an emergency call 911. Peers are back {when_en}; you're in line (number {place}) and "
              "a peer will text you back here. Reply STOP to stop texts, HELP for help.")
        fr = (f"Les pairs aidants ne sont pas disponibles en ce moment. Pour parler maintenant, ligne 24/7 : "
              f"{self.crisis_line}. Urgence : 911. Retour des pairs {when_fr}; vous êtes en file "
              f"(numéro {place}) et une personne aidante vous répondra ici. "
              "Répondez ARRET pour arrêter, AIDE pour de l'aide.")
        if lang is None:
            return _both(en + " Reply FR for French.", fr + " Répondez EN pour l'anglais.")
        return _pick(lang, en, fr)

    def position_update(self, lang: Language | None, place: int) -> str:
        """The texter moved up in line."""
        en = f"You're now number {place} in line. A peer will text you as soon as they can."
        fr = f"Vous êtes maintenant numéro {place} dans la file. Une personne aidante vous écrira bientôt."
        return _pick(lang, en, fr)

    def help(self, lang: Language | None) -> str:
        """Answer to HELP/INFO/AIDE: who we are, the 24/7 line and email, 911."""
        en = (f"Defence Team peer support by text. 24/7 line: {self.crisis_line}, "
              f"{self.crisis_email}. Emergency: 911. Text us to reach a peer; STOP to stop texts.")
        fr = (f"Soutien par les pairs de l'Équipe de la Défense. Ligne 24/7 : {self.crisis_line}, "
              f"{self.crisis_email}. Urgence : 911. Écrivez-nous pour joindre une personne "
              "aidante; ARRET pour arrêter.")
        return _pick(lang, en, fr)

    def escalation(self, lang: Language | None) -> str:
        """The conversation was escalated: give the 24/7 line now; they stay in line."""
        en = (f"If you need support right now, the 24/7 line is there for you: {self.crisis_line} "
              f"or {self.crisis_email}. In an emergency call 911. You're still in line here.")
        fr = (f"Si vous avez besoin de soutien maintenant, la ligne 24/7 est là pour vous : "
              f"{self.crisis_line} ou {self.crisis_email}. Urgence : 911. Vous restez dans la file.")
        return _pick(lang, en, fr)

    def media_not_shown(self, lang: Language | None) -> str:
        """A picture or other file (MMS) with no words, from a texter with no open conversation:
        media is never fetched here, so ask for words, and say where help is."""
        en = (f"We can't see pictures or files here. Please tell us in words what's going on, and a "
              f"peer will text you back. 24/7 line: {self.crisis_line}. Emergency: 911.")
        fr = (f"Nous ne pouvons pas voir les images ni les fichiers ici. Dites-nous en mots ce qui se "
              f"passe, et une personne aidante vous répondra. Ligne 24/7 : {self.crisis_line}. "
              "Urgence : 911.")
        return _pick(lang, en, fr)

    def opted_out(self, lang: Language | None) -> str:
        """Confirmation of STOP/ARRET (sent by Twilio's Advanced Opt-Out, or the simulator)."""
        en = (f"You won't get more texts from us. Reply START to reach us again. "
              f"24/7 line: {self.crisis_line}.")
        fr = (f"Vous ne recevrez plus de textos de notre part. Répondez START pour nous joindre "
              f"à nouveau. Ligne 24/7 : {self.crisis_line}.")
        return _pick(lang, en, fr)

    def opted_in(self, lang: Language | None) -> str:
        """Confirmation of START: texts are allowed again."""
        en = "Welcome back. Text us anytime to reach a peer. Reply STOP to stop texts."
        fr = "Bon retour. Écrivez-nous en tout temps pour joindre une personne aidante. ARRET pour arrêter."
        return _pick(lang, en, fr)

    def deleted(self, lang: Language | None) -> str:
        """Confirmation of DELETE/SUPPRIMER."""
        en = "Done: the texts of your conversations with us are deleted. Text us anytime."
        fr = ("C'est fait : les textos de vos conversations avec nous sont supprimés. "
              "Écrivez-nous en tout temps.")
        return _pick(lang, en, fr)

    def idle_closed(self, lang: Language | None) -> str:
        """The conversation ended after a long silence."""
        en = (f"This conversation has closed after a quiet while. Text us anytime to start again. "
              f"24/7 line: {self.crisis_line}.")
        fr = (f"Cette conversation est fermée après un long silence. Écrivez-nous en tout temps "
              f"pour recommencer. Ligne 24/7 : {self.crisis_line}.")
        return _pick(lang, en, fr)

    def ended_by_peer(self, lang: Language | None) -> str:
        """The peer ended the conversation."""
        en = (f"Your peer has ended the conversation. Thank you for reaching out; text us anytime. "
              f"24/7 line: {self.crisis_line}.")
        fr = (f"La personne aidante a terminé la conversation. Merci de nous avoir écrit; "
              f"écrivez-nous en tout temps. Ligne 24/7 : {self.crisis_line}.")
        return _pick(lang, en, fr)

    def language_set(self, lang: Language) -> str:
        """Confirmation of an ``EN``/``FR`` choice, in the chosen language."""
        return _pick(lang, "OK, we'll text you in English.", "D'accord, nous vous écrirons en français.")


_DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")


def _when_en(t: datetime) -> str:
    """``Mon Dec 28, 9:00`` (24-hour clock: one spelling, no AM/PM to misread)."""
    return f"{_DAYS_EN[t.weekday()]} {_MONTHS_EN[t.month - 1]} {t.day}, {t.hour}:{t.minute:02d}"


def _when_fr(t: datetime) -> str:
    """``lundi 28 décembre, 9 h 00``."""
    return f"{_DAYS_FR[t.weekday()]} {t.day} {_MONTHS_FR[t.month - 1]}, {t.hour} h {t.minute:02d}"


def _pick(lang: Language | None, en: str, fr: str) -> str:
    if lang is None:
        return _both(en, fr)
    return fr if lang == Language.FR else en


def _both(en: str, fr: str) -> str:
    return f"{en}\n\n{fr}"
