"""The answer-prefix search on hand-made answers whose right opening is known."""

from inbedder.encoding.answer_prefix import evenly_spaced, shared_opening, uninformative

WORDS = ["<eos>", "The", " sentiment", " of", " the", " review", " is", " positive", " negative", " reviewer",
         " discussing", " restaurant", "'s", " food", " ambiance", " price", " mixed"]
ID = {word: index for index, word in enumerate(WORDS)}


def _ids(*words):
    return [ID[word] for word in words]


def _decode(ids):
    return "".join(WORDS[i] for i in ids)


def test_the_question_echo_is_found_and_the_answer_is_left_out():
    opening = ("The", " sentiment", " of", " the", " review", " is")
    answers = [_ids(*opening, " positive")] * 7 + [_ids(*opening, " negative")] * 3
    found = shared_opening(answers, _decode, "What is the sentiment of the review?", {0})
    assert _decode(found) == "The sentiment of the review is"  # 70% say positive, but it is content


def test_a_plurality_of_framing_words_is_followed_but_content_stops_it():
    frame = ("The", " reviewer", " is", " discussing", " the", " restaurant", "'s")
    answers = [_ids(*frame, " food")] * 4 + [_ids(*frame, " ambiance")] * 3 + [_ids("The", " reviewer", " is", " mixed")] * 3
    found = shared_opening(answers, _decode, "What aspect of the restaurant is the reviewer talking about?", {0})
    assert _decode(found) == "The reviewer is discussing the restaurant's"


def test_no_shared_opening_gives_an_empty_prefix():
    answers = [_ids(" food"), _ids(" price"), _ids(" ambiance"), _ids("<eos>")]
    assert shared_opening(answers, _decode, "What is it about?", {0}) == []
    assert shared_opening([], _decode, "What is it about?", {0}) == []


def test_uninformative_and_sampling():
    assert uninformative(" the", "What?") and uninformative(" review", "Rate the review") and uninformative(",", "q")
    assert not uninformative(" food", "What aspect is it about?")
    texts = [str(i) for i in range(100)]
    assert evenly_spaced(texts, 4) == ["0", "25", "50", "75"] and evenly_spaced(texts[:3], 4) == texts[:3]
