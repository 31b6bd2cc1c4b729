"""The tray icon (offscreen): one distinct icon per state, the state in words, and a menu that forwards choices."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from ui.tray import Tray  # noqa: E402
from ui.tray_icons import LABELS, TrayState, state_color, state_icon  # noqa: E402


def _center_color(state: TrayState):
    image = state_icon(state, 64).pixmap(64, 64).toImage()
    return image.pixelColor(6, 32)  # on the badge, clear of the glyph


def test_every_state_has_its_own_badge_colour(qapp):
    colours = {state: _center_color(state).name() for state in TrayState}
    for state, colour in colours.items():
        assert colour == state_color(state).name(), state
    assert len({colours[s] for s in (TrayState.LISTENING, TrayState.USER_SPEAKING, TrayState.THINKING,
                                     TrayState.SPEAKING, TrayState.ERROR)}) == 5


def test_state_shows_in_tooltip_and_menu(qapp):
    tray = Tray()
    tray.show_state(TrayState.THINKING)
    assert tray.icon.toolTip() == "Parley: " + LABELS[TrayState.THINKING]
    assert tray.status_action.text() == LABELS[TrayState.THINKING]
    assert tray.stop_action.isEnabled()
    tray.show_state(TrayState.ERROR, "the microphone stopped")
    assert "the microphone stopped" in tray.icon.toolTip()
    assert not tray.stop_action.isEnabled()


@pytest.mark.parametrize("text, signal", [("&Settings…", "settings_requested"), ("&Conversation…", "conversation_requested"),
                                          ("&Reset conversation", "reset_requested"), ("&Quit Parley", "quit_requested"),
                                          ("Sto&p speaking", "stop_requested")])
def test_menu_items_emit_their_signals(qapp, qtbot, text, signal):
    tray = Tray()
    tray.show_state(TrayState.SPEAKING)
    action = next(a for a in tray.menu.actions() if a.text() == text)
    with qtbot.waitSignal(getattr(tray, signal), timeout=1000):
        action.trigger()


def test_talk_toggles_between_start_and_done(qapp, qtbot):
    tray = Tray()
    tray.show_state(TrayState.LISTENING)
    with qtbot.waitSignal(tray.talk_toggled, timeout=1000) as started:
        tray.talk_action.trigger()
    assert started.args == [True] and tray.talk_action.text() == "&Done talking"
    tray.show_state(TrayState.USER_SPEAKING)
    with qtbot.waitSignal(tray.talk_toggled, timeout=1000) as ended:
        tray.talk_action.trigger()
    assert ended.args == [False] and tray.talk_action.text() == "&Talk"


def test_mute_and_hands_free_reflect_the_session_without_echoing_back(qapp, qtbot):
    tray = Tray()
    with qtbot.assertNotEmitted(tray.mute_toggled), qtbot.assertNotEmitted(tray.mode_chosen):
        tray.set_checks(muted=True, mode="wake_word")
    assert tray.mute_action.isChecked() and tray.mode_actions["wake_word"].isChecked()
    assert not tray.mode_actions["hands_free"].isChecked() and not tray.mode_actions["push_to_talk"].isChecked()
    with qtbot.waitSignal(tray.mute_toggled, timeout=1000) as toggled:
        tray.mute_action.trigger()
    assert toggled.args == [False]


def test_running_timers_show_in_the_menu_and_choosing_one_cancels_it(qapp, qtbot, tmp_path):
    import time

    from assistant.tools.timers import Timer, TimerBook

    book = TimerBook(tmp_path / "timers.json")
    book.add(Timer("tea", "timer", time.time() + 299.5, 300, "tea"))
    book.add(Timer("wake", "alarm", time.time() + 3600, 0))
    tray = Tray()
    tray.timers_source = book.running
    tray.timer_cancelled.connect(lambda ident: book.remove({ident}))
    tray.menu.aboutToShow.emit()
    texts = [action.text() for action in tray.menu.actions()]
    assert texts[1] == "Cancel the tea timer (0:04:59 left)" and texts[2].startswith("Cancel an alarm at ")
    assert texts.index("&Talk") > 2  # under the status line, above the rest of the menu
    with qtbot.waitSignal(tray.timer_cancelled):
        tray.menu.actions()[1].trigger()
    assert [t.id for t in book.running()] == ["wake"]
    tray.menu.aboutToShow.emit()
    assert [a.text() for a in tray.menu.actions()].count("Cancel the tea timer (0:04:59 left)") == 0
