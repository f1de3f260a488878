"""Retry with exponential backoff for flaky network calls."""
import functools
import random
import time


class RetryError(Exception):
    """All attempts failed; the last exception is the cause."""


def retry(attempts=4, base_delay=0.2, max_delay=5.0, retry_on=(ConnectionError, TimeoutError), sleep=time.sleep):
    """Decorate a function so it is retried on the given exceptions.

    The delay doubles after each failure, with full jitter, and never
    exceeds ``max_delay`` seconds.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            delay = base_delay
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except retry_on as exc:
                    if attempt == attempts:
                        raise RetryError(f"{fn.__name__} failed {attempts} times") from exc
                    sleep(random.uniform(0, delay))
                    delay = min(max_delay, delay * 2)
        return wrapper

    return decorator


def test_retry_gives_up():
    calls = []

    @retry(attempts=3, sleep=lambda _s: None)
    def flaky():
        calls.append(1)
        raise ConnectionError("down")

    try:
        flaky()
    except RetryError:
        pass
    assert len(calls) == 3
