"""What the service itself says to seekers, in English and French."""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "fr"]

_TEXTS: dict[str, dict[str, str]] = {
    "joined": {
        "en": "A peer supporter has joined the conversation.",
        "fr": "Une personne pair aidante s'est jointe à la conversation.",
    },
    "transferred": {
        "en": "You are being connected with another peer supporter. Please stay with us.",
        "fr": "Nous vous mettons en lien avec une autre personne pair aidante. Restez avec nous.",
    },
    "peer_lost": {
        "en": "Your peer supporter lost their connection. You are back at the front of the line.",
        "fr": "Votre pair aidant·e a perdu la connexion. Vous êtes de nouveau en tête de file.",
    },
    "escalation": {
        "en": ("If you need to talk to someone right now, the Sexual Misconduct Support and Resource "
               "Centre's 24/7 line is {line} ({email}). If you are in danger, call 911."),
        "fr": ("Si vous avez besoin de parler à quelqu'un maintenant, la ligne 24/7 du Centre "
               "d'intervention sur l'inconduite sexuelle est le {line} ({email}). "
               "En cas de danger, composez le 911."),
    },
    "escalation_no_peer": {
        "en": ("No peer supporter is on shift right now. You can stay in line, and the 24/7 line is "
               "there for you now: {line} ({email}). If you are in danger, call 911."),
        "fr": ("Aucune personne pair aidante n'est en service en ce moment. Vous pouvez rester en file, "
               "et la ligne 24/7 est là pour vous dès maintenant : {line} ({email}). "
               "En cas de danger, composez le 911."),
    },
    "escalation_wait": {
        "en": ("We're sorry for the wait. You can keep waiting, or reach the 24/7 line now: {line} "
               "({email}). If you are in danger, call 911."),
        "fr": ("Désolés de l'attente. Vous pouvez continuer d'attendre, ou joindre la ligne 24/7 "
               "maintenant : {line} ({email}). En cas de danger, composez le 911."),
    },
    "peer_soon": {
        "en": "A peer supporter is here with you and will write in a moment.",
        "fr": "Une personne pair aidante est avec vous et va vous écrire dans un instant.",
    },
    "escalation_estimate": {
        "en": ("The wait may be long right now. You can stay in line, or reach the 24/7 line now: {line} "
               "({email}). If you are in danger, call 911."),
        "fr": ("L'attente risque d'être longue en ce moment. Vous pouvez rester en file, ou joindre la ligne "
               "24/7 maintenant : {line} ({email}). En cas de danger, composez le 911."),
    },
    "media_not_shown": {
        "en": ("A picture or file was sent, but pictures and files can't be seen or kept here. Please "
               "say in words what you want to share."),
        "fr": ("Une image ou un fichier a été envoyé, mais les images et les fichiers ne peuvent pas être "
               "vus ni conservés ici. Dites-nous en mots ce que vous voulez partager."),
    },
}


def bilingual(english: str) -> str:
    """A system message's English text followed by its French (for a texter whose language is
    not known yet); texts that are not system messages come back unchanged."""
    for variants in _TEXTS.values():
        if variants["en"] == english:
            return f"{variants['en']}\n\n{variants['fr']}"
    return english


def text(key: str, lang: str, **values: str) -> str:
    """The text ``key`` in ``lang`` (English when the language is unknown)."""
    variants = _TEXTS[key]
    return variants.get(lang, variants["en"]).format(**values)


def text_for(key: str, lang: str | None, **values: str) -> str:
    """The text ``key`` in ``lang``, or in English then French when the language is not known."""
    if lang is None:
        return f"{text(key, 'en', **values)}\n\n{text(key, 'fr', **values)}"
    return text(key, lang, **values)


def escalation_text(reason: str, lang: str, line: str, email: str) -> str:
    """The escalation text for a reason; every variant contains the crisis line."""
    key = {"no_peer_on_shift": "escalation_no_peer", "wait_timeout": "escalation_wait",
           "wait_estimate": "escalation_estimate"}.get(reason, "escalation")
    return text(key, lang, line=line, email=email)
