"""A generated English judged set: dataset descriptions, short researcher queries, graded relevance.

Each record is made from concepts — a task (what the data is for), a domain (what it is
about), sometimes a secondary task and a task it merely mentions ("unlike earlier question
answering corpora…") — and each concept is written in one of several surface forms, so a
relevant record often misses a word of the query (a synonym) and an irrelevant one often
holds it (a shared word such as "detection", "scenes" or "labels", or a mention).
Grades follow from the concepts, never from the words, and are fixed before any ranking:
3 = the record's main task and its domain are the query's, 2 = its secondary task and its
domain are, 1 = only the task or only the domain is (a related dataset), unlisted = neither.

Deterministic (a seeded generator); nothing is read from outside the repository.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from schemas import Dataset
from schemas.dataset import Agent


@dataclass(frozen=True)
class Concept:
    id: str
    modality: str
    forms: tuple[str, ...]


def _c(cid: str, modality: str, *forms: str) -> Concept:
    return Concept(cid, modality, forms)


TASKS = [
    _c("segmentation", "image", "semantic segmentation", "pixel-level labelling", "scene parsing"),
    _c("detection", "image", "object detection", "bounding box annotation", "object localisation"),
    _c("classification", "image", "image classification", "image categorisation", "labelled photographs"),
    _c("depth", "image", "depth estimation", "stereo depth maps", "monocular depth prediction"),
    _c("qa", "text", "question answering", "reading comprehension", "answer extraction"),
    _c("translation", "text", "machine translation", "parallel corpus", "bilingual sentence pairs"),
    _c("ner", "text", "named entity recognition", "entity tagging", "entity mention annotation"),
    _c("sentiment", "text", "sentiment analysis", "opinion mining", "polarity labels"),
    _c("summarisation", "text", "text summarisation", "abstractive summaries", "summary generation"),
    _c("asr", "audio", "speech recognition", "transcribed speech", "speech to text"),
    _c("sed", "audio", "sound event detection", "acoustic event tagging", "environmental sound labels"),
    _c("forecasting", "series", "time series forecasting", "load forecasting", "temporal prediction"),
    _c("anomaly", "series", "anomaly detection", "outlier detection", "fault detection"),
]

DOMAINS = [
    _c("street", "image", "street scenes", "urban driving", "city roads"),
    _c("aerial", "image", "aerial imagery", "satellite images", "remote sensing"),
    _c("medical", "image", "medical scans", "CT images", "radiology studies"),
    _c("indoor", "image", "indoor scenes", "household rooms", "building interiors"),
    _c("wildlife", "image", "wildlife", "camera traps", "animal species"),
    _c("news", "text", "news articles", "newswire", "press reports"),
    _c("biomedical", "text", "biomedical literature", "PubMed abstracts", "clinical papers"),
    _c("legal", "text", "legal documents", "court rulings", "statutes and contracts"),
    _c("social", "text", "social media", "tweets", "online forum posts"),
    _c("encyclopedia", "text", "Wikipedia", "encyclopedia articles", "wiki pages"),
    _c("meetings", "audio", "meeting recordings", "recorded conversations", "conference calls"),
    _c("citysound", "audio", "urban soundscapes", "city noise", "street sounds"),
    _c("birds", "audio", "bird song", "bird calls", "avian vocalisations"),
    _c("consultation", "audio", "doctor patient consultations", "clinical interviews", "medical dictation"),
    _c("energy", "series", "electricity consumption", "smart meter readings", "power grid load"),
    _c("traffic", "series", "traffic flow", "road sensor counts", "vehicle counts"),
    _c("weather", "series", "weather stations", "meteorological observations", "climate records"),
    _c("vitals", "series", "patient vital signs", "intensive care monitoring", "ICU telemetry"),
    _c("machines", "series", "industrial machines", "sensor telemetry", "manufacturing equipment"),
]

_NOUN = {"image": "images", "text": "documents", "audio": "recordings", "series": "measurements"}
_NAME_A = ["Open", "Deep", "Mega", "Tiny", "Multi", "Large", "Fine", "Rich", "Wide", "Grand", "Nova", "Terra"]
_NAME_B = ["Set", "Bench", "Corpus", "Bank", "Base", "Hub", "Pile", "Vault", "Suite", "Lab"]
_FILLER = [
    "The data are released under a Creative Commons Attribution licence.",
    "Records were collected between {y0} and {y1} by a university research group.",
    "Files are distributed as compressed archives with a README and a data dictionary.",
    "A predefined split into training, validation and test sets is provided.",
    "Personal information was removed before release.",
    "Quality control was carried out by two independent annotators.",
    "The collection is updated yearly and older versions remain available.",
    "Baseline results and evaluation scripts accompany the release.",
    "Metadata describe the acquisition device, date and location of every sample.",
    "Researchers must cite the accompanying paper when using the data.",
]


@dataclass
class Record:
    guid: str
    title: str
    description: str
    task: str
    domain: str
    secondary: str | None


def _form(rng: random.Random, c: Concept) -> str:
    return rng.choice(c.forms)


def _record(rng: random.Random, n: int, task: Concept, domain: Concept) -> Record:
    same = [t for t in TASKS if t.modality == task.modality and t.id != task.id]
    secondary = rng.choice(same) if rng.random() < 0.35 else None
    mentioned = rng.choice([t for t in TASKS if t.id != task.id and t != secondary]) if rng.random() < 0.4 else None
    name = f"{rng.choice(_NAME_A)}{rng.choice(_NAME_B)}-{n}"
    noun = _NOUN[task.modality]
    shape = rng.randrange(4)
    if shape == 0:
        title = f"{name}: {_form(rng, task)} for {_form(rng, domain)}".capitalize()
    elif shape == 1:
        title = f"{_form(rng, domain)} {_form(rng, task)} dataset".capitalize()
    elif shape == 2:
        title = f"{name} {_form(rng, domain)} {noun}"
    else:
        title = f"{name}: {_form(rng, task)} benchmark"
    size = rng.choice(["small", "large", "curated", "multi-year", "crowd-sourced", "expert-annotated"])
    count = rng.choice([300, 1200, 5000, 18000, 64000, 250000])
    sentences = [
        f"{name} is a {size} collection of {count} {_form(rng, domain)} {noun} prepared for {_form(rng, task)}.",
        f"Every item was annotated by hand for {_form(rng, task)}.",
    ]
    if rng.random() < 0.6:
        sentences.append(f"The {noun} come from {_form(rng, domain)} and cover many conditions.")
    if secondary is not None:
        sentences.append(f"Each sample also carries labels for {_form(rng, secondary)}.")
    if mentioned is not None:
        sentences.append(f"Unlike earlier {_form(rng, mentioned)} resources, it focuses on a single task.")
    y0 = rng.randrange(2005, 2020)
    sentences += [f.format(y0=y0, y1=y0 + rng.randrange(1, 6)) for f in rng.sample(_FILLER, rng.randrange(1, 4))]
    rng.shuffle(sentences[1:])  # the opening sentence stays first, as in real descriptions
    return Record(f"en:{n:04d}", title, " ".join(sentences), task.id, domain.id, secondary.id if secondary else None)


def records(seed: int = 16) -> list[Record]:
    """About 600 records: every compatible (task, domain) pair, four to fourteen records each."""
    rng = random.Random(seed)
    out: list[Record] = []
    for task in TASKS:
        for domain in DOMAINS:
            if domain.modality != task.modality:
                continue
            for _ in range(rng.randrange(4, 15)):
                out.append(_record(rng, len(out) + 1, task, domain))
    return out


def grade(record: Record, task: str, domain: str) -> int:
    if record.task == task and record.domain == domain:
        return 3
    if record.secondary == task and record.domain == domain:
        return 2
    if record.task == task or record.domain == domain:
        return 1
    return 0


def judged(corpus: list[Record], seed: int = 61, n: int = 60) -> dict[str, dict[str, int]]:
    """``n`` queries of two to six words (a form of a task and of a domain) with their grades."""
    rng = random.Random(seed)
    pairs = sorted({(r.task, r.domain) for r in corpus})
    tasks = {t.id: t for t in TASKS}
    domains = {d.id: d for d in DOMAINS}
    out: dict[str, dict[str, int]] = {}
    for task, domain in rng.sample(pairs, n):
        words = [_form(rng, tasks[task]), _form(rng, domains[domain])]
        if rng.random() < 0.4:  # researchers often add what they want: "... dataset", "... images"
            words.append(rng.choice(["dataset", "data", "corpus", "benchmark", _NOUN[tasks[task].modality]]))
        q = " ".join(words)
        if len(q.split()) > 5:
            q = " ".join(words[:2])
        grades = {r.guid: g for r in corpus if (g := grade(r, task, domain))}
        out[q] = grades
    return out


def datasets(corpus: list[Record]) -> dict[str, Dataset]:
    return {
        r.guid: Dataset(
            title={"en": r.title},
            description={"en": r.description},
            access_rights="PUBLIC",
            publisher=Agent(name={"en": "Generated"}),
        )
        for r in corpus
    }


def text_of(record: Record) -> str:
    """The text the BM25 baseline ranks: title and description, as fairgate indexes them."""
    return f"{record.title} {record.description}"
