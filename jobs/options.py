"""The options of a submit, checked before anything is sent to the server.

Each problem reads ``<option>: expected <what it takes>, got <what it was given>`` (``tags.1``
for one item of a list); all of them go in one InvalidJobParams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Self, cast

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from jobs.errors import InvalidJobParams, received
from jobs.registry import LOW, NORMAL, PRIORITY_EXPECTED, URGENT
from jobs.status import Lane

MAX_KEY_LENGTH = 255
"""Longest idempotency key. Prefect sets no limit; keys made of names and ids fit easily."""
MAX_TAGS = 50
"""Most tags one job may be given (besides its ``job:<type>`` tag)."""
MAX_TAG_LENGTH = 100
"""Longest tag."""
MAX_DELAY = timedelta(days=3650)
"""Longest delay (ten years); ``run_at`` takes any time."""
MAX_DEBOUNCE = timedelta(days=1)
"""Longest debounce window."""
RESERVED_TAG_PREFIX = "job:"
"""Tags starting with this name a job's type; the client adds the one each job needs."""

KEY_EXPECTED = f"a non-empty string of at most {MAX_KEY_LENGTH} characters"
TAG_EXPECTED = f"a non-empty string of at most {MAX_TAG_LENGTH} characters"
_EXPECTED: dict[tuple[str, ...], str] = {
    ("priority",): PRIORITY_EXPECTED,
    ("delay",): (
        f"seconds (int or float) or a timedelta, from 0 to {MAX_DELAY.days} days (ten years)"
    ),
    ("run_at",): "a timezone-aware datetime",
    ("idempotency_key",): KEY_EXPECTED,
    ("idempotency_keys",): "a list or tuple of idempotency keys, one per job",
    ("idempotency_keys", "item"): KEY_EXPECTED,
    ("tags",): f"a list, tuple or set of at most {MAX_TAGS} tags",
    ("tags", "item"): TAG_EXPECTED,
    ("params_list",): "a list or tuple of job parameters",
    ("lane",): '"flow" or "batch" (jobs.Lane), or None for the job type\'s own lane',
    ("debounce",): (
        f"a (key, seconds) pair: a key of at most {MAX_KEY_LENGTH} characters and seconds "
        f"(int or float) above 0 and at most {MAX_DEBOUNCE.total_seconds():g} (one day)"
    ),
    ("fairness_key",): KEY_EXPECTED,
}


def _refused(expected: str | None = None, **ctx: Any) -> PydanticCustomError:
    """A refusal; ``expected`` (else the option's usual wording), ``option`` and ``got`` in ctx."""
    return PydanticCustomError("refused", "refused", {"expected": expected, **ctx})


def _one_of(*kinds: type, optional: bool = False) -> Callable[[Any], list[Any] | None]:
    """A check that the value is one of ``kinds`` of collection, but not a string, as a list."""

    def as_list(value: Any) -> list[Any] | None:
        if value is None and optional:
            return None
        if isinstance(value, kinds) and not isinstance(value, str | bytes | bytearray):
            return list(cast("Iterable[Any]", value))
        raise _refused()

    return as_list


def _delay_in_range(delay: timedelta | float | None) -> timedelta | float | None:
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
    if seconds is not None and not 0 <= seconds <= MAX_DELAY.total_seconds():  # NaN too
        raise _refused()
    return delay


def _debounce_in_range(debounce: tuple[str, float] | None) -> tuple[str, float] | None:
    if debounce is not None and not 0 < debounce[1] <= MAX_DEBOUNCE.total_seconds():
        raise _refused()
    return debounce


def _lane(value: Any) -> Lane | None:
    if value is None or isinstance(value, Lane):
        return value
    if isinstance(value, str) and value in {lane.value for lane in Lane}:
        return Lane(value)
    raise _refused()


def _not_reserved(tag: str) -> str:
    if tag.startswith(RESERVED_TAG_PREFIX):
        raise _refused(f"a tag not starting with {RESERVED_TAG_PREFIX!r}, which marks job types")
    return tag


Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH)]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TAG_LENGTH), AfterValidator(_not_reserved)
]


class SubmitOptions(BaseModel):
    """The options of one ``submit`` or ``submit_many``, each of the one type it takes.

    ``params_list`` and ``idempotency_keys`` are ``submit_many``'s; ``idempotency_key`` is
    ``submit``'s.
    """

    model_config = ConfigDict(strict=True, frozen=True)

    priority: int = Field(NORMAL, ge=URGENT, le=LOW)
    delay: Annotated[timedelta | int | float | None, AfterValidator(_delay_in_range)] = None
    run_at: AwareDatetime | None = None
    idempotency_key: Key | None = None
    idempotency_keys: Annotated[
        list[Key] | None, BeforeValidator(_one_of(Sequence, optional=True))
    ] = None
    tags: Annotated[
        list[Tag], BeforeValidator(_one_of(Sequence, Set)), Field(max_length=MAX_TAGS)
    ] = Field(default_factory=list)
    params_list: Annotated[list[Any] | None, BeforeValidator(_one_of(Sequence))] = None
    lane: Annotated[Lane | None, BeforeValidator(_lane)] = None
    debounce: Annotated[tuple[Key, int | float] | None, AfterValidator(_debounce_in_range)] = None
    fairness_key: Key | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.delay is not None and self.run_at is not None:
            raise _refused(
                "one or the other, not both",
                option="delay and run_at",
                got=f"delay {received(self.delay)} and run_at {received(self.run_at)}",
            )
        keys, params = self.idempotency_keys, self.params_list
        if keys is not None and params is not None and len(keys) != len(params):
            raise _refused(f"{len(params)} keys, one per job", option="idempotency_keys")
        if self.debounce is not None and (self.idempotency_key or self.idempotency_keys):
            raise _refused(
                "a debounce key or an idempotency key, not both",
                option="debounce and idempotency_key",
                got=f"debounce {received(self.debounce)}",
            )
        return self

    @classmethod
    def checked(cls, **options: Any) -> SubmitOptions:
        """The options, or InvalidJobParams naming each option refused, what it takes and what
        it was given."""
        try:
            return cls.model_validate(options)
        except ValidationError as exc:
            problems = dict.fromkeys(_problem(error, options) for error in exc.errors())
            raise InvalidJobParams("; ".join(problems)) from None

    def start_time(self) -> datetime | None:
        """When the jobs are due: ``delay`` from now, or ``run_at``; None for now."""
        if self.delay is None:
            return self.run_at
        delay = self.delay if isinstance(self.delay, timedelta) else timedelta(seconds=self.delay)
        return datetime.now(UTC) + delay

    def keys(self, count: int) -> list[str | None]:
        """The idempotency key of each of ``count`` jobs (None: no key)."""
        if self.idempotency_keys is not None:
            return list(self.idempotency_keys)
        return [self.idempotency_key] * count


def _problem(error: ErrorDetails, options: Mapping[str, Any]) -> str:
    """``<option>: expected <what>, got <what>`` for one of pydantic's errors."""
    ctx = (error.get("ctx") or {}) if error["type"] == "refused" else {}  # ours, from _refused
    option = ctx.get("option")
    if option is None:
        # loc is (option,), or (option, index) for an item; str parts name union members
        option = str(error["loc"][0])
        index = next((part for part in error["loc"][1:] if isinstance(part, int)), None)
    else:
        index = None
    key = (option,) if index is None else (option, "item")
    expected = ctx.get("expected") or _EXPECTED[key]
    got = ctx.get("got") or received(options.get(option) if index is None else error["input"])
    where = option if index is None else f"{option}.{index}"
    return f"{where}: expected {expected}, got {got}"
