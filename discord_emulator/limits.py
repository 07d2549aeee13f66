"""Discord's payload rules, checked the way Discord checks them.

Pure functions over the JSON the bot sends. Each returns a list of `FieldError`s (empty when the
payload is acceptable) so the server can answer with Discord's nested `errors` object and record
the same facts as violations. Kept free of aiohttp and discord.py so it can be tested on its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Message and embed limits (https://discord.com/developers/docs/resources/message).
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000

# Components (v1: action rows holding buttons or one select).
ACTION_ROWS_MAX = 5
BUTTONS_PER_ROW_MAX = 5
CUSTOM_ID_MAX = 100
LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
SELECT_PLACEHOLDER_MAX = 150
SELECT_OPTION_TEXT_MAX = 100

# Autocomplete and command definitions.
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_VALUE_MAX = 100
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_TOTAL_CHARS_MAX = 4000
CHAT_INPUT_COMMANDS_MAX = 100
CONTEXT_MENU_COMMANDS_MAX = 5

FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_COMPONENTS_V2 = 1 << 15

_URL_SCHEMES = ("http://", "https://", "attachment://")
_OPTION_SUBCOMMAND = 1
_OPTION_GROUP = 2
_VALID_OPTION_TYPES = range(1, 12)

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldError:
    """One rejected field: where it is in the body, Discord's error code, and its message."""

    path: Path
    code: str
    message: str

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path) or "<body>"
        return f"{where}: {self.code} ({self.message})"


def nest_errors(errors: Iterable[FieldError]) -> dict[str, Any]:
    """Build Discord's `errors` tree: keys per path step, `_errors` lists at the leaves."""
    tree: dict[str, Any] = {}
    for error in errors:
        node = tree
        for step in error.path:
            node = node.setdefault(str(step), {})
        node.setdefault("_errors", []).append({"code": error.code, "message": error.message})
    return tree


def _too_long(path: Path, value: object, limit: int) -> list[FieldError]:
    if isinstance(value, str) and len(value) > limit:
        return [FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")]
    return []


def _bad_length(path: Path, value: str | None, low: int, high: int) -> list[FieldError]:
    if value is None or not (low <= len(value) <= high):
        return [
            FieldError(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
        ]
    return []


def _bad_url(path: Path, value: object) -> list[FieldError]:
    if isinstance(value, str) and not value.startswith(_URL_SCHEMES):
        return [FieldError(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")]
    return []


def embed_size(embed: Mapping[str, Any]) -> int:
    """Characters Discord counts toward the 6,000 shared by all embeds of one message."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for field in embed.get("fields") or []:
        total += len(field.get("name") or "") + len(field.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def check_embed(embed: Mapping[str, Any], path: Path) -> list[FieldError]:
    """Per-embed limits: title, description, fields, footer, author, and URL schemes."""
    errors = _too_long((*path, "title"), embed.get("title"), EMBED_TITLE_MAX)
    errors += _too_long((*path, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX)
    errors += _bad_url((*path, "url"), embed.get("url"))
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_MAX:
        errors.append(
            FieldError(
                (*path, "fields"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {EMBED_FIELDS_MAX} or fewer in length.",
            )
        )
    for i, field in enumerate(fields):
        errors += _bad_length((*path, "fields", i, "name"), field.get("name"), 1, 256)
        errors += _bad_length((*path, "fields", i, "value"), field.get("value"), 1, 1024)
    footer = embed.get("footer") or {}
    errors += _too_long((*path, "footer", "text"), footer.get("text"), EMBED_FOOTER_MAX)
    errors += _bad_url((*path, "footer", "icon_url"), footer.get("icon_url"))
    author = embed.get("author") or {}
    errors += _too_long((*path, "author", "name"), author.get("name"), EMBED_AUTHOR_MAX)
    errors += _bad_url((*path, "author", "url"), author.get("url"))
    errors += _bad_url((*path, "author", "icon_url"), author.get("icon_url"))
    for media in ("image", "thumbnail"):
        errors += _bad_url((*path, media, "url"), (embed.get(media) or {}).get("url"))
    return errors


def _check_button(button: Mapping[str, Any], path: Path) -> list[FieldError]:
    errors = _too_long((*path, "label"), button.get("label"), LABEL_MAX)
    style = button.get("style")
    if style == 5:
        if not button.get("url"):
            errors.append(
                FieldError((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
            )
        errors += _bad_url((*path, "url"), button.get("url"))
    elif style != 6:
        errors += _check_custom_id(button, path)
    if not button.get("label") and not button.get("emoji") and style != 6:
        errors.append(
            FieldError((*path, "label"), "BASE_TYPE_REQUIRED", "A label or an emoji is required")
        )
    return errors


def _check_custom_id(component: Mapping[str, Any], path: Path) -> list[FieldError]:
    custom_id = component.get("custom_id")
    if not custom_id:
        return [FieldError((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")]
    return _too_long((*path, "custom_id"), custom_id, CUSTOM_ID_MAX)


def _check_select(select: Mapping[str, Any], path: Path) -> list[FieldError]:
    errors = _check_custom_id(select, path)
    errors += _too_long((*path, "placeholder"), select.get("placeholder"), SELECT_PLACEHOLDER_MAX)
    options = select.get("options")
    if select.get("type") == 3:
        if not options or len(options) > SELECT_OPTIONS_MAX:
            errors.append(
                FieldError(
                    (*path, "options"),
                    "BASE_TYPE_BAD_LENGTH",
                    f"Must be between 1 and {SELECT_OPTIONS_MAX} in length.",
                )
            )
        for i, option in enumerate(options or []):
            for key in ("label", "value", "description"):
                errors += _too_long((*path, "options", i, key), option.get(key), 100)
    return errors


def check_components(
    components: Sequence[Mapping[str, Any]], path: Path, *, flags: int = 0
) -> list[FieldError]:
    """Action rows: at most 5, each 1-5 buttons or one select; custom_ids unique and short."""
    errors: list[FieldError] = []
    if flags & FLAG_COMPONENTS_V2:
        # Layout components have different rules; only the custom_id limits are checked here.
        return _check_custom_ids(components, path)
    if len(components) > ACTION_ROWS_MAX:
        errors.append(
            FieldError(
                path, "BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS_MAX} or fewer in length."
            )
        )
    for r, row in enumerate(components):
        row_path = (*path, r)
        if row.get("type") != 1:
            errors.append(
                FieldError(
                    (*row_path, "type"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Expected an action row"
                )
            )
            continue
        children = row.get("components") or []
        if not children or len(children) > BUTTONS_PER_ROW_MAX:
            errors.append(
                FieldError(
                    (*row_path, "components"),
                    "BASE_TYPE_BAD_LENGTH",
                    f"Must be between 1 and {BUTTONS_PER_ROW_MAX} in length.",
                )
            )
        selects = [c for c in children if c.get("type") != 2]
        if selects and len(children) > 1:
            errors.append(
                FieldError(
                    (*row_path, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            )
        for c, child in enumerate(children):
            child_path = (*row_path, "components", c)
            if child.get("type") == 2:
                errors += _check_button(child, child_path)
            else:
                errors += _check_select(child, child_path)
    return errors + _duplicate_custom_ids(components, path)


def _walk_components(
    components: Sequence[Mapping[str, Any]], path: Path
) -> Iterable[tuple[Path, Mapping[str, Any]]]:
    for i, component in enumerate(components):
        here = (*path, i)
        yield here, component
        for key in ("components", "accessory"):
            inner = component.get(key)
            if isinstance(inner, list):
                yield from _walk_components(inner, (*here, key))
            elif isinstance(inner, Mapping):
                yield (*here, key), inner


def _check_custom_ids(components: Sequence[Mapping[str, Any]], path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    for where, component in _walk_components(components, path):
        errors += _too_long((*where, "custom_id"), component.get("custom_id"), CUSTOM_ID_MAX)
    return errors + _duplicate_custom_ids(components, path)


def _duplicate_custom_ids(components: Sequence[Mapping[str, Any]], path: Path) -> list[FieldError]:
    seen: set[str] = set()
    errors: list[FieldError] = []
    for where, component in _walk_components(components, path):
        custom_id = component.get("custom_id")
        if custom_id is None:
            continue
        if custom_id in seen:
            errors.append(
                FieldError(
                    (*where, "custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            )
        seen.add(custom_id)
    return errors


def check_message(
    payload: Mapping[str, Any], path: Path = (), *, new_files: int = 0, creating: bool = True
) -> list[FieldError]:
    """A message body (create or edit): content, embeds, components, and emptiness.

    `creating` is False for edits, where any field may be left out.
    """
    errors = _too_long((*path, "content"), payload.get("content"), CONTENT_MAX)
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        errors.append(
            FieldError(
                (*path, "embeds"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {EMBEDS_MAX} or fewer in length.",
            )
        )
    for i, embed in enumerate(embeds):
        errors += check_embed(embed, (*path, "embeds", i))
    if sum(embed_size(e) for e in embeds) > EMBED_TOTAL_MAX:
        errors.append(
            FieldError(
                (*path, "embeds"),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
            )
        )
    components = payload.get("components") or []
    errors += check_components(
        components, (*path, "components"), flags=int(payload.get("flags") or 0)
    )
    if creating and not (
        payload.get("content")
        or embeds
        or components
        or new_files
        or payload.get("poll")
        or payload.get("sticker_ids")
    ):
        errors.append(FieldError(path, "MESSAGE_EMPTY", "Cannot send an empty message"))
    return errors


def check_choices(choices: object, path: Path = ("data", "choices")) -> list[FieldError]:
    """An autocomplete result: at most 25 choices, names 1-100 characters."""
    if not isinstance(choices, list):
        return [FieldError(path, "BASE_TYPE_REQUIRED", "This field is required")]
    errors: list[FieldError] = []
    if len(choices) > CHOICES_MAX:
        errors.append(
            FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {CHOICES_MAX} or fewer in length.")
        )
    for i, choice in enumerate(choices):
        errors += _check_choice(choice, (*path, i))
    return errors


def _check_choice(choice: Mapping[str, Any], path: Path) -> list[FieldError]:
    errors = _bad_length((*path, "name"), choice.get("name"), 1, CHOICE_NAME_MAX)
    value = choice.get("value")
    if value is None:
        errors.append(FieldError((*path, "value"), "BASE_TYPE_REQUIRED", "This field is required"))
    errors += _too_long((*path, "value"), value, CHOICE_STRING_VALUE_MAX)
    return errors


def is_valid_name(name: object) -> bool:
    """`^[-_\\p{L}\\p{N}]{1,32}$` in lower case (stdlib `re` has no \\p classes)."""
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_MAX:
        return False
    if name != name.lower():
        return False
    return all(ch in "-_" or unicodedata.category(ch)[0] in "LN" for ch in name)


def _name_errors(path: Path, name: object) -> list[FieldError]:
    if is_valid_name(name):
        return []
    return [FieldError((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Invalid name")]


def _check_options(options: Sequence[Mapping[str, Any]], path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(options) > COMMAND_OPTIONS_MAX:
        errors.append(
            FieldError(
                path, "BASE_TYPE_MAX_LENGTH", f"Must be {COMMAND_OPTIONS_MAX} or fewer in length."
            )
        )
    seen_optional = False
    names: set[str] = set()
    for i, option in enumerate(options):
        here = (*path, i)
        errors += _name_errors(here, option.get("name"))
        if option.get("name") in names:
            errors.append(
                FieldError(
                    (*here, "name"),
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            )
        names.add(option.get("name", ""))
        errors += _bad_length(
            (*here, "description"), option.get("description"), 1, COMMAND_DESCRIPTION_MAX
        )
        kind = option.get("type")
        if kind not in _VALID_OPTION_TYPES:
            errors.append(FieldError((*here, "type"), "BASE_TYPE_CHOICES", "Value is not valid"))
        if kind in (_OPTION_SUBCOMMAND, _OPTION_GROUP):
            errors += _check_options(option.get("options") or [], (*here, "options"))
            continue
        if option.get("required"):
            if seen_optional:
                errors.append(
                    FieldError(
                        (*here, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if choices and option.get("autocomplete"):
            errors.append(
                FieldError(
                    (*here, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                    "Autocomplete cannot be set with choices",
                )
            )
        if len(choices) > CHOICES_MAX:
            errors.append(
                FieldError(
                    (*here, "choices"),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {CHOICES_MAX} or fewer in length.",
                )
            )
        for c, choice in enumerate(choices):
            errors += _check_choice(choice, (*here, "choices", c))
    return errors


def _command_chars(command: Mapping[str, Any]) -> int:
    total = len(command.get("name") or "") + len(command.get("description") or "")
    for option in command.get("options") or []:
        total += _command_chars(option)
        for choice in option.get("choices") or []:
            total += len(choice.get("name") or "") + len(str(choice.get("value") or ""))
    return total


def check_command(command: Mapping[str, Any], path: Path = ()) -> list[FieldError]:
    """One application command definition as PUT by a sync."""
    kind = command.get("type", 1)
    errors: list[FieldError] = []
    if kind == 1:
        errors += _name_errors(path, command.get("name"))
        errors += _bad_length(
            (*path, "description"), command.get("description"), 1, COMMAND_DESCRIPTION_MAX
        )
        errors += _check_options(command.get("options") or [], (*path, "options"))
        if _command_chars(command) > COMMAND_TOTAL_CHARS_MAX:
            errors.append(
                FieldError(
                    path,
                    "APPLICATION_COMMAND_TOO_LARGE",
                    f"Command exceeds maximum size ({COMMAND_TOTAL_CHARS_MAX})",
                )
            )
    elif kind in (2, 3):
        errors += _bad_length((*path, "name"), command.get("name"), 1, COMMAND_NAME_MAX)
        if command.get("description"):
            errors.append(
                FieldError(
                    (*path, "description"),
                    "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                    "Context menu commands cannot have a description",
                )
            )
    else:
        errors.append(FieldError((*path, "type"), "BASE_TYPE_CHOICES", "Value is not valid"))
    permissions = command.get("default_member_permissions")
    if permissions is not None and not str(permissions).isdigit():
        errors.append(
            FieldError(
                (*path, "default_member_permissions"),
                "NUMBER_TYPE_COERCE",
                "Value is not a valid integer",
            )
        )
    return errors


def check_commands(commands: object) -> list[FieldError]:
    """A bulk overwrite: a list of commands, names unique per type, counts within limits."""
    if not isinstance(commands, list):
        return [FieldError((), "BASE_TYPE_LIST", "Must be a list")]
    errors: list[FieldError] = []
    seen: set[tuple[int, str]] = set()
    per_type: dict[int, int] = {}
    for i, command in enumerate(commands):
        errors += check_command(command, (i,))
        key = (command.get("type", 1), command.get("name", ""))
        if key in seen:
            errors.append(
                FieldError(
                    (i, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique: {key[1]}",
                )
            )
        seen.add(key)
        per_type[key[0]] = per_type.get(key[0], 0) + 1
    limits = {
        1: CHAT_INPUT_COMMANDS_MAX,
        2: CONTEXT_MENU_COMMANDS_MAX,
        3: CONTEXT_MENU_COMMANDS_MAX,
    }
    for kind, count in per_type.items():
        if count > limits.get(kind, 0):
            errors.append(
                FieldError((), "BASE_TYPE_MAX_LENGTH", f"Too many commands of type {kind}")
            )
    return errors
