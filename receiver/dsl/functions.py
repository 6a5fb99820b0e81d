"""The built-in functions of the condition language: the one place that knows each built-in.

Stage 1 (the language itself), read by every later stage: the checker (names, arity,
argument and keyword types), the counter checker (what a call reads), the analysis
helpers (what an expression reads, whether it gives a bool), the closure compiler (how
to compile each call, whether it may be memoised) and, at run time, the compiled calls
(``impl``). Consumes nothing; produces :data:`FUNCTIONS`, a table of
:class:`Function` by name.

Each :class:`Function` says how many arguments it takes, which types each may
have (checked at ``receiver check`` time when the types are known), what it
returns, how to compute it, what it reads of the request besides its arguments,
and how the compiler builds its closure (:data:`Form`). ``any``, ``all`` and
``count`` take a condition as their second argument, evaluated once per element
with ``it`` bound to it. Implementations are pure: null in gives null (or
false/empty) out, and a wrong type raises :class:`~receiver.errors.EvaluationError`.
No other module keeps a set of built-in names: ask the table.

Longer than 400 lines as one thing: the table and the small implementations its entries
point to (the ``_name`` functions above it), so that a built-in's facts are read in one
place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from receiver import profanity
from receiver.dsl import links, textfuncs
from receiver.dsl.values import Duration, Timestamp, Value, as_time, type_name
from receiver.errors import EvaluationError

Type = str  # 'bool' 'number' 'string' 'null' 'list' 'map' 'duration' 'time' 'any'

TEXT = frozenset({"string"})
LIST = frozenset({"list"})
MAP = frozenset({"map"})
ANY = None


@dataclass(frozen=True, slots=True)
class Keyword:
    """A keyword argument a function takes (``profane(text, strict=true)``).

    ``kind`` says what the value must be, since keyword arguments configure what is
    built once at load: ``"list"`` is a list literal of strings or a named list of the
    policy, ``"bool"`` is ``true`` or ``false`` written as such.
    """

    name: str
    kind: Literal["list", "bool"]
    summary: str


# What a call may read of the request besides its arguments.
Input = Literal["now", "user", "counters"]

# How the compiler builds a call's closure (receiver.compile.closures has one method each):
# - "apply": ``impl`` on the argument values (null and type handling are impl's own);
# - "context": no arguments; the value of a field of the request context (``context_field``);
# - "clock": ``impl(now, *arguments)``, with the request's time (``age``);
# - "each": the condition argument ``lambda_arg`` runs once per list element, bound to
#   ``it``, and ``combine`` says what the results give;
# - "profanity": a matcher configured by the keyword arguments, built once at load; the
#   call asks it whether the text is profane (``exact_bool``) or for the censored text;
# - "pattern": the string literal argument (``literal_args``) is compiled to RE2 at load;
# - "phrases": a constant list argument is built into a phrase matcher at load;
# - "length": "apply", and a comparison of the call with a number is fused into one
#   closure that takes the length of a string directly.
# How an "each" call combines its condition's results: true at the first true ("any"),
# false at the first false ("all"), or the number of trues ("count").
Combine = Literal["any", "all", "count"]
Form = Literal["apply", "context", "clock", "each", "profanity", "pattern", "phrases", "length"]
FORMS: frozenset[str] = frozenset(get_args(Form))


@dataclass(frozen=True, slots=True)
class Function:
    """One built-in function: its signature, its implementation, and what the stages
    after parsing need to know about it."""

    name: str
    params: tuple[frozenset[str] | None, ...]
    returns: Type
    impl: Callable[..., Value] | None
    summary: str
    min_args: int = -1  # -1: exactly len(params)
    variadic: bool = False  # the last parameter repeats
    lambda_arg: int | None = None  # this argument is a condition over `it`
    literal_args: tuple[int, ...] = ()  # these arguments must be string literals (patterns)
    keywords: tuple[Keyword, ...] = ()  # keyword arguments, all optional
    form: Form = "apply"
    reads: frozenset[Input] = frozenset()  # request inputs read besides the arguments
    context_field: str | None = None  # form "context": the Context attribute it returns
    combine: Combine | None = None  # form "each": what the condition's results give
    # Whether a call that occurs more than once may share a memo slot per request. Not
    # when its value changes within a request, or computing it again (the length of a
    # value at hand) is cheaper than the slot's lookup.
    memo: bool = True
    # Whether the compiled call always returns exactly True or False (null text gives
    # False), so that a condition made of it needs no truth() conversion.
    exact_bool: bool = False

    def __post_init__(self) -> None:
        if not (self.form == "each") == (self.lambda_arg is not None) == (self.combine is not None):
            raise ValueError(f"{self.name}(): form 'each' goes with a condition and a combine")
        if (self.form == "context") != (self.context_field is not None):
            raise ValueError(f"{self.name}(): form 'context' goes with a context field")
        if (self.form == "pattern") != bool(self.literal_args):
            raise ValueError(f"{self.name}(): form 'pattern' goes with a literal argument")
        if self.form in ("apply", "clock", "profanity", "phrases", "length") and self.impl is None:
            raise ValueError(f"{self.name}(): form {self.form!r} calls an implementation")

    def keyword(self, name: str) -> Keyword | None:
        return next((k for k in self.keywords if k.name == name), None)

    @property
    def arity(self) -> str:
        low = len(self.params) if self.min_args < 0 else self.min_args
        if self.variadic:
            return f"at least {low}"
        high = len(self.params)
        return str(high) if low == high else f"{low} to {high}"

    def accepts(self, count: int) -> bool:
        low = len(self.params) if self.min_args < 0 else self.min_args
        return count >= low and (self.variadic or count <= len(self.params))

    def param(self, index: int) -> frozenset[str] | None:
        if index < len(self.params):
            return self.params[index]
        return self.params[-1] if self.variadic else None


def _text(name: str, value: Value) -> str:
    if isinstance(value, str):
        return value
    raise EvaluationError(f"{name}() needs a string, got {type_name(value)}")


def _list(name: str, value: Value) -> Sequence[Value]:
    if isinstance(value, list | tuple):
        return value
    raise EvaluationError(f"{name}() needs a list, got {type_name(value)}")


_SIZED = (str, list, tuple, dict)  # a tuple: ``str | list | ...`` is a new union per call


def _len(value: Value) -> Value:
    if value is None:
        return None
    if isinstance(value, _SIZED):
        return len(value)
    raise EvaluationError(f"len() needs a string, list or map, got {type_name(value)}")


def _lower(value: Value) -> Value:
    return None if value is None else _text("lower", value).lower()


def _upper(value: Value) -> Value:
    return None if value is None else _text("upper", value).upper()


def _trim(value: Value) -> Value:
    return None if value is None else _text("trim", value).strip()


def _words(value: Value) -> Value:
    return [] if value is None else textfuncs.words(_text("words", value))


def _urls(value: Value) -> Value:
    return [] if value is None else links.urls(_text("urls", value))


def _domain(value: Value) -> Value:
    return None if value is None else links.domain(_text("domain", value))


def _contains_any(text: Value, phrases: Value) -> Value:
    if text is None or phrases is None:
        return False
    items = _list("contains_any", phrases)
    return textfuncs.contains_any(
        _text("contains_any", text), tuple(str(p) for p in items if p is not None)
    )


def _profane(value: Value) -> Value:
    if value is None:
        return False
    return profanity.matcher().contains(_text("profane", value))


def _censor(value: Value) -> Value:
    if value is None:
        return None
    return profanity.matcher().censor(_text("censor", value))


def _normalize(value: Value) -> Value:
    return None if value is None else profanity.normalize(_text("normalize", value))


PROFANITY_KEYWORDS = (
    Keyword("words", "list", "more words to find, on top of better-profanity's list"),
    Keyword("allow", "list", "words never to find (better-profanity's whitelist_words)"),
    Keyword(
        "strict",
        "bool",
        "also see through look-alikes, accents, zero-width characters, "
        "stretched letters and separators inside words",
    ),
)


def _caps_ratio(value: Value) -> Value:
    return None if value is None else textfuncs.caps_ratio(_text("caps_ratio", value))


def _age(now: Timestamp, value: Value) -> Value:
    if value is None:
        return None
    return Duration(now.epoch - as_time(value).epoch)


def _merge(left: Value, right: Value) -> Value:
    out: dict[str, Value] = {}
    for side in (left, right):
        if side is None:
            continue
        if not isinstance(side, dict):
            raise EvaluationError(f"merge() needs maps, got {type_name(side)}")
        out.update(side)
    return out


def _coalesce(*values: Value) -> Value:
    for value in values:
        if value is not None:
            return value
    return None


def _type(value: Value) -> Value:
    return type_name(value)


def _replace(text: Value, old: Value, new: Value) -> Value:
    if text is None:
        return None
    return _text("replace", text).replace(_text("replace", old), _text("replace", new))


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "len",
            (frozenset({"string", "list", "map"}),),
            "number",
            _len,
            "number of characters of a string, elements of a list or keys of a map",
            form="length",
            memo=False,
        ),
        Function("lower", (TEXT,), "string", _lower, "the string in lower case"),
        Function("upper", (TEXT,), "string", _upper, "the string in upper case"),
        Function("trim", (TEXT,), "string", _trim, "the string without surrounding whitespace"),
        Function("words", (TEXT,), "list", _words, "the words of a string, in order"),
        Function(
            "urls",
            (TEXT,),
            "list",
            _urls,
            "the links in a string (http(s)://, www. and bare domains such as bit.ly/x)",
        ),
        Function(
            "domain",
            (TEXT,),
            "string",
            _domain,
            "the lower-case host of a link, without port and leading 'www.'",
        ),
        Function(
            "any",
            (LIST, frozenset({"bool"})),
            "bool",
            None,
            "true when the condition holds for at least one element (`it`)",
            lambda_arg=1,
            form="each",
            combine="any",
        ),
        Function(
            "all",
            (LIST, frozenset({"bool"})),
            "bool",
            None,
            "true when the condition holds for every element (`it`)",
            lambda_arg=1,
            form="each",
            combine="all",
        ),
        Function(
            "count",
            (LIST, frozenset({"bool"})),
            "number",
            None,
            "how many elements (`it`) the condition holds for",
            lambda_arg=1,
            form="each",
            combine="count",
        ),
        Function(
            "contains_any",
            (TEXT, LIST),
            "bool",
            _contains_any,
            "true when the text contains one of the words or phrases (whole words, any case)",
            form="phrases",
            exact_bool=True,
        ),
        Function(
            "profane",
            (TEXT,),
            "bool",
            _profane,
            "true when better-profanity finds a listed word in the text",
            keywords=PROFANITY_KEYWORDS,
            form="profanity",
            exact_bool=True,
        ),
        Function(
            "censor",
            (TEXT,),
            "string",
            _censor,
            "the text with listed words replaced by '****' (better-profanity)",
            keywords=PROFANITY_KEYWORDS,
            form="profanity",
        ),
        Function(
            "normalize",
            (TEXT,),
            "string",
            _normalize,
            "the text with invisible characters removed and look-alike letters, widths, "
            "accents and case folded",
        ),
        Function(
            "caps_ratio",
            (TEXT,),
            "number",
            _caps_ratio,
            "share of letters in upper case, from 0 to 1 (0 without letters)",
        ),
        Function(
            "type",
            (ANY,),
            "string",
            _type,
            "the type of a value: string, number, bool, null, list, map, duration or time",
        ),
        Function(
            "replace",
            (TEXT, TEXT, TEXT),
            "string",
            _replace,
            "the text with every occurrence of the second string replaced by the third",
        ),
        Function(
            "regex_replace",
            (TEXT, TEXT, TEXT),
            "string",
            None,
            "the text with every match of an RE2 pattern (a string literal) replaced",
            literal_args=(1,),
            form="pattern",
        ),
        Function(
            "now",
            (),
            "time",
            None,
            "the time of the request (pinned by --now)",
            form="context",
            context_field="now",
            reads=frozenset({"now"}),
            memo=False,
        ),
        Function(
            "user_lookup_failed",
            (),
            "bool",
            None,
            "true when the user directory could not answer in time (then `user` is null)",
            form="context",
            context_field="user_failed",
            reads=frozenset({"user"}),
            memo=False,  # it turns true when a lookup fails, within the request
        ),
        Function(
            "counters_unavailable",
            (),
            "bool",
            None,
            "true when the counter backend could not answer (then counters read null)",
            form="context",
            context_field="counters_unavailable",
            reads=frozenset({"counters"}),
        ),
        Function(
            "age",
            (frozenset({"string", "number", "time"}),),
            "duration",
            _age,
            "how long ago a time was (ISO-8601 string or epoch seconds/milliseconds)",
            form="clock",
            reads=frozenset({"now"}),
        ),
        Function(
            "merge",
            (MAP, MAP),
            "map",
            _merge,
            "a new map with the keys of both; the second wins on conflicts",
        ),
        Function(
            "coalesce",
            (ANY,),
            "any",
            _coalesce,
            "the first argument that is not null",
            min_args=1,
            variadic=True,
        ),
    )
}


def age(now: Timestamp, value: Value) -> Value:
    """``age(x)`` at the request's time ``now``."""
    return _age(now, value)
