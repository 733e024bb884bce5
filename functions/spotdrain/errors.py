"""Named errors: the exact, case-sensitive contract between the handlers and the state machine.

The Lambda runtime reports an unhandled exception as ``errorType`` = the exception class name, and
Step Functions matches ``Retry``/``Catch`` ``ErrorEquals`` against that name. So the class names
below are part of the workflow's interface: ``statemachine/drain.asl.json`` names them, and
``tests/test_definition.py`` checks that every name it retries or catches is defined here.

Transient errors are retried by the workflow (backoff, MaxDelaySeconds, full jitter); permanent
errors are not. What happens next depends on ``redrivable``:

- a *final* error (``redrivable = False``: the notice itself is bad, or the drain's own safety
  checks stopped it) is caught: the failure branch releases the notice's claim and the execution
  ends in the ``Failed`` state with the error's name and cause. Redriving it would fail again;
- every other error (AWS refusals, exhausted retries, configuration, Lambda) is not caught: the
  execution fails *at the step that failed*, so that once the cause is fixed (a policy, a quota,
  an outage over) ``RedriveExecution`` resumes at that step without re-running the ones before.

Either way the execution ends FAILED and the EventBridge rule on its status notifies.
"""

from __future__ import annotations

from datetime import datetime


class SpotDrainError(Exception):
    """Base class of every named error. ``retryable`` says how the ASL treats it."""

    retryable = False
    redrivable = True


# --- permanent: bad input or configuration ---------------------------------------------------
class InvalidEvent(SpotDrainError):
    """The step input is not what the workflow accepts (malformed event, wrong types)."""

    redrivable = False


class InvalidConfiguration(SpotDrainError):
    """The deployment's configuration (environment, settings) is unusable."""


class AccountOrRegionNotAllowed(SpotDrainError):
    """The event comes from an account or region that is not on the configured allow-list."""

    redrivable = False


# --- AWS API failures, classified --------------------------------------------------------------
class AwsThrottled(SpotDrainError):
    """An AWS API refused the call for rate (Throttling, ThrottlingException, ...)."""

    retryable = True


class AwsUnavailable(SpotDrainError):
    """An AWS API failed on its side or could not be reached (5xx, timeouts, connection errors)."""

    retryable = True


class AwsAccessDenied(SpotDrainError):
    """The function's role may not make this call. Permanent until the policy is fixed."""


class AwsResourceNotFound(SpotDrainError):
    """A configured resource (target group, load balancer, cluster, service) does not exist."""


class AwsRequestFailed(SpotDrainError):
    """Any other client-side AWS error: the request itself is wrong. Not retried."""


# --- safety and outcome errors -------------------------------------------------------------------
class DeregistrationIneffective(SpotDrainError):
    """A target still reports being in service after it was deregistered.

    The deregistration did not take effect (for example it was sent for the wrong port). The
    workflow never reports such a target as drained.
    """

    redrivable = False


class StaleNotice(SpotDrainError):
    """Deregistration was about to happen after the drain deadline (a late retry, replay or
    redrive): the task is gone by then and its address may belong to another task."""

    redrivable = False

    @classmethod
    def after_deadline(cls, doing: str, deadline: datetime, task_arn: str) -> StaleNotice:
        return cls(
            f"not {doing} after the drain deadline {deadline.isoformat()}: task "
            f"{task_arn} is gone by now and its address may belong to another task"
        )


class TooManyRegistrations(SpotDrainError):
    """The task is registered more times than one execution handles (models.MAX_REGISTRATIONS):
    refused before anything is deregistered, rather than handled in part."""

    redrivable = False


class DrainTimeout(SpotDrainError):
    """Targets were deregistered but had not finished draining by the deadline or attempt limit."""

    redrivable = False


RETRYABLE_ERRORS: tuple[str, ...] = tuple(
    cls.__name__ for cls in SpotDrainError.__subclasses__() if cls.retryable
)
PERMANENT_ERRORS: tuple[str, ...] = tuple(
    cls.__name__ for cls in SpotDrainError.__subclasses__() if not cls.retryable
)
CAUGHT_ERRORS: tuple[str, ...] = tuple(
    cls.__name__ for cls in SpotDrainError.__subclasses__() if not cls.redrivable
)
