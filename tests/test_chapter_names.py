"""Chapter names: from a step's chapter: or title:, else from what it shows; never two alike."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT
from scenes.lesson.labels import distinct
from scenes.lesson.load import load_lesson, validate_lesson
from scenes.steps import registry


def lesson(tmp_path: Path, steps: str, head: str = "title: Chapters\n", name: str = "l") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"{head}steps:\n{steps}", encoding="utf-8")
    return path


def titles(path: Path, language: str | None = None) -> list[str]:
    loaded = load_lesson(path, {"language": language} if language else None)
    return [c.title for c in loaded.chapters]


def test_the_convolution_lessons_chapters_are_distinct_and_name_layer_and_neuron() -> None:
    path = ROOT / "lessons" / "convolution.yaml"
    loaded = load_lesson(path)
    found = [c.title for c in loaded.chapters]
    assert found == [
        "Convolution — One kernel, one window at a time",
        "Convolution: conv_1_1, neuron 3",
        "Convolution, channel by channel: conv_1_1, neuron 3",
        "Convolution, channel by channel: conv_2_1, neuron 3",
    ]
    assert len(set(found)) == len(found)
    for chapter in loaded.chapters[1:]:
        spec = loaded.steps[chapter.first]
        layer, neuron = spec.layer, spec.neuron  # type: ignore[attr-defined]
        assert f"{layer}, neuron {neuron}" in chapter.title
    # The page and the manifest name each step as its chapter.
    assert loaded.labels == found


def test_chapters_follow_the_lessons_language() -> None:
    path = ROOT / "lessons" / "convolution.yaml"
    assert titles(path, "de")[1:] == [
        "Faltung: conv_1_1, Neuron 3",
        "Faltung, Kanal für Kanal: conv_1_1, Neuron 3",
        "Faltung, Kanal für Kanal: conv_2_1, Neuron 3",
    ]
    assert titles(ROOT / "lessons" / "pooling.yaml", "fr") == [
        "Pooling : max_pool_1, neurone 3",
        "Pooling : max_pool_1, neurone 3, moyenne",
        "Pooling : max_pool_1, neurone 3, moyenne globale",
    ]


def test_every_shipped_lesson_has_distinct_chapters_never_named_by_the_type_alone() -> None:
    for path in sorted((ROOT / "lessons").glob("*.yaml")):
        for language in ("en", "de", "fr"):
            found = titles(path, language)
            assert len(set(found)) == len(found), (path, language, found)
            assert not set(found) & set(registry.names()), (path, language, found)


def test_two_identical_steps_get_numbered_chapters(tmp_path: Path) -> None:
    step = "  - type: relu\n    layer: relu_1_1\n    neuron: 3\n"
    path = lesson(tmp_path, step + "  - type: softmax\n" + step)
    assert titles(path) == [
        "ReLU: relu_1_1, neuron 3 (1)",
        "Softmax",
        "ReLU: relu_1_1, neuron 3 (2)",
    ]
    # Titles that collide are numbered too.
    card = "  - type: title\n    text: Again\n"
    assert titles(lesson(tmp_path, card * 3, name="cards")) == [
        "Again (1)",
        "Again (2)",
        "Again (3)",
    ]


def test_numbering_never_makes_a_name_another_chapter_has() -> None:
    assert distinct(["X", "X", "X (1)", "Y"]) == ["X (2)", "X (3)", "X (1)", "Y"]


def test_chapter_wins_over_title_and_title_over_content(tmp_path: Path) -> None:
    path = lesson(
        tmp_path,
        "  - type: max_pool\n    mode: average\n    title: Averages\n    chapter: Mean pooling\n"
        "  - type: max_pool\n    mode: average\n    title: Averages\n"
        "  - type: max_pool\n    mode: average\n"
        "  - type: softmax\n    class_name: star\n",
        head="title: Chapters\nlanguage: de\n",
    )
    assert titles(path) == [
        "Mean pooling",
        "Averages",
        "Pooling: max_pool_1, Mittelwert",
        "Softmax: Klasse Stern",  # the class as the lesson shows it
    ]


def test_a_course_listing_a_lesson_twice_has_distinct_chapters(tmp_path: Path) -> None:
    lesson(tmp_path, "  - type: relu\n", head="title: ReLU\n", name="relu")
    course = tmp_path / "course.yaml"
    course.write_text("title: Twice\nlessons: [relu.yaml, relu.yaml]\n", encoding="utf-8")
    loaded = load_lesson(course)
    assert [c.title for c in loaded.chapters] == ["ReLU (1)", "ReLU (2)"]
    assert loaded.labels == ["ReLU: relu_1_1", "ReLU: relu_1_1"]


def test_an_empty_chapter_is_refused_where_it_is_written(tmp_path: Path) -> None:
    path = lesson(tmp_path, "  - type: softmax\n    chapter: ''\n")
    (error,) = validate_lesson(path)
    assert (error.line, error.column, error.path) == (4, 14, "steps[0].chapter")
    assert error.message == "expected non-empty text, got ''"


def test_renaming_a_chapter_renders_nothing_again(tmp_path: Path) -> None:
    from scenes.render.pipeline import prepare

    card = "  - type: title\n    text: Hello\n"
    plain = load_lesson(lesson(tmp_path, card, name="plain"))
    named = load_lesson(lesson(tmp_path, card + "    chapter: Greeting\n", name="named"))
    titled = load_lesson(lesson(tmp_path, card + "    title: Greeting\n", name="titled"))
    assert [c.title for c in named.chapters] == ["Greeting"] != [c.title for c in plain.chapters]
    keys = [prepare(x, tmp_path / "media").jobs[0].key() for x in (plain, named, titled)]
    assert keys[0] == keys[1]  # the chapter is not drawn
    assert keys[0] != keys[2]  # a title is drawn (a step's heading)


def test_a_translation_names_its_chapters_in_its_own_language(tmp_path: Path) -> None:
    steps = "  - type: convolution\n  - type: relu\n"
    lesson(tmp_path, steps + "    chapter: Gleichrichter\n", "title: T\nlanguage: de\n", "de")
    path = lesson(tmp_path, steps, "title: T\ntranslations: [de.yaml]\n", "en")
    loaded = load_lesson(path)
    assert [c.title for c in loaded.chapters] == [
        "Convolution: conv_1_1, neuron 0",
        "ReLU: relu_1_1",
    ]
    (german,) = loaded.translations
    assert [c.title for c in german.chapters] == ["Faltung: conv_1_1, Neuron 0", "Gleichrichter"]
