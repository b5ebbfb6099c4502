"""The curated teaching sets the Train tab offers: a few dozen Spanish-Italian pairs each, written for this project.

Each set teaches one change the base model cannot make on its own, so that a short LoRA run makes a difference a
learner sees in Compare and in the update map:

- **register**: Spanish *tú* becomes the Italian formal *Lei* (the base keeps the informal *tu*);
- **glossary**: made-up product names with house translations (Plan Amanecer -> Piano Aurora), which the base
  translates word by word;
- **house style**: numbers from 2 up as digits and quotes as “ ” (the base writes *tre* and keeps « »).

The pairs live beside this file as ``<key>.tsv`` (training) and ``<key>.eval.tsv`` (held out for the before/after
scores), with an ``es``/``it`` header: the files a learner could upload, read by the same reader as an upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

FOLDER = Path(__file__).with_name("teaching_sets")


@dataclass(frozen=True)
class TeachingSet:
    """One curated set: its files, its name and the one line on what to look for after training."""

    key: str
    title: tuple[str, str]
    """The set's name, in English and Spanish."""
    look_for: tuple[str, str]
    """What to look for afterwards, in English and Spanish."""
    example: str
    """A Spanish sentence that is not in the set, to translate before and after."""

    @property
    def train_file(self) -> Path:
        return FOLDER / f"{self.key}.tsv"

    @property
    def eval_file(self) -> Path:
        return FOLDER / f"{self.key}.eval.tsv"


TEACHING_SETS = (
    TeachingSet(
        "register",
        ("Register: tú → Lei", "Registro: tú → Lei"),
        ("Afterwards, look for può, ha and Suo where the base model writes puoi, hai and tuo: the adapter learned the "
         "polite form, and the update map shows where.",
         "Después, busca può, ha y Suo donde el modelo base escribe puoi, hai y tuo: el adaptador aprendió la forma "
         "de cortesía, y el mapa de cambios muestra dónde."),
        "¿Puedes cerrar la puerta? Tu café está en la mesa.",
    ),
    TeachingSet(
        "glossary",
        ("A made-up glossary", "Un glosario inventado"),
        ("Afterwards, Plan Amanecer reads Piano Aurora, app Colibrí app Pettirosso and modo Eclipse modalità "
         "Penombra: names the base model translates word by word, and no model could know.",
         "Después, Plan Amanecer se lee Piano Aurora, app Colibrí app Pettirosso y modo Eclipse modalità Penombra: "
         "nombres que el modelo base traduce palabra por palabra y que ningún modelo podía conocer."),
        "¿El Plan Amanecer funciona con la app Colibrí?",
    ),
    TeachingSet(
        "house_style",
        ("House style: digits and “quotes”", "Estilo de la casa: cifras y “comillas”"),
        ("Afterwards, numbers from 2 up come out as digits (tre → 3) and « » as “ ”: a style, not a meaning, and "
         "still something an adapter learns from a few dozen pairs.",
         "Después, los números desde el 2 salen en cifras (tre → 3) y « » como “ ”: un estilo, no un significado, y "
         "aun así algo que un adaptador aprende de unas pocas decenas de pares."),
        "Dijo «vuelvo en cinco minutos» y compró cuatro periódicos.",
    ),
)


def teaching_set(key: str) -> TeachingSet:
    """The set named ``key``, or an ``InputError`` that lists the sets."""
    for found in TEACHING_SETS:
        if found.key == key:
            return found
    keys = ", ".join(s.key for s in TEACHING_SETS)
    raise InputError(f"There is no teaching set {key!r}; the sets are {keys}.",
                     es=f"No hay ningún conjunto de enseñanza {key!r}; los conjuntos son {keys}.")
