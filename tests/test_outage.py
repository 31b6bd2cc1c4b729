"""A server that stopped answering (assistant/servers/outage.py): asked again only after a while, told once."""

from assistant.servers.outage import Outage


def test_a_failed_server_is_skipped_for_a_while_and_an_outage_is_told_once():
    now = [100.0]
    outage = Outage(retry_after_s=30.0, clock=lambda: now[0])
    assert outage.worth_asking()
    assert outage.failed() is True  # the outage begins: tell the user
    now[0] += 29.9
    assert not outage.worth_asking()
    now[0] += 0.1
    assert outage.worth_asking() and outage.failed() is False  # still down: said already
    outage.answered()
    assert outage.worth_asking() and outage.failed() is True  # a new outage is told again
