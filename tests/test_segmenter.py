"""SentenceSegmenter: where streamed replies are cut into speakable chunks, in several languages."""

from __future__ import annotations

import random
import re

import pytest

from assistant.speak.text.segmenter import SegmenterConfig, SentenceSegmenter


def segment_whole(text: str, config: SegmenterConfig = SegmenterConfig()) -> list[str]:
    """The reply in one delta, then flush."""
    seg = SentenceSegmenter(config)
    return seg.push(text) + seg.flush()


def segment_deltas(deltas: list[str], config: SegmenterConfig = SegmenterConfig()) -> list[str]:
    seg = SentenceSegmenter(config)
    chunks: list[str] = []
    for delta in deltas:
        chunks += seg.push(delta)
    return chunks + seg.flush()


def token_like(text: str) -> list[str]:
    """Deltas shaped like a chat model's tokens: a word with its leading space, or one punctuation mark."""
    return re.findall(r"\s*\w+|\s*[^\w\s]|\s+", text)


FEEDS = {
    "whole": lambda text: segment_whole(text),
    "chars": lambda text: segment_deltas(list(text)),
    "tokens": lambda text: segment_deltas(token_like(text)),
}


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- Sentences in several languages ----------------------------------------------------------------------

LANGUAGE_CASES = [
    pytest.param(
        "Hello there. How are you? I'm fine!",
        ["Hello there.", "How are you?", "I'm fine!"],
        id="english",
    ),
    pytest.param(
        "안녕하세요. 오늘 날씨가 좋네요! 산책 갈까요?",
        ["안녕하세요.", "오늘 날씨가 좋네요!", "산책 갈까요?"],
        id="korean",
    ),
    pytest.param(
        "你好。今天天气很好！我们去散步吧？",
        ["你好。", "今天天气很好！", "我们去散步吧？"],
        id="chinese",
    ),
    pytest.param(
        "こんにちは。今日はいい天気ですね！散歩に行きましょうか？",
        ["こんにちは。", "今日はいい天気ですね！", "散歩に行きましょうか？"],
        id="japanese",
    ),
    pytest.param(
        "I love 서울. It's great! 北京也很好。",
        ["I love 서울.", "It's great!", "北京也很好。"],
        id="mixed",
    ),
    pytest.param(
        "Está bien. ¿Vamos? Ça va très bien… Merci.",
        ["Está bien.", "¿Vamos?", "Ça va très bien…", "Merci."],
        id="accented-latin",
    ),
    pytest.param("Wait?! Really!!! Yes.", ["Wait?!", "Really!!!", "Yes."], id="runs-of-enders"),
    pytest.param("他说：「你好。」然后走了。", ["他说：「你好。」", "然后走了。"], id="cjk-closing-bracket"),
    pytest.param("「おはよう！」と言った。", ["「おはよう！」", "と言った。"], id="japanese-closing-bracket"),
    pytest.param("圆周率是３．１４。对吗？", ["圆周率是３．１４。", "对吗？"], id="fullwidth-decimal"),
    pytest.param("你好!我是小明.", ["你好!", "我是小明."], id="ascii-enders-before-han"),
    pytest.param("No trailing ender", ["No trailing ender"], id="no-ender"),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("text", "expected"), LANGUAGE_CASES)
def test_sentences_in_languages(text: str, expected: list[str], feed: str) -> None:
    assert FEEDS[feed](text) == expected


# Scripts whose enders Parley must know: a Hindi reply's first chunk once waited 216 characters for a "."
OTHER_SCRIPT_CASES = [
    pytest.param("मैं ठीक हूँ। आप कैसे हैं? धन्यवाद।", ["मैं ठीक हूँ।", "आप कैसे हैं?", "धन्यवाद।"], id="hindi-danda"),
    pytest.param("हरि ॥ ओम शांति। अंत", ["हरि ॥", "ओम शांति।", "अंत"], id="hindi-double-danda"),
    pytest.param("كيف حالك؟ أنا بخير. شكرا", ["كيف حالك؟", "أنا بخير.", "شكرا"], id="arabic-question-mark"),
    pytest.param("آپ کیسے ہیں؟ میں ٹھیک ہوں۔ شکریہ", ["آپ کیسے ہیں؟", "میں ٹھیک ہوں۔", "شکریہ"], id="urdu-full-stop"),
    pytest.param("Привет. Как дела? Хорошо!", ["Привет.", "Как дела?", "Хорошо!"], id="russian"),
    pytest.param("Γεια σου. Τι κάνεις; Καλά.", ["Γεια σου.", "Τι κάνεις; Καλά."], id="greek-question-mark-is-a-semicolon"),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("text", "expected"), OTHER_SCRIPT_CASES)
def test_sentences_in_other_scripts(text: str, expected: list[str], feed: str) -> None:
    assert FEEDS[feed](text) == expected


def test_arabic_clause_marks_end_the_first_chunk():
    assert segment_whole("مرحبا بك في بيتنا، كيف حالك اليوم؟") == ["مرحبا بك في بيتنا،", "كيف حالك اليوم؟"]


# Abbreviations of the languages Parley speaks: each must not end a sentence.
ABBREVIATION_CASES = [
    pytest.param("El Sr. García llega hoy. Bien.", ["El Sr. García llega hoy.", "Bien."], id="es-sr"),
    pytest.param("La Sra. López y la Srta. Ruiz vienen. Bien.", ["La Sra. López y la Srta. Ruiz vienen.", "Bien."],
                 id="es-sra-srta"),
    pytest.param("Die Dra. Pérez kommt. Gut.", ["Die Dra. Pérez kommt.", "Gut."], id="es-dra"),
    pytest.param("Zum Beispiel z. B. Python. Gut.", ["Zum Beispiel z. B. Python.", "Gut."], id="de-z-b"),
    pytest.param("Das heißt d. h. Schluss. Gut.", ["Das heißt d. h. Schluss.", "Gut."], id="de-d-h"),
    pytest.param("Es kostet ca. 10 Euro. Gut.", ["Es kostet ca. 10 Euro.", "Gut."], id="de-ca"),
    pytest.param("Das ist Nr. 5 der Liste. Gut.", ["Das ist Nr. 5 der Liste.", "Gut."], id="de-nr"),
    pytest.param("Er kam am 3. Juli an. Gut.", ["Er kam am 3. Juli an.", "Gut."], id="de-ordinal-date"),
    pytest.param("Am 24. Dezember feiern wir. Gut.", ["Am 24. Dezember feiern wir.", "Gut."], id="de-ordinal-december"),
    pytest.param("Es waren 3. Dann mehr.", ["Es waren 3.", "Dann mehr."], id="de-number-ends-before-another-word"),
    pytest.param("Hr. Müller und Fr. Schmidt kommen. Gut.", ["Hr. Müller und Fr. Schmidt kommen.", "Gut."],
                 id="de-hr-fr"),
    pytest.param("Mme. Dupont arrive. Bien.", ["Mme. Dupont arrive.", "Bien."], id="fr-mme"),
    pytest.param("Il Dott. Rossi arriva. Bene.", ["Il Dott. Rossi arriva.", "Bene."], id="it-dott"),
    pytest.param("Он живёт на ул. Ленина. Хорошо.", ["Он живёт на ул. Ленина.", "Хорошо."], id="ru-ul"),
    pytest.param("Это было в г. Москва. Хорошо.", ["Это было в г. Москва.", "Хорошо."], id="ru-g"),
    pytest.param("То есть т. е. Пушкин. Хорошо.", ["То есть т. е. Пушкин.", "Хорошо."], id="ru-t-e"),
    pytest.param("We climbed Mt. Everest. Then we rested.", ["We climbed Mt. Everest.", "Then we rested."], id="en-mt"),
    pytest.param("Ft. Worth and Hon. Smith met Fr. Brown and Gen. Lee. Sen. Hill, Capt. Cook and Rev. King too.",
                 ["Ft. Worth and Hon. Smith met Fr. Brown and Gen. Lee.", "Sen. Hill, Capt. Cook and Rev. King too."],
                 id="en-titles"),
    pytest.param("Call at 9:00 a.m. PST tomorrow. Thanks.", ["Call at 9:00 a.m. PST tomorrow.", "Thanks."],
                 id="en-am-time-zone"),
    pytest.param("It ends at 5 p.m. Then we eat.", ["It ends at 5 p.m.", "Then we eat."], id="en-pm-ends"),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("text", "expected"), ABBREVIATION_CASES)
def test_abbreviations_in_languages(text: str, expected: list[str], feed: str) -> None:
    assert FEEDS[feed](text) == expected


# --- Periods that don't end a sentence, and those that do -----------------------------------------------

PERIOD_CASES = [
    pytest.param("Dr. Kim is here. He waits.", ["Dr. Kim is here.", "He waits."], id="dr"),
    pytest.param(
        "Mr. Lee met Mrs. Park and Ms. Choi. Then Prof. Han came.",
        ["Mr. Lee met Mrs. Park and Ms. Choi.", "Then Prof. Han came."],
        id="titles",
    ),
    pytest.param("I live on Main St. Paul lives here too.", ["I live on Main St. Paul lives here too."], id="st"),
    pytest.param("It was Ali vs. Frazier. Great fight.", ["It was Ali vs. Frazier.", "Great fight."], id="vs"),
    pytest.param("Apples, pears etc. and more. Done.", ["Apples, pears etc. and more.", "Done."], id="etc-lowercase"),
    pytest.param("Apples, pears etc. Then more.", ["Apples, pears etc.", "Then more."], id="etc-uppercase"),
    pytest.param("Use one e.g. Python. Or Go.", ["Use one e.g. Python.", "Or Go."], id="eg"),
    pytest.param("Pick one, i.e. This one. Ok.", ["Pick one, i.e. This one.", "Ok."], id="ie"),
    pytest.param(
        "Come at 9 a.m. tomorrow. Or at 5 p.m. Then we eat.",
        ["Come at 9 a.m. tomorrow.", "Or at 5 p.m.", "Then we eat."],
        id="am-pm",
    ),
    pytest.param("J. R. R. Tolkien wrote it. Read it.", ["J. R. R. Tolkien wrote it.", "Read it."], id="initials"),
    pytest.param("So do I. Then we go.", ["So do I.", "Then we go."], id="pronoun-i-is-no-initial"),
    pytest.param("The U.S. Army came. It left.", ["The U.S. Army came.", "It left."], id="dotted-acronym"),
    pytest.param("Pi is 3.14 today. Yes.", ["Pi is 3.14 today.", "Yes."], id="decimal"),
    pytest.param("Install v2.0 now. Then v2.1.", ["Install v2.0 now.", "Then v2.1."], id="version"),
    pytest.param("Meet at 10:30. Bring tea.", ["Meet at 10:30.", "Bring tea."], id="time"),
    pytest.param(
        "Visit example.com/path now. Mail a@b.org. Open report.pdf please.",
        ["Visit example.com/path now.", "Mail a@b.org.", "Open report.pdf please."],
        id="url-email-file",
    ),
    pytest.param("See https://x.org/a.b?c=d. Bye.", ["See https://x.org/a.b?c=d.", "Bye."], id="url-query"),
    pytest.param(
        "Well... I think so. Hmm... maybe not. Well... It works.",
        ["Well... I think so.", "Hmm... maybe not.", "Well...", "It works."],
        id="ellipsis",
    ),
    pytest.param("Wait…what? Fine… Go.", ["Wait…what?", "Fine…", "Go."], id="ellipsis-char"),
    pytest.param("Steps:\n1. First step.\n2. Second step.", ["Steps:", "1. First step.", "2. Second step."], id="list"),
    pytest.param("There are 2. Then more.", ["There are 2.", "Then more."], id="number-mid-line-ends"),
    pytest.param("No. 5 is mine. No. I won't.", ["No. 5 is mine.", "No.", "I won't."], id="no-number"),
    pytest.param('He said "hi." Then he left.', ['He said "hi."', "Then he left."], id="closing-quote"),
    pytest.param("It works (mostly.) Sure.", ["It works (mostly.)", "Sure."], id="closing-bracket"),
    pytest.param("**Note.** This matters.", ["**Note.**", "This matters."], id="closing-emphasis"),
    pytest.param('"Stop!" he said. Ok.', ['"Stop!" he said.', "Ok."], id="lowercase-after-quote"),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("text", "expected"), PERIOD_CASES)
def test_sentence_ends(text: str, expected: list[str], feed: str) -> None:
    assert FEEDS[feed](text) == expected


# --- Lines, markdown and code ----------------------------------------------------------------------------

LINE_CASES = [
    pytest.param(
        "Shopping list:\n- eggs\n- milk\n\nThat's all.",
        ["Shopping list:", "- eggs", "- milk", "That's all."],
        id="bullets",
    ),
    pytest.param("# Title\nSome text here.", ["# Title", "Some text here."], id="heading"),
    pytest.param(
        "| a | b |\n|---|---|\n| 1 | 2 |",
        ["| a | b |", "|---|---|\n| 1 | 2 |"],
        id="table-separator-merged",
    ),
    pytest.param(
        "Here:\n```python\nx = 1.5\nprint(x)\n```\nThat prints 1.5. Done.",
        ["Here:", "```python\nx = 1.5\nprint(x)\n```", "That prints 1.5.", "Done."],
        id="code-fence-one-chunk",
    ),
    pytest.param("See:\n```\nunclosed. Code.\nMore", ["See:", "```\nunclosed. Code.\nMore"], id="unclosed-fence"),
    pytest.param("Hi there.\n---\nBye now.", ["Hi there.", "---\nBye now."], id="rule-merged"),
    pytest.param(
        "1. Install:\n    ```bash\n    pip install x\n    ```\n2. Run it.",
        ["1. Install:", "```bash\n    pip install x\n    ```", "2. Run it."],
        id="indented-fence",
    ),
    pytest.param(
        "```x``` is inline. Next one.\nMore.",
        ["```x``` is inline.", "Next one.", "More."],
        id="one-line-backticks-are-no-fence",
    ),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("text", "expected"), LINE_CASES)
def test_lines_and_markdown(text: str, expected: list[str], feed: str) -> None:
    assert FEEDS[feed](text) == expected


def test_long_code_block_is_not_force_split() -> None:
    code = "```\n" + "\n".join(f"x{i} = {i}" for i in range(100)) + "\n```"
    assert len(code) > 220
    assert segment_whole("Code:\n" + code + "\nEnd.") == ["Code:", code, "End."]


# --- Early first chunk -----------------------------------------------------------------------------------

CLAUSE_CASES = [
    pytest.param(
        "Well, the capital of France, as you know, is Paris. Yes, of course, it is.",
        ["Well, the capital of France,", "as you know, is Paris.", "Yes, of course, it is."],
        id="only-first-chunk",
    ),
    pytest.param("Sure, I can help. Ok.", ["Sure, I can help.", "Ok."], id="clause-too-short"),
    pytest.param(
        "The numbers 1,000 and 10:30 stay, unsplit here.",
        ["The numbers 1,000 and 10:30 stay,", "unsplit here."],
        id="comma-and-colon-in-numbers",
    ),
    pytest.param(
        "The real answer — as always — is simple.",
        ["The real answer —", "as always — is simple."],
        id="em-dash",
    ),
    pytest.param(
        "今天的天气真的非常非常好，我们一起去公园散步吧。",
        ["今天的天气真的非常非常好，", "我们一起去公园散步吧。"],
        id="chinese-comma",
    ),
    pytest.param(
        "오늘은 날씨가 정말 좋아서, 산책하기 좋은 날이에요.",
        ["오늘은 날씨가 정말 좋아서,", "산책하기 좋은 날이에요."],
        id="korean-comma",
    ),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(("text", "expected"), CLAUSE_CASES)
def test_early_first_chunk(text: str, expected: list[str], feed: str) -> None:
    assert FEEDS[feed](text) == expected


def test_early_chunk_is_emitted_as_soon_as_the_clause_is_certain() -> None:
    seg = SentenceSegmenter()
    assert seg.push("Well, the capital of France,") == []  # "," before a digit wouldn't be a clause
    assert seg.push(" as") == ["Well, the capital of France,"]


def test_first_chunk_min_chars_is_configurable() -> None:
    config = SegmenterConfig(first_chunk_min_chars=5)
    assert segment_whole("Sure, I can help.", config) == ["Sure,", "I can help."]


# --- Run-on text -----------------------------------------------------------------------------------------

RUN_ON_WORDS = " ".join(f"word{i:03d}" for i in range(76))  # 607 chars, no punctuation


def test_run_on_text_is_split_at_spaces_below_the_limit() -> None:
    assert len(RUN_ON_WORDS) > 600
    chunks = segment_whole(RUN_ON_WORDS)
    assert [len(chunk) for chunk in chunks] == [215, 215, 175]  # 27 + 27 + 22 words
    assert " ".join(chunks) == RUN_ON_WORDS  # cut only between words


def test_run_on_text_prefers_a_late_clause_mark() -> None:
    text = " ".join(f"w{i:03d}" for i in range(30)) + ", " + " ".join(f"v{i:03d}" for i in range(40))
    chunks = segment_whole(text, SegmenterConfig(first_chunk_min_chars=1000))
    assert chunks[0].endswith("w029,")
    assert all(len(chunk) <= 220 for chunk in chunks)


def test_run_on_cjk_is_split_between_characters() -> None:
    text = "很好" * 300
    chunks = segment_whole(text)
    assert [len(chunk) for chunk in chunks] == [220, 220, 160]
    assert "".join(chunks) == text


def test_run_on_text_is_split_while_streaming() -> None:
    seg = SentenceSegmenter()
    emitted = []
    for delta in token_like(RUN_ON_WORDS):
        emitted += seg.push(delta)
    assert len(emitted) == 2  # before the reply ends, the voice already has two chunks
    assert emitted == segment_whole(RUN_ON_WORDS)[:2]


# --- The result doesn't depend on how the reply was split into deltas ------------------------------------

PROPERTY_TEXTS = [
    " ".join(str(param.values[0]) for param in LANGUAGE_CASES + PERIOD_CASES),
    "\n".join(str(param.values[0]) for param in LINE_CASES + CLAUSE_CASES),
    "Hmm... I see. " + RUN_ON_WORDS + ". And 你好。" + "很好" * 150 + "！ Dr. Who? 3.14... Ok.\n\n- a\n- b",
]


@pytest.mark.parametrize("text", PROPERTY_TEXTS, ids=["sentences", "markdown", "run-on"])
def test_same_chunks_whatever_the_split(text: str) -> None:
    expected = segment_whole(text)
    assert no_space("".join(expected)) == no_space(text)  # nothing lost, nothing duplicated
    rng = random.Random(1234)
    for _ in range(25):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, len(text) // 3)))
        deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        assert segment_deltas(deltas) == expected


@pytest.mark.parametrize(("text", "expected"), LANGUAGE_CASES[:1] + PERIOD_CASES + CLAUSE_CASES[:3])
def test_western_chunks_keep_word_spacing(text: str, expected: list[str]) -> None:
    """Western text is only cut at whitespace: joining the chunks with spaces restores the words."""
    assert " ".join(segment_whole(text)) == " ".join(text.split())


# --- Streaming, flush, reset -----------------------------------------------------------------------------


def test_western_end_waits_for_the_next_character() -> None:
    seg = SentenceSegmenter()
    assert seg.push("It costs 3.") == []  # "3.5" is still possible
    assert seg.push(" ") == []  # "Dr. Kim" is still possible
    assert seg.push("And") == ["It costs 3."]


def test_abbreviation_continues_when_the_name_arrives() -> None:
    seg = SentenceSegmenter()
    assert seg.push("Dr") == []
    assert seg.push(". K") == []
    assert seg.push("im is") == []
    assert seg.push(" here.") == []
    assert seg.flush() == ["Dr. Kim is here."]


def test_cjk_end_waits_only_for_one_character() -> None:
    seg = SentenceSegmenter()
    assert seg.push("你好。") == []  # a closing 」 could follow
    assert seg.push("今") == ["你好。"]


def test_newline_ends_a_chunk_immediately() -> None:
    seg = SentenceSegmenter()
    assert seg.push("- first item\n") == ["- first item"]


def test_flush_returns_the_pending_sentence() -> None:
    seg = SentenceSegmenter()
    assert seg.push("All done.") == []
    assert seg.flush() == ["All done."]
    assert seg.flush() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Bye now. :)", ["Bye now."], id="smiley-tail-dropped"),
        pytest.param("Bye now. 🎉🎉", ["Bye now."], id="emoji-tail-dropped"),
        pytest.param("   \n\n ", [], id="whitespace-only"),
        pytest.param("", [], id="empty"),
        pytest.param("A", ["A"], id="single-letter-kept"),
        pytest.param("Ok!!! ... !!! Fine.", ["Ok!!!", "... !!! Fine."], id="punctuation-merged-forward"),
    ],
)
def test_flush_keeps_only_speakable_text(text: str, expected: list[str]) -> None:
    assert segment_whole(text) == expected


def test_flush_starts_a_new_reply() -> None:
    seg = SentenceSegmenter()
    seg.push("First reply, which is long enough, ends here.")
    seg.flush()
    # A new reply gets its early first chunk again, and "1." is at a line start again.
    assert seg.push("Well, the capital of France, as") == ["Well, the capital of France,"]
    assert seg.flush() == ["as"]
    assert segment_deltas(["1. Start here."]) == ["1. Start here."]


def test_reset_drops_the_buffer() -> None:
    seg = SentenceSegmenter()
    assert seg.push("Half a sent") == []
    seg.reset()
    assert seg.push("New one. Ne") == ["New one."]
    assert seg.flush() == ["Ne"]


def test_reset_restores_the_early_first_chunk() -> None:
    seg = SentenceSegmenter()
    assert seg.push("Hello there. ") == []
    assert seg.push("Next") == ["Hello there."]
    seg.reset()
    assert seg.push("Well, the capital of France, is") == ["Well, the capital of France,"]


def test_chunks_are_never_only_punctuation() -> None:
    chunks = segment_whole("Hi.\n...\n!!!\n---\nOk then. ?! Right.")
    assert chunks == ["Hi.", "...\n!!!\n---\nOk then.", "?! Right."]


def test_invalid_config_is_rejected() -> None:
    with pytest.raises(ValueError):
        SegmenterConfig(max_chunk_chars=0)
