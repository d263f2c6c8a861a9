"""The Japan xAPI profiles (ICT CONNECT 21 xAPI SWG drafts) as data, and the matcher.

``vocabulary`` loads the transcription in ``data/``; ``matcher`` tells which template a statement
matches and which rules it breaks; ``service`` records matches, keeps each tenant's strict mode
and builds the profile report.
"""

from tsunagu.lrs.profiles.matcher import Match, Violation, match_statement
from tsunagu.lrs.profiles.vocabulary import GENERATIONS, Generation, load_vocabulary

__all__ = ["GENERATIONS", "Generation", "Match", "Violation", "load_vocabulary", "match_statement"]
