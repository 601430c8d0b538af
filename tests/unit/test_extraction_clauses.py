"""The heuristic extractor cuts a value only at a clause boundary (issue 17.2, spec §15 Q16):
a table of real-looking sentences, and properties over generated ones."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.ai.extraction import (
    CLAIM_PATTERNS,
    CLAUSE_SUBJECTS,
    CONJUNCTIONS,
    MAX_OCCURRENCES,
    heuristic_claims,
)

Claims = list[tuple[str, str]]


def claims(text: str) -> Claims:
    return [(c.predicate, c.object_value) for c in heuristic_claims(text)]


SENTENCES: list[tuple[str, Claims]] = [
    ("I work at Procter and Gamble", [("works_at", "Procter and Gamble")]),
    ("I like hiking and biking", [("likes", "hiking and biking")]),
    ("My favorite food is pizza and my favorite drink is tea",
     [("favorite_food", "pizza"), ("favorite_drink", "tea")]),
    ("My favorite color is yellow and I live in Austin",
     [("lives_in", "Austin"), ("favorite_color", "yellow")]),
    ("I work at Johnson and Johnson in the lab", [("works_at", "Johnson and Johnson in the lab")]),
    ("I like salt and pepper on my eggs", [("likes", "salt and pepper on my eggs")]),
    ("I live in Bosnia and Herzegovina", [("lives_in", "Bosnia and Herzegovina")]),
    ("I work at Marks and Spencer but I want to quit", [("works_at", "Marks and Spencer")]),
    ("I like rock and roll and I play guitar", [("likes", "rock and roll")]),
    ("I live in Trinidad and Tobago and my name is Dev",
     [("name", "Dev"), ("lives_in", "Trinidad and Tobago")]),
    ("my name is Ann and I'm a nurse", [("name", "Ann")]),
    ("My name is Mary Jo and we live nearby", [("name", "Mary Jo")]),
    ("I live in Denver and our kids go to school here", [("lives_in", "Denver")]),
    ("I work at Google and you should apply", [("works_at", "Google")]),
    ("I like cats but my wife likes dogs", [("likes", "cats")]),
    ("I like jazz because it relaxes me", [("likes", "jazz")]),
    ("I live in Lisbon since it is sunny", [("lives_in", "Lisbon")]),
    ("I work at a bakery while she studies", [("works_at", "a bakery")]),
    ("I like tea, coffee and juice", [("likes", "tea")]),
    ("I like tea and.", [("likes", "tea")]),
    ("I like tea and", [("likes", "tea")]),
    ("I like movies and, honestly, books", [("likes", "movies")]),
    ("I like sushi so they took me to Tokyo", [("likes", "sushi")]),
    ("I live in Paris or there about", [("lives_in", "Paris")]),
    ("I work at Ben and Jerry's and this job is great", [("works_at", "Ben and Jerry's")]),
    ("My favorite band is Simon and Garfunkel", [("favorite_band", "Simon and Garfunkel")]),
    ("My favorite movie is Fast and Furious and his is Up",
     [("favorite_movie", "Fast and Furious")]),
    ("I like reading and writing but I hate math", [("likes", "reading and writing")]),
    ("I live in Austin. I work at Dell and I like BBQ",
     [("lives_in", "Austin"), ("works_at", "Dell"), ("likes", "BBQ")]),
    ("I like apples. I like pears too", [("likes", "apples"), ("likes", "pears too")]),
    ("I like dogs and I like cats", [("likes", "dogs"), ("likes", "cats")]),
    ("My favorite sport is tennis; my favorite team is Ajax",
     [("favorite_sport", "tennis"), ("favorite_team", "Ajax")]),
    ("I work at AT and T and their pay is fine", [("works_at", "AT and T")]),
    ("I live in Austin and I've been here for years", [("lives_in", "Austin")]),
    ("I like Ireland and Iceland", [("likes", "Ireland and Iceland")]),
    ("I work at Acme and its partners", [("works_at", "Acme and its partners")]),
    ("I like bread and butter!", [("likes", "bread and butter")]),
    ("Hi, my name is Bob and that is all", [("name", "Bob")]),
    ("I LIKE Tea AND I Live In Oslo", [("lives_in", "Oslo"), ("likes", "Tea")]),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCES)
def test_real_looking_sentences(text: str, expected: Claims) -> None:
    assert len(SENTENCES) >= 30
    assert claims(text) == expected


NOUNS = ["pizza", "Procter", "Gamble", "hiking", "tea", "Austin", "rock", "roll", "Acme",
         "New York", "salt", "pepper", "Ireland", "items", "andy", "island", "mine", "its"]
NOT_SUBJECTS = [n for n in NOUNS if n.lower() not in CLAUSE_SUBJECTS]
HEADS = {"name": "my name is", "lives_in": "I live in", "works_at": "I work at",
         "likes": "I like", "favorite_color": "my favorite color is"}


def value_words() -> st.SearchStrategy[list[str]]:
    """Words of a value, conjunctions included, that never open a clause."""
    joiner = st.sampled_from(CONJUNCTIONS)
    noun = st.sampled_from(NOT_SUBJECTS)
    return st.lists(st.one_of(noun, st.tuples(joiner, noun).map(" ".join)), min_size=1,
                    max_size=6)


@given(st.sampled_from(sorted(HEADS)), value_words())
def test_a_conjunction_inside_a_value_stays(predicate: str, words: list[str]) -> None:
    value = " ".join(words)
    assert claims(f"{HEADS[predicate]} {value}") == [(predicate, value)]


@given(st.sampled_from(sorted(HEADS)), value_words(), st.sampled_from(CONJUNCTIONS),
       st.sampled_from(CLAUSE_SUBJECTS), st.sampled_from(["went home", "am tired", "is nice"]),
       st.booleans())
def test_a_conjunction_before_a_clause_subject_ends_the_value(
        predicate: str, words: list[str], conjunction: str, subject: str, rest: str,
        capital: bool) -> None:
    value = " ".join(words)
    subject = subject.capitalize() if capital else subject
    text = f"{HEADS[predicate]} {value} {conjunction} {subject} {rest}"
    assert claims(text) == [(predicate, value)]


@given(st.lists(st.tuples(st.sampled_from(sorted(HEADS)), value_words()), min_size=1,
                max_size=4),
       st.lists(st.sampled_from(CONJUNCTIONS), min_size=4, max_size=4))
def test_each_clause_yields_its_claim(clauses: list[tuple[str, list[str]]],
                                      joins: list[str]) -> None:
    """Clauses joined by "<conjunction> <clause head>" each give their claim."""
    parts = [f"{HEADS[p]} {' '.join(w)}" for p, w in clauses]
    text = parts[0] + "".join(f" {j} {part}" for j, part in zip(joins, parts[1:], strict=False))
    found = set(claims(text))
    expected = {(p, " ".join(w)) for p, w in clauses}
    assert expected <= found


@given(st.lists(st.sampled_from([*"ab I,.;'", "and ", "my ", "i like ", "my favorite x is ",
                                  "it's ", "or ", "we"]), max_size=40).map("".join))
def test_matches_are_regex_finditer(text: str) -> None:
    """The linear-time search yields exactly the non-overlapping matches of the regex."""
    collapsed = " ".join(text.split())
    for pattern in CLAIM_PATTERNS:
        expected = [(m.span(), m.groupdict()) for m in pattern.regex.finditer(collapsed)]
        assert [(m.span(), m.groupdict()) for m in pattern.matches(collapsed)] == expected


@given(st.sampled_from(sorted(HEADS)), value_words())
def test_values_never_end_with_a_conjunction(predicate: str, words: list[str]) -> None:
    for conjunction in CONJUNCTIONS:
        text = f"{HEADS[predicate]} {' '.join(words)} {conjunction}."
        for _, value in claims(text):
            assert not re.search(rf"\s{conjunction}$", value, re.IGNORECASE)


def test_occurrences_per_pattern_are_capped() -> None:
    text = " ".join(f"I like item{i} and I live in town{i}." for i in range(MAX_OCCURRENCES + 9))
    found = claims(text)
    assert [p for p, _ in found].count("likes") == MAX_OCCURRENCES
    assert [p for p, _ in found].count("lives_in") == MAX_OCCURRENCES
    assert found[-1] == ("likes", f"item{MAX_OCCURRENCES - 1}")
