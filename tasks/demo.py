"""Demo projects for ``make run``: a text-classification project with gold, a test and instructions."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from tasks.models import (
    Batch,
    GoldAnswer,
    InstructionVersion,
    Project,
    ProjectStatus,
    QualificationQuestion,
    QualificationTest,
    Task,
    TaskTemplate,
)
from tasks.services.people import attempt_start, attempt_submit, instruction_read_confirm, instruction_read_start
from workforce.models import Skill, User

SENTENCES = [
    ("The delivery arrived two days late and the box was crushed.", "negative"),
    ("Support answered within minutes and fixed my problem.", "positive"),
    ("The package contains one charger and a cable.", "neutral"),
    ("I love how light this laptop is.", "positive"),
    ("The app crashes every time I open the camera.", "negative"),
    ("Opening hours are nine to five on weekdays.", "neutral"),
]


@transaction.atomic
def seed_demo() -> list[str]:
    """Create the demo project once; a second run changes nothing."""
    if Project.objects.filter(slug="review-sentiment").exists():
        return []
    skill, _ = Skill.objects.get_or_create(slug="text-classification", defaults={"name": "Text classification"})
    schema = {"choices": ["positive", "neutral", "negative"]}
    project = Project.objects.create(
        name="Review sentiment",
        slug="review-sentiment",
        required_skill=skill,
        template=TaskTemplate.SINGLE_CHOICE,
        answer_schema=schema,
        overlap=3,
        gold_rate="0.100",
        min_quality="0.600",
        lease_seconds=600,
        currency="USD",
        piece_rate_minor=4,
        hourly_rate_minor=1600,
        status=ProjectStatus.OPEN,
    )
    InstructionVersion.objects.create(
        project=project,
        version=1,
        body="Read each customer review and choose its sentiment: positive, neutral or negative.\n\n"
        "Facts without an opinion are neutral. Your reading time is paid.",
    )
    batch = Batch.objects.create(project=project, name="Demo batch", priority=5)
    rows = [
        Task(project=project, batch=batch, data={"text": f"{text} (#{i})"}, priority=5, overlap=3)
        for i in range(40)
        for text, _label in [SENTENCES[i % len(SENTENCES)]]
    ]
    Task.objects.bulk_create(rows)
    gold = Task.objects.bulk_create(
        [
            Task(project=project, batch=batch, data={"text": text}, is_gold=True, priority=5, overlap=2_000_000_000)
            for text, _label in SENTENCES
        ]
    )
    GoldAnswer.objects.bulk_create(
        [GoldAnswer(task=t, answer=label) for t, (_text, label) in zip(gold, SENTENCES, strict=True)]
    )
    test = QualificationTest.objects.create(
        skill=skill, title="Text classification basics", answer_schema=schema, pass_mark=Decimal("0.750")
    )
    for position, (text, label) in enumerate(SENTENCES[:4]):
        QualificationQuestion.objects.create(test=test, data={"text": text}, answer=label, position=position)
    # Chen has passed the test and read the instructions, so the demo can label straight away.
    chen = User.objects.filter(email="chen@fairtask.example").first()
    if chen is not None:
        attempt = attempt_start(worker=chen, test=test)
        attempt_submit(
            attempt_id=attempt.pk,
            worker=chen,
            answers={str(q.pk): q.answer for q in test.questions.all()},
        )
        read = instruction_read_start(worker=chen, instruction=project.instructions.get())
        instruction_read_confirm(worker=chen, read_id=read.pk)
    return [project.slug]
