"""The turn's state machine (assistant/conversation/machine.py), fed events: every transition, no audio, no
threads. Each test names the path it walks and checks the phase, the published state and the commands."""

from __future__ import annotations

import pytest

from assistant.conversation import turn_events as m
from assistant.conversation.machine import Phase, TurnMachine
from assistant.runtime.events import State

KEY = (10, 40)  # an utterance: first frame, last voiced frame
LATER = (10, 55)


def _machine(**options) -> TurnMachine:
    machine = TurnMachine(**options)
    machine.handle(m.HandsFree(machine.hands_free))
    return machine


def _kinds(commands) -> list[str]:
    return [type(command).__name__ for command in commands if not isinstance(command, m.Publish)]


def _states(commands) -> list[State]:
    return [command.state for command in commands if isinstance(command, m.Publish)]


def _speaking(machine: TurnMachine) -> int:
    """A question asked, answered and voiced: the reply plays. Returns its turn."""
    machine.handle(m.SpeechStarted())
    machine.handle(m.TurnEnded(KEY))
    turn = machine.turn
    machine.handle(m.Transcribed(turn, words=True))
    machine.handle(m.Voiced(turn))
    assert machine.phase is Phase.SPEAKING
    return turn


def test_resting_state_is_listening_idle_or_muted():
    assert _states(TurnMachine().handle(m.HandsFree(True))) == [State.LISTENING]
    assert TurnMachine(listening=False).resting_state() is State.IDLE
    assert TurnMachine(hands_free=False).resting_state() is State.IDLE
    muted = _machine()
    assert _states(muted.handle(m.Mute(True))) == [State.MUTED]
    assert _states(muted.handle(m.HandsFree(False))) == []  # (muted wins)
    assert _states(muted.handle(m.Mute(False))) == [State.IDLE]


def test_a_question_is_heard_transcribed_answered_voiced_and_played_out():
    machine = _machine()
    assert _states(machine.handle(m.SpeechStarted())) == [State.USER_SPEAKING]
    assert machine.phase is Phase.HEARING
    commands = machine.handle(m.TurnEnded(KEY))
    assert _kinds(commands) == ["Transcribe"] and commands[0].key == KEY
    assert _states(commands) == [State.THINKING] and machine.busy
    turn = machine.turn
    commands = machine.handle(m.Transcribed(turn, words=True))
    assert _kinds(commands) == ["Answer"] and commands[0].turn == turn
    assert _kinds(machine.handle(m.Voiced(turn))) == ["PlayPieces"]
    assert machine.phase is Phase.SPEAKING and machine.published is State.SPEAKING
    assert _kinds(machine.handle(m.Voiced(turn))) == ["PlayPieces"]
    assert _kinds(machine.handle(m.PlayedOut(turn))) == []  # still generating: not over
    machine.handle(m.VoicingDone(turn))
    commands = machine.handle(m.PlayedOut(turn))
    assert _kinds(commands) == ["Finish"] and _states(commands) == [State.LISTENING]
    assert not machine.busy and machine.reply is None


def test_a_turn_with_no_words_goes_back_to_listening():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.TurnEnded(KEY))
    commands = machine.handle(m.Transcribed(machine.turn, words=False))
    assert _kinds(commands) == [] and _states(commands) == [State.LISTENING] and not machine.busy


def test_too_short_a_sound_goes_back_to_listening():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    assert _states(machine.handle(m.TooShort())) == [State.LISTENING]


def test_speech_over_a_reply_pauses_it_and_a_false_alarm_resumes_it():
    machine = _machine()
    turn = _speaking(machine)
    commands = machine.handle(m.SpeechStarted())
    assert _kinds(commands) == ["PausePlayback"] and commands[0].turn == turn
    assert machine.phase is Phase.PAUSED and _states(commands) == [State.USER_SPEAKING]
    assert _kinds(machine.handle(m.Voiced(turn))) == []  # paused: voiced pieces wait
    commands = machine.handle(m.TooShort())
    assert _kinds(commands) == ["ResumeWhenQuiet"] and machine.reply.paused  # (a moment's quiet first)
    assert machine.phase is Phase.SPEAKING
    commands = machine.handle(m.Quiet(turn))
    assert _kinds(commands) == ["ResumePlayback"] and not machine.reply.paused


def test_speech_in_the_quiet_before_a_false_alarm_resumes_keeps_the_reply_paused():
    machine = _machine()
    turn = _speaking(machine)
    machine.handle(m.SpeechStarted())
    machine.handle(m.TooShort())
    assert _kinds(machine.handle(m.SpeechStarted())) == []  # (paused already: no second barge-in)
    assert machine.phase is Phase.PAUSED
    assert _kinds(machine.handle(m.Quiet(turn))) == []  # someone speaks: that decides
    assert _kinds(machine.handle(m.Voiced(turn))) == []
    assert _kinds(machine.handle(m.TooShort())) == ["ResumeWhenQuiet"]
    assert _kinds(machine.handle(m.Quiet(turn))) == ["ResumePlayback"]


def test_a_paused_reply_stops_generating_while_the_new_words_are_transcribed_and_resumes_if_there_were_none():
    machine = _machine()
    turn = _speaking(machine)
    machine.handle(m.SpeechStarted())
    commands = machine.handle(m.TurnEnded(LATER))
    assert _kinds(commands) == ["StopGenerating", "Transcribe"] and commands[0].turn == turn
    commands = machine.handle(m.Transcribed(machine.turn, words=False))  # (its echo, or a cough)
    assert _kinds(commands) == ["ResumeWhenQuiet"] and commands[0].turn == turn and machine.phase is Phase.SPEAKING
    commands = machine.handle(m.Quiet(turn))
    assert _kinds(commands) == ["ResumePlayback"] and commands[0].turn == turn


def test_a_paused_reply_stays_paused_when_no_words_were_heard_but_the_user_speaks_again():
    machine = _machine()
    old = _speaking(machine)
    machine.handle(m.SpeechStarted())
    machine.handle(m.TurnEnded(KEY))  # "Stop," (a word Whisper often hears as nothing)
    first = machine.turn
    machine.handle(m.SpeechStarted())  # "stop, tell me something else."
    commands = machine.handle(m.Transcribed(first, words=False))
    assert _kinds(commands) == [] and machine.reply.paused and machine.phase is Phase.PAUSED
    machine.handle(m.TurnEnded(LATER))
    commands = machine.handle(m.Transcribed(machine.turn, words=True))
    assert _kinds(commands) == ["CancelReply", "Answer"] and commands[0].turn == old
    # …and had that speech held no words either, the reply would have played on from where it stopped.
    machine = _machine()
    _speaking(machine)
    machine.handle(m.SpeechStarted())
    machine.handle(m.TurnEnded(KEY))
    first = machine.turn
    machine.handle(m.SpeechStarted())
    machine.handle(m.Transcribed(first, words=False))
    assert _kinds(machine.handle(m.TooShort())) == ["ResumeWhenQuiet"] and machine.phase is Phase.SPEAKING


def test_a_real_question_over_a_reply_cancels_it_and_is_answered():
    machine = _machine()
    old = _speaking(machine)
    machine.handle(m.SpeechStarted())
    machine.handle(m.TurnEnded(LATER))
    new = machine.turn
    commands = machine.handle(m.Transcribed(new, words=True))
    assert _kinds(commands) == ["CancelReply", "Answer"]
    assert commands[0].turn == old and commands[0].paused and commands[1].turn == new
    assert machine.reply.turn == new and machine.phase is Phase.THINKING


def test_a_reply_begun_at_a_pause_is_held_then_released_when_the_turn_ends_there():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    commands = machine.handle(m.Paused(KEY))
    assert _kinds(commands) == ["AnswerEarly"] and machine.phase is Phase.MAYBE_FINISHED
    assert _states(commands) == []  # (still the user's turn, as far as anyone can tell)
    turn = machine.turn
    assert _kinds(machine.handle(m.Paused(KEY))) == []  # a later pause in the same silence
    assert _kinds(machine.handle(m.Transcribed(turn, words=True))) == ["Answer"]
    assert _kinds(machine.handle(m.Voiced(turn))) == []  # held: nothing plays
    commands = machine.handle(m.TurnEnded(KEY))
    assert _kinds(commands) == ["Release"] and _states(commands) == [State.SPEAKING]
    assert _kinds(machine.handle(m.Voiced(turn))) == ["PlayPieces"]


def test_the_turn_can_end_at_the_pause_before_its_words_are_known():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.Paused(KEY))
    turn = machine.turn
    commands = machine.handle(m.TurnEnded(KEY))
    assert _kinds(commands) == [] and _states(commands) == [State.THINKING]
    assert _kinds(machine.handle(m.Transcribed(turn, words=True))) == ["Answer", "Release"]


def test_a_held_reply_is_dropped_unheard_when_the_user_goes_on():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.Paused(KEY))
    held = machine.turn
    machine.handle(m.Transcribed(held, words=True))
    commands = machine.handle(m.WentOn())
    assert _kinds(commands) == ["DropHeld"] and commands[0].turn == held and machine.phase is Phase.HEARING
    assert _kinds(machine.handle(m.Voiced(held))) == []  # stale
    commands = machine.handle(m.TurnEnded(LATER))
    assert _kinds(commands) == ["Transcribe"] and machine.turn != held


def test_a_held_reply_of_another_pause_is_dropped_when_the_turn_ends_elsewhere():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.Paused(KEY))
    held = machine.turn
    commands = machine.handle(m.TurnEnded(LATER))
    assert _kinds(commands) == ["DropHeld", "Transcribe"] and commands[0].turn == held


def test_a_later_pause_replaces_the_held_reply():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.Paused(KEY))
    first = machine.turn
    commands = machine.handle(m.Paused(LATER))
    assert _kinds(commands) == ["DropHeld", "AnswerEarly"] and commands[0].turn == first


def test_a_held_pause_with_no_words_is_transcribed_again_when_the_turn_ends():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.Paused(KEY))
    machine.handle(m.Transcribed(machine.turn, words=False))
    assert machine.reply is None
    assert _kinds(machine.handle(m.TurnEnded(KEY))) == ["Transcribe"]


@pytest.mark.parametrize("setup", ["no early transcript", "speculation off", "a turn pending"])
def test_no_reply_is_begun_at_a_pause_without_its_words_or_while_busy(setup):
    machine = _machine(speculative_start=setup != "speculation off")
    if setup == "a turn pending":
        machine.handle(m.SpeechStarted())
        machine.handle(m.TurnEnded(KEY))
    machine.handle(m.SpeechStarted())
    assert _kinds(machine.handle(m.Paused(LATER, early=setup != "no early transcript"))) == []


def test_a_stale_transcript_is_dropped():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.TurnEnded(KEY))
    old = machine.turn
    machine.handle(m.Typed("never mind"))
    assert _kinds(machine.handle(m.Transcribed(old, words=True))) == []
    assert machine.reply.turn == machine.turn != old


def test_push_to_talk_interrupts_records_and_transcribes_on_release():
    machine = _machine(hands_free=False)
    turn = _speaking(machine)
    commands = machine.handle(m.PushToTalk(True))
    assert _kinds(commands) == ["CancelReply", "Recording"] and commands[0].turn == turn and not commands[0].paused
    assert machine.phase is Phase.HEARING and machine.busy
    assert _kinds(machine.handle(m.PushToTalk(True))) == []  # (a key repeat)
    commands = machine.handle(m.PushToTalk(False, audio=True))
    assert _kinds(commands) == ["Recording", "Transcribe"] and commands[1].key is None


def test_push_to_talk_released_at_once_is_no_turn():
    machine = _machine(hands_free=False)
    machine.handle(m.PushToTalk(True))
    commands = machine.handle(m.PushToTalk(False, audio=False))
    assert _kinds(commands) == ["Recording"] and _states(commands) == [State.IDLE] and not machine.busy


def test_push_to_talk_makes_a_turn_still_being_transcribed_stale():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.TurnEnded(KEY))
    pending = machine.turn
    machine.handle(m.PushToTalk(True))
    assert _kinds(machine.handle(m.Transcribed(pending, words=True))) == []


def test_a_typed_turn_interrupts_the_reply_and_is_answered():
    machine = _machine()
    old = _speaking(machine)
    commands = machine.handle(m.Typed("and the moon?"))
    assert _kinds(commands) == ["CancelReply", "Answer"] and commands[0].turn == old
    assert _states(commands) == [State.THINKING]


def test_stop_ends_the_reply_and_drops_a_held_one():
    machine = _machine()
    _speaking(machine)
    commands = machine.handle(m.StopReply())
    assert _kinds(commands) == ["CancelReply"] and _states(commands) == [State.LISTENING]
    machine.handle(m.SpeechStarted())
    machine.handle(m.Paused(KEY))
    assert _kinds(machine.handle(m.StopReply())) == ["DropHeld"]
    assert _kinds(machine.handle(m.StopReply())) == []


def test_muting_resumes_a_paused_reply_and_drops_a_held_one():
    machine = _machine()
    _speaking(machine)
    machine.handle(m.SpeechStarted())
    commands = machine.handle(m.Mute(True))
    assert _kinds(commands) == ["ResumePlayback"] and machine.phase is Phase.SPEAKING
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.Paused(KEY))
    commands = machine.handle(m.Mute(True))
    assert _kinds(commands) == ["DropHeld"] and _states(commands) == [State.MUTED]


def test_muting_while_the_key_is_down_stops_the_recording():
    machine = _machine(hands_free=False)
    machine.handle(m.PushToTalk(True))
    commands = machine.handle(m.Mute(True))
    assert _kinds(commands) == ["Recording"] and not machine.ptt and _states(commands) == [State.MUTED]


def test_the_wake_word_stops_a_reply_or_chimes():
    machine = _machine()
    commands = machine.handle(m.WakeWord())
    assert _kinds(commands) == ["Chime"] and _states(commands) == [State.USER_SPEAKING]
    machine = _machine()
    turn = _speaking(machine)
    commands = machine.handle(m.WakeWord())
    assert _kinds(commands) == ["CancelReply"] and commands[0].turn == turn


def test_a_turn_not_meant_for_parley_drops_the_held_reply_and_listens():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.Paused(KEY))
    commands = machine.handle(m.NotForUs())
    assert _kinds(commands) == ["DropHeld"] and _states(commands) == [State.LISTENING]


def test_an_empty_reply_finishes_without_waiting_for_the_speaker():
    machine = _machine()
    machine.handle(m.Typed("…"))
    commands = machine.handle(m.VoicingDone(machine.turn))
    assert _kinds(commands) == ["Finish"] and _states(commands) == [State.LISTENING]


def test_a_failed_turn_goes_back_to_listening_and_a_stale_failure_changes_nothing():
    machine = _machine()
    machine.handle(m.SpeechStarted())
    machine.handle(m.TurnEnded(KEY))
    assert _states(machine.handle(m.Failed(machine.turn - 5))) == []
    assert _states(machine.handle(m.Failed(machine.turn))) == [State.LISTENING] and not machine.busy


def test_a_lost_speaker_moves_an_unheard_reply_and_ends_a_heard_one():
    machine = _machine()
    turn = _speaking(machine)
    assert _kinds(machine.handle(m.SpeakerLost(heard=False))) == ["MoveReply"]
    commands = machine.handle(m.SpeakerLost(heard=True))
    assert _kinds(commands) == ["CancelReply"] and commands[0].turn == turn and _states(commands) == [State.LISTENING]


def test_states_are_published_once_each_in_order():
    machine = _machine()
    published = []
    for event in (m.SpeechStarted(), m.SpeechStarted(), m.TurnEnded(KEY)):
        published += _states(machine.handle(event))
    turn = machine.turn
    for event in (m.Transcribed(turn, True), m.Voiced(turn), m.Voiced(turn), m.VoicingDone(turn), m.PlayedOut(turn)):
        published += _states(machine.handle(event))
    assert published == [State.USER_SPEAKING, State.THINKING, State.SPEAKING, State.LISTENING]


def test_words_so_far_are_shown_only_while_a_turn_is_spoken():
    machine = _machine()
    assert _kinds(machine.handle(m.HeardSoFar("before"))) == []  # nobody speaks: a late pass of an old turn
    machine.handle(m.SpeechStarted())
    commands = machine.handle(m.HeardSoFar("What is"))
    assert _kinds(commands) == ["ShowWords"] and commands[0].text == "What is" and _states(commands) == []
    machine.handle(m.Paused(KEY))
    assert machine.phase is Phase.MAYBE_FINISHED and _kinds(machine.handle(m.HeardSoFar("What is the"))) == ["ShowWords"]
    machine.handle(m.TurnEnded(KEY))
    assert _kinds(machine.handle(m.HeardSoFar("What is the"))) == []  # the turn's own transcript takes over
    paused = _machine()
    _speaking(paused)
    paused.handle(m.SpeechStarted())
    assert paused.phase is Phase.PAUSED and _kinds(paused.handle(m.HeardSoFar("the reply's echo"))) == []
