"""Questions that tasks ask, in words, as the window shows them (Qt-free)."""

from __future__ import annotations

import logging

from qtqueue.api.port import QuestionsPort
from qtqueue.core.question import Question, QuestionStatus, RequestType, ResponseType
from qtqueue.ui.task_list.columns import format_duration, format_timestamp

logger = logging.getLogger(__name__)

__all__ = [
    "QuestionDesk",
    "age_in_words",
    "answer_in_words",
    "question_notice",
    "request_in_words",
    "time_left_in_words",
]

#: How a request type reads in a list.
_REQUEST = {
    RequestType.QUESTION: "Question",
    RequestType.CLARIFICATION: "Clarification",
    RequestType.APPROVAL: "Approval",
}
#: How an answer's kind reads beside it.
_RESPONSE = {
    ResponseType.ANSWER: "answered",
    ResponseType.INSTRUCTION: "instructed",
    ResponseType.APPROVAL: "approved",
    ResponseType.REJECTION: "rejected",
}


#: What the window needs of the engine's questions (the engine port's `questions`).
QuestionDesk = QuestionsPort


def request_in_words(q: Question) -> str:
    """'Approval', 'Clarification' or 'Question'."""
    try:
        return _REQUEST[RequestType(q.request_type)]
    except ValueError:
        return q.request_type.capitalize()


def age_in_words(q: Question, now: float) -> str:
    """How long ago it was asked: 'just now', '42 s ago', '3 m 04 s ago'."""
    elapsed = now - q.created_at
    if elapsed < 1:
        return "just now"
    return f"{int(elapsed)} s ago" if elapsed < 60 else f"{format_duration(elapsed)} ago"


def time_left_in_words(q: Question, now: float) -> str:
    """How long it still waits for an answer ('27m 10s'), 'due now' past its limit, or ''
    for a question that no longer waits."""
    if q.status != QuestionStatus.OPEN:
        return ""
    left = q.expires_at - now
    return (format_duration(left) if left > 0 else "") or "due now"


def answer_in_words(q: Question) -> tuple[str, str, str]:
    """(what came of it, who, when) for a question that is no longer open."""
    when = format_timestamp(q.answered_at)
    if q.status == QuestionStatus.TIMED_OUT:
        return "timed out: nobody answered", "", when
    if q.status == QuestionStatus.CANCELLED:
        return "cancelled: the task ended first", "", when
    try:
        how = _RESPONSE[ResponseType(q.response_type or "answer")]
    except ValueError:
        how = q.response_type or "answered"
    text = f"{how}: {q.answer}" if q.answer and q.answer.lower() != how else how
    if q.instructions:
        text += " (" + "; ".join(q.instructions) + ")"
    who = q.generated_by or ""
    if q.responder_id:
        who = f"{q.responder_id} ({who})" if who else q.responder_id
    return text, who, when


def question_notice(task_name: str, q: Question) -> str:
    """The tray's words for a question just asked: 'task asks for approval: deploy — Ship
    it?' (what, then ': ', then the task and its message, as engine notices read)."""
    what = "task asks a question"
    if q.request_type == RequestType.APPROVAL:
        what = "task asks for approval"
    elif q.request_type == RequestType.CLARIFICATION:
        what = "task asks for clarification"
    return f"{what}: {task_name} — {q.message}"
