"""docs/recipes.md's reference tables match the recipe models and the algorithm registry."""

from __future__ import annotations

from supportloop.training import recipe_docs


def test_recipe_docs_are_current():
    """Fails when a field, description or algorithm changed without regenerating the docs."""
    current = recipe_docs.DOCS.read_text(encoding="utf-8")
    assert recipe_docs.render(current) == current, (
        "run `python -m supportloop.training.recipe_docs`"
    )


def test_every_recipe_field_has_a_description():
    from supportloop.training.recipes import Recipe

    schema = Recipe.model_json_schema()
    sections = [schema, *schema["$defs"].values()]
    missing = [
        f"{section['title']}.{key}"
        for section in sections
        for key, field in section["properties"].items()
        if not field.get("description")
    ]
    assert not missing


def test_generated_blocks_are_in_the_docs():
    text = recipe_docs.DOCS.read_text(encoding="utf-8")
    assert "| `dpo` | `DPOConfig` / `DPOTrainer` |" in text
    assert "| `peft.r` | int > 0 | `16` | LoRA rank |" in text
    assert "## CPU threads and precision" in text or "### CPU threads and precision" in text
