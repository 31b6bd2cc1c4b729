"""The language benchmark's measure (benchmarks/languages.py): character error rates over the test recordings."""

from benchmarks.languages import characters, error_rate, recordings


def test_the_character_error_rate_leaves_punctuation_and_spaces_out():
    assert characters("한국의 수도는, 서울!") == list("한국의수도는서울")
    assert error_rate([("한국의 수도는 서울입니다.", "한국의 수도는 서울 입니다")]) == 0.0
    assert error_rate([("我想喝一杯水。", "我想喝一杯水")]) == 0.0
    assert error_rate([("今天很好", "金天很好"), ("北京", "")]) == round(3 / 6, 3)  # summed over the pairs


def test_the_word_error_rate_of_english():
    assert error_rate([("What is the capital of France?", "what is the capital of francis")], words=True) == round(1 / 6, 3)


def test_every_recording_has_its_reference():
    korean, chinese = recordings("ko"), recordings("zh")
    assert len(korean) == 10 and len(chinese) == 3
    assert all(text and not text.startswith("\ufeff") for _, text in korean + chinese)  # (the Korean have a BOM)
    assert ("kih00002", "괜찮을 거예요. 긴장 푸세요.") in [(path.stem, text) for path, text in korean]
