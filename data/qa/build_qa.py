"""Build the generated QA training triples (issue #15, "Data" lever) — deterministic, seeded.

    python data/qa/build_qa.py            # writes qa_generated_a.jsonl, qa_generated_b.jsonl, qa_generated_summary.json
    python data/qa/build_qa.py --check    # rebuild in memory, fail unless byte-identical

Every passage is composed here from sentence templates with slot values drawn by a seeded
generator, and every answer is a slot value the passage states (or "none" when the passage
leaves that slot out: the negatives). No text comes from any evaluation set: a passage sharing
an 8-word window with any file under data/eval/ or data/reviews.csv is discarded and redrawn
(the build prints how many; ``tests/finetune/test_training_data.py`` checks the result independently).
Nothing here reads a model or an evaluation score.

Rows have the keys of the existing ``qa_part_a.jsonl`` / ``qa_part_b.jsonl``: input, instruction,
output, genre, question_type — so ``inbedder finetune --data data/qa/qa_part_a.jsonl --data
data/qa/qa_part_b.jsonl --data data/qa/qa_generated_a.jsonl --data data/qa/qa_generated_b.jsonl``
reads all of them.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEED = 15011
DOCS_PER_GENRE = 90
NEGATIVE = "none"
OUTPUTS = ("qa_generated_a.jsonl", "qa_generated_b.jsonl")
SUMMARY = "qa_generated_summary.json"


# --------------------------------------------------------------------------- seeded choices (stable across Python versions)
class Rng:
    """Choices built on ``random.random()`` alone, whose sequence Python keeps stable across versions."""

    def __init__(self, seed: int):
        import random

        self._random = random.Random(seed)

    def below(self, n: int) -> int:
        return min(int(self._random.random() * n), n - 1)

    def pick(self, items):
        items = list(items)
        return items[self.below(len(items))]

    def chance(self, p: float) -> bool:
        return self._random.random() < p

    def shuffled(self, items) -> list:
        items = list(items)
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items

    def sample(self, items, k: int) -> list:
        return self.shuffled(items)[:k]


def table(text: str) -> list[tuple[str, ...]]:
    """Rows of a ``a | b | c`` block, one per line."""
    return [tuple(cell.strip() for cell in line.split("|")) for line in text.strip().splitlines() if line.strip()]


class Doc:
    """A passage being written, with the questions it answers and the ones it leaves unanswered."""

    def __init__(self, genre: str, rng: Rng):
        self.genre, self.rng = genre, rng
        self.sentences: list[str] = []
        self.qas: list[tuple[str, list[str], str]] = []
        self.negatives: list[tuple[str, list[str]]] = []

    def say(self, *variants: str, **slots) -> None:
        sentence = self.rng.pick(variants).format(**slots)
        self.sentences.append(re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", sentence))  # a airport -> an airport

    def ask(self, qtype: str, phrasings: list[str], answer: str, **slots) -> None:
        self.qas.append((qtype, [p.format(**slots) for p in phrasings], answer))

    def absent(self, qtype: str, phrasings: list[str], **slots) -> None:
        self.negatives.append((qtype, [p.format(**slots) for p in phrasings]))

    def maybe(self, p: float = 0.6) -> bool:
        return self.rng.chance(p)

    @property
    def text(self) -> str:
        text = " ".join(s[0].upper() + s[1:] if s else s for s in self.sentences)
        return re.sub(r"\s+", " ", text).strip()


# Shared question phrasings ------------------------------------------------------------------
Q_SENTIMENT = ["What is the overall sentiment of this {kind}?", "Is this {kind} positive, negative or mixed?",
               "How does the writer feel overall about the {thing}?", "What is the overall opinion expressed here?",
               "Is the {kind} favourable or unfavourable?"]
Q_EMOTION = ["How does the writer feel?", "What emotion does the writer express?", "What is the writer's mood?",
             "Which feeling comes through most in this {kind}?", "How would you describe the writer's emotional state?"]
Q_TONE = ["What is the tone of this {kind}?", "How would you describe the tone?", "In what tone is this written?",
          "What tone does the writer use?"]
Q_WHEN = ["When did this happen?", "When did it take place?", "What time is mentioned?", "When?"]
Q_WHERE = ["Where did this happen?", "Where is this?", "What place is mentioned?", "Where?"]
Q_TOPIC = ["What is this {kind} about?", "What is the topic?", "What is the main subject of this {kind}?",
           "Summarise the topic in a few words.", "What is the {kind} mainly about?"]
Q_URGENCY = ["How urgent is this {kind}?", "What is the urgency level?", "How soon does the writer need a response?",
             "Is this urgent or can it wait?"]
Q_AUDIENCE = ["Who is the intended audience?", "Who is this {kind} meant for?", "Who would this {kind} appeal to most?",
              "Who is the target reader?"]

EMOTION_SAY = {
    "delighted": ["I am absolutely delighted.", "honestly, I could not be happier.", "this made my week."],
    "satisfied": ["I am quite satisfied overall.", "it does what I needed, and I'm content.", "I'm pleased enough with it."],
    "impressed": ["I was genuinely impressed.", "it blew me away, to be honest.", "colour me impressed."],
    "disappointed": ["I am really disappointed.", "I expected so much more.", "what a letdown."],
    "frustrated": ["I am beyond frustrated.", "this is driving me up the wall.", "I've lost my patience with it."],
    "angry": ["I am furious about this.", "frankly, I am livid.", "this makes me so angry."],
    "worried": ["I'm a bit worried now.", "this has me quite nervous.", "I can't stop worrying about it."],
    "relieved": ["what a relief.", "I'm so relieved it worked out.", "I can finally breathe easy."],
    "grateful": ["I'm very grateful.", "many thanks, I really appreciate it.", "I can't thank you enough."],
    "confused": ["I'm honestly confused.", "none of this makes sense to me.", "I'm puzzled by the whole thing."],
    "excited": ["I'm so excited.", "I can hardly wait.", "this is thrilling news for me."],
    "proud": ["I'm so proud.", "I feel incredibly proud.", "pride doesn't begin to cover it."],
    "exhausted": ["I'm completely exhausted.", "I'm running on empty.", "I need a week of sleep after this."],
    "nostalgic": ["it made me feel nostalgic.", "it brought back so many memories.", "I got a little nostalgic."],
    "bored": ["I was bored stiff.", "I kept checking the clock.", "it was a real yawn."],
}
POSITIVE_EMOTIONS = ("delighted", "satisfied", "impressed")
NEGATIVE_EMOTIONS = ("disappointed", "frustrated", "angry")


def emotion_for(rng: Rng, sentiment: str) -> str:
    return rng.pick(POSITIVE_EMOTIONS if sentiment == "positive" else NEGATIVE_EMOTIONS if sentiment == "negative"
                    else ("confused", "disappointed", "satisfied"))


# =========================================================================== genres
PRODUCTS = table("""
cordless drill | power tool
air fryer | kitchen appliance
rice cooker | kitchen appliance
coffee grinder | kitchen appliance
stand mixer | kitchen appliance
hiking boots | footwear
running shoes | footwear
desk lamp | lighting
office chair | furniture
standing desk | furniture
electric toothbrush | personal care
hair dryer | personal care
yoga mat | fitness gear
rowing machine | fitness gear
camping tent | camping gear
sleeping bag | camping gear
travel backpack | luggage
carry-on suitcase | luggage
smartwatch | wearable
fitness tracker | wearable
bluetooth speaker | audio
wireless earphones | audio
e-reader | electronics
drawing tablet | electronics
robot vacuum | home appliance
space heater | home appliance
baby monitor | baby product
jogging stroller | baby product
dog bed | pet supply
cat tree | pet supply
garden hose | garden tool
hedge trimmer | garden tool
phone case | accessory
wireless charger | accessory
winter parka | clothing
rain jacket | clothing
board game | toy
kick scooter | toy
insulated flask | kitchenware
cast iron skillet | cookware
chef's knife | cookware
label printer | office equipment
webcam | computer accessory
mechanical keyboard | computer accessory
dash cam | car accessory
bike helmet | cycling gear
""")
ASPECTS = table("""
battery life | the battery easily lasts a whole week | the battery gives up before lunchtime
build quality | it feels solid and carefully made | the plastic creaks and feels flimsy
price | it was a bargain for what you get | it costs far more than it is worth
noise | it runs almost silently | it hums loudly enough to annoy the whole household
comfort | it stays comfortable for hours | it starts to pinch after twenty minutes
size | it is compact and tucks away neatly | it is far bulkier than the photos suggest
design | it looks sleek on the shelf | the styling looks clunky and dated
durability | it has survived a year of rough handling | a part snapped off within a fortnight
setup | getting it going took five minutes | setting it up took an entire frustrating evening
instructions | the little manual explains everything clearly | the leaflet inside explains nothing useful
delivery | the parcel turned up a day early | the parcel came late with a crushed box
customer service | the support team sent a spare part straight away | support ignored three of my emails
weight | it is light enough to carry anywhere | it weighs a ton
cleaning | a quick rinse gets it clean | scrubbing it clean is a real chore
""")
ASPECT_CATEGORIES = {  # aspects that only some product categories have; the others fit every product
    "battery life": {"power tool", "wearable", "audio", "electronics", "baby product", "car accessory", "personal care",
                     "home appliance", "accessory", "computer accessory"},
    "noise": {"power tool", "kitchen appliance", "home appliance", "personal care", "office equipment", "garden tool",
              "computer accessory", "fitness gear"},
    "comfort": {"footwear", "furniture", "clothing", "fitness gear", "audio", "wearable", "camping gear", "luggage",
                "cycling gear", "pet supply"},
    "setup": {"power tool", "kitchen appliance", "home appliance", "electronics", "furniture", "camping gear", "office equipment",
              "computer accessory", "car accessory", "baby product", "wearable", "audio"},
    "cleaning": {"kitchen appliance", "cookware", "kitchenware", "pet supply", "baby product", "home appliance", "fitness gear"},
}


def fits(aspect: str, category: str) -> bool:
    return category in ASPECT_CATEGORIES.get(aspect, {category})


PURPOSES = table("""
for my daily commute | daily commute
for weekend camping trips | camping trips
to replace an old one that finally broke | replacement
as a birthday present | birthday present
for our new flat | new flat
to get back into shape | fitness
for working from home | remote work
for a long trip abroad | travel abroad
""")
RECIPIENTS = table("""
for my teenage son | teenage son
for my elderly father | elderly father
for our small office | small office
for my wife | wife
for my college roommate | roommate
for my grandmother | grandmother
for the kids | kids
""")
WHENS = table("""
last month | last month
in early spring | early spring
three weeks ago | three weeks ago
over the holidays | holidays
back in September | september
just before summer | summer
""")
SHOPS = table("""
from a local hardware store | hardware store
online during a flash sale | online sale
at an outlet mall | outlet mall
from a second-hand shop | second-hand shop
at the airport | airport
""")


PRICES = ["twenty pounds", "forty dollars", "ninety euros", "fifteen pounds", "sixty dollars", "a hundred euros",
          "thirty pounds", "twelve dollars"]


def product_review(d: Doc) -> None:
    item, category = d.rng.pick(PRODUCTS)
    sentiment = d.rng.pick(["positive", "positive", "negative", "negative", "mixed"])
    good, bad = d.rng.sample([a for a in ASPECTS if fits(a[0], category)], 2)
    emotion = emotion_for(d.rng, sentiment)
    kind = "review"
    opening = ["I bought this {item} {when}.", "Picked up the {item} {when}.", "We have owned this {item} since {when}."]
    when = d.rng.pick(WHENS)
    has_when, has_why, has_who, has_shop = d.maybe(), d.maybe(0.5), d.maybe(0.45), d.maybe(0.4)
    if has_when:
        d.say(*opening, item=item, when=when[0])
    else:
        d.say("Some thoughts on the {item}.", "Quick review of the {item}.", "Here is my take on the {item}.", item=item)
    if has_why:
        purpose = d.rng.pick(PURPOSES)
        d.say("I needed it {p}.", "It was meant {p}.", "The idea was to use it {p}.", p=purpose[0])
        d.ask("why", ["Why was the {item} bought?", "What was the purchase for?", "What reason does the buyer give?"],
              purpose[1], item=item)
    if has_who:
        person = d.rng.pick(RECIPIENTS)
        d.say("I actually got it {r}.", "It was bought {r}.", r=person[0])
        d.ask("who", ["Who was the {item} bought for?", "Who is the {item} for?", "For whom was it purchased?"], person[1], item=item)
    else:
        d.absent("who", ["Who was the {item} bought for?", "Which family member uses the {item}?"], item=item)
    if has_shop:
        shop = d.rng.pick(SHOPS)
        d.say("I got it {s}.", "Bought it {s}.", s=shop[0])
        d.ask("where", ["Where was the {item} bought?", "Where did the writer buy it?", "From where was it purchased?"], shop[1], item=item)
    else:
        d.absent("where", ["Where was the {item} bought?", "Which shop sold the {item}?"], item=item)
    if sentiment == "positive":
        d.say("The best part: {g}.", "What stands out is that {g}.", "I love that {g}.", g=good[1])
        if d.maybe(0.5):
            d.say("Minor gripe: {b}, but I can live with it.", "If I had to complain, {b}.", b=bad[2])
            d.ask("problem", ["What is the minor complaint?", "What small issue does the reviewer mention?",
                              "What could be better?"], bad[0])
        d.ask("aspect", ["What does the reviewer praise most?", "Which feature impressed the reviewer?",
                         "What is the strongest point of the {item}?"], good[0], item=item)
    elif sentiment == "negative":
        d.say("The main problem: {b}.", "Worst of all, {b}.", "My biggest complaint is that {b}.", b=bad[2])
        d.ask("problem", ["What is the main problem?", "What is the biggest complaint?", "What went wrong with the {item}?"],
              bad[0], item=item)
        d.ask("aspect", ["Which aspect of the {item} disappointed the reviewer?", "Which feature is criticised?",
                         "What part of the product is the reviewer unhappy with?"], bad[0], item=item)
    else:
        d.say("On one hand, {g}.", "Credit where due: {g}.", g=good[1])
        d.say("On the other hand, {b}.", "Sadly, {b}.", b=bad[2])
        d.ask("aspect", ["What does the reviewer like?", "Which aspect gets praise?"], good[0])
        d.ask("problem", ["What is the downside?", "What does the reviewer dislike?"], bad[0])
    if d.maybe(0.4):
        price = d.rng.pick(PRICES)
        d.say("It cost me {p}.", "I paid {p} for it.", "The price was {p}.", p=price)
        d.ask("price", ["How much did the {item} cost?", "What price did the reviewer pay?", "How much was it?"], price, item=item)
    else:
        d.absent("price", ["How much did the {item} cost?", "What price did the reviewer pay?"], item=item)
    d.say(*EMOTION_SAY[emotion])
    d.ask("product", ["What product is reviewed?", "What item is this review about?", "What did the writer buy?",
                      "Which product is discussed?"], item)
    d.ask("category", ["What type of product is this?", "Which product category does the item belong to?",
                       "In which shop department would this item be found?"], category)
    d.ask("sentiment", Q_SENTIMENT, sentiment, kind=kind, thing=item)
    d.ask("emotion", Q_EMOTION, emotion, kind=kind)
    if has_when:
        d.ask("when", ["When was the {item} bought?", "How long ago was it purchased?", "When did the writer get it?"],
              when[1], item=item)
    else:
        d.absent("when", ["When was the {item} bought?", "On what date was it purchased?"], item=item)


HOTELS = table("""
seaside guesthouse | Brightwater
business hotel | Karsby
mountain lodge | Alderpeak
city-centre hostel | Mirelton
boutique hotel | Quayhaven
family resort | Sunmere
airport hotel | Northfield
country inn | Hollowmere
""")
HOTEL_ASPECTS = table("""
cleanliness | the room was spotless | there was dust on every surface
staff | the staff went out of their way to help | the staff at the desk could not have cared less
breakfast | breakfast was fresh and generous | breakfast was cold and picked over by eight
location | everything was a short walk away | it was miles from anything worth seeing
noise | the room was wonderfully quiet | the street noise kept us up all night
view | the view from the balcony was stunning | our window looked straight onto a brick wall
pool | the pool was warm and never crowded | the pool was closed for the whole stay
wifi | the internet was fast everywhere | the internet dropped out every few minutes
parking | parking was free and easy | parking cost a fortune and was always full
bed | the bed was incredibly comfortable | the mattress sagged in the middle
""")
TRIPS = table("""
for a work conference | work conference
on our honeymoon | honeymoon
for a family holiday | family holiday
for a friend's wedding | wedding
on a weekend getaway | weekend getaway
for a hiking trip | hiking trip
""")
COMPANIONS = table("""
with my husband | husband
with two colleagues | colleagues
with our three children | children
with my best friend | best friend
with my parents | parents
""")
SEASONS = table("""
in July | july
over new year | new year
in late autumn | late autumn
during the spring break | spring break
in February | february
""")


def hotel_review(d: Doc) -> None:
    kind_place, town = d.rng.pick(HOTELS)
    sentiment = d.rng.pick(["positive", "negative", "mixed"])
    good, bad = d.rng.sample(HOTEL_ASPECTS, 2)
    emotion = emotion_for(d.rng, sentiment)
    d.say("We stayed at a {k} in {t}.", "Our base was a {k} in {t}.", "Just back from a {k} in {t}.", k=kind_place, t=town)
    if d.maybe(0.6):
        trip = d.rng.pick(TRIPS)
        d.say("We were there {x}.", "The visit was {x}.", x=trip[0])
        d.ask("why", ["Why did they travel?", "What was the reason for the trip?", "What was the occasion?"], trip[1])
    if d.maybe(0.55):
        who = d.rng.pick(COMPANIONS)
        d.say("I went {c}.", "I travelled {c}.", c=who[0])
        d.ask("who", ["Who did the writer travel with?", "Who came along on the trip?", "Who was the travel companion?"], who[1])
    else:
        d.absent("who", ["Who did the writer travel with?", "Who accompanied the writer?"])
    if d.maybe(0.5):
        season = d.rng.pick(SEASONS)
        d.say("We went {s}.", "This was {s}.", s=season[0])
        d.ask("when", ["When did they stay?", "At what time of year was the stay?", "When was the trip?"], season[1])
    else:
        d.absent("when", ["When did they stay?", "In which month was the stay?"])
    if sentiment != "negative":
        d.say("{g}.", "Honestly, {g}.", g=good[1])
        d.ask("aspect", ["What did the guest like most?", "Which part of the stay was best?", "What is praised?"], good[0])
    if sentiment != "positive":
        d.say("However, {b}.", "The downside: {b}.", "Sadly, {b}.", b=bad[2])
        d.ask("problem", ["What was the main problem?", "What did the guest complain about?", "What went wrong?"], bad[0])
    d.say(*EMOTION_SAY[emotion])
    d.ask("where", ["Where is the hotel?", "In which town did they stay?", "Where was the stay?"], town.lower())
    d.ask("category", ["What kind of accommodation is this?", "What type of place did they stay at?"], kind_place)
    d.ask("sentiment", Q_SENTIMENT, sentiment, kind="review", thing="stay")
    d.ask("emotion", Q_EMOTION, emotion, kind="review")
    d.absent("price", ["What price per night is mentioned?", "How much did the room cost?"])


FILMS = table("""
The Glass Orchard | drama
Pellow Bay | thriller
Seven Small Giants | comedy
The Lighthouse Keeper | documentary
Copper Skies | science fiction
Whisker Patrol | animation
Hollow Crown Road | horror
Summer of Kites | romance
The Salt Road | western
Night Shift Heroes | action
""")
FILM_ASPECTS = table("""
acting | the performances feel completely real | the acting is wooden from start to finish
plot | the story keeps you guessing until the end | the story falls apart in the second half
soundtrack | the music lingers for days | the score is loud and forgettable
visuals | every frame looks like a painting | the effects look cheap and rushed
pacing | it moves along briskly | it drags badly in the middle
dialogue | the script is sharp and funny | the lines are clumsy and predictable
ending | the final scene is perfect | the ending is a complete cop-out
""")
ACTORS = ["Ines Varga", "Tomas Reyes", "Priya Oduya", "Callum Frost", "Mara Lindqvist", "Dev Anand Rao", "Leila Haddad", "Owen Brightley"]
FILM_AUDIENCE = table("""
a perfect pick for families with young children | families
teenagers will probably love it | teenagers
fans of the genre will feel right at home | genre fans
film students should study it | film students
best watched by adults only | adults
""")
VENUES = table("""
at a packed cinema | cinema
at home on a streaming service | streaming
at a small film festival | film festival
on a long flight | flight
""")


def movie_review(d: Doc) -> None:
    title, genre = d.rng.pick(FILMS)
    sentiment = d.rng.pick(["positive", "negative", "mixed"])
    good, bad = d.rng.sample(FILM_ASPECTS, 2)
    tone = d.rng.pick(["enthusiastic", "sarcastic", "measured"])
    d.say("I finally saw {t}, a new {g}.", "{t} is the latest {g} everyone is talking about.", "Caught {t}, a {g}, this week.",
          t=title, g=genre)
    if d.maybe(0.6):
        actor = d.rng.pick(ACTORS)
        d.say("{a} plays the lead.", "The lead role goes to {a}.", a=actor)
        d.ask("who", ["Who plays the lead role?", "Which actor stars in it?", "Who is the lead actor?"], actor.lower())
    else:
        d.absent("who", ["Who plays the lead role?", "Which actor is named?"])
    if d.maybe(0.5):
        venue = d.rng.pick(VENUES)
        d.say("I watched it {v}.", "Saw it {v}.", v=venue[0])
        d.ask("where", ["Where did the writer watch the film?", "Where was it seen?"], venue[1])
    if tone == "sarcastic" and sentiment != "positive":
        d.say("Oh wonderful, another two hours of my life I will never get back.", "Truly a masterpiece, if you enjoy staring at walls.")
    elif tone == "enthusiastic" and sentiment != "negative":
        d.say("Wow, wow, wow!", "What a ride, seriously!")
    else:
        tone = "measured"
        d.say("Here is a balanced view.", "Let me weigh it up fairly.")
    if sentiment != "negative":
        d.say("{g}.", "To its credit, {g}.", g=good[1])
        d.ask("aspect", ["What is the film's best quality?", "Which aspect of the film is praised?"], good[0])
    if sentiment != "positive":
        d.say("Unfortunately {b}.", "The weak spot: {b}.", b=bad[2])
        d.ask("problem", ["What is the film's main weakness?", "Which aspect of the film is criticised?"], bad[0])
    if d.maybe(0.6):
        audience = d.rng.pick(FILM_AUDIENCE)
        d.say("{a}.", a=audience[0])
        d.ask("audience", ["Who would enjoy this film?", "Who is the film best suited for?", "Who should watch it?"], audience[1])
    else:
        d.absent("audience", ["Which age group is the film recommended for?"])
    d.ask("product", ["Which film is reviewed?", "What is the title of the film?", "What movie is this about?"], title.lower())
    d.ask("category", ["What genre is the film?", "What kind of film is it?", "Which genre does it belong to?"], genre)
    d.ask("sentiment", Q_SENTIMENT, sentiment, kind="review", thing="film")
    d.ask("tone", Q_TONE, tone, kind="review")


COMPANIES = table("""
internet provider | Nettlewave Broadband | broadband
airline | SkyLark Air | flight
online store | Bramblebox | order
mobile carrier | Orbit Mobile | phone plan
software subscription | PixelForge | subscription
food delivery app | Munchly | delivery
electricity supplier | Voltaro Energy | energy account
gym chain | IronLeaf Fitness | membership
""")
REQUESTS = table("""
cancel | cancel my {thing} | cancellation
refund | get my money back | refund
upgrade | move to a bigger plan | upgrade
reschedule | change the date of my booking | rescheduling
replacement | get a replacement sent out | replacement
technician | book a technician visit | technician visit
password | reset the password on my account | password reset
invoice | receive a copy of last month's invoice | invoice copy
""")
PROBLEMS = {
    "internet provider": [("the connection drops every evening", "connection drops"), ("the router light keeps blinking red", "router fault")],
    "airline": [("my suitcase never arrived", "lost luggage"), ("the flight was cancelled at the gate", "cancelled flight")],
    "online store": [("the parcel contained the wrong colour", "wrong item"), ("the order has been stuck in transit for ten days", "delayed parcel")],
    "mobile carrier": [("I have had no signal at home since Tuesday", "no signal"), ("roaming charges appeared although I never left the country", "roaming charges")],
    "software subscription": [("the app crashes whenever I export a file", "app crashes"), ("my licence key stopped working", "licence key")],
    "food delivery app": [("the driver left my order at the wrong address", "wrong address"), ("half of the meal was missing", "missing food")],
    "electricity supplier": [("my meter reading was estimated far too high", "meter reading"), ("the direct debit was taken twice", "duplicate payment")],
    "gym chain": [("my access card no longer opens the door", "access card"), ("the fee went up without warning", "fee increase")],
}
EMOTION_SUPPORT = ("angry", "worried", "grateful", "confused", "frustrated", "relieved")
URGENCY = table("""
high | I need this sorted today, please. | Please treat this as urgent. | This cannot wait another day.
low | No rush at all, whenever you have a moment. | This can wait until next week. | Reply whenever it suits you.
""")
SINCE = table("""
since Monday | monday
for two weeks | two weeks
since yesterday evening | yesterday evening
since the start of the month | start of month
""")


def customer_support(d: Doc) -> None:
    industry, company, thing = d.rng.pick(COMPANIES)
    request_key, request_text, request_answer = d.rng.pick(REQUESTS)
    problem, problem_answer = d.rng.pick(PROBLEMS[industry])
    emotion = d.rng.pick(EMOTION_SUPPORT)
    urgency = d.rng.pick(URGENCY)
    d.say("Hello {c} team.", "Hi, this is a message for {c}.", "To whoever handles complaints at {c}:", c=company)
    d.say("Unfortunately {p}.", "The issue is that {p}.", "I'm writing because {p}.", p=problem)
    if d.maybe(0.55):
        since = d.rng.pick(SINCE)
        d.say("This has been going on {s}.", "It has been like this {s}.", s=since[0])
        d.ask("when", ["Since when has the problem lasted?", "How long has this been going on?", "When did the issue start?"], since[1])
    else:
        d.absent("when", ["Since when has the problem lasted?", "On what date did the issue start?"])
    d.say("I would like to {r}.", "Could you help me {r}?", "Please let me {r}.", r=request_text.format(thing=thing))
    d.say(*EMOTION_SAY[emotion])
    d.say(*urgency[1:])
    if d.maybe(0.4):
        d.say("My account number is in the signature.", "You can reach me on the number you have on file.")
    d.ask("intent", ["What does the customer want?", "What is the customer asking for?", "What is the purpose of this message?",
                     "What does the customer need?"], request_answer)
    d.ask("request", ["What action is requested?", "What should the company do?", "What is being requested?"], request_answer)
    d.ask("problem", ["What is the problem?", "What went wrong?", "What issue is reported?", "What is the complaint about?"], problem_answer)
    d.ask("why", ["Why is the customer writing?", "What made the customer get in touch?"], problem_answer)
    d.ask("emotion", Q_EMOTION + ["How does the customer feel?"], emotion, kind="message")
    d.ask("urgency", Q_URGENCY, urgency[0], kind="message")
    d.ask("product", ["Which service is this about?", "What kind of company is contacted?", "Which company is the message for?"],
          industry)
    d.absent("who", ["Which employee is named in the message?", "Who did the customer speak to before?"])


NEWS = table("""
politics | the town council | voted to build a new bus station | to ease traffic in the centre | bus station | town council | traffic
politics | the regional governor | announced an early election | after a row over the budget | early election | governor | budget row
sport | the local rugby club | won the county cup | thanks to a late try | county cup | rugby club | late try
sport | a teenage swimmer | broke the national record | after months of altitude training | national record | teenage swimmer | altitude training
business | a family bakery chain | opened its fiftieth shop | as demand for fresh bread grows | shop opening | bakery chain | demand
business | the valley's biggest employer | announced two hundred job cuts | because orders have collapsed | job cuts | biggest employer | falling orders
health | the district hospital | opened a new children's ward | to cut waiting times | children's ward | district hospital | waiting times
health | public health officials | warned about a measles outbreak | as vaccination rates fall | measles outbreak | health officials | low vaccination
science | a university research team | discovered a new species of frog | during a rainforest survey | new frog species | research team | rainforest survey
science | a team of amateur astronomers | spotted an unusually bright comet | while mapping faint galaxies | bright comet | amateur astronomers | galaxy mapping
technology | a harbour-side start-up | launched a solar-powered scooter | to compete with delivery vans | electric scooter | start-up | competition
technology | the city's transport authority | rolled out contactless tickets | to shorten queues | contactless tickets | transport authority | queues
weather | forecasters | issued a flood warning | after three days of heavy rain | flood warning | forecasters | heavy rain
weather | emergency crews | cleared roads blocked by snow | following an overnight blizzard | snow storm | emergency crews | blizzard
crime | police | arrested two men over a jewellery theft | after a tip from a shop owner | jewellery theft | police | tip-off
education | the largest secondary school | scrapped homework for younger pupils | to reduce stress | homework policy | secondary school | stress
environment | volunteers | planted ten thousand trees | to restore a burnt hillside | tree planting | volunteers | wildfire damage
transport | the rail operator | cancelled all weekend trains | because of track repairs | train cancellations | rail operator | track repairs
culture | the city museum | reopened after a two-year renovation | to show off a new modern art wing | museum reopening | city museum | new wing
""")
NEWS_DETAILS = [
    "Local shop owners said they were watching closely.", "Reporters at the scene counted dozens of onlookers.",
    "The figures will be reviewed again in the spring.", "Critics questioned the timing of the announcement.",
    "A public meeting has been called to discuss it.", "Several neighbouring towns are considering similar steps.",
]
TOWNS = ["Marlow Green", "Port Eskil", "Dunhaven", "Larkfield", "Stonebridge", "Wexmoor", "Ashcombe", "Riverton Falls", "Kelbury"]
DAYS = ["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "at the weekend", "last night", "this morning"]
REACTIONS = table("""
positive | residents welcomed the news | welcomed
negative | many residents reacted with anger | anger
mixed | opinion in the town is divided | divided
""")


def news(d: Doc) -> None:
    topic, who, what, why, answer, who_answer, why_answer = d.rng.pick(NEWS)
    town, day = d.rng.pick(TOWNS), d.rng.pick(DAYS)
    has_town, has_day, has_why = d.maybe(0.7), d.maybe(0.6), d.maybe(0.7)
    place = f" in {town}" if has_town else ""
    d.say("{w}{p} {x} {d}.", "{d}, {w}{p} {x}.", w=who, p=place, x=what, d=day if has_day else "")
    if has_why:
        d.say("Officials said the move came {y}.", "The decision came {y}.", "It happened {y}, according to a spokesperson.", y=why)
        d.ask("why", ["Why did this happen?", "What reason is given?", "What caused the decision?"], why_answer)
    else:
        d.absent("why", ["What reason is given?", "Why did this happen?"])
    reaction = d.rng.pick(REACTIONS)
    d.say("{r}.", "So far, {r}.", r=reaction[1])
    d.say(*NEWS_DETAILS)
    if d.maybe(0.5):
        d.say("A further statement is expected later this week.", "More details will be published soon.",
              "Local reporters will follow the story.")
    d.ask("topic", ["What is the topic of this news article?", "What is this story about?", "What is the news about?",
                    "What is the article mainly about?", "Summarise the story in a few words."], answer)
    d.ask("category", ["Which section of the newspaper does this belong in?", "What kind of news is this?",
                       "What news category is this?"], topic)
    d.ask("who", ["Who is the story about?", "Who took action?", "Who is behind this?"], who_answer)
    d.ask("sentiment", ["How did people react?", "Was the reaction positive or negative?", "What was the public response?"],
          reaction[0] if reaction[0] != "mixed" else "divided")
    if has_town:
        d.ask("where", ["Where did this happen?", "Which town is the story from?", "Where is the news from?"], town.lower())
    else:
        d.absent("where", ["Which town is the story from?", "Where did this happen?"])
    if has_day:
        d.ask("when", Q_WHEN + ["When was this reported?"], day.replace("on ", "").replace("at the ", ""))
    else:
        d.absent("when", ["On what day did this happen?", "When did this take place?"])
    d.ask("tone", ["What is the tone of the report?", "How is the story written?"], "neutral")


EMAIL_TOPICS = table("""
quarterly budget | review the draft budget | budget review | review budget
office move | pack up their desks | office move | pack desks
client visit | prepare the meeting room | client visit | prepare room
new hire | welcome our new designer | onboarding | welcome designer
software rollout | install the new update | software update | install update
team offsite | confirm their dietary needs | team offsite | dietary needs
annual report | send their figures | annual report | send figures
safety training | book a training slot | safety training | book training
""")
DEADLINES = table("""
by Friday | friday
before noon tomorrow | tomorrow noon
by the end of the month | end of month
by Wednesday morning | wednesday morning
next Tuesday | next tuesday
""")
SENDERS = table("""
the finance manager | finance manager
the head of operations | head of operations
the office coordinator | office coordinator
the project lead | project lead
the HR director | hr director
""")


def workplace_email(d: Doc) -> None:
    topic, task, answer, task_answer = d.rng.pick(EMAIL_TOPICS)
    tone = d.rng.pick(["formal", "casual"])
    urgent = d.rng.chance(0.5)
    if tone == "formal":
        d.say("Dear colleagues,", "Dear all,", "Good afternoon everyone,")
    else:
        d.say("Hey team!", "Hi folks,", "Morning all!")
    d.say("This is about the {t}.", "A quick note regarding the {t}.", "Some news on the {t}.", t=topic)
    if d.maybe(0.7):
        deadline = d.rng.pick(DEADLINES)
        d.say("Please {x} {w}.", "Could everyone {x} {w}?", "I need you to {x} {w}.", x=task, w=deadline[0])
        d.ask("when", ["What is the deadline?", "By when must this be done?", "When is it due?"], deadline[1])
    else:
        d.say("Please {x} when you can.", "Could everyone {x}?", x=task)
        d.absent("when", ["What is the deadline?", "By which date is this due?"])
    d.say("This is time-critical, so please do not delay." if urgent else "There is no great hurry on this.")
    sender = d.rng.pick(SENDERS)
    if tone == "formal":
        d.say("Kind regards, {s}.", "With thanks, {s}.", s=sender[0])
    else:
        d.say("Cheers, {s}", "Thanks a bunch, {s}", s=sender[0])
    d.ask("topic", Q_TOPIC, answer, kind="email")
    d.ask("request", ["What are the recipients asked to do?", "What is requested?", "What action is needed?"], task_answer)
    d.ask("intent", ["What does the sender want?", "What is the purpose of this email?", "Why was this email sent?"], task_answer)
    d.ask("who", ["Who sent the email?", "Who is the sender?", "Who wrote this?"], sender[1])
    d.ask("tone", Q_TONE, tone, kind="email")
    d.ask("urgency", Q_URGENCY, "high" if urgent else "low", kind="email")
    d.ask("audience", ["Who is the email addressed to?", "Who are the recipients?"], "colleagues" if tone == "formal" else "team")


LIFE_EVENTS = table("""
new job | I start my new job at the aquarium | proud
adopted dog | we adopted a scruffy rescue dog called Biscuit | excited
marathon | I finished my first marathon | exhausted
graduation | I graduated after six long years | proud
moving house | we finally moved into our own house | relieved
lost phone | I left my phone on the train | frustrated
reunion | I met my school friends for the first time in ten years | nostalgic
cancelled concert | the concert we queued for was cancelled | disappointed
""")
PLACES = ["in Lisbon", "at the seaside", "in the mountains", "downtown", "at the old school hall", "on the coast"]


def social_post(d: Doc) -> None:
    topic, event, emotion = d.rng.pick(LIFE_EVENTS)
    humorous = d.rng.chance(0.4)
    d.say("Big news, everyone: {e}!", "Guess what? {e}.", "Update from me: {e}.", e=event)
    if d.maybe(0.5):
        place = d.rng.pick(PLACES)
        d.say("It all happened {p}.", "We were {p}.", p=place)
        d.ask("where", Q_WHERE, place.split()[-1] if place.split()[-1] not in ("hall",) else "school hall")
    else:
        d.absent("where", ["Where did this happen?", "Which city is mentioned?"])
    if d.maybe(0.5):
        d.say("My sister was there for all of it.", "My sister came along too.")
        d.ask("who", ["Who was with the writer?", "Who else is mentioned?"], "sister")
    d.say(*EMOTION_SAY[emotion])
    if humorous:
        d.say("Send snacks and sympathy, in that order.", "My couch and I need to have a serious talk now, lol.")
    d.say("Thanks for all the kind messages, friends.", "Love you all.", "More photos soon!")
    d.ask("topic", Q_TOPIC, topic, kind="post")
    d.ask("emotion", Q_EMOTION, emotion, kind="post")
    d.ask("tone", Q_TONE, "humorous" if humorous else "sincere", kind="post")
    d.ask("audience", ["Who is the post addressed to?", "Who is the writer talking to?"], "friends")
    d.absent("product", ["Which product is advertised?"])


JOBS = table("""
delivery driver | logistics | a clean driving licence
junior accountant | finance | a head for numbers
kitchen porter | hospitality | stamina and a sense of humour
data analyst | technology | strong spreadsheet skills
nursery assistant | childcare | patience with small children
warehouse supervisor | logistics | experience leading a shift
web developer | technology | solid javascript knowledge
hotel receptionist | hospitality | a friendly phone manner
lab technician | science | careful record keeping
""")
EMPLOYERS = ["Greenway Foods", "Harbourline Logistics", "Tallis & Reed", "BrightSpark Labs", "Oakfield Nurseries", "Meridian Hotels"]
JOB_AUDIENCE = table("""
Recent graduates are very welcome to apply. | recent graduates
We especially encourage career changers. | career changers
Ideal for students looking for part-time hours. | students
Experienced professionals will be preferred. | experienced professionals
""")


def job_posting(d: Doc) -> None:
    role, sector, skill = d.rng.pick(JOBS)
    employer, town = d.rng.pick(EMPLOYERS), d.rng.pick(TOWNS)
    d.say("{e} is hiring a {r}.", "Vacancy: {r} at {e}.", "Join {e} as our new {r}.", e=employer, r=role)
    d.say("The role is based in {t}.", "You will work from our site in {t}.", t=town)
    d.say("You will need {s}.", "The main requirement is {s}.", s=skill)
    if d.maybe(0.5):
        audience = d.rng.pick(JOB_AUDIENCE)
        d.say(audience[0])
        d.ask("audience", ["Who is encouraged to apply?", "Who is the ideal applicant?", "Who is this job ad aimed at?"], audience[1])
    if d.maybe(0.5):
        d.say("The position starts in September.", "The start date is in September.")
        d.ask("when", ["When does the job start?", "What is the start date?"], "september")
    else:
        d.absent("when", ["When does the job start?"])
    d.say("Apply with a short cover letter.", "Send us your CV and a few lines about yourself.")
    d.ask("what", ["What job is advertised?", "What position is open?", "What role is being hired for?"], role)
    d.ask("intent", ["What is the goal of this advert?", "What does the company want?"], "hire " + role.split()[-1])
    d.ask("who", ["Which company is hiring?", "Who is the employer?"], employer.lower())
    d.ask("where", ["Where is the job?", "Where is the role based?", "In which town is the job?"], town.lower())
    d.ask("category", ["Which industry is this job in?", "What sector is the role in?"], sector)
    d.ask("request", ["What must applicants send?", "How should people apply?"], "cover letter" if "cover" in d.sentences[-1] else "cv")
    d.absent("price", ["What salary is offered?", "How much does the job pay?"])


DISHES = table("""
lentil soup | red lentils | middle eastern | vegetarian
chicken stir-fry | chicken | chinese | meat
mushroom risotto | arborio rice | italian | vegetarian
fish tacos | white fish | mexican | fish
beef stew | beef | irish | meat
chickpea curry | chickpeas | indian | vegetarian
lemon drizzle cake | lemons | british | baking
vegetable paella | rice | spanish | vegetarian
""")
TOOLS = ["a heavy pot", "a wok", "a wide pan", "a loaf tin", "a slow cooker", "a baking tray"]
OCCASIONS = table("""
a quick weeknight dinner | weeknight dinner
a lazy Sunday lunch | sunday lunch
a picnic | picnic
a birthday party | birthday party
""")


def recipe(d: Doc) -> None:
    dish, main, cuisine, kind = d.rng.pick(DISHES)
    tool = d.rng.pick(TOOLS)
    d.say("This {d} is a {c} classic.", "Here is my take on {c} {d}.", "A simple {d} in the {c} style.", d=dish, c=cuisine)
    d.say("Start by warming some oil in {t}.", "You will need {t}.", t=tool)
    d.say("The star ingredient is {m}, so buy the best you can.", "Add the {m} and stir gently.", m=main)
    if d.maybe(0.6):
        occasion = d.rng.pick(OCCASIONS)
        d.say("It is perfect for {o}.", "I make it for {o}.", o=occasion[0])
        d.ask("when", ["When would you serve this?", "What occasion is it for?"], occasion[1])
    if d.maybe(0.5):
        d.say("Busy parents love how little washing up it needs.", "Students on a budget swear by it.")
        d.ask("audience", ["Who is this recipe good for?", "Who would like this recipe?"],
              "busy parents" if "parents" in d.sentences[-1] else "students")
    d.say("Season to taste and serve warm.", "Finish with fresh herbs and serve.")
    d.ask("what", ["What dish is this?", "What does the recipe make?", "What is being cooked?"], dish)
    d.ask("what", ["What is the main ingredient?", "Which ingredient matters most?"], main)
    d.ask("category", ["What cuisine is this?", "Which cooking tradition does it come from?"], cuisine)
    d.ask("aspect", ["What equipment is needed?", "What cookware does the recipe use?"], tool.split(" ", 1)[1])
    if kind == "vegetarian":
        d.absent("what", ["Which meat is used?", "What kind of meat goes in?"])
    else:
        d.absent("what", ["Which nuts are used?", "What cheese is added?"])


EVENTS = table("""
summer concert | the bandstand in Victoria Park | the parks department | music
book fair | the old corn exchange | the public library | books
charity fun run | the riverside path | the hospice trust | fundraising
farmers' market | the station car park | local growers | food
coding workshop | the community centre | volunteer developers | technology
open-air cinema | the castle lawn | the arts council | film
""")
EVENT_TIMES = table("""
on Saturday morning | saturday morning
on the first Sunday of June | june
next Friday evening | friday evening
over the bank holiday weekend | bank holiday
""")
EVENT_REQUESTS = table("""
Please register online beforehand. | register online
Bring a blanket and something to sit on. | bring blanket
Volunteers are needed to help set up. | volunteers
Tickets must be bought in advance. | buy tickets
""")


def event_announcement(d: Doc) -> None:
    event, venue, organiser, topic = d.rng.pick(EVENTS)
    when = d.rng.pick(EVENT_TIMES)
    d.say("Join us for the {e} {w}!", "The {e} returns {w}.", "Mark your calendar: {e}, {w}.", e=event, w=when[0])
    d.say("It takes place at {v}.", "The venue is {v}.", v=venue)
    d.say("It is organised by {o}.", "{o} are running it this year.", o=organiser)
    urgent = d.rng.chance(0.4)
    if d.maybe(0.7):
        request = d.rng.pick(EVENT_REQUESTS)
        d.say(request[0])
        d.ask("request", ["What are attendees asked to do?", "What should people do before coming?", "What is requested?"],
              request[1])
    d.say("Places are almost gone, so act fast!" if urgent else "Everyone is welcome, no booking stress.")
    if d.maybe(0.5):
        d.say("Families with children are especially welcome.")
        d.ask("audience", Q_AUDIENCE, "families", kind="announcement")
    d.ask("what", ["What event is announced?", "What is happening?", "What kind of event is it?"], event)
    d.ask("intent", ["What is the purpose of this announcement?", "What does the organiser want?"], "attendance")
    d.ask("where", ["Where is the event?", "What is the venue?", "Where will it be held?"], " ".join(venue.split()[-2:]))
    d.ask("when", ["When is the event?", "When does it take place?", "On what day is it?"], when[1])
    d.ask("who", ["Who is organising the event?", "Who runs it?"], " ".join(organiser.split()[-2:]))
    d.ask("topic", Q_TOPIC, topic, kind="announcement")
    d.ask("urgency", ["How urgent is it to sign up?", "Is there a rush to book?"], "high" if urgent else "low")
    if d.maybe(0.4):
        fee = d.rng.pick(["five pounds", "three euros", "ten dollars", "two pounds"])
        d.say("Entry costs {f}.", "Tickets are {f} each.", f=fee)
        d.ask("price", ["How much does entry cost?", "What is the ticket price?", "What does it cost to get in?"], fee)
    else:
        d.absent("price", ["How much does entry cost?", "What is the ticket price?"])


APPS = table("""
photo editing app | photo editor
budget tracker | budget app
music player | music app
note-taking app | notes app
fitness app | fitness app
video call tool | video calls
""")
BUGS = table("""
the app freezes on the settings screen | settings screen | freezes
exported files come out blank | export screen | blank exports
notifications arrive hours late | notification centre | late notifications
the login button does nothing | login page | broken login
sync wipes my latest changes | sync menu | data loss
the dark mode text is unreadable | theme settings | unreadable text
""")
DEVICES = table("""
an older Android phone | android phone
a new iPad | ipad
a Windows laptop | windows laptop
a Chromebook | chromebook
a Linux desktop | linux desktop
""")


def bug_report(d: Doc) -> None:
    app, answer = d.rng.pick(APPS)
    bug, where, short = d.rng.pick(BUGS)
    device, device_answer = d.rng.pick(DEVICES)
    emotion = d.rng.pick(["frustrated", "confused", "angry", "worried"])
    d.say("Bug report for the {a}:", "Issue with the {a}.", "Problem in the {a}.", a=app)
    since_update = d.maybe(0.6)
    if since_update:
        d.say("Since the latest update, {b}.", "Ever since the last update, {b}.", b=bug)
    else:
        d.say("Steps: open it, and {b}.", "Every time I try, {b}.", "Quite often {b}.", b=bug)
    d.say("I am using {x}.", "Device: {x}.", x=device)
    if d.maybe(0.6):
        d.say("Please roll back the update or send a fix soon.", "A fix in the next release would be great.")
        d.ask("request", ["What does the user ask for?", "What is requested?"], "fix")
        d.ask("intent", ["What does the user want?", "What is the goal of this report?"], "fix")
    d.say(*EMOTION_SAY[emotion])
    critical = "wipes" in bug or "login" in bug
    d.ask("product", ["Which app is affected?", "What software is this about?"], answer)
    d.ask("problem", ["What is the bug?", "What goes wrong?", "What is the problem?"], short)
    d.ask("where", ["Where in the app does it happen?", "Which screen is affected?"], where)
    d.ask("what", ["What device is used?", "Which device is the user on?"], device_answer)
    if since_update:
        d.ask("when", ["When did the problem start?", "Since when does it happen?"], "latest update")
    else:
        d.absent("when", ["On what date did the problem start?", "Since when does it happen?"])
    d.ask("urgency", Q_URGENCY, "high" if critical else "medium", kind="report")
    d.ask("emotion", Q_EMOTION, emotion, kind="report")


TRIPS_BLOG = table("""
the Faroe Islands | hiking | the cliffs at sunset | sideways rain | faroe islands | cliffs | rain
Kyoto | temple hopping | the moss gardens | the crowds | kyoto | moss gardens | crowds
the Scottish Highlands | wild camping | the empty glens | midges | scottish highlands | glens | midges
Marrakesh | market browsing | the spice stalls | haggling fatigue | marrakesh | spice stalls | haggling
Patagonia | glacier trekking | the blue ice | the wind | patagonia | blue ice | wind
Iceland's south coast | road tripping | the black beaches | the prices | iceland | black beaches | prices
Lake Bled | rowing | the island church | the parking | lake bled | island church | parking
""")


def travel_blog(d: Doc) -> None:
    place, activity, highlight, problem, place_answer, highlight_answer, problem_answer = d.rng.pick(TRIPS_BLOG)
    season = d.rng.pick(SEASONS)
    emotion = d.rng.pick(["excited", "nostalgic", "exhausted", "delighted"])
    d.say("We spent ten days in {p}, mostly {a}.", "My trip to {p} was all about {a}.", p=place, a=activity)
    d.say("We went {s}.", "The trip was {s}.", s=season[0])
    d.say("The highlight was {h}.", "Nothing beat {h}.", h=highlight)
    d.say("The only downside was {x}.", "Be ready for {x}.", x=problem)
    if d.maybe(0.5):
        who = d.rng.pick(COMPANIONS)
        d.say("I travelled {c}.", c=who[0])
        d.ask("who", ["Who did the writer travel with?", "Who came along?"], who[1])
    else:
        d.absent("who", ["Who did the writer travel with?"])
    if d.maybe(0.5):
        d.say("Budget travellers will find plenty of cheap options.")
        d.ask("audience", ["Who is this post useful for?", "Who is the advice aimed at?"], "budget travellers")
    d.say(*EMOTION_SAY[emotion])
    d.ask("where", ["Where did the writer travel?", "Which destination is described?", "Where was the trip?"], place_answer)
    d.ask("why", ["Why did the writer go there?", "What was the reason for the trip?"], activity)
    d.ask("what", ["What was the main activity?", "What did they mostly do?"], activity)
    d.ask("aspect", ["What was the highlight of the trip?", "What was the best part?"], highlight_answer)
    d.ask("problem", ["What was the downside?", "What problem did they face?"], problem_answer)
    d.ask("when", ["When did they travel?", "At what time of year was the trip?"], season[1])
    d.ask("emotion", Q_EMOTION, emotion, kind="post")


PROPERTIES = table("""
two-bedroom flat | a sunny balcony
family house | a large back garden
studio apartment | a built-in desk
cottage | an open fireplace
townhouse | a private garage
loft conversion | exposed brick walls
""")
NEIGHBOURHOODS = ["the harbour quarter", "Elm Park", "the old town", "Southgate", "the university district"]


def real_estate(d: Doc) -> None:
    kind, feature = d.rng.pick(PROPERTIES)
    area = d.rng.pick(NEIGHBOURHOODS)
    d.say("For rent: a bright {k} in {a}.", "Now available: {k} in {a}.", "A charming {k} in {a} is on the market.", k=kind, a=area)
    d.say("Its best feature is {f}.", "It comes with {f}.", f=feature)
    if d.maybe(0.6):
        d.say("Ideal for young families.", "Perfect for a first-time buyer.", "Great for students sharing.")
        last = d.sentences[-1]
        d.ask("audience", ["Who is the property ideal for?", "Who would this suit?"],
              "young families" if "families" in last else "first-time buyer" if "buyer" in last else "students")
    if d.maybe(0.5):
        d.say("It is available from next month.", "You can move in straight away.")
        d.ask("when", ["When is it available?", "When can someone move in?"],
              "next month" if "month" in d.sentences[-1] else "immediately")
    d.say("Viewings by appointment only.", "Call the agent to arrange a viewing.")
    d.ask("what", ["What kind of property is this?", "What is for rent or sale?"], kind)
    d.ask("where", ["Where is the property?", "Which neighbourhood is it in?"], area.replace("the ", ""))
    d.ask("aspect", ["What is the best feature?", "What feature is highlighted?"], " ".join(feature.split()[-2:]))
    d.ask("request", ["How can people see it?", "What should interested people do?"], "arrange viewing")
    d.absent("what", ["What is the pet policy?", "Which pets are allowed?"])


LOST_ITEMS = table("""
a grey tabby cat | cat | answers to Pepper
a black leather wallet | wallet | has a photo of a lighthouse inside
a child's blue bicycle | bicycle | has a bell shaped like a frog
a set of house keys | keys | hangs on a red lanyard
a silver pocket watch | watch | has initials engraved on the back
a brown hiking rucksack | rucksack | has a torn side pocket
a pair of reading glasses | glasses | sits in a green case
""")
LOST_PLACES = ["near the bus station", "in the park by the pond", "outside the library", "on Mill Lane", "at the swimming pool"]


def classified(d: Doc) -> None:
    item, short, detail = d.rng.pick(LOST_ITEMS)
    place = d.rng.pick(LOST_PLACES)
    found = d.rng.chance(0.4)
    d.say("{v}: {i}, {p}.", v="Found" if found else "Lost", i=item, p=place)
    d.say("It {x}.", x=detail)
    if d.maybe(0.6):
        d.say("This was on Sunday afternoon.", "It went missing yesterday.")
        d.ask("when", ["When did this happen?", "When was it lost or found?"],
              "sunday afternoon" if "Sunday" in d.sentences[-1] else "yesterday")
    else:
        d.absent("when", ["When was it lost?"])
    d.say("Please call the number below if you can help." if not found else "The owner can contact me to collect it.")
    emotion = "worried" if not found else "helpful"
    if not found:
        d.say(*EMOTION_SAY["worried"])
        d.ask("emotion", Q_EMOTION, emotion, kind="notice")
    d.ask("what", ["What item is this about?", "What was lost or found?", "What is missing?"], short)
    d.ask("where", ["Where was it lost or found?", "What location is given?"], " ".join(place.split()[-2:]))
    d.ask("intent", ["What is the purpose of this notice?", "Why was this posted?"], "return item" if found else "find item")
    d.ask("request", ["What should readers do?", "What is asked of readers?"], "contact owner" if found else "call")
    d.absent("who", ["What is the owner's name?"])


COUNCIL_ISSUES = table("""
a deep pothole | Station Road | repair the road | pothole | road repair
a broken streetlight | Kingfisher Close | fix the light | streetlight | light repair
overflowing bins | the market square | empty the bins more often | waste collection | more collections
a blocked drain | Chapel Street | clear the drain | blocked drain | drain clearing
graffiti on the bus shelter | Hawthorn Avenue | clean the shelter | graffiti | cleaning
an abandoned car | Foundry Lane | tow the car away | abandoned car | removal
""")


def complaint_letter(d: Doc) -> None:
    issue, street, request, short, request_answer = d.rng.pick(COUNCIL_ISSUES)
    emotion = d.rng.pick(["angry", "frustrated", "worried"])
    urgent = d.rng.chance(0.6)
    d.say("Dear Councillor,", "To the highways department,", "Dear sir or madam,")
    d.say("I am writing about {i} on {s}.", "There is {i} on {s}.", i=issue, s=street)
    if d.maybe(0.6):
        d.say("It has been there for over three months.", "It was first reported in the spring.")
        d.ask("when", ["How long has the problem existed?", "Since when has it been there?"],
              "three months" if "three" in d.sentences[-1] else "spring")
    d.say("Please {r} as soon as possible." if urgent else "I would be grateful if you could {r} when resources allow.", r=request)
    d.say(*EMOTION_SAY[emotion])
    d.say("Yours faithfully, a local resident.", "Regards, a concerned neighbour.")
    d.ask("problem", ["What is the problem?", "What issue is reported?", "What is the complaint about?"], short)
    d.ask("where", ["Where is the problem?", "Which street is affected?"], street.lower().replace("the ", ""))
    d.ask("request", ["What does the writer want done?", "What action is requested?"], request_answer)
    d.ask("intent", ["What is the purpose of the letter?", "What does the resident want?"], request_answer)
    d.ask("why", ["Why is the resident writing?", "What prompted this letter?"], short)
    d.ask("audience", ["Who is the letter addressed to?", "Who should read this letter?"], "council")
    d.ask("urgency", Q_URGENCY, "high" if urgent else "low", kind="letter")
    d.ask("emotion", Q_EMOTION, emotion, kind="letter")
    d.ask("tone", Q_TONE, "formal", kind="letter")


GENRES = {
    "product_review": product_review, "hotel_review": hotel_review, "movie_review": movie_review,
    "customer_support": customer_support, "news": news, "workplace_email": workplace_email,
    "social_media": social_post, "job_posting": job_posting, "recipe": recipe,
    "event_announcement": event_announcement, "bug_report": bug_report, "travel_blog": travel_blog,
    "real_estate_listing": real_estate, "classified_ad": classified, "complaint_letter": complaint_letter,
}


# =========================================================================== assembly
def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def eval_ngrams(n: int = 8) -> set[tuple[str, ...]]:
    """Every n-word window of every string in data/eval/** and data/reviews.csv (to keep out of training)."""
    grams: set[tuple[str, ...]] = set()
    for text in eval_strings():
        w = words(text)
        grams.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    return grams


def eval_strings() -> list[str]:
    out: list[str] = []

    def walk(value):
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    paths = sorted((ROOT / "data" / "eval").rglob("*")) + [ROOT / "data" / "reviews.csv"]
    for path in paths:
        if path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    walk(json.loads(line))
        elif path.suffix == ".json":
            walk(json.loads(path.read_text(encoding="utf-8")))
        elif path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as handle:
                for row in csv.reader(handle):
                    out.extend(row)
    return out


def generate(seed: int = SEED, docs_per_genre: int = DOCS_PER_GENRE) -> tuple[list[dict], dict]:
    sys.path.insert(0, str(ROOT))
    from inbedder.stopwords import content_words

    banned = eval_ngrams()
    existing = {json.loads(line)["input"] for name in ("qa_part_a.jsonl", "qa_part_b.jsonl")
                for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()}
    rows: list[dict] = []
    stats = Counter()
    for number, (genre, write) in enumerate(GENRES.items()):
        rng = Rng(seed * 1000 + number)
        seen: set[str] = set()
        attempts = 0
        while len(seen) < docs_per_genre:
            attempts += 1
            if attempts > docs_per_genre * 50:
                raise RuntimeError(f"{genre}: cannot write {docs_per_genre} distinct passages")
            doc = Doc(genre, rng)
            write(doc)
            text = doc.text
            if text in seen or text in existing:
                stats["duplicate_redrawn"] += 1
                continue
            w = words(text)
            if any(tuple(w[i:i + 8]) in banned for i in range(len(w) - 7)):
                stats["eval_overlap_redrawn"] += 1
                continue
            seen.add(text)
            chosen = rng.sample(doc.qas, min(len(doc.qas), 4 + rng.below(3)))
            negatives = rng.sample(doc.negatives, min(len(doc.negatives), 1 if rng.chance(0.75) else 0))
            for qtype, phrasings, answer in chosen + [(q, p, NEGATIVE) for q, p in negatives]:
                answer = answer.strip().lower()
                n_words = len(content_words(answer))
                if not 1 <= n_words <= 3 or len(answer.split()) > 3:
                    raise RuntimeError(f"{genre}/{qtype}: answer {answer!r} is not 1-3 content words")
                rows.append({"input": text, "instruction": rng.pick(phrasings), "output": answer,
                             "genre": genre, "question_type": qtype})
    return rows, dict(stats)


def render(seed: int = SEED) -> dict[str, bytes]:
    rows, stats = generate(seed)
    by_input: dict[str, int] = {}
    for row in rows:
        by_input.setdefault(row["input"], len(by_input))
    halves = ([r for r in rows if by_input[r["input"]] % 2 == 0], [r for r in rows if by_input[r["input"]] % 2 == 1])
    files = {name: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part).encode("utf-8")
             for name, part in zip(OUTPUTS, halves)}
    summary = {
        "seed": seed, "rows": len(rows), "passages": len(by_input), "negatives": sum(r["output"] == NEGATIVE for r in rows),
        "distinct_instructions": len({r["instruction"] for r in rows}),
        "genres": dict(sorted(Counter(r["genre"] for r in rows).items())),
        "question_types": dict(sorted(Counter(r["question_type"] for r in rows).items())),
        "answer_words": dict(sorted(Counter(len(r["output"].split()) for r in rows).items())),
        "redrawn": stats, "files": list(OUTPUTS),
    }
    files[SUMMARY] = (json.dumps(summary, indent=2) + "\n").encode("utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the files here instead of writing")
    args = parser.parse_args(argv)
    files = render()
    if args.check:
        differ = [name for name, blob in files.items() if not (HERE / name).is_file() or (HERE / name).read_bytes() != blob]
        print("identical" if not differ else f"differ: {', '.join(differ)}")
        return 1 if differ else 0
    for name, blob in files.items():
        (HERE / name).write_bytes(blob)
        print(f"wrote {HERE / name} ({len(blob):,} bytes)")
    print(json.loads(files[SUMMARY]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
