"""Korean text as Kokoro's phonemes (assistant/speak/korean_phonemes.py) and Korean numbers as words
(korean_numbers.py): the sound changes of standard pronunciation, and the two sets of numbers."""

import pytest

from assistant.speak.korean_numbers import numbers_in_korean
from assistant.speak.korean_phonemes import korean_phonemes


@pytest.mark.parametrize("text, phonemes", [
    ("한국의 수도는 서울입니다.", "hanɡuɡɛ sudonɯn sʌuɾimnida."),  # 의 as 에, 입니다 nasalised, ㄹ linked
    ("물 한 잔", "mul han ʥan"),  # a final ㄹ is l; a plain stop after a voiced sound is voiced, across words too
    ("같이 없어 읽고 축하", "kaʨʰi ʌpsʌ ilko ʨʰukʰa"),  # palatalised, linked, tensed, aspirated
    ("국물 신라", "kuŋmul ɕilla"),  # nasalised; ㄴㄹ is ㄹㄹ
    ("깨 빵 떡 쌀 짜", "kɛ paŋ tʌk sal ʨa"),  # tense consonants as plain unvoiced ones
])
def test_the_sound_changes_are_written(text, phonemes):
    assert korean_phonemes(text) == phonemes


@pytest.mark.parametrize("text, said", [
    ("오후 3시 30분입니다.", "오후 세 시 삼십 분입니다."),  # native hours, Sino-Korean minutes
    ("사과 2개, 21살, 20명", "사과 두 개, 스물한 살, 스무 명"),
    ("2026년 6월 10일", "이천이십육 년 유월 십 일"), ("10월", "시월"),
    ("인구는 51,740,000명", "인구는 오천백칠십사만 명"), ("3.5%", "삼 점 오 퍼센트"), ("-5도", "마이너스 오 도"),
])
def test_numbers_are_said_with_the_set_that_fits(text, said):
    assert numbers_in_korean(text) == said


def test_latin_words_inside_korean_are_read_as_english():
    phonemes = korean_phonemes("Google 회의가")
    assert phonemes.endswith("hwɛiɡa") and phonemes.startswith("ɡ") and "ˈ" in phonemes  # English stress marks
