import json

import pytest
from django.urls import reverse

from tasks.models import (
    Answer,
    GoldAnswer,
    InstructionRead,
    InstructionVersion,
    QualificationQuestion,
    QualificationTest,
)
from tests.tasks.factories import project, tasks, worker
from tests.workforce.factories import SkillFactory

pytestmark = pytest.mark.django_db


def test_a_contractor_starts_working_labels_and_gets_the_next_task(ops, login):
    p = project()
    tasks(p, 2)
    w = worker(ops=ops)
    client = login(w)
    response = client.post(reverse("tasks:work-next"))
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Enter submits" in page.content.decode()
    first = page.context["assignment"]
    response = client.post(reverse("tasks:assignment", args=[first.pk]), {"answer": "dog"})
    assert response.status_code == 302
    assert Answer.objects.get(assignment=first).value == "dog"
    second = client.get(response["Location"]).context["assignment"]
    assert second.pk != first.pk


def test_a_refusal_is_explained_on_the_work_page(ops, login):
    w = worker(ops=ops)
    response = login(w).post(reverse("tasks:work-next"), follow=True)
    assert "There are no open projects right now." in response.content.decode()


def test_a_wrong_answer_shape_shows_the_message_and_saves_nothing(ops, login):
    p = project()
    tasks(p, 1)
    w = worker(ops=ops)
    client = login(w)
    page = client.get(client.post(reverse("tasks:work-next"))["Location"])
    a = page.context["assignment"]
    response = client.post(reverse("tasks:assignment", args=[a.pk]), {"answer": "horse"})
    assert response.status_code == 200
    assert "Choose one of: cat, dog, bird." in response.content.decode()
    assert not Answer.objects.exists()


def test_the_work_page_never_shows_a_gold_answer(ops, login):
    p = project(gold_rate="1.000")
    (gold_task,) = tasks(p, 1, gold=True)
    GoldAnswer.objects.filter(task=gold_task).update(answer="bird-secret")
    tasks(p, 1)
    w = worker(ops=ops)
    client = login(w)
    page = client.get(client.post(reverse("tasks:work-next"))["Location"])
    assert page.context["assignment"].task_id == gold_task.pk
    html = page.content.decode()
    assert "bird-secret" not in html
    assert "gold" not in html.lower()


def test_heartbeats_from_the_page_become_active_time(ops, login):
    p = project()
    tasks(p, 1)
    w = worker(ops=ops)
    client = login(w)
    a = client.get(client.post(reverse("tasks:work-next"))["Location"]).context["assignment"]
    response = client.post(
        reverse("tasks:heartbeat"), json.dumps({"kind": "task", "id": a.pk}), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["active_seconds"] == 0


def test_a_heartbeat_for_someone_elses_assignment_is_404(ops, login):
    p = project()
    tasks(p, 1)
    owner, other = worker(ops=ops), worker(ops=ops)
    a = login(owner).get(login(owner).post(reverse("tasks:work-next"))["Location"]).context["assignment"]
    response = login(other).post(
        reverse("tasks:heartbeat"), json.dumps({"kind": "task", "id": a.pk}), content_type="application/json"
    )
    assert response.status_code == 404


def test_reading_instructions_is_recorded_and_unlocks_work(ops, login):
    p = project()
    tasks(p, 1)
    InstructionVersion.objects.create(project=p, version=1, body="Pick the animal you see.")
    w = worker(ops=ops)
    client = login(w)
    home = client.get(reverse("tasks:work-home")).content.decode()
    assert "Read the instructions (paid)" in home
    page = client.get(reverse("tasks:instructions", args=[p.pk]))
    assert "Pick the animal you see." in page.content.decode()
    client.post(reverse("tasks:instructions", args=[p.pk]))
    assert InstructionRead.objects.get(worker=w).confirmed_at is not None
    assert client.post(reverse("tasks:work-next"))["Location"].startswith("/work/assignments/")


def test_a_qualification_test_through_the_portal_records_a_decision(ops, login):
    skill = SkillFactory.create(slug="bird-id")
    test = QualificationTest.objects.create(
        skill=skill, title="Birds", answer_schema={"choices": ["yes", "no"]}, pass_mark="0.500"
    )
    q1 = QualificationQuestion.objects.create(test=test, data={"text": "Is a robin a bird?"}, answer="yes", position=0)
    q2 = QualificationQuestion.objects.create(test=test, data={"text": "Is a cat a bird?"}, answer="no", position=1)
    w = worker(ops=ops)
    client = login(w)
    client.post(reverse("tasks:qualification", args=[test.pk]), {"start": "1"})
    response = client.post(reverse("tasks:qualification", args=[test.pk]), {f"q{q1.pk}": "yes", f"q{q2.pk}": "yes"})
    assert response.status_code == 302
    decision_page = client.get(response["Location"]).content.decode()
    assert "1 of 2 correct" in decision_page
    assert "0.500" in decision_page


def test_a_manager_records_a_fraud_finding_from_the_review_page_with_a_reason(ops, login):
    from tasks.models import FraudMark

    p = project()
    tasks(p, 1)
    w = worker(ops=ops)
    client = login(w)
    a = client.get(client.post(reverse("tasks:work-next"))["Location"]).context["assignment"]
    client.post(reverse("tasks:assignment", args=[a.pk]), {"answer": "dog", "then": "stop"})
    manager = login(ops)
    page = manager.get(reverse("tasks:review-queue")).content.decode()
    assert reverse("tasks:assignment-fraud", args=[a.pk]) in page
    manager.post(reverse("tasks:assignment-fraud", args=[a.pk]), {"reason": ""})
    assert not FraudMark.objects.exists()
    manager.post(reverse("tasks:assignment-fraud", args=[a.pk]), {"reason": "Answers copied from another account."})
    mark = FraudMark.objects.get()
    assert mark.decision.reason == "Answers copied from another account."
    assert mark.decision.decided_by == ops


def test_an_active_contractor_lands_on_work_and_an_applicant_on_onboarding(ops, login):
    from tests.workforce.factories import contractor

    assert login(worker(ops=ops)).get("/")["Location"] == reverse("tasks:work-home")
    assert login(contractor("onboarding").user).get("/")["Location"] == reverse("workforce:onboarding")
