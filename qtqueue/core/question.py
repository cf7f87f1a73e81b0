"""A question a running task asks a person, and the answer it gets: plain data, no IO.

The RQ-style design document's worker ↔ controller messages (its `worker_requests` and
`controller_responses` queues) as one record: the request (`request_type`, `message`,
`context`, a time limit, a conversation id for follow-ups) and, once given, the response
(`response_type`, `answer`, `instructions`, who gave it). The engine keeps these in its store
(`TaskQueue.questions`); the window, the CLI and the API show them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_QUESTION_TIMEOUT_S",
    "GENERATED_BY",
    "Question",
    "QuestionStatus",
    "RequestType",
    "ResponseType",
]

#: How long a question waits for its answer unless the asker says otherwise (the design
#: document's 30 minutes).
DEFAULT_QUESTION_TIMEOUT_S = 1800.0
#: Who may give an answer: a person, or an automated rule.
GENERATED_BY = ("human", "automated")


class RequestType(StrEnum):
    """What a task asks for."""

    CLARIFICATION = "clarification"
    APPROVAL = "approval"
    QUESTION = "question"


class ResponseType(StrEnum):
    """What kind of answer it got."""

    ANSWER = "answer"
    INSTRUCTION = "instruction"
    APPROVAL = "approval"
    REJECTION = "rejection"


class QuestionStatus(StrEnum):
    """Where a question stands: OPEN until it is answered, times out, or its task ends."""

    OPEN = "open"
    ANSWERED = "answered"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@dataclass
class Question:
    """One question of one task, and its answer once it has one."""

    #: UUID of the question (the document's request id).
    id: str
    #: The task that asks (it waits, running, until the question ends).
    task_id: str
    #: A `RequestType` value.
    request_type: str
    #: What the task asks, in words.
    message: str
    #: Anything that helps to answer (JSON-ready).
    context: dict[str, Any]
    #: When it was asked and when it times out (UNIX seconds).
    created_at: float
    expires_at: float
    #: Groups a question with its follow-ups (the first question's id unless given).
    conversation_id: str
    #: The question this one follows up, if any.
    parent_id: str | None = None
    #: A `QuestionStatus` value.
    status: str = QuestionStatus.OPEN.value
    #: A `ResponseType` value, once answered.
    response_type: str | None = None
    #: The answer's text, once answered.
    answer: str | None = None
    #: Steps the answer asks the task to follow (an "instruction" response's list).
    instructions: list[str] = field(default_factory=list)
    #: "human" or "automated", once answered.
    generated_by: str | None = None
    #: Who answered (a user name), when a person did and said who.
    responder_id: str | None = None
    #: When it was answered, timed out or cancelled (UNIX seconds).
    answered_at: float | None = None

    @property
    def is_open(self) -> bool:
        """Whether it still waits for an answer."""
        return self.status == QuestionStatus.OPEN

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (what the API and the store carry)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        """The question `to_dict` gave (unknown keys are ignored, so older readers cope)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["context"] = dict(known.get("context") or {})
        known["instructions"] = [str(i) for i in known.get("instructions") or []]
        return cls(**known)
